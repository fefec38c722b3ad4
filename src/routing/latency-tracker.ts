/**
 * The moving average of time to first token per target, for `strategy: latency` (issue 20).
 *
 * Each answered attempt adds a sample: the time to the first chunk of a stream, or to the whole answer
 * otherwise. The average is an EWMA with weight {@link ALPHA} on the new sample, so a few answers move
 * it. A failed attempt adds a penalty sample ({@link failurePenalty}), so a failing target is avoided
 * before its circuit opens.
 *
 * A target that the strategy avoids gets no samples, and an EWMA without samples never changes: a
 * target that was slow (or failed once) and is fast again would never be found. So an estimate goes
 * stale after {@link STALE_MS} without a sample; a stale target scores as unmeasured (best), takes one
 * attempt (the probe; others keep to the old estimate while it runs), and the probe's sample replaces
 * the old estimate instead of being averaged with it. A target that stays slow thus costs one attempt
 * per STALE_MS; one that became fast gets its traffic back within STALE_MS plus one answer.
 */

/** Weight of a new sample in the average. */
export const ALPHA = 0.3;
/** Without a sample for this long, an estimate is re-measured by the next attempt. */
export const STALE_MS = 10_000;
/** A failure counts at least this slow (and at least twice the target's average). */
export const FAILURE_PENALTY_MS = 10_000;

interface Estimate {
  averageMs: number;
  /** When the last sample came in. */
  sampledAt: number;
  /** When an attempt to re-measure a stale estimate was sent; null: none in flight. */
  probeAt: number | null;
}

/** The sample a failed attempt that took `elapsedMs` adds to an average of `averageMs` (null: none yet). */
export function failurePenalty(elapsedMs: number, averageMs: number | null): number {
  return Math.max(elapsedMs, FAILURE_PENALTY_MS, 2 * (averageMs ?? 0));
}

/** Time to first token per target, keyed by any object that identifies a target. */
export class LatencyTracker<Target extends object> {
  private readonly estimates = new WeakMap<Target, Estimate>();

  constructor(private readonly now: () => number) {}

  /**
   * The target's expected time to first token in ms for choosing: 0 when it has no sample yet or is due
   * a re-measurement (so that it gets one), else its average.
   */
  score(target: Target): number {
    const estimate = this.estimates.get(target);
    if (estimate === undefined) return 0;
    return this.due(estimate) ? 0 : estimate.averageMs;
  }

  /** The average in ms, stale or not (null: no sample yet); for logs and tests. */
  average(target: Target): number | null {
    return this.estimates.get(target)?.averageMs ?? null;
  }

  /** An attempt was sent to the target: when its estimate is stale, this attempt is the probe. */
  sent(target: Target): void {
    const estimate = this.estimates.get(target);
    if (estimate !== undefined && this.due(estimate)) estimate.probeAt = this.now();
  }

  /** The target answered (first chunk, or whole answer) `elapsedMs` after the attempt was sent. */
  answered(target: Target, elapsedMs: number): void {
    this.sample(target, elapsedMs);
  }

  /** An attempt on the target failed after `elapsedMs` in a way that counts against the target. */
  failed(target: Target, elapsedMs: number): void {
    this.sample(target, failurePenalty(elapsedMs, this.average(target)));
  }

  private sample(target: Target, ms: number): void {
    const now = this.now();
    const estimate = this.estimates.get(target);
    if (estimate === undefined) {
      this.estimates.set(target, { averageMs: ms, sampledAt: now, probeAt: null });
      return;
    }
    // A sample after a stale spell (the probe's, or any that arrives then) starts the average afresh:
    // the old one says how the target was, not how it is.
    const stale = now - estimate.sampledAt >= STALE_MS;
    estimate.averageMs = stale ? ms : estimate.averageMs + ALPHA * (ms - estimate.averageMs);
    estimate.sampledAt = now;
    estimate.probeAt = null;
  }

  /** Stale, and no probe sent within the last STALE_MS (a probe that never reports is not waited on forever). */
  private due(estimate: Estimate): boolean {
    const now = this.now();
    return (
      now - estimate.sampledAt >= STALE_MS &&
      (estimate.probeAt === null || now - estimate.probeAt >= STALE_MS)
    );
  }
}
