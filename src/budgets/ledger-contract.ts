/* eslint-disable @typescript-eslint/no-floating-promises -- node:test's describe/it return promises the
   runner itself awaits (as eslint.config.js allows in *.test.ts files; this suite is run from two). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Budget } from '../config/config.js';
import {
  formatRemaining,
  settledLines,
  tightestBudget,
  type BudgetLedger,
  type BudgetLine,
} from './ledger.js';
import type { LedgerOptions } from './memory-ledger.js';
import { windowAt } from './windows.js';

/**
 * The contract every BudgetLedger keeps, run against the in-memory and the Redis ledger alike.
 * `ledgers` gives two ledgers over the same state (two instances; the same one twice in memory).
 */
export interface LedgerFixture {
  readonly ledgers: (options: LedgerOptions) => Promise<readonly [BudgetLedger, BudgetLedger]>;
  /** Skips the suite (a reason), as node:test's `skip`. */
  readonly skip?: string | boolean;
}

const tokens = (limit: number, window: Budget['window'] = 'day', soft = false): Budget => ({
  unit: 'tokens',
  limit,
  window,
  soft,
});
const usd = (limit: number, window: Budget['window'] = 'day', soft = false): Budget => ({
  unit: 'usd',
  limit,
  window,
  soft,
});
const options: LedgerOptions = { timeZone: () => 'Europe/Berlin' };

/** Now, in the middle of an hour: real time, as Redis expires keys by its own clock. */
function midHour(): number {
  const now = Date.now();
  return windowAt('hour', 'UTC', now).start + 1_800_000;
}

let scopes = 0;
/** A scope no other test uses (the Redis ledger's state outlives a test). */
function freshKey(): `key:${string}` {
  return `key:contract-${process.pid}-${Date.now()}-${++scopes}`;
}

export function describeLedgerContract(name: string, fixture: LedgerFixture): void {
  describe(`${name} (BudgetLedger contract)`, { skip: fixture.skip ?? false }, () => {
    it('admits exactly floor(500 / 7) of 200 concurrent reservations from two instances', async () => {
      const [one, two] = await fixture.ledgers(options);
      const scope = freshKey();
      const budget = tokens(500);
      const now = midHour();
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, index) =>
          (index % 2 === 0 ? one : two).reserve([{ scope, budget, amount: 7 }], now),
        ),
      );
      const admitted = results.filter((result) => result.ok).length;
      assert.equal(admitted, Math.floor(500 / 7));
      const refused = results.find((result) => !result.ok);
      assert.ok(refused !== undefined && !refused.ok);
      assert.equal(refused.refused.scope, scope);
      assert.deepEqual(refused.refused.budget, budget);
      const day = windowAt('day', 'Europe/Berlin', now);
      assert.equal(refused.refused.retryAfterSeconds, Math.ceil((day.end - now) / 1000));
      const [status] = await one.status(scope, [budget], now);
      assert.deepEqual(
        { spent: status?.spent, reserved: status?.reserved, remaining: status?.remaining },
        { spent: 0, reserved: 497, remaining: 3 },
      );
    });

    it('frees room when a request settles for less than it reserved', async () => {
      const [one, two] = await fixture.ledgers(options);
      const scope = freshKey();
      const budget = tokens(100);
      const now = midHour();
      const first = await one.reserve([{ scope, budget, amount: 60 }], now);
      assert.ok(first.ok);
      assert.equal((await two.reserve([{ scope, budget, amount: 60 }], now)).ok, false);
      const settled = await one.settle(first.reservation, { usdMicros: 0, tokens: 20 });
      assert.equal(settled.counted, true);
      assert.deepEqual(
        settledLines(settled).map((line) => [line.spentBefore, line.spentAfter, line.limit]),
        [[0, 20, 100]],
      );
      const second = await two.reserve([{ scope, budget, amount: 60 }], now);
      assert.ok(second.ok);
      assert.deepEqual(
        second.reservation.statuses.map((status) => [status.spent, status.reserved, status.remaining]),
        [[20, 60, 20]],
      );
    });

    it('counts a reservation settled twice once', async () => {
      const [one, two] = await fixture.ledgers(options);
      const scope = freshKey();
      const budget = usd(1);
      const now = midHour();
      const reserved = await one.reserve([{ scope, budget, amount: 300_000 }], now);
      assert.ok(reserved.ok);
      assert.equal(
        (await one.settle(reserved.reservation, { usdMicros: 250_000, tokens: 99 })).counted,
        true,
      );
      const again = await two.settle(reserved.reservation, { usdMicros: 250_000, tokens: 99 });
      assert.equal(again.counted, false);
      assert.deepEqual(
        settledLines(again).map((line) => [line.spentBefore, line.spentAfter]),
        [[250_000, 250_000]],
      );
      const [status] = await two.status(scope, [budget], now);
      assert.deepEqual([status?.spent, status?.reserved, status?.remaining], [250_000, 0, 750_000]);
    });

    it('settles an error without usage as 0: the reservation is released and nothing is spent', async () => {
      const [one] = await fixture.ledgers(options);
      const scope = freshKey();
      const budget = usd(0.001);
      const now = midHour();
      const reserved = await one.reserve([{ scope, budget, amount: 1000 }], now);
      assert.ok(reserved.ok);
      await one.settle(reserved.reservation, { usdMicros: 0, tokens: 0 });
      const [status] = await one.status(scope, [budget], now);
      assert.deepEqual([status?.spent, status?.reserved, status?.remaining], [0, 0, 1000]);
    });

    it('releases an abandoned reservation once it expires', async () => {
      const [one, two] = await fixture.ledgers({ ...options, reservationTtlMs: () => 60_000 });
      const scope = freshKey();
      const budget = tokens(100);
      const now = midHour();
      const abandoned = await one.reserve([{ scope, budget, amount: 100 }], now);
      assert.ok(abandoned.ok);
      assert.equal(abandoned.reservation.expiresAt, now + 60_000);
      assert.equal((await two.reserve([{ scope, budget, amount: 1 }], now + 59_999)).ok, false);
      const [held] = await two.status(scope, [budget], now + 59_999);
      assert.equal(held?.reserved, 100);
      assert.ok((await two.reserve([{ scope, budget, amount: 100 }], now + 60_000)).ok);
      // Settling the abandoned one late still counts what it spent.
      const late = await one.settle(abandoned.reservation, { usdMicros: 0, tokens: 10 });
      assert.equal(late.counted, true);
      const [after] = await one.status(scope, [budget], now + 60_000);
      assert.deepEqual([after?.spent, after?.reserved], [10, 100]);
    });

    it('starts a new window with nothing spent, and keeps the old window’s settlement in the old one', async () => {
      // Reservations that outlive the hour, so that only the window's end frees its room.
      const [one, two] = await fixture.ledgers({ timeZone: () => 'UTC', reservationTtlMs: () => 7_200_000 });
      const scope = freshKey();
      const budget = tokens(50, 'hour');
      const now = midHour();
      const hour = windowAt('hour', 'UTC', now);
      const full = await one.reserve([{ scope, budget, amount: 50 }], now);
      assert.ok(full.ok);
      const refused = await two.reserve([{ scope, budget, amount: 1 }], hour.end - 1);
      assert.ok(!refused.ok);
      assert.equal(refused.refused.retryAfterSeconds, 1);
      assert.deepEqual(refused.refused.window, hour);
      const next = await two.reserve([{ scope, budget, amount: 50 }], hour.end);
      assert.ok(next.ok);
      assert.deepEqual(next.reservation.lines[0]?.window, { start: hour.end, end: hour.end + 3_600_000 });
      await one.settle(full.reservation, { usdMicros: 0, tokens: 40 });
      const [old] = await one.status(scope, [budget], now);
      const [current] = await one.status(scope, [budget], hour.end);
      assert.deepEqual([old?.spent, old?.reserved], [40, 0]);
      assert.deepEqual([current?.spent, current?.reserved], [0, 50]);
    });

    it('never refuses for a soft budget, and counts it', async () => {
      const [one] = await fixture.ledgers(options);
      const scope = freshKey();
      const soft = tokens(10, 'month', true);
      const now = midHour();
      for (let index = 0; index < 3; index++) {
        const result = await one.reserve([{ scope, budget: soft, amount: 50 }], now);
        assert.ok(result.ok);
        await one.settle(result.reservation, { usdMicros: 0, tokens: 50 });
      }
      const [status] = await one.status(scope, [soft], now);
      assert.deepEqual([status?.spent, status?.remaining], [150, 0]);
    });

    it('reserves all lines or none: a full team budget refuses, and the key’s budget keeps its room', async () => {
      const [one, two] = await fixture.ledgers(options);
      const key = freshKey();
      const team = `team:${key.slice(4)}` as const;
      const keyBudget = usd(5);
      const teamBudget = usd(1, 'month');
      const keySoft = tokens(1000, 'week', true);
      const now = midHour();
      const lines = (amount: number): BudgetLine[] => [
        { scope: key, budget: keyBudget, amount },
        { scope: team, budget: teamBudget, amount },
        { scope: key, budget: keySoft, amount: 10 },
      ];
      assert.ok((await one.reserve(lines(800_000), now)).ok);
      const refused = await two.reserve(lines(800_000), now);
      assert.ok(!refused.ok);
      assert.equal(refused.refused.scope, team);
      assert.equal(refused.refused.remaining, 200_000);
      const month = windowAt('month', 'Europe/Berlin', now);
      assert.equal(refused.refused.retryAfterSeconds, Math.ceil((month.end - now) / 1000));
      const statuses = await two.status(key, [keyBudget, keySoft], now);
      assert.deepEqual(
        statuses.map((status) => status.reserved),
        [800_000, 10],
      );
      const fits = await two.reserve(lines(200_000), now);
      assert.ok(fits.ok);
      const tightest = tightestBudget(fits.reservation.statuses);
      assert.ok(tightest !== null);
      assert.equal(tightest.scope, team);
      assert.equal(formatRemaining(tightest), '0');
    });

    it('reserves once for lines that share a counter (a soft and a hard budget of one unit and window)', async () => {
      const [one] = await fixture.ledgers(options);
      const scope = freshKey();
      const hard = usd(2);
      const soft = usd(1, 'day', true);
      const now = midHour();
      const result = await one.reserve(
        [
          { scope, budget: hard, amount: 1_500_000 },
          { scope, budget: soft, amount: 1_500_000 },
        ],
        now,
      );
      assert.ok(result.ok);
      const settled = await one.settle(result.reservation, { usdMicros: 1_200_000, tokens: 0 });
      assert.deepEqual(
        settledLines(settled).map((line) => [line.spentBefore, line.spentAfter, line.limit]),
        [
          [0, 1_200_000, 2_000_000],
          [0, 1_200_000, 1_000_000],
        ],
      );
      const statuses = await one.status(scope, [hard, soft], now);
      assert.deepEqual(
        statuses.map((status) => [status.spent, status.reserved, status.remaining]),
        [
          [1_200_000, 0, 800_000],
          [1_200_000, 0, 0],
        ],
      );
    });

    it('refuses a total budget with no Retry-After, as it never resets', async () => {
      const [one] = await fixture.ledgers(options);
      const scope = freshKey();
      const budget = tokens(5, 'total');
      const refused = await one.reserve([{ scope, budget, amount: 6 }], midHour());
      assert.ok(!refused.ok);
      assert.equal(refused.refused.retryAfterSeconds, null);
      assert.deepEqual(refused.refused.window, { start: 0, end: Infinity });
      assert.equal(refused.refused.remaining, 5);
    });

    it('admits a request with no lines, and reports nothing for no budgets', async () => {
      const [one] = await fixture.ledgers(options);
      const result = await one.reserve([], midHour());
      assert.ok(result.ok);
      assert.deepEqual(result.reservation.lines, []);
      assert.deepEqual(await one.status(freshKey(), [], midHour()), []);
    });
  });
}
