import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emissionInterval, gcraAdjust, gcraDecide, type GcraLimit } from './gcra.js';

/** A realistic timestamp: at 1.9e12 ms, adding a fraction of a millisecond already rounds. */
const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** Spends `count` requests of `cost` at `now`, each one admitted, and returns the TAT to store. */
function spend(
  limit: GcraLimit,
  tat: number | null,
  count: number,
  cost: number,
  now: number,
): number | null {
  let stored = tat;
  for (let index = 1; index <= count; index++) {
    const outcome = gcraDecide(limit, stored, cost, now);
    assert.ok(outcome.allowed, `request ${index} of ${count} (cost ${cost}) should be admitted`);
    stored = outcome.tat;
  }
  return stored;
}

/** How many unit requests at one instant a full budget admits (stops one past the limit). */
function burst(limit: GcraLimit, now: number): number {
  let stored: number | null = null;
  for (let admitted = 0; admitted <= limit.limit; admitted++) {
    const outcome = gcraDecide(limit, stored, 1, now);
    if (!outcome.allowed) return admitted;
    stored = outcome.tat;
  }
  return limit.limit + 1;
}

describe('gcraDecide', () => {
  const fivePerSecond: GcraLimit = { limit: 5, windowMs: 1000 };

  it('has an emission interval of W / L', () => {
    assert.equal(emissionInterval(fivePerSecond), 200);
    assert.equal(emissionInterval({ limit: 100, windowMs: 60_000 }), 600);
  });

  it('admits exactly the limit at once from a full budget, then refuses for one emission interval', () => {
    let stored: number | null = null;
    for (let index = 1; index <= 5; index++) {
      const outcome = gcraDecide(fivePerSecond, stored, 1, T0);
      assert.equal(outcome.allowed, true, `request ${index}`);
      assert.equal(outcome.remaining, 5 - index);
      assert.equal(outcome.resetMs, index * 200, 'each unit takes one interval to come back');
      assert.equal(outcome.retryAfterMs, 0);
      stored = outcome.tat;
    }
    const refused = gcraDecide(fivePerSecond, stored, 1, T0);
    assert.equal(refused.allowed, false);
    assert.equal(refused.retryAfterMs, 200);
    assert.equal(refused.remaining, 0);
    assert.equal(refused.resetMs, 1000);
    assert.equal(refused.tat, stored, 'a refusal leaves the state as it was');

    assert.equal(gcraDecide(fivePerSecond, stored, 1, T0 + 199).allowed, false);
    const later = gcraDecide(fivePerSecond, stored, 1, T0 + 200);
    assert.equal(later.allowed, true, 'admitted once retryAfterMs has passed');
    assert.equal(later.remaining, 0);
  });

  it('admits exactly L unit requests at once for every L up to 500 and every window, at real timestamps', () => {
    // With the TAT kept in milliseconds, 6/second (T = 166.66… ms) admitted only 5 at 1.8e12 ms.
    const failures: string[] = [];
    for (const now of [T0, T0 + 0.123, Date.parse('2026-06-01T12:34:56.789Z') + 0.874]) {
      for (const windowMs of [1000, 60_000, 3_600_000, 86_400_000]) {
        for (let limit = 1; limit <= 500; limit++) {
          const admitted = burst({ limit, windowMs }, now);
          if (admitted !== limit) failures.push(`${limit} per ${windowMs} ms at ${now}: ${admitted}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  it('admits the whole budget in one request, and a cost over it never (retryAfterMs Infinity)', () => {
    const whole = gcraDecide(fivePerSecond, null, 5, T0);
    assert.equal(whole.allowed, true);
    assert.equal(whole.remaining, 0);
    assert.equal(whole.resetMs, 1000);

    const tooBig = gcraDecide(fivePerSecond, null, 6, T0);
    assert.equal(tooBig.allowed, false);
    assert.equal(tooBig.retryAfterMs, Infinity);
    assert.equal(tooBig.remaining, 5, 'the budget is whole and untouched');
    assert.equal(tooBig.resetMs, 0);
  });

  it('a refused cost waits until enough units have come back, and reports what is left now', () => {
    const stored = spend(fivePerSecond, null, 4, 1, T0); // one unit left
    const refused = gcraDecide(fivePerSecond, stored, 3, T0);
    assert.equal(refused.allowed, false);
    assert.equal(refused.remaining, 1);
    assert.equal(refused.resetMs, 800);
    assert.equal(refused.retryAfterMs, 400, 'two more units take two intervals');
    assert.equal(gcraDecide(fivePerSecond, stored, 3, T0 + 399).allowed, false);
    assert.equal(gcraDecide(fivePerSecond, stored, 3, T0 + 400).allowed, true);
  });

  it('refills one unit per emission interval and is whole again after the window', () => {
    const stored = spend(fivePerSecond, null, 5, 1, T0);
    assert.equal(gcraDecide(fivePerSecond, stored, 0, T0 + 200).remaining, 1);
    assert.equal(gcraDecide(fivePerSecond, stored, 0, T0 + 599).remaining, 2);
    assert.equal(gcraDecide(fivePerSecond, stored, 0, T0 + 600).remaining, 3);
    const whole = gcraDecide(fivePerSecond, stored, 0, T0 + 1000);
    assert.equal(whole.remaining, 5);
    assert.equal(whole.resetMs, 0);
    // An old TAT counts as no TAT: idle time does not save up more than the budget.
    assert.equal(burst(fivePerSecond, T0 + 3_600_000), 5);
    assert.equal(spend(fivePerSecond, stored, 5, 1, T0 + 3_600_000) !== null, true);
    assert.equal(gcraDecide(fivePerSecond, stored, 6, T0 + 3_600_000).allowed, false);
  });

  it('a zero cost is always admitted and changes nothing', () => {
    const stored = spend(fivePerSecond, null, 5, 1, T0);
    const outcome = gcraDecide(fivePerSecond, stored, 0, T0);
    assert.equal(outcome.allowed, true);
    assert.equal(outcome.tat, stored);
    assert.equal(outcome.remaining, 0);
  });
});

describe('gcraAdjust', () => {
  const tokens: GcraLimit = { limit: 1000, windowMs: 60_000 };

  it('a negative delta refunds: the units are available again', () => {
    const stored = spend(tokens, null, 1, 800, T0);
    assert.equal(gcraDecide(tokens, stored, 0, T0).remaining, 200);
    const refunded = gcraAdjust(tokens, stored, -500, T0);
    assert.equal(gcraDecide(tokens, refunded, 0, T0).remaining, 700);
    assert.equal(gcraDecide(tokens, refunded, 700, T0).allowed, true);
    assert.equal(gcraDecide(tokens, refunded, 701, T0).allowed, false);
  });

  it('a refund never goes below now: it cannot make the budget more than whole', () => {
    const stored = spend(tokens, null, 1, 300, T0);
    const overRefunded = gcraAdjust(tokens, stored, -5000, T0);
    assert.equal(overRefunded, gcraAdjust(tokens, null, 0, T0), 'floored to a whole budget');
    const outcome = gcraDecide(tokens, overRefunded, 0, T0);
    assert.equal(outcome.remaining, 1000);
    assert.equal(outcome.resetMs, 0);
    assert.equal(gcraDecide(tokens, overRefunded, 1000, T0).allowed, true);
    assert.equal(gcraDecide(tokens, overRefunded, 1001, T0).allowed, false);
    // Refunding nothing stored is a whole budget too.
    assert.equal(gcraDecide(tokens, gcraAdjust(tokens, null, -10, T0), 0, T0).remaining, 1000);
  });

  it('a positive delta charges, even past the budget, and later requests wait for it', () => {
    const stored = spend(tokens, null, 1, 600, T0);
    const charged = gcraAdjust(tokens, stored, 900, T0); // 1500 used: 500 over the budget
    const outcome = gcraDecide(tokens, charged, 1, T0);
    assert.equal(outcome.allowed, false);
    assert.equal(outcome.remaining, 0);
    assert.equal(outcome.resetMs, 90_000, '1500 tokens at 60 ms each');
    assert.equal(outcome.retryAfterMs, 30_060, '501 tokens must come back first');
    assert.equal(gcraDecide(tokens, gcraAdjust(tokens, null, 250, T0), 0, T0).remaining, 750);
  });

  it('applies to a past TAT from now, not from the old TAT', () => {
    const stored = spend(tokens, null, 1, 1000, T0);
    const later = T0 + 120_000; // the budget has been whole for a minute
    assert.equal(gcraDecide(tokens, gcraAdjust(tokens, stored, 100, later), 0, later).remaining, 900);
  });
});

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Admission {
  readonly at: number;
  readonly cost: number;
}

/**
 * Random arrivals against one limit: bursts at one instant, dense runs, pauses; costs mostly 1,
 * sometimes large, sometimes over the limit. Times in whole microseconds, as Redis's clock.
 */
function simulate(
  limit: GcraLimit,
  seed: number,
  steps: number,
  decide: (cost: number, now: number) => boolean = gcraLimiter(limit),
): { admitted: Admission[]; refused: number } {
  const next = random(seed);
  const interval = emissionInterval(limit);
  const admitted: Admission[] = [];
  let refused = 0;
  let now = T0;
  for (let step = 0; step < steps; step++) {
    const draw = next();
    let gap: number;
    if (draw < 0.3) gap = 0;
    else if (draw < 0.8) gap = next() * 2 * interval;
    else if (draw < 0.97) gap = next() * interval * 0.1;
    else gap = next() * limit.windowMs * 1.5;
    now += Math.round(gap * 1000) / 1000;
    const kind = next();
    const cost =
      kind < 0.75
        ? 1
        : kind < 0.98
          ? 1 + Math.floor(next() * Math.ceil(limit.limit / 2))
          : limit.limit + 1 + Math.floor(next() * 3);
    if (decide(cost, now)) admitted.push({ at: now, cost });
    else refused++;
  }
  return { admitted, refused };
}

/** GCRA with its state, as the limiters keep it. */
function gcraLimiter(limit: GcraLimit): (cost: number, now: number) => boolean {
  let stored: number | null = null;
  return (cost, now) => {
    const outcome = gcraDecide(limit, stored, cost, now);
    if (outcome.allowed) stored = outcome.tat;
    else assert.ok(outcome.retryAfterMs > 0, 'a refusal asks to wait');
    return outcome.allowed;
  };
}

/** What the issue rules out: a counter per fixed window (to show the checks can fail). */
function fixedWindowLimiter(limit: GcraLimit): (cost: number, now: number) => boolean {
  let window = -1;
  let used = 0;
  return (cost, now) => {
    const current = Math.floor(now / limit.windowMs);
    if (current !== window) {
      window = current;
      used = 0;
    }
    if (used + cost > limit.limit) return false;
    used += cost;
    return true;
  };
}

/**
 * The largest excess of admitted units over L + d·L/W, over every closed interval [a, b] whose ends
 * are admission instants (those are the intervals where the count is largest for their length).
 */
function worstExcess(admitted: readonly Admission[], limit: GcraLimit): number {
  const prefix = [0];
  for (const admission of admitted) prefix.push((prefix.at(-1) ?? 0) + admission.cost);
  let worst = -Infinity;
  for (let first = 0; first < admitted.length; first++) {
    const start = admitted[first]!.at;
    if (first > 0 && admitted[first - 1]!.at === start) continue; // every admission at `start` counts
    for (let last = first; last < admitted.length; last++) {
      const end = admitted[last]!.at;
      if (last + 1 < admitted.length && admitted[last + 1]!.at === end) continue;
      const units = prefix[last + 1]! - prefix[first]!;
      const bound = limit.limit + ((end - start) * limit.limit) / limit.windowMs;
      worst = Math.max(worst, units - bound);
    }
  }
  return worst;
}

/** The most units admitted in any half-open window [t, t + W). */
function mostInAnyWindow(admitted: readonly Admission[], windowMs: number): number {
  let most = 0;
  let units = 0;
  let end = 0;
  for (let start = 0; start < admitted.length; start++) {
    if (end < start) {
      end = start;
      units = 0;
    }
    while (end < admitted.length && admitted[end]!.at < admitted[start]!.at + windowMs) {
      units += admitted[end]!.cost;
      end++;
    }
    most = Math.max(most, units);
    units -= admitted[start]!.cost;
  }
  return most;
}

describe('the stated bound (property test over seeded random arrivals)', () => {
  const cases: { limit: GcraLimit; seed: number }[] = [
    { limit: { limit: 10, windowMs: 1000 }, seed: 1 },
    { limit: { limit: 6, windowMs: 1000 }, seed: 2 },
    { limit: { limit: 7, windowMs: 60_000 }, seed: 3 },
    { limit: { limit: 100, windowMs: 60_000 }, seed: 4 },
    { limit: { limit: 3, windowMs: 3_600_000 }, seed: 5 },
    { limit: { limit: 1000, windowMs: 86_400_000 }, seed: 6 },
  ];
  const STEPS = 5000;

  for (const { limit, seed } of cases) {
    const name = `${limit.limit} per ${limit.windowMs} ms (seed ${seed})`;

    it(`${name}: every interval of length d admits at most L + d·L/W units`, () => {
      const { admitted, refused } = simulate(limit, seed, STEPS);
      assert.ok(admitted.length > STEPS / 10 && refused > STEPS / 10, 'the run both admits and refuses');
      const excess = worstExcess(admitted, limit);
      assert.ok(excess <= 1e-6, `${excess} units over the bound`);
      // And the bound is reached: it is exact, not loose (within the microsecond rounding of times).
      assert.ok(excess > -0.01, `the closest interval stays ${-excess} units under the bound`);
    });

    it(`${name}: every window [t, t + W) admits at most 2·L units`, () => {
      const { admitted } = simulate(limit, seed, STEPS);
      // The documented bound L + floor(W·L/W) = 2·L.
      const most = mostInAnyWindow(admitted, limit.windowMs);
      assert.ok(most <= 2 * limit.limit, `${most} units in one window`);
    });

    it(`${name}: the long-run admitted rate is at most L per W`, () => {
      const { admitted } = simulate(limit, seed, STEPS);
      const first = admitted[0]!;
      const last = admitted.at(-1)!;
      const units = admitted.reduce((sum, admission) => sum + admission.cost, 0);
      const windows = (last.at - first.at) / limit.windowMs;
      assert.ok(windows > 20, `the run spans ${windows} windows`);
      assert.ok(units <= limit.limit * windows + limit.limit + 1e-6, `${units} units in ${windows} windows`);
    });
  }

  it('the same checks catch a fixed window, which admits 2·L within moments at a boundary', () => {
    const limit = { limit: 10, windowMs: 1000 };
    const { admitted } = simulate(limit, 1, STEPS, fixedWindowLimiter(limit));
    const excess = worstExcess(admitted, limit);
    assert.ok(excess > limit.limit / 2, `a fixed window only exceeds the bound by ${excess}`);
  });

  it('the bound is tight: dense arrivals after a full budget reach 2·L in a window', () => {
    for (const limit of [
      { limit: 10, windowMs: 1000 },
      { limit: 100, windowMs: 60_000 },
      { limit: 4, windowMs: 3_600_000 },
    ]) {
      // One request every millisecond for three windows.
      const admitted: Admission[] = [];
      let stored: number | null = null;
      for (let now = T0; now < T0 + 3 * limit.windowMs; now += 1) {
        for (let tries = 0; tries < 3; tries++) {
          const outcome = gcraDecide(limit, stored, 1, now);
          if (!outcome.allowed) break;
          stored = outcome.tat;
          admitted.push({ at: now, cost: 1 });
        }
      }
      const closed = admitted.filter((admission) => admission.at <= T0 + limit.windowMs).length;
      assert.equal(closed, 2 * limit.limit, 'L at the start and L more by the end of [t, t + W]');
      assert.equal(mostInAnyWindow(admitted, limit.windowMs), 2 * limit.limit - 1, 'half-open window');
      assert.ok(worstExcess(admitted, limit) <= 1e-6, 'over the bound');
      assert.ok(worstExcess(admitted, limit) >= -1e-6, 'some interval meets L + d·L/W exactly');
      // Sustained: after the burst, one per emission interval.
      const lastWindow = admitted.filter((admission) => admission.at >= T0 + 2 * limit.windowMs).length;
      assert.equal(lastWindow, limit.limit);
    }
  });
});
