import { performance } from 'node:perf_hooks';
import { LuaScript } from '../state/redis/lua-script.js';
import {
  COUNTER_MARGIN_MS,
  usageIn,
  type ActualUsage,
  type BudgetStatus,
  type CounterPlan,
  type ReservedLine,
} from './ledger.js';
import { statusFrom, type CounterState } from './plan.js';
import { PRELUDE } from './redis-prelude.js';
import type { WindowSpan } from './windows.js';

/*
 * Allowances: far from a budget's limit, asking Redis twice per request (reserve, settle) buys
 * nothing, and was most of what budgets cost a request. An instance then holds an allowance of each
 * counter it serves: one reservation in Redis (`a:<instance>`, counted in `reserved` like any other)
 * from which it reserves and settles its requests locally, and which it renews every SYNC_MS,
 * sending what its requests spent meanwhile and resizing what it holds. What its requests have
 * reserved and spent locally never exceeds what Redis holds for it, so no budget is passed whatever
 * the allowances (as without them, only a request that spends more than it reserved passes a limit,
 * by that difference). What an allowance costs is room another instance cannot have:
 *
 * - one is granted only while the counter's room (limit − spent − everyone else's reservations) is at
 *   least GRANT_FACTOR times the largest request seen on it, and is a SHARE-th of that room: near a
 *   limit every request goes to Redis, exactly as without allowances;
 * - a reservation that Redis refuses but that would have fitted without the allowances sets the
 *   counter's `recall`: each instance's next sync (within SYNC_MS) shrinks its allowance to what its
 *   requests hold and grants none for RECALL_MS, and the refused request is tried once more after
 *   RECALL_WAIT_MS (RedisBudgetLedger.reserve);
 * - an instance that dies leaves its allowance until the reservation TTL, as its requests'
 *   reservations; one that closes gives it back.
 *
 * See docs/budgets.md.
 */

/** An allowance is renewed, and what was spent against it sent to Redis, this often. */
export const SYNC_MS = 50;
/** A refused reservation whose counter's allowances are recalled is tried again after this. */
export const RECALL_WAIT_MS = SYNC_MS * 2 + 20;
/** After a recall, no allowance is granted on the counter for this long (Redis's clock). */
const RECALL_MS = 1000;
/** An allowance is granted only where the room is at least this many times the largest request. */
const GRANT_FACTOR = 256;
/** An allowance is this fraction of the room. */
const SHARE = 64;
/**
 * Not synced for this long while Redis is slow or away (the last sync failed, or one has been under
 * way this long): its allowance is not used until a sync answers.
 */
const STALE_MS = 1000;
/**
 * Not synced for this long whatever the reason: not used until a sync answers. A pause of the process
 * or a blocked event loop alone says nothing of Redis (the allowance is still held there: the
 * reservation's expiry is minutes away), so it does not send the next requests to Redis; this bound,
 * at most half the reservation TTL, keeps an allowance from outliving its reservation.
 */
const HARD_STALE_MS = 30_000;
/**
 * An allowance no request used for this long is given back. Long enough to outlast the pauses of
 * bursty traffic (an idle allowance costs others nothing they need: a refusal recalls it), short
 * enough that a key that stopped does not hold room for long.
 */
const IDLE_MS = 10_000;
/** Local reservations past their expiry are looked for this often (ms). */
const EXPIRY_CHECK_MS = 1000;
/** Lapsed local reservations remembered (a late settlement still counts), at most. */
const MAX_LAPSED = 10_000;

/*
 * Syncs the allowances of this instance. KEYS: per counter its hash and sorted set. ARGV: deadline,
 * now (the caller's clock, for purging), the allowance's id (`a:<instance>`), its expiry, RECALL_MS,
 * then per counter: its keys' expiry (0: never), the sequence number of this push, the usage to add,
 * the floor (the least to hold: what local reservations hold), the target, the hard limit and what
 * local reservations hold (kept as `q:<id>`, summed in `inuse`, for the statuses). A push
 * is applied once per sequence number (`u:<id>` keeps the last one applied): a push whose answer was
 * lost is sent again with the same number. The new allowance is the target bounded by the room left
 * by everyone else, never below the floor, and nothing for a recalled counter (beyond the floor).
 * Returns { rnow, then per counter spent, reserved, the allowance held, whether recalled (1|0) and
 * what the other instances' requests hold (reserved without the unused part of allowances) }.
 */
const SYNC = new LuaScript(`${PRELUDE}
local now = tonumber(ARGV[2])
local id = ARGV[3]
local expiresAt = tonumber(ARGV[4])
local recallMs = tonumber(ARGV[5])
local reply = { rnow }
local a = 6
for c = 1, #KEYS / 2 do
  local hash, held = KEYS[c * 2 - 1], KEYS[c * 2]
  local expireAt, seq, usage = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local floor, target, limit = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local using = tonumber(ARGV[a + 6])
  a = a + 7
  purge(hash, held, now)
  local old = tonumber(redis.call('HGET', hash, 'r:' .. id) or '0')
  local spent, reserved = read(hash)
  if usage > 0 and seq > tonumber(redis.call('HGET', hash, 'u:' .. id) or '0') then
    spent = redis.call('HINCRBY', hash, 'spent', usage)
    redis.call('HSET', hash, 'u:' .. id, seq)
  end
  local recalled = tonumber(redis.call('HGET', hash, 'recall') or '0') > rnow - recallMs
  local new = 0
  if limit >= 0 then
    if recalled then target = 0 end
    new = math.max(floor, math.min(target, limit - spent - (reserved - old)))
    if new < 0 then new = 0 end
  end
  if new ~= old then
    reserved = redis.call('HINCRBY', hash, 'reserved', new - old)
    redis.call('HINCRBY', hash, 'allowed', new - old)
  end
  if new > 0 then
    redis.call('HSET', hash, 'r:' .. id, new)
    redis.call('ZADD', held, expiresAt, id)
  elseif old > 0 then
    redis.call('HDEL', hash, 'r:' .. id)
    redis.call('ZREM', held, id)
  end
  if using > new then using = new end
  local oldUsing = tonumber(redis.call('HGET', hash, 'q:' .. id) or '0')
  if using ~= oldUsing then
    redis.call('HINCRBY', hash, 'inuse', using - oldUsing)
    if using > 0 then redis.call('HSET', hash, 'q:' .. id, using) else redis.call('HDEL', hash, 'q:' .. id) end
  end
  if expireAt > 0 and (new > 0 or usage > 0) then
    redis.call('PEXPIREAT', hash, expireAt)
    redis.call('PEXPIREAT', held, expireAt)
  end
  reply[#reply + 1] = spent
  reply[#reply + 1] = reserved
  reply[#reply + 1] = new
  reply[#reply + 1] = recalled and 1 or 0
  local _, others = shown(hash)
  reply[#reply + 1] = others - using
end
return reply`);

/** This instance's allowance of one counter, and what its local reservations took of it. */
export interface Allowance {
  readonly counter: string;
  readonly window: WindowSpan;
  /** The counter's hard limit as the last request saw it (config reloads); null: soft only. */
  hardLimit: number | null;
  /** The largest amount one request reserved on it. */
  want: number;
  /** What Redis holds for this instance, as of the last sync. */
  held: number;
  /** What local reservations and settlements may take in all: `held`, or during a sync its floor. */
  cap: number;
  /** Held by local reservations not settled yet. */
  used: number;
  /** Settled locally, not sent yet. */
  unpushed: number;
  /** Sent with the sync under way (or one whose answer was lost: sent again with `seq`). */
  pushing: number;
  seq: number;
  /** Spent and reserved in Redis as of the last sync (reserved includes `held`). */
  spent: number;
  reserved: number;
  /** What the other instances' requests hold, as of the last sync (for the statuses). */
  othersHold: number;
  /** performance.now() of the last sync that answered; -Infinity: none yet. */
  syncedAt: number;
  recalled: boolean;
  /** performance.now() of the last request on the counter. */
  lastUsed: number;
  /** Local reservations on it not settled yet (`used` may be 0 with some: a reservation of 0). */
  holds: number;
  /** No longer in this instance's allowances (forgotten after a sync): plans look it up again. */
  dropped: boolean;
}

/**
 * A local reservation: what it took of each allowance (the reservation's counters, in their order). The
 * reservation carries it (Reservation.local): settling needs no look-up by id.
 */
export interface LocalHold {
  readonly allowances: readonly Allowance[];
  readonly amounts: readonly number[];
  readonly expiresAt: number;
}

export interface AllowancesOptions {
  /** This instance's allowance id: `a:<unique id>`. */
  readonly id: string;
  /** Runs a script with the ledger's deadline and timeout; rejects when Redis fails. */
  readonly run: (
    script: LuaScript,
    keys: readonly string[],
    args: (string | number)[],
  ) => Promise<readonly (string | number)[]>;
  readonly keysOf: (counter: string) => readonly [string, string];
  /** How long an allowance holds without renewal: the reservation TTL. */
  readonly ttlMs: () => number;
  /** Told once per failure streak when a sync fails (logged by the ledger's owner). */
  readonly onSyncError?: (error: unknown) => void;
}

export class Allowances {
  private readonly allowances = new Map<string, Allowance>();
  /**
   * Each plan's allowances (by its counters array, the same for every request of a key in a window),
   * so that a request looks none up by name; an entry holding one no longer in `allowances` is
   * looked up again.
   */
  private readonly planAllowances = new WeakMap<readonly CounterPlan[], readonly (Allowance | undefined)[]>();
  private readonly holds = new Set<LocalHold>();
  /** Local reservations that expired unsettled: a late settlement counts once. Oldest first. */
  private readonly lapsed = new Set<LocalHold>();
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  private closing = false;
  /** The latest `now` of the caller's clock (windows and expiries are in it). */
  private lastNow = 0;
  private lastExpiryCheck = 0;
  private failing = false;
  /** When the sync under way (syncing) started. */
  private syncStartedAt = 0;

  constructor(private readonly options: AllowancesOptions) {}

  /** No allowance, held or wanted: tryReserve would say no. */
  get none(): boolean {
    return this.allowances.size === 0;
  }

  /**
   * Reserves locally when every counter has an allowance with room for the request; null when any has
   * not (the request goes to Redis). `amounts` are per counter, in their order; the hold keeps them.
   * statusOf(hold, line) then tells each line's status.
   */
  tryReserve(
    counters: readonly CounterPlan[],
    amounts: readonly number[],
    expiresAt: number,
    now: number,
  ): LocalHold | null {
    if (now > this.lastNow) this.lastNow = now;
    if (this.allowances.size === 0 || this.closing) return null;
    const at = performance.now();
    const found = this.allowancesOf(counters);
    for (let index = 0; index < counters.length; index++) {
      const plan = counters[index] as CounterPlan;
      const amount = amounts[index] ?? 0;
      const allowance = found[index];
      if (
        allowance === undefined ||
        plan.hardLimit === null ||
        allowance.hardLimit !== plan.hardLimit ||
        allowance.recalled ||
        this.stale(allowance, at) ||
        allowance.used + allowance.unpushed + amount > allowance.cap
      ) {
        if (allowance !== undefined) this.seen(allowance, plan, amount, at);
        return null;
      }
    }
    const allowances = found as readonly Allowance[];
    for (let index = 0; index < counters.length; index++) {
      const allowance = allowances[index] as Allowance;
      const amount = amounts[index] ?? 0;
      this.seen(allowance, counters[index] as CounterPlan, amount, at);
      allowance.used += amount;
      allowance.holds++;
    }
    const hold: LocalHold = { allowances, amounts, expiresAt };
    this.holds.add(hold);
    return hold;
  }

  /**
   * The state of a local reservation's counter (its index), as this instance sees it: others'
   * reservations as of the last sync, this instance's as they are; what is reserved leaves out the
   * unused part of allowances (as a status read does).
   */
  statusOf(hold: LocalHold, line: ReservedLine): BudgetStatus {
    const allowance = hold.allowances[line.counterIndex] as Allowance;
    return statusFrom(
      line.scope,
      line.budget,
      line.window,
      allowance.spent + allowance.pushing + allowance.unpushed,
      allowance.othersHold + allowance.used,
    );
  }

  /**
   * Settles a local reservation: its amounts go back to the allowances and what `actual` counts on
   * each of its counters (`counters`: the reservation's, in its order) is counted locally, sent with
   * the next sync. Pushes each counter's spending before and after, as this instance sees it, onto
   * `spent` as pairs (before, after) in the same order. False for a reservation settled before (or
   * lapsed too long ago to be remembered): nothing changes then.
   */
  settle(hold: LocalHold, counters: readonly CounterPlan[], actual: ActualUsage, spent: number[]): boolean {
    const held = this.holds.delete(hold);
    const counted = held || this.lapsed.delete(hold);
    for (let index = 0; index < hold.allowances.length; index++) {
      const allowance = hold.allowances[index] as Allowance;
      const before = allowance.spent + allowance.pushing + allowance.unpushed;
      if (!counted) {
        spent.push(before, before);
        continue;
      }
      if (held) {
        allowance.used -= hold.amounts[index] ?? 0;
        allowance.holds--;
      } else if (!this.allowances.has(allowance.counter)) {
        // Expired before it was settled: its amounts went back then; its usage still counts, once.
        this.allowances.set(allowance.counter, allowance);
        allowance.dropped = false;
      }
      const plan = counters[index];
      const usage = plan === undefined ? 0 : usageIn(plan.unit, actual);
      allowance.unpushed += usage;
      spent.push(before, before + usage);
    }
    if (!counted) return false;
    if (!held) this.start();
    else if (this.closing) void this.sync();
    return true;
  }

  /**
   * After a reservation Redis answered: the counters it touched become candidates for an allowance
   * (granted by the next sync when far enough from their limits), and their state is remembered.
   */
  observe(
    counters: readonly CounterPlan[],
    amounts: readonly number[],
    states: readonly CounterState[],
    now: number,
  ): void {
    if (this.closing) return;
    if (now > this.lastNow) this.lastNow = now;
    const at = performance.now();
    let added = false;
    for (let index = 0; index < counters.length; index++) {
      const plan = counters[index] as CounterPlan;
      const amount = amounts[index] ?? 0;
      if (plan.hardLimit === null) continue;
      let allowance = this.allowances.get(plan.counter);
      if (allowance === undefined) {
        added = true;
        const state = states[index] ?? { spent: 0, reserved: 0 };
        allowance = {
          counter: plan.counter,
          window: plan.window,
          hardLimit: plan.hardLimit,
          want: amount,
          held: 0,
          cap: 0,
          used: 0,
          unpushed: 0,
          pushing: 0,
          seq: 0,
          spent: state.spent,
          reserved: state.reserved,
          othersHold: state.reserved,
          syncedAt: -Infinity,
          recalled: false,
          lastUsed: at,
          holds: 0,
          dropped: false,
        };
        this.allowances.set(plan.counter, allowance);
      }
      this.seen(allowance, plan, amount, at);
    }
    this.start();
    // A counter new here asks for its allowance now rather than at the next tick: a burst after a
    // pause then goes to Redis for one round trip, not for up to SYNC_MS.
    if (added) void this.sync();
  }

  /** Sends what was spent locally now (before a status read: this instance's spending is then in it). */
  async flush(): Promise<void> {
    if (this.allowances.size === 0) return;
    await this.sync();
    // One under way when asked may have left out what was settled meanwhile.
    if ([...this.allowances.values()].some((allowance) => allowance.unpushed > 0)) await this.sync();
  }

  /**
   * Gives every allowance back and sends what was spent, waiting up to `timeoutMs` for the local
   * reservations still held to be settled (their requests are ending).
   */
  async close(timeoutMs = 2000): Promise<void> {
    this.closing = true;
    const deadline = performance.now() + timeoutMs;
    while (this.allowances.size > 0 && performance.now() < deadline) {
      await this.sync().catch(() => undefined);
      if (this.allowances.size > 0) await new Promise((resolve) => setTimeout(resolve, SYNC_MS));
    }
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The allowance of each counter (undefined: none), from the plan's entry while it is current. */
  private allowancesOf(counters: readonly CounterPlan[]): readonly (Allowance | undefined)[] {
    const known = this.planAllowances.get(counters);
    if (known !== undefined) {
      let current = true;
      for (let index = 0; index < known.length; index++) {
        const allowance = known[index];
        if (allowance === undefined || allowance.dropped) current = false;
      }
      if (current) return known;
    }
    const found = counters.map((plan) => this.allowances.get(plan.counter));
    this.planAllowances.set(counters, found);
    return found;
  }

  private seen(allowance: Allowance, plan: CounterPlan, amount: number, at: number): void {
    allowance.lastUsed = at;
    allowance.hardLimit = plan.hardLimit;
    if (amount > allowance.want) allowance.want = amount;
  }

  private start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.sync(), SYNC_MS);
    this.timer.unref();
  }

  /** Whether an allowance may not be used until a sync answers (STALE_MS, HARD_STALE_MS). */
  private stale(allowance: Allowance, at: number): boolean {
    const age = at - allowance.syncedAt;
    if (age <= STALE_MS) return false;
    if (age > Math.min(HARD_STALE_MS, this.options.ttlMs() / 2)) return true;
    return this.failing || (this.syncing !== null && at - this.syncStartedAt > STALE_MS);
  }

  /** One script for every allowance of this instance: see SYNC. */
  private sync(): Promise<void> {
    if (this.syncing === null) this.syncStartedAt = performance.now();
    this.syncing ??= this.syncOnce().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const at = performance.now();
    this.expireHolds();
    const batch: Allowance[] = [];
    const args: (string | number)[] = [
      0,
      this.lastNow,
      this.options.id,
      this.lastNow + this.options.ttlMs(),
      RECALL_MS,
    ];
    const keys: string[] = [];
    for (const allowance of this.allowances.values()) {
      const target = this.targetOf(allowance, at);
      const kept = allowance.held - allowance.unpushed - allowance.pushing;
      // Growing or keeping: all that is held and not spent stays (local reservations go on meanwhile
      // within it); shrinking: down to what local reservations hold (none are taken meanwhile).
      const floor = Math.max(allowance.used, target >= kept ? kept : allowance.used);
      if (allowance.pushing === 0) {
        allowance.pushing = allowance.unpushed;
        allowance.unpushed = 0;
        allowance.seq++;
      }
      allowance.cap = floor;
      batch.push(allowance);
      keys.push(...this.options.keysOf(allowance.counter));
      args.push(
        Number.isFinite(allowance.window.end) ? allowance.window.end + COUNTER_MARGIN_MS : 0,
        allowance.seq,
        allowance.pushing,
        floor,
        target,
        allowance.hardLimit ?? -1,
        allowance.used,
      );
    }
    if (batch.length === 0) {
      if (this.timer !== null) clearInterval(this.timer);
      this.timer = null;
      return;
    }
    let reply: readonly (string | number)[];
    try {
      reply = await this.options.run(SYNC, keys, args);
      this.failing = false;
    } catch (error) {
      // Whether it ran is not known: the next sync sends the same push again (applied once), and until
      // one answers, local reservations stay within the floor, which both outcomes hold.
      if (!this.failing) this.options.onSyncError?.(error);
      this.failing = true;
      return;
    }
    const answered = performance.now();
    batch.forEach((allowance, index) => {
      const offset = 1 + index * 5;
      allowance.spent = Number(reply[offset]);
      allowance.reserved = Number(reply[offset + 1]);
      allowance.held = Number(reply[offset + 2]);
      allowance.recalled = Number(reply[offset + 3]) === 1;
      allowance.othersHold = Number(reply[offset + 4]);
      allowance.cap = allowance.held;
      allowance.pushing = 0;
      allowance.syncedAt = answered;
      // Nothing held, nothing to send, and nothing to ask for: forgotten until a request needs it.
      if (
        allowance.held === 0 &&
        allowance.holds === 0 &&
        allowance.unpushed === 0 &&
        this.targetOf(allowance, answered) === 0
      ) {
        this.allowances.delete(allowance.counter);
        allowance.dropped = true;
      }
    });
  }

  /** What this instance asks to hold: a share of the room, far from the limit only; else nothing. */
  private targetOf(allowance: Allowance, at: number): number {
    if (
      this.closing ||
      allowance.hardLimit === null ||
      allowance.recalled ||
      at - allowance.lastUsed > IDLE_MS ||
      this.lastNow >= allowance.window.end
    )
      return 0;
    const room = allowance.hardLimit - allowance.spent - (allowance.reserved - allowance.held);
    return room >= GRANT_FACTOR * Math.max(1, allowance.want) ? Math.floor(room / SHARE) : 0;
  }

  /** Local reservations past their expiry give their amounts back (as Redis purges its own). */
  private expireHolds(): void {
    if (this.lastNow - this.lastExpiryCheck < EXPIRY_CHECK_MS || this.holds.size === 0) return;
    this.lastExpiryCheck = this.lastNow;
    for (const hold of this.holds) {
      if (hold.expiresAt > this.lastNow) continue;
      this.holds.delete(hold);
      for (let index = 0; index < hold.allowances.length; index++) {
        const allowance = hold.allowances[index] as Allowance;
        allowance.used -= hold.amounts[index] ?? 0;
        allowance.holds--;
      }
      this.lapsed.add(hold);
      if (this.lapsed.size > MAX_LAPSED) {
        const oldest = this.lapsed.values().next().value;
        if (oldest !== undefined) this.lapsed.delete(oldest);
      }
    }
  }
}
