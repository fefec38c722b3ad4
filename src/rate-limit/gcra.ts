/**
 * GCRA (the generic cell rate algorithm, a token bucket stated in time): one timestamp per limit, the
 * "theoretical arrival time" (TAT). For a limit of L units per window W:
 *
 *   emission interval  T = W / L      (the time one unit of quota takes to come back)
 *   tolerance          τ = W          (so the bucket holds L units: a full budget may be spent at once)
 *
 * A cost c is admitted at time `now` when  max(TAT, now) + c·T − now ≤ τ,  and then TAT becomes that sum.
 *
 * The bound, proved in docs/rate-limits.md: over any interval of length t, admitted units ≤ L + t·L/W.
 * So over any window of the policy's length at most 2·L are admitted (the documented burst is L, the
 * whole budget at once), at most L at any single instant, and L per window sustained.
 *
 * These functions are the one definition of the arithmetic: the in-process limiter calls them, and the
 * Redis script (redis-limiter.ts) is a line-by-line transcription checked against them by the tests.
 */

export interface GcraLimit {
  /** Quota units per window (requests, or tokens). */
  readonly limit: number;
  readonly windowMs: number;
}

export interface GcraOutcome {
  readonly allowed: boolean;
  /** The TAT to store when allowed; the unchanged (floored) TAT when not. */
  readonly tat: number;
  /** Whole units left after this request (or now, when refused). */
  readonly remaining: number;
  /** Milliseconds until the whole budget is back. */
  readonly resetMs: number;
  /** When refused: milliseconds until this cost would be admitted; Infinity if it never can be. */
  readonly retryAfterMs: number;
}

export function emissionInterval(limit: GcraLimit): number {
  return limit.windowMs / limit.limit;
}

/** Decides one limit; `storedTat` is null when nothing is stored (a full budget). */
export function gcraDecide(
  limit: GcraLimit,
  storedTat: number | null,
  cost: number,
  now: number,
): GcraOutcome {
  const interval = emissionInterval(limit);
  const tolerance = limit.windowMs;
  const tat = storedTat === null || storedTat < now ? now : storedTat;
  const next = tat + cost * interval;
  if (next - now <= tolerance) {
    return {
      allowed: true,
      tat: next,
      remaining: Math.max(0, Math.floor((tolerance - (next - now)) / interval + 1e-9)),
      resetMs: next - now,
      retryAfterMs: 0,
    };
  }
  return {
    allowed: false,
    tat,
    remaining: Math.max(0, Math.floor((tolerance - (tat - now)) / interval + 1e-9)),
    resetMs: tat - now,
    retryAfterMs: cost > limit.limit ? Infinity : next - now - tolerance,
  };
}

/** The TAT after correcting an earlier charge by `delta` units (negative refunds). */
export function gcraAdjust(limit: GcraLimit, storedTat: number | null, delta: number, now: number): number {
  const tat = storedTat === null || storedTat < now ? now : storedTat;
  const next = tat + delta * emissionInterval(limit);
  return next < now ? now : next;
}
