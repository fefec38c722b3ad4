import { emissionInterval, gcraAdjust, gcraDecide, gcraNow, type GcraOutcome } from './gcra.js';
import type {
  AcquireResult,
  LimitAdjustment,
  LimitCheck,
  LimiterStore,
  LimitStatus,
} from './limiter-store.js';
import { gcraLimitOf } from './policy.js';

const MAX_ENTRIES = 100_000;

/**
 * Limit state in this process: the embedded mode's limiter, and the fallback of the Redis one while
 * Redis is away (then each instance limits on its own). An entry is dropped once its budget is whole
 * again (TAT in the past): it would mean nothing more than a missing one.
 */
export class MemoryLimiter implements LimiterStore {
  /** Per key: its TAT (in emission intervals) and when (ms) its budget is whole again. */
  private readonly tats = new Map<string, { readonly tat: number; readonly wholeAt: number }>();

  constructor(private readonly clock: () => number = Date.now) {}

  acquire(checks: readonly LimitCheck[]): Promise<AcquireResult> {
    const now = this.clock();
    const outcomes: GcraOutcome[] = checks.map((check) =>
      gcraDecide(gcraLimitOf(check.limit), this.tats.get(check.key)?.tat ?? null, check.cost, now),
    );
    let refused: AcquireResult['refused'] = null;
    for (const [index, outcome] of outcomes.entries()) {
      const check = checks[index];
      if (
        !outcome.allowed &&
        check !== undefined &&
        (refused === null || outcome.retryAfterMs > refused.retryAfterMs)
      ) {
        refused = { limit: check.limit, retryAfterMs: outcome.retryAfterMs };
      }
    }
    const allowed = refused === null;
    if (allowed) {
      checks.forEach((check, index) => {
        const outcome = outcomes[index] as GcraOutcome;
        this.store(check.key, outcome.tat, now + outcome.resetMs, now);
      });
    }
    const statuses: LimitStatus[] = checks.map((check, index) => {
      const outcome = outcomes[index] as GcraOutcome;
      if (allowed || !outcome.allowed)
        return { limit: check.limit, remaining: outcome.remaining, resetMs: outcome.resetMs };
      // Refused by another limit: this one was not charged; report it as it stands.
      const unchanged = gcraDecide(gcraLimitOf(check.limit), this.tats.get(check.key)?.tat ?? null, 0, now);
      return { limit: check.limit, remaining: unchanged.remaining, resetMs: unchanged.resetMs };
    });
    return Promise.resolve({ allowed, statuses, refused });
  }

  adjust(adjustments: readonly LimitAdjustment[]): Promise<void> {
    const now = this.clock();
    for (const adjustment of adjustments) {
      const limit = gcraLimitOf(adjustment.limit);
      const tat = gcraAdjust(limit, this.tats.get(adjustment.key)?.tat ?? null, adjustment.delta, now);
      this.store(adjustment.key, tat, now + (tat - gcraNow(limit, now)) * emissionInterval(limit), now);
    }
    return Promise.resolve();
  }

  private store(key: string, tat: number, wholeAt: number, now: number): void {
    if (wholeAt <= now) {
      this.tats.delete(key);
      return;
    }
    if (!this.tats.has(key) && this.tats.size >= MAX_ENTRIES) this.sweep(now);
    this.tats.set(key, { tat, wholeAt });
  }

  /** Drops entries whose budget is whole again; if none, the oldest inserted. */
  private sweep(now: number): void {
    for (const [key, entry] of this.tats) if (entry.wholeAt <= now) this.tats.delete(key);
    if (this.tats.size >= MAX_ENTRIES) {
      const oldest = this.tats.keys().next().value;
      if (oldest !== undefined) this.tats.delete(oldest);
    }
  }
}
