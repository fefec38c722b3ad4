import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Budget } from '../config/config.js';
import { withDeadline } from '../state/deadline.js';
import { LuaScript } from '../state/redis/lua-script.js';
import { RedisClock } from '../state/redis/redis-clock.js';
import type { RedisClient } from '../state/redis/redis-client.js';
import {
  BudgetStoreError,
  COUNTER_MARGIN_MS,
  DEFAULT_RESERVATION_TTL_MS,
  usageIn,
  type ActualUsage,
  type BudgetLedger,
  type BudgetLine,
  type BudgetScope,
  type BudgetStatus,
  type CounterPlan,
  type Reservation,
  type ReserveResult,
  type SettleResult,
} from './ledger.js';
import type { LedgerOptions } from './memory-ledger.js';
import { amountsOf, counterAt, Planner, refusalOf, statusOf, type CounterState, type Plan } from './plan.js';
import { TurnBatch } from '../state/turn-batch.js';
import { Allowances, RECALL_WAIT_MS, type LocalHold } from './allowances.js';
import { WindowCalendar, type WindowSpan } from './windows.js';

import { PRELUDE } from './redis-prelude.js';

/*
 * Reserves for several requests at once (TurnBatch), each as if by a script of its own, in order.
 * KEYS: the batch's distinct counters, each as its hash and its sorted set. ARGV: deadline, now, the
 * number of counters d, per counter the expiry of its keys (ms since the epoch; 0: never), the number
 * of reservations, then per reservation: its id, its expiry, its number of counters n, then per counter:
 * its index among KEYS' counters (1-based), amount, hard limit (-1: soft only). Each checks every
 * counter of its own, then reserves on all or none.
 *
 * A counter is purged and read once per batch, and its keys' expiry set once: a batch holds the
 * requests of one turn, most of them on the same few counters, and a call per request and counter for
 * each of those was most of what Redis spent on a batch.
 * Returns { rnow, then per reservation: allowed (1, 0, or 2: refused, but it would have fitted
 * without the instances' allowances, which are now recalled), then per counter spent and reserved
 * (after reserving, if it did) }.
 */
const RESERVE = new LuaScript(`${PRELUDE}
local now = tonumber(ARGV[2])
local d = tonumber(ARGV[3])
local spent, reserved, allowances, taken = {}, {}, {}, {}
for c = 1, d do
  purge(KEYS[c * 2 - 1], KEYS[c * 2], now)
  spent[c], reserved[c], allowances[c] = read(KEYS[c * 2 - 1])
end
local reply = { rnow }
local a = 5 + d
for _ = 1, tonumber(ARGV[4 + d]) do
  local id, expiresAt, n = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local allowed, recallable = 1, 1
  for i = 1, n do
    local c, amount, limit = tonumber(ARGV[a + i * 3]), tonumber(ARGV[a + 1 + i * 3]), tonumber(ARGV[a + 2 + i * 3])
    if limit >= 0 and spent[c] + reserved[c] + amount > limit then
      allowed = 0
      if allowances[c] <= 0 or spent[c] + reserved[c] - allowances[c] + amount > limit then recallable = 0 end
    end
  end
  if allowed == 0 and recallable == 1 then
    -- It would fit without the instances' allowances: they are recalled (allowances.ts), and the
    -- caller tries again once they have shrunk.
    allowed = 2
    for i = 1, n do redis.call('HSET', KEYS[tonumber(ARGV[a + i * 3]) * 2 - 1], 'recall', rnow) end
  end
  if allowed == 1 then
    for i = 1, n do
      local c, amount = tonumber(ARGV[a + i * 3]), tonumber(ARGV[a + 1 + i * 3])
      reserved[c] = redis.call('HINCRBY', KEYS[c * 2 - 1], 'reserved', amount)
      redis.call('HSET', KEYS[c * 2 - 1], 'r:' .. id, amount)
      redis.call('ZADD', KEYS[c * 2], expiresAt, id)
      taken[c] = true
    end
  end
  reply[#reply + 1] = allowed
  for i = 1, n do
    local c = tonumber(ARGV[a + i * 3])
    reply[#reply + 1] = spent[c]
    reply[#reply + 1] = reserved[c]
  end
  a = a + 3 + n * 3
end
for c = 1, d do
  local expireAt = tonumber(ARGV[3 + c])
  if taken[c] and expireAt > 0 then
    redis.call('PEXPIREAT', KEYS[c * 2 - 1], expireAt)
    redis.call('PEXPIREAT', KEYS[c * 2], expireAt)
  end
end
return reply`);

/*
 * Settles the reservations of several requests at once (TurnBatch). KEYS: the batch's distinct
 * counters, each as its hash and sorted set. ARGV: deadline, the number of counters d, per counter the
 * expiry of its keys (0: never), the number of reservations, then per reservation its id, its number of
 * counters n and per counter: its index among KEYS' counters (1-based) and the usage. A reservation
 * counts if some counter still holds it or marked it lapsed; settling removes both, so a second
 * settlement changes nothing, and no per-request key is kept (a mark per settlement, kept for its
 * window, grew Redis by every request of a month). A counter is read, and its expiry set, once per batch.
 * Returns { rnow, then per reservation: counted (1|0), then per counter spent before and after }.
 */
const SETTLE = new LuaScript(`${PRELUDE}
local d = tonumber(ARGV[2])
local spent, counted = {}, {}
local reply = { rnow }
local a = 4 + d
for _ = 1, tonumber(ARGV[3 + d]) do
  local id, n = ARGV[a], tonumber(ARGV[a + 1])
  local count = 0
  for i = 1, n do
    local c = tonumber(ARGV[a + i * 2])
    local hash = KEYS[c * 2 - 1]
    local amount = redis.call('HGET', hash, 'r:' .. id)
    if redis.call('HDEL', hash, 'r:' .. id, 'l:' .. id) > 0 then count = 1 end
    if amount then
      redis.call('HINCRBY', hash, 'reserved', -tonumber(amount))
      redis.call('ZREM', KEYS[c * 2], id)
    end
  end
  reply[#reply + 1] = count
  for i = 1, n do
    local c, usage = tonumber(ARGV[a + i * 2]), tonumber(ARGV[a + 1 + i * 2])
    if spent[c] == nil then spent[c] = tonumber(redis.call('HGET', KEYS[c * 2 - 1], 'spent') or '0') end
    local before = spent[c]
    if count == 1 then
      if usage > 0 then spent[c] = redis.call('HINCRBY', KEYS[c * 2 - 1], 'spent', usage) end
      counted[c] = true
    end
    reply[#reply + 1] = before
    reply[#reply + 1] = spent[c]
  end
  a = a + 2 + n * 2
end
for c = 1, d do
  local hash, expireAt = KEYS[c * 2 - 1], tonumber(ARGV[2 + c])
  if counted[c] and expireAt > 0 and redis.call('EXISTS', hash) == 1 then redis.call('PEXPIREAT', hash, expireAt) end
end
return reply`);

/*
 * KEYS: per counter its hash and sorted set. ARGV: deadline, now. Releases expired reservations, then
 * returns { rnow, then per counter spent and reserved } (reserved: what requests hold, the unused
 * part of the instances' allowances left out: a request that fits without it gets it by a recall).
 */
const STATUS = new LuaScript(`${PRELUDE}
local reply = { rnow }
for i = 1, #KEYS / 2 do
  purge(KEYS[i * 2 - 1], KEYS[i * 2], tonumber(ARGV[2]))
  local spent, reserved = shown(KEYS[i * 2 - 1])
  reply[#reply + 1] = spent
  reply[#reply + 1] = reserved
end
return reply`);

/** A reservation to make: its id, when, until when, and what it takes of each counter. */
interface Pending {
  readonly id: string;
  readonly now: number;
  readonly expiresAt: number;
  readonly counters: readonly CounterPlan[];
  /** What it takes of each counter, in their order. */
  readonly amounts: readonly number[];
}

/** The distinct counters of a batch, numbered from 1 in the order first met (the scripts' KEYS). */
class CounterIndex {
  readonly names: string[] = [];
  readonly expiries: number[] = [];
  private readonly indexes = new Map<string, number>();

  get size(): number {
    return this.names.length;
  }

  indexOf(counter: string, window: WindowSpan): number {
    let index = this.indexes.get(counter);
    if (index === undefined) {
      this.names.push(counter);
      this.expiries.push(expireAtOf(window));
      index = this.names.length;
      this.indexes.set(counter, index);
    }
    return index;
  }
}

/** A reservation to settle: its id, its counters and the usage to add to each, in their order. */
interface Settlement {
  readonly id: string;
  readonly counters: readonly CounterPlan[];
  readonly usages: readonly number[];
}

/** What settling did: whether it counted, and each counter's spending before and after, as pairs. */
interface SettledCounters {
  readonly counted: boolean;
  readonly spent: number[];
}

export interface RedisLedgerOptions extends LedgerOptions {
  /**
   * Prefix of every key; it is also the one hash tag they all share (`{gw-budget}:…`), so that one
   * script may touch a key's and its team's counters on a Redis Cluster. Default `gw-budget`.
   */
  readonly prefix?: string;
  /** Longest wait for Redis per call (rate_limit.store_timeout_ms), read on each call; default 100 ms. */
  readonly timeoutMs?: () => number;
  /**
   * Far from a limit, reserve and settle locally from an allowance the instance holds in Redis
   * (src/budgets/allowances.ts); default true. False: every reservation and settlement is a script.
   */
  readonly allowances?: boolean;
  /** A sync of the allowances failed (after one that did not): for the owner's log. */
  readonly onSyncError?: (error: unknown) => void;
}

const DEFAULT_TIMEOUT_MS = 100;
/**
 * As the rate limiter's (issue 17): a call's wait grows by this much per call this instance is waiting
 * on Redis for, up to MAX_WAIT_FACTOR × the timeout. A burst is when a budget runs out and exactness
 * matters, and on a loaded machine redis-server waits for a CPU; a call given up on changes nothing
 * later (its deadline), so waiting longer is safe.
 */
const WAIT_MS_PER_CALL = 1;
const MAX_WAIT_FACTOR = 10;

/**
 * The ledger in Redis, shared by every instance: each call is one Lua script, so a reservation is
 * checked and taken on all its counters at once, and two instances never both take the last room.
 *
 * Every key carries the hash tag `{<prefix>}`: a request's lines span a key and its team, and a key may
 * change team, so no narrower tag fits them all. On a Redis Cluster all budget state therefore lives on
 * one slot, one node: one script per request and per settlement, which one node sustains at tens of
 * thousands per second.
 *
 * Redis slow or down: a call waits at most its timeout (plus 1 ms per call of this instance waiting on
 * Redis, up to 10 × the timeout, as the rate limiter does), then rejects with
 * BudgetStoreError; the script carries that deadline in Redis's time, so a stalled server that runs it
 * later changes nothing. The caller then admits or refuses, as rate_limit.on_store_error says, and may
 * settle again later (settling is idempotent).
 */
export class RedisBudgetLedger implements BudgetLedger {
  private readonly calendar: WindowCalendar;
  private readonly planner: Planner;
  private readonly clock = new RedisClock();
  private readonly prefix: string;
  private readonly reservations = new TurnBatch<Pending, readonly (string | number)[]>((batch) =>
    this.reserveAll(batch),
  );
  private readonly settlements = new TurnBatch<Settlement, SettledCounters>((batch) => this.settleAll(batch));
  /** Calls sent and neither answered nor given up on. */
  private waiting = 0;
  /** Reservation ids: this instance's, then a sequence (unique across instances, cheaper than a UUID). */
  private readonly instance = randomUUID();
  private sequence = 0;
  private readonly allowances: Allowances | null;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: RedisLedgerOptions,
  ) {
    this.calendar = new WindowCalendar(options.timeZone);
    this.planner = new Planner(this.calendar);
    this.prefix = options.prefix ?? 'gw-budget';
    this.allowances =
      options.allowances === false
        ? null
        : new Allowances({
            id: `a:${this.instance}`,
            run: (script, keys, args) => this.run(script, keys, args),
            keysOf: (counter) => this.keysOf(counter),
            ttlMs: () => this.options.reservationTtlMs?.() ?? DEFAULT_RESERVATION_TTL_MS,
            ...(options.onSyncError === undefined ? {} : { onSyncError: options.onSyncError }),
          });
  }

  reserveLocally(lines: readonly BudgetLine[], now: number): ReserveResult | null {
    if (this.allowances === null || this.allowances.none) return null;
    return this.fromAllowances(this.planned(lines, now), now);
  }

  /** A reservation's plan, amounts, id and expiry. */
  private planned(lines: readonly BudgetLine[], now: number): Planned {
    const plan = this.planner.plan(lines, now);
    return {
      plan,
      amounts: amountsOf(plan, lines),
      id: `${this.instance}:${this.sequence++}`,
      expiresAt: now + (this.options.reservationTtlMs?.() ?? DEFAULT_RESERVATION_TTL_MS),
    };
  }

  /** Reserved from this instance's allowances, or null when they cannot hold it (Redis must). */
  private fromAllowances({ plan, amounts, id, expiresAt }: Planned, now: number): ReserveResult | null {
    if (plan.counters.length === 0)
      return {
        ok: true,
        reservation: { id, lines: plan.lines, counters: plan.counters, amounts, expiresAt, statuses: [] },
      };
    const allowances = this.allowances;
    const local = allowances?.tryReserve(plan.counters, amounts, expiresAt, now) ?? null;
    if (allowances === null || local === null) return null;
    const statuses: BudgetStatus[] = [];
    for (const line of plan.lines) statuses.push(allowances.statusOf(local, line));
    return {
      ok: true,
      reservation: { id, lines: plan.lines, counters: plan.counters, amounts, expiresAt, statuses, local },
    };
  }

  settleLocally(reservation: Reservation, actual: ActualUsage): SettleResult | null {
    if (this.allowances === null || reservation.local === undefined) return null;
    const spent: number[] = [];
    const counted = this.allowances.settle(
      reservation.local as LocalHold,
      reservation.counters,
      actual,
      spent,
    );
    return { counted, lines: reservation.lines, spent };
  }

  async reserve(lines: readonly BudgetLine[], now: number): Promise<ReserveResult> {
    const planned = this.planned(lines, now);
    if (this.allowances !== null && !this.allowances.none) {
      const local = this.fromAllowances(planned, now);
      if (local !== null) return local;
    }
    const { plan, amounts, id, expiresAt } = planned;
    if (plan.counters.length === 0)
      return {
        ok: true,
        reservation: { id, lines: plan.lines, counters: plan.counters, amounts, expiresAt, statuses: [] },
      };
    const pending = { id, now, expiresAt, counters: plan.counters, amounts };
    let reply = await this.reservations.add(pending);
    if (Number(reply[0]) === 2) {
      // Refused, but it would have fitted without the instances' allowances, now recalled: once they
      // have shrunk (each instance's next sync), once more.
      await new Promise((resolve) => setTimeout(resolve, RECALL_WAIT_MS));
      reply = await this.reservations.add(pending);
    }
    const states = statesOf(plan.counters.length, reply, 1);
    this.allowances?.observe(plan.counters, amounts, states, now);
    if (Number(reply[0]) !== 1) {
      const refused = refusalOf(plan, amounts, states, now);
      // The script refused, so some hard line does not fit in what it read.
      if (refused === null) throw new BudgetStoreError('the budget script refused a reservation that fits');
      return { ok: false, refused };
    }
    return {
      ok: true,
      reservation: {
        id,
        lines: plan.lines,
        counters: plan.counters,
        amounts,
        expiresAt,
        statuses: statusesOf(plan, states),
      },
    };
  }

  async settle(reservation: Reservation, actual: ActualUsage): Promise<SettleResult> {
    const local = this.settleLocally(reservation, actual);
    if (local !== null) return local;
    const { counters } = reservation;
    if (counters.length === 0) return { counted: true, lines: [], spent: [] };
    const usages = counters.map((counter) => usageIn(counter.unit, actual));
    const { counted, spent } = await this.settlements.add({ id: reservation.id, counters, usages });
    return { counted, lines: reservation.lines, spent };
  }

  /** One script for the reservations of the requests of one turn; each answer as `allowed, spent, reserved…`. */
  private async reserveAll(batch: readonly Pending[]): Promise<(readonly (string | number)[])[]> {
    const counters = new CounterIndex();
    const entries: (string | number)[] = [batch.length];
    let now = 0;
    for (const entry of batch) {
      now = Math.max(now, entry.now);
      entries.push(entry.id, entry.expiresAt, entry.counters.length);
      entry.counters.forEach((counter, index) => {
        entries.push(
          counters.indexOf(counter.counter, counter.window),
          entry.amounts[index] ?? 0,
          counter.hardLimit ?? -1,
        );
      });
    }
    const reply = await this.run(RESERVE, this.keysOfAll(counters), [
      0,
      now,
      counters.size,
      ...counters.expiries,
      ...entries,
    ]);
    let offset = 1;
    return batch.map(({ counters: { length } }) => {
      const answer = reply.slice(offset, offset + 1 + length * 2);
      offset += 1 + length * 2;
      return answer;
    });
  }

  /** One script for the settlements of the requests that ended in one turn of the event loop. */
  private async settleAll(settlements: readonly Settlement[]): Promise<SettledCounters[]> {
    const counters = new CounterIndex();
    const entries: (string | number)[] = [settlements.length];
    for (const { id, counters: own, usages } of settlements) {
      entries.push(id, own.length);
      own.forEach((counter, index) => {
        entries.push(counters.indexOf(counter.counter, counter.window), usages[index] ?? 0);
      });
    }
    const reply = await this.run(SETTLE, this.keysOfAll(counters), [
      0,
      counters.size,
      ...counters.expiries,
      ...entries,
    ]);
    let offset = 1;
    return settlements.map(({ counters: own }) => {
      const counted = Number(reply[offset]) === 1;
      offset += 1;
      const spent: number[] = [];
      for (let index = 0; index < own.length * 2; index++) spent.push(Number(reply[offset + index]));
      offset += own.length * 2;
      return { counted, spent };
    });
  }

  /** The hash and sorted set of each counter of `counters`, in its order. */
  private keysOfAll(counters: CounterIndex): string[] {
    const keys: string[] = [];
    for (const counter of counters.names) keys.push(...this.keysOf(counter));
    return keys;
  }

  async status(scope: BudgetScope, budgets: readonly Budget[], now: number): Promise<BudgetStatus[]> {
    if (budgets.length === 0) return [];
    // What this instance spent locally goes to Redis first, so that it is in the answer.
    await this.allowances?.flush().catch(() => undefined);
    const counters = budgets.map((budget) => counterAt(scope, budget, this.calendar, now));
    const unique = [...new Set(counters.map((counter) => counter.counter))];
    const reply = await this.run(
      STATUS,
      unique.flatMap((counter) => this.keysOf(counter)),
      [0, now],
    );
    const states = statesOf(unique.length, reply, 1);
    return budgets.map((budget, index) => {
      const { counter, window } = counters[index] ?? counterAt(scope, budget, this.calendar, now);
      return statusOf(scope, budget, window, states[unique.indexOf(counter)] ?? { spent: 0, reserved: 0 });
    });
  }

  /** Gives this instance's allowances back and sends what its requests spent against them. */
  async close(): Promise<void> {
    await this.allowances?.close();
  }

  private keysOf(counter: string): [string, string] {
    const hash = `{${this.prefix}}:${counter}`;
    return [hash, `${hash}:held`];
  }

  /**
   * Runs a script whose first argument is its deadline, set here in Redis's time (RedisClock) to the
   * moment this process gives up waiting, as the rate limiter does. Rejects with BudgetStoreError when
   * Redis fails, does not answer in time, or answers that it was late.
   */
  private async run(
    script: LuaScript,
    keys: readonly string[],
    args: (string | number)[],
  ): Promise<readonly (string | number)[]> {
    const base = this.options.timeoutMs?.() ?? DEFAULT_TIMEOUT_MS;
    const timeoutMs = Math.min(base + this.waiting * WAIT_MS_PER_CALL, base * MAX_WAIT_FACTOR);
    this.waiting++;
    try {
      if (Number.isFinite(timeoutMs)) {
        if (!this.clock.known) await this.clock.sync(this.redis, timeoutMs);
        args[0] = Math.floor(this.clock.redisTime(performance.now() + timeoutMs));
      }
      const sentAt = performance.now();
      const answer = script.run(this.redis, keys, args).then((reply) => {
        const list = reply as (string | number)[];
        const late = list[0] === 'late';
        this.clock.observe(Number(list[late ? 1 : 0]), sentAt, performance.now());
        if (late) throw new Error('Redis ran the call after its deadline; it changed nothing');
        return list;
      });
      return await withDeadline(answer, timeoutMs);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new BudgetStoreError(`budget store: ${reason}`, { cause: error });
    } finally {
      this.waiting--;
    }
  }
}

/** A reservation being made: its plan, amounts, id and expiry. */
interface Planned {
  readonly plan: Plan;
  readonly amounts: readonly number[];
  readonly id: string;
  readonly expiresAt: number;
}

/** Each line's status from its counter's state. */
function statusesOf(plan: Plan, states: readonly CounterState[]): BudgetStatus[] {
  return plan.lines.map((line) =>
    statusOf(line.scope, line.budget, line.window, states[line.counterIndex] ?? { spent: 0, reserved: 0 }),
  );
}

/** When a counter's keys expire: its window's end plus the margin; never (0) for `total`. */
function expireAtOf(window: WindowSpan): number {
  return Number.isFinite(window.end) ? window.end + COUNTER_MARGIN_MS : 0;
}

/** Spent and reserved of `count` counters from a reply: pairs from `offset`, in the counters' order. */
function statesOf(count: number, reply: readonly (string | number)[], offset: number): CounterState[] {
  const states: CounterState[] = [];
  for (let index = 0; index < count; index++)
    states.push({
      spent: Number(reply[offset + index * 2]),
      reserved: Number(reply[offset + index * 2 + 1]),
    });
  return states;
}
