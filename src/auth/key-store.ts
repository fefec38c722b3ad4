import { PRIORITY, type Budget } from '../config/config.js';
import type { KeyRecord } from './key-record.js';

/** The fields an admin may change; null clears an optional field. */
export interface KeyPatch {
  readonly name?: string;
  readonly models?: readonly string[] | null;
  readonly rateLimit?: KeyRecord['rateLimit'];
  readonly expiresAt?: string | null;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly team?: string | null;
  readonly priority?: number;
  readonly maxConcurrency?: number | null;
  readonly budgets?: readonly Budget[];
}

/**
 * Where dynamic API keys live: SQLite for one instance (src/state/embedded), Redis for many
 * (src/state/redis). Both run through the same tests (test/e2e/keys-*.test.ts). Records are stored by
 * the SHA-256 of the key; the key itself never reaches a store.
 */
export interface KeyStore {
  readonly kind: 'embedded' | 'redis';
  findByHash(sha256: string): Promise<KeyRecord | null>;
  get(id: string): Promise<KeyRecord | null>;
  list(): Promise<KeyRecord[]>;
  create(record: KeyRecord): Promise<void>;
  /** Returns the updated record, or null when no key has that id. */
  update(id: string, patch: KeyPatch): Promise<KeyRecord | null>;
  /** Sets revoked_at (once; a second revoke keeps the first time). Null when no key has that id. */
  revoke(id: string, at: string): Promise<KeyRecord | null>;
  count(): Promise<number>;
  /**
   * Calls back with the hash of every key changed by any instance sharing the store, and with null when
   * changes may have been missed (the subscription was lost): caches must then forget everything.
   * Returns whether changes are delivered right now.
   */
  subscribe(listener: (sha256: string | null) => void): void;
  readonly changesDelivered: boolean;
  close(): Promise<void>;
}

export function applyPatch(record: KeyRecord, patch: KeyPatch): KeyRecord {
  return {
    ...record,
    ...(patch.name === undefined ? {} : { name: patch.name }),
    ...(patch.models === undefined ? {} : { models: patch.models }),
    ...(patch.rateLimit === undefined ? {} : { rateLimit: patch.rateLimit }),
    ...(patch.expiresAt === undefined ? {} : { expiresAt: patch.expiresAt }),
    ...(patch.metadata === undefined ? {} : { metadata: patch.metadata }),
    ...(patch.team === undefined ? {} : { team: patch.team }),
    ...(patch.priority === undefined ? {} : { priority: patch.priority }),
    ...(patch.maxConcurrency === undefined ? {} : { maxConcurrency: patch.maxConcurrency }),
    ...(patch.budgets === undefined ? {} : { budgets: patch.budgets }),
  };
}

/**
 * The stored form of a record: snake_case JSON, as the admin API shows it (plus the hash). The fields
 * of issue 20 are optional: keys stored before them read with the defaults (no team, interactive, no
 * cap, no budgets).
 */
export interface StoredKey {
  id: string;
  name: string;
  sha256: string;
  created_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  models: readonly string[] | null;
  rate_limit: KeyRecord['rateLimit'];
  metadata: Readonly<Record<string, string>>;
  team?: string | null;
  priority?: number;
  max_concurrency?: number | null;
  /** In the gateway's form ({unit, limit, window, soft}). */
  budgets?: readonly Budget[];
}

export function toStored(record: KeyRecord): StoredKey {
  return {
    id: record.id,
    name: record.name,
    sha256: record.sha256,
    created_at: record.createdAt,
    expires_at: record.expiresAt,
    revoked_at: record.revokedAt,
    models: record.models,
    rate_limit: record.rateLimit,
    metadata: record.metadata,
    team: record.team,
    priority: record.priority,
    max_concurrency: record.maxConcurrency,
    budgets: record.budgets,
  };
}

export function fromStored(stored: StoredKey): KeyRecord {
  return {
    id: stored.id,
    name: stored.name,
    sha256: stored.sha256,
    createdAt: stored.created_at,
    expiresAt: stored.expires_at,
    revokedAt: stored.revoked_at,
    models: stored.models,
    rateLimit: stored.rate_limit,
    metadata: stored.metadata,
    team: stored.team ?? null,
    priority: stored.priority ?? PRIORITY.interactive,
    maxConcurrency: stored.max_concurrency ?? null,
    budgets: stored.budgets ?? [],
    source: 'store',
  };
}
