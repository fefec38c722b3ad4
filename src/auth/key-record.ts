import type { Budget } from '../config/config.js';
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
  /** The team the key belongs to (a config team or an admin API team); null: none. */
  readonly team: string | null;
  /** Queue priority of its requests: higher first (interactive 100, batch 10; see PRIORITY). */
  readonly priority: number;
  /** Requests in flight at most, across instances; null: no cap of its own. */
  readonly maxConcurrency: number | null;
  readonly budgets: readonly Budget[];
  readonly source: 'config' | 'store';
}
