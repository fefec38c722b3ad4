import { PRIORITY, type Budget } from '../config/config.js';
import type { RateLimitPolicyConfig } from '../config/schema.js';
import { InvalidRequestError } from '../errors/errors.js';
import { generateApiKey, newKeyId, sha256Hex } from './api-key.js';
import type { KeyRecord } from './key-record.js';
import { normalizeTimestamp } from './timestamp.js';

export interface NewKey {
  readonly name: string;
  readonly models?: readonly string[] | null | undefined;
  readonly rateLimit?: RateLimitPolicyConfig | null | undefined;
  readonly expiresAt?: string | null | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  readonly team?: string | null | undefined;
  readonly priority?: number | undefined;
  readonly maxConcurrency?: number | null | undefined;
  readonly budgets?: readonly Budget[] | undefined;
}

/**
 * A new key and its record; the caller shows the key once and stores only the record. The expiry is
 * stored as the same instant in UTC, so that every reader's Date.parse gets a number: an unparseable
 * expiry is refused here, whoever calls.
 */
export function createKey(input: NewKey): { key: string; record: KeyRecord } {
  const expiresAt = input.expiresAt == null ? null : normalizeTimestamp(input.expiresAt);
  if (expiresAt === null && input.expiresAt != null)
    throw new InvalidRequestError('expires_at: must be an RFC 3339 date-time that exists', {
      param: 'expires_at',
    });
  const key = generateApiKey();
  return {
    key,
    record: {
      id: newKeyId(),
      name: input.name,
      sha256: sha256Hex(key),
      createdAt: new Date().toISOString(),
      expiresAt,
      revokedAt: null,
      models: input.models ?? null,
      rateLimit: input.rateLimit ?? null,
      metadata: input.metadata ?? {},
      team: input.team ?? null,
      priority: input.priority ?? PRIORITY.interactive,
      maxConcurrency: input.maxConcurrency ?? null,
      budgets: input.budgets ?? [],
      source: 'store',
    },
  };
}
