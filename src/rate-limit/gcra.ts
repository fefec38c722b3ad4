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
 * The TAT is counted in emission intervals (ms / T), not in ms: a request then adds its whole cost,
 * exactly. In ms, adding T (6/second: 166.66… ms) to a timestamp of 1.8e12 rounds every time, and a
 * full budget spent at once could sum past τ and refuse its last unit.
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
  /** The TAT (in emission intervals) to store when allowed; the unchanged (floored) TAT when not. */
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

/** `now` (ms) in emission intervals: the unit of stored TATs. */
export function gcraNow(limit: GcraLimit, now: number): number {
  return now / emissionInterval(limit);
}

/** Decides one limit; `storedTat` (in emission intervals) is null when nothing is stored (a full budget). */
export function gcraDecide(
  limit: GcraLimit,
  storedTat: number | null,
  cost: number,
  now: number,
): GcraOutcome {
  const interval = emissionInterval(limit);
  // In emission intervals, the tolerance τ = W is the limit itself.
  const tolerance = limit.limit;
  const current = gcraNow(limit, now);
  const tat = storedTat === null || storedTat < current ? current : storedTat;
  const next = tat + cost;
  // 1e-9 of a unit: room for the rounding of a sum that crosses a power of two, never a whole unit.
  if (next - current <= tolerance + 1e-9) {
    return {
      allowed: true,
      tat: next,
      remaining: Math.max(0, Math.floor(tolerance - (next - current) + 1e-9)),
      resetMs: (next - current) * interval,
      retryAfterMs: 0,
    };
  }
  return {
    allowed: false,
    tat,
    remaining: Math.max(0, Math.floor(tolerance - (tat - current) + 1e-9)),
    resetMs: (tat - current) * interval,
    retryAfterMs: cost > limit.limit ? Infinity : (next - current - tolerance) * interval,
  };
}

/** The TAT after correcting an earlier charge by `delta` units (negative refunds). */
export function gcraAdjust(limit: GcraLimit, storedTat: number | null, delta: number, now: number): number {
  const current = gcraNow(limit, now);
  const tat = storedTat === null || storedTat < current ? current : storedTat;
  const next = tat + delta;
  return next < current ? current : next;
}
