import type { Budget } from '../config/config.js';
import type { TeamRecord } from './team-record.js';

/** The fields of a team an admin may change; null clears an optional field. */
export interface TeamPatch {
  readonly name?: string;
  readonly models?: readonly string[] | null;
  readonly rateLimit?: TeamRecord['rateLimit'];
  readonly budgets?: readonly Budget[];
  readonly maxConcurrency?: number | null;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Where the admin API's teams live: SQLite for one instance (src/state/embedded), Redis for many
 * (src/state/redis), like keys. Config teams never reach a store.
 */
export interface TeamStore {
  readonly kind: 'embedded' | 'redis';
  get(id: string): Promise<TeamRecord | null>;
  list(): Promise<TeamRecord[]>;
  /** Throws TeamExistsError when a team has that id already. */
  create(record: TeamRecord): Promise<void>;
  /** Returns the updated record, or null when no team has that id. */
  update(id: string, patch: TeamPatch): Promise<TeamRecord | null>;
  /** True when a team was deleted. */
  delete(id: string): Promise<boolean>;
  /**
   * Calls back with the id of every team changed by any instance sharing the store, and with null when
   * changes may have been missed (the subscription was lost): caches must then forget everything.
   */
  subscribe(listener: (id: string | null) => void): void;
  /** Whether changes are delivered right now (else caches keep entries briefly). */
  readonly changesDelivered: boolean;
  close(): Promise<void>;
}

/** A store refused to create a team whose id exists (the admin API answers 409). */
export class TeamExistsError extends Error {
  constructor(readonly id: string) {
    super(`a team with the id ${id} exists already`);
  }
}

export function applyTeamPatch(record: TeamRecord, patch: TeamPatch): TeamRecord {
  return {
    ...record,
    ...(patch.name === undefined ? {} : { name: patch.name }),
    ...(patch.models === undefined ? {} : { models: patch.models }),
    ...(patch.rateLimit === undefined ? {} : { rateLimit: patch.rateLimit }),
    ...(patch.budgets === undefined ? {} : { budgets: patch.budgets }),
    ...(patch.maxConcurrency === undefined ? {} : { maxConcurrency: patch.maxConcurrency }),
    ...(patch.metadata === undefined ? {} : { metadata: patch.metadata }),
  };
}

/** The stored form of a team: snake_case JSON. Budgets keep the gateway's form ({unit, limit, window, soft}). */
export interface StoredTeam {
  id: string;
  name: string;
  models: readonly string[] | null;
  rate_limit: TeamRecord['rateLimit'];
  budgets?: readonly Budget[];
  max_concurrency?: number | null;
  metadata: Readonly<Record<string, string>>;
  created_at: string | null;
}

export function toStoredTeam(record: TeamRecord): StoredTeam {
  return {
    id: record.id,
    name: record.name,
    models: record.models,
    rate_limit: record.rateLimit,
    budgets: record.budgets,
    max_concurrency: record.maxConcurrency,
    metadata: record.metadata,
    created_at: record.createdAt,
  };
}

/** Fields a future version adds read with their defaults, so data written before keeps working. */
export function fromStoredTeam(stored: StoredTeam): TeamRecord {
  return {
    id: stored.id,
    name: stored.name,
    models: stored.models ?? null,
    rateLimit: stored.rate_limit ?? null,
    budgets: stored.budgets ?? [],
    maxConcurrency: stored.max_concurrency ?? null,
    metadata: stored.metadata,
    createdAt: stored.created_at ?? null,
    source: 'store',
  };
}
