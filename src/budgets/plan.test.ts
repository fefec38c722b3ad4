import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Budget } from '../config/config.js';
import type { BudgetLine } from './ledger.js';
import { amountsOf, Planner, refusalOf } from './plan.js';
import { WindowCalendar } from './windows.js';

const at = (iso: string): number => Date.parse(iso);
const hourlyUsd: Budget = { unit: 'usd', limit: 2, window: 'hour', soft: false };
const dailyTokens: Budget = { unit: 'tokens', limit: 1000, window: 'day', soft: false };
const softDailyTokens: Budget = { unit: 'tokens', limit: 500, window: 'day', soft: true };

/** The lines a request of a key makes: new objects each time, the same scope and budget objects. */
function linesOf(usdMicros: number, tokens: number): BudgetLine[] {
  return [
    { scope: 'key:a', budget: hourlyUsd, amount: usdMicros },
    { scope: 'key:a', budget: dailyTokens, amount: tokens },
    { scope: 'key:a', budget: softDailyTokens, amount: tokens },
  ];
}

describe('Planner', () => {
  it('plans lines into distinct counters, the hard limit the smallest of the hard lines', () => {
    const planner = new Planner(new WindowCalendar(() => 'UTC'));
    const now = at('2026-12-04T10:15:00Z');
    const plan = planner.plan(linesOf(1500, 40), now);
    assert.deepEqual(
      plan.lines.map((line) => [line.counter, line.counterIndex]),
      [
        [`key:a:usd:hour:${at('2026-12-04T10:00:00Z')}`, 0],
        [`key:a:tokens:day:${at('2026-12-04T00:00:00Z')}`, 1],
        [`key:a:tokens:day:${at('2026-12-04T00:00:00Z')}`, 1],
      ],
    );
    assert.deepEqual(
      plan.counters.map((counter) => [counter.unit, counter.hardLimit]),
      [
        ['usd', 2_000_000],
        ['tokens', 1000],
      ],
    );
    // The plan holds from the latest window start to the earliest window end.
    assert.deepEqual([plan.from, plan.until], [at('2026-12-04T10:00:00Z'), at('2026-12-04T11:00:00Z')]);
  });

  it('gives the same plan to the next request of the same budgets in the same windows', () => {
    const planner = new Planner(new WindowCalendar(() => 'UTC'));
    const first = planner.plan(linesOf(1500, 40), at('2026-12-04T10:15:00Z'));
    assert.equal(planner.plan(linesOf(9, 9), at('2026-12-04T10:59:59.999Z')), first);
  });

  it('plans again when a window ends, for other lines, and when the time zone changes', () => {
    let zone = 'UTC';
    const planner = new Planner(new WindowCalendar(() => zone));
    const first = planner.plan(linesOf(1500, 40), at('2026-12-04T10:15:00Z'));
    const nextHour = planner.plan(linesOf(1500, 40), at('2026-12-04T11:00:00Z'));
    assert.notEqual(nextHour, first);
    assert.equal(nextHour.lines[0]?.window.start, at('2026-12-04T11:00:00Z'));
    // Another key with the same budget objects: its own counters.
    const other = planner.plan(
      [{ scope: 'key:b', budget: hourlyUsd, amount: 1 }],
      at('2026-12-04T11:00:00Z'),
    );
    assert.deepEqual(
      other.lines.map((line) => line.counter),
      [`key:b:usd:hour:${at('2026-12-04T11:00:00Z')}`],
    );
    // Fewer lines of the same first budget: not the longer plan.
    assert.equal(planner.plan(linesOf(1, 1).slice(0, 2), at('2026-12-04T11:00:00Z')).lines.length, 2);
    zone = 'Asia/Kolkata';
    const kolkata = planner.plan(linesOf(1500, 40), at('2026-12-04T11:15:00Z'));
    // Kolkata is UTC+5:30: its hours start at :30 UTC, its day at 18:30 UTC the day before.
    assert.equal(kolkata.lines[0]?.window.start, at('2026-12-04T10:30:00Z'));
    assert.equal(kolkata.lines[1]?.window.start, at('2026-12-03T18:30:00Z'));
  });

  it('reserves per counter the largest amount of its lines, in whole units', () => {
    const planner = new Planner(new WindowCalendar(() => 'UTC'));
    const lines: BudgetLine[] = [
      { scope: 'key:a', budget: hourlyUsd, amount: 1499.2 },
      { scope: 'key:a', budget: dailyTokens, amount: 40 },
      { scope: 'key:a', budget: softDailyTokens, amount: 55 },
    ];
    const plan = planner.plan(lines, at('2026-12-04T10:15:00Z'));
    assert.deepEqual(amountsOf(plan, lines), [1500, 55]);
    assert.deepEqual(
      amountsOf(plan, [
        { scope: 'key:a', budget: hourlyUsd, amount: Number.NaN },
        { scope: 'key:a', budget: dailyTokens, amount: -3 },
        { scope: 'key:a', budget: softDailyTokens, amount: 0 },
      ]),
      [0, 0],
    );
  });

  it('refuses on the hard line that does not fit and whose window resets last', () => {
    const planner = new Planner(new WindowCalendar(() => 'UTC'));
    const now = at('2026-12-04T10:15:00Z');
    const plan = planner.plan(linesOf(1500, 40), now);
    const room = [
      { spent: 0, reserved: 0 },
      { spent: 900, reserved: 0 },
    ];
    assert.equal(refusalOf(plan, [1500, 40], room, now), null);
    const full = [
      { spent: 1_999_000, reserved: 0 },
      { spent: 990, reserved: 0 },
    ];
    const refused = refusalOf(plan, [1500, 40], full, now);
    assert.equal(refused?.budget, dailyTokens);
    assert.equal(refused?.remaining, 10);
    assert.equal(refused?.retryAfterSeconds, (at('2026-12-05T00:00:00Z') - now) / 1000);
  });
});
