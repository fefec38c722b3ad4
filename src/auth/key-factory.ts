import type { RateLimitPolicyConfig } from '../config/schema.js';
import { generateApiKey, newKeyId, sha256Hex } from './api-key.js';
import type { KeyRecord } from './key-record.js';

export interface NewKey {
  readonly name: string;
  readonly models?: readonly string[] | null | undefined;
  readonly rateLimit?: RateLimitPolicyConfig | null | undefined;
  readonly expiresAt?: string | null | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/** A new key and its record; the caller shows the key once and stores only the record. */
export function createKey(input: NewKey): { key: string; record: KeyRecord } {
  const key = generateApiKey();
  return {
    key,
    record: {
      id: newKeyId(),
      name: input.name,
      sha256: sha256Hex(key),
      createdAt: new Date().toISOString(),
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      models: input.models ?? null,
      rateLimit: input.rateLimit ?? null,
      metadata: input.metadata ?? {},
      source: 'store',
    },
  };
}
