import type { RateLimitPolicyConfig } from '../config/schema.js';

/** An API key as the gateway knows it. The secret itself is never stored, only its SHA-256. */
export interface KeyRecord {
  readonly id: string;
  readonly name: string;
  readonly sha256: string;
  readonly createdAt: string | null;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  /** Allow-list of model patterns (`exact`, `prefix*`, `*`); null allows every model. */
  readonly models: readonly string[] | null;
  readonly rateLimit: RateLimitPolicyConfig | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly source: 'config' | 'store';
}
