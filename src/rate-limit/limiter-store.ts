import type { AppliedLimit } from './policy.js';

/** One limit to check for a request: its state key and what the request costs against it. */
export interface LimitCheck {
  readonly limit: AppliedLimit;
  /** The state key, e.g. `gw-rl:{team-a}:key:requests:100/minute`. */
  readonly key: string;
  readonly cost: number;
}

export interface LimitStatus {
  readonly limit: AppliedLimit;
  readonly remaining: number;
  readonly resetMs: number;
}

export interface AcquireResult {
  readonly allowed: boolean;
  /** Every checked limit after the decision (unchanged ones when refused). */
  readonly statuses: readonly LimitStatus[];
  /** When refused: the limit that waits longest, and how long. */
  readonly refused: { readonly limit: AppliedLimit; readonly retryAfterMs: number } | null;
}

export interface LimitAdjustment {
  readonly limit: AppliedLimit;
  readonly key: string;
  /** Units to add (a charge) or, when negative, to give back. */
  readonly delta: number;
}

/**
 * Where limit state lives: in process, or in Redis for every instance. Both run the same GCRA
 * (gcra.ts). `acquire` is atomic over all the checks: either every limit is charged or none is.
 */
export interface LimiterStore {
  acquire(checks: readonly LimitCheck[]): Promise<AcquireResult>;
  adjust(adjustments: readonly LimitAdjustment[]): Promise<void>;
}
