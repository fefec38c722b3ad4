import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { ServiceUnavailableError } from '../errors/errors.js';
import { withDeadline } from '../state/deadline.js';
import type { ChangeSubscriber } from '../state/redis/cluster-subscriber.js';
import { LuaScript } from '../state/redis/lua-script.js';
import { RedisClock } from '../state/redis/redis-clock.js';
import type { RedisClient } from '../state/redis/redis-client.js';
import { TurnBatch } from '../state/turn-batch.js';
import { SlotQueue, type Attempt } from './slot-queue.js';
import type { OnStoreError, SlotMetrics, SlotScope } from './slots.js';

/*
 * A scope is a sorted set `{<namespace>}:<scope id>` whose members are the leases holding one of its
 * slots, each scored by its expiry in Redis's clock (ms). Every key of the pool shares the hash tag
 * `{<namespace>}`: one Redis Cluster slot, so that one script may take a key's, a team's and a
 * backend's slot together. Scripts read Redis's TIME, never the instance's clock.
 */

/*
 * Takes slots for several requests at once (TurnBatch), each as if by a script of its own, in order.
 * KEYS: the batch's distinct scopes. ARGV: the deadline (ms, Redis's clock; 0: none), the lease (ms),
 * the number of requests, then per request: its lease's member, its number of scopes n and per scope its
 * index among KEYS (1-based) and its limit. Purges expired members (the leases of instances that died),
 * then takes a slot in every scope of the request or in none. A scope is purged and counted once per
 * batch and its expiry set once (a batch's requests share a few scopes: a call per request and scope
 * for each of those was most of a batch's work). Returns { 1, now, then per request: taken (1|0), the
 * number of full scopes f, the live count of each scope after the decision, the 1-based indexes (among
 * the request's scopes) of the full scopes }, or { 'late', now } having done nothing when run after its
 * deadline: the caller gave up on it (issue 17).
 */
const ACQUIRE = new LuaScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local deadline = tonumber(ARGV[1])
if deadline > 0 and now > deadline then return { 'late', now } end
local lease = tonumber(ARGV[2])
local counts, taken = {}, {}
local reply = { 1, now }
local a = 4
for _ = 1, tonumber(ARGV[3]) do
  local member, n = ARGV[a], tonumber(ARGV[a + 1])
  local full = {}
  for i = 1, n do
    local c = tonumber(ARGV[a + i * 2])
    if counts[c] == nil then
      redis.call('ZREMRANGEBYSCORE', KEYS[c], '-inf', now)
      counts[c] = redis.call('ZCARD', KEYS[c])
    end
    if counts[c] >= tonumber(ARGV[a + 1 + i * 2]) then full[#full + 1] = i end
  end
  reply[#reply + 1] = #full == 0 and 1 or 0
  reply[#reply + 1] = #full
  for i = 1, n do
    local c = tonumber(ARGV[a + i * 2])
    if #full == 0 then
      redis.call('ZADD', KEYS[c], now + lease, member)
      counts[c] = counts[c] + 1
      taken[c] = true
    end
    reply[#reply + 1] = counts[c]
  end
  for _, index in ipairs(full) do reply[#reply + 1] = index end
  a = a + 2 + n * 2
end
for c = 1, #KEYS do
  if taken[c] then redis.call('PEXPIRE', KEYS[c], lease + 1000) end
end
return reply`);

/*
 * Gives back the leases of several requests at once (TurnBatch): KEYS: the batch's distinct scopes.
 * ARGV: the channel to tell other instances on ('': none), the number of leases, then per lease its
 * member, its number of scopes n and per scope its index among KEYS (1-based) and its limit. Tells the
 * others only when a scope was full before the batch's releases: only then can a request be waiting
 * for it (a publish on every release woke every instance for every request; slots that lapse are
 * noticed by the waiters' polling). Returns the live count of each lease's scopes after the batch, in
 * the leases' order. Running late is harmless: no deadline.
 */
const RELEASE = new LuaScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local before, after = {}, {}
local freed = false
local a = 3
for _ = 1, tonumber(ARGV[2]) do
  local member, n = ARGV[a], tonumber(ARGV[a + 1])
  for i = 1, n do
    local c = tonumber(ARGV[a + i * 2])
    if before[c] == nil then before[c] = redis.call('ZCOUNT', KEYS[c], '(' .. now, '+inf') end
    if redis.call('ZREM', KEYS[c], member) == 1 and before[c] >= (tonumber(ARGV[a + 1 + i * 2]) or 0) then
      freed = true
    end
  end
  a = a + 2 + n * 2
end
local reply = {}
a = 3
for _ = 1, tonumber(ARGV[2]) do
  local n = tonumber(ARGV[a + 1])
  for i = 1, n do
    local c = tonumber(ARGV[a + i * 2])
    if after[c] == nil then after[c] = redis.call('ZCOUNT', KEYS[c], '(' .. now, '+inf') end
    reply[#reply + 1] = after[c]
  end
  a = a + 2 + n * 2
end
if freed and ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], '1') end
return reply`);

/*
 * The heartbeat: every lease this instance holds, in one call. KEYS: the distinct scopes. ARGV: the
 * lease (ms), then per key its number of members and the members. A member that is gone (it lapsed:
 * this instance was cut off for longer than a lease) is not added back. Returns { the number of
 * members gone, then the live count of each scope }.
 */
const RENEW = new LuaScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[1])
local a = 2
local lost = 0
local reply = { 0 }
for i = 1, #KEYS do
  local n = tonumber(ARGV[a])
  a = a + 1
  for m = 1, n do
    if redis.call('ZADD', KEYS[i], 'XX', 'CH', now + lease, ARGV[a]) == 0 then lost = lost + 1 end
    a = a + 1
  end
  redis.call('PEXPIRE', KEYS[i], lease + 1000)
  reply[#reply + 1] = redis.call('ZCOUNT', KEYS[i], '(' .. now, '+inf')
end
reply[1] = lost
return reply`);

/* KEYS: scopes. Returns the live count of each (for inFlight). */
const COUNT = new LuaScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local reply = {}
for i = 1, #KEYS do reply[i] = redis.call('ZCOUNT', KEYS[i], '(' .. now, '+inf') end
return reply`);

export interface RedisSlotsOptions {
  readonly redis: RedisClient;
  readonly logger: Logger;
  /** Keys are `{<namespace>}:<scope id>` (one hash tag); default `gw-cc`. Tests use their own. */
  readonly namespace?: string;
  /** A lease lives this long without renewal (concurrency.lease_ms); the heartbeat renews it every third. */
  readonly leaseMs: number;
  readonly maxQueue: number;
  readonly queueTimeoutMs: number;
  /** Longest wait for Redis on a request's path (rate_limit.store_timeout_ms). */
  readonly storeTimeoutMs: number;
  /**
   * When Redis fails or does not answer in time: 'open' admits the request without a slot (counted and
   * logged), 'closed' refuses it with 503 and Retry-After (as rate_limit.on_store_error).
   */
  readonly onStoreError: OnStoreError;
  /**
   * A pub/sub connection: releases on other instances wake this one's queue at once. Without it, the
   * queue polls Redis, backing off from 20 to 200 ms (with it, to 1 s: for leases that lapse).
   */
  readonly subscriber?: ChangeSubscriber;
  /** The queue's polling, to override the backoff above (tests, tuning). */
  readonly poll?: { readonly minMs: number; readonly maxMs: number };
  readonly metrics?: SlotMetrics;
  /** inFlight's counts are refreshed this often for the scopes asked about recently (default 200 ms). */
  readonly refreshMs?: number;
}

/** Slots asked for: the lease's member, and each scope's key and limit. */
interface Claim {
  readonly member: string;
  readonly keys: readonly string[];
  readonly limits: readonly number[];
}

/**
 * ACQUIRE's and RELEASE's KEYS and per-lease arguments for a batch: the distinct keys, then the number
 * of leases and per lease its member, its number of scopes and per scope its key's index in KEYS
 * (1-based) and its limit (0 when not known).
 */
function packed(claims: readonly Claim[]): { keys: string[]; args: (string | number)[] } {
  const keys: string[] = [];
  const indexes = new Map<string, number>();
  const args: (string | number)[] = [claims.length];
  for (const { member, keys: own, limits } of claims) {
    args.push(member, own.length);
    own.forEach((key, scope) => {
      let index = indexes.get(key);
      if (index === undefined) {
        index = keys.push(key);
        indexes.set(key, index);
      }
      args.push(index, limits[scope] ?? 0);
    });
  }
  return { keys, args };
}

/**
 * Spares (see RedisSlots.keepsSpare): only scopes with at least this many slots keep any (below it,
 * every slot goes back to Redis at once, exact for GPU-sized caps), ...
 */
const SPARE_MIN_LIMIT = 8;
/** ... a spare idle this long goes back to Redis (the sweeper runs this often while there are any), ... */
const SPARE_IDLE_MS = 25;
/**
 * ... counting only time the process ran: a sweep this much later than the last one (the process was
 * stopped, or starved of CPU) finds spares frozen with it rather than left unused by its requests, and
 * gives them another SPARE_IDLE_MS; ...
 */
const LATE_SWEEP_MS = SPARE_IDLE_MS * 4;
/** ... and at most 1/SPARE_SHARE of a scope's slots are spares of this instance. */
const SPARE_SHARE = 4;

/**
 * Spares are kept per scopes and limits (a reload may change a limit): '' when a scope has fewer than
 * SPARE_MIN_LIMIT slots (no spare is kept or looked for then).
 */
function spareKeyOf(scopes: readonly SlotScope[]): string {
  let key = '';
  for (const scope of scopes) {
    if (scope.limit < SPARE_MIN_LIMIT) return '';
    key += `${scope.id}\u0000${scope.limit}\u0000`;
  }
  return key;
}

/**
 * What this instance knows of one scope, in one object (the request path reads and changes it with no
 * map look-up: a lease's scopes point at theirs).
 */
interface ScopeState {
  readonly id: string;
  /** Leases of requests in flight here (spares not included). */
  held: number;
  /** This instance's spares in the scope. */
  spares: number;
  /** The last count seen in Redis (spares included), and when (performance.now()); at -1: none yet. */
  count: number;
  at: number;
  /** A spare of the scope was taken since the last sweep (the sweep counts the scope). */
  reused: boolean;
}

/**
 * A set of scopes as requests ask for them (the same array each time: callerScopes and the router
 * keep theirs), with all a lease of it needs, worked out once.
 */
interface ScopeGroup {
  /** spareKeyOf the scopes. */
  readonly spareKey: string;
  readonly ids: readonly string[];
  readonly keys: readonly string[];
  readonly limits: readonly number[];
  readonly states: readonly ScopeState[];
  /** The spares of these scopes and limits (shared with every group of the same spareKey), newest last. */
  readonly spares: Handle[];
}

/** A held lease: its member and its scopes. */
interface Handle {
  readonly member: string;
  readonly group: ScopeGroup;
  readonly ids: readonly string[];
  readonly keys: readonly string[];
  readonly limits: readonly number[];
  /** What take() answers when the lease is reused as a spare. */
  readonly taken: Attempt<Handle>;
  /**
   * As a spare: when it became one (performance.now()), or when a late sweep found it (see sweep: time
   * the process spent stopped does not count as idle).
   */
  since: number;
}

function newHandle(member: string, group: ScopeGroup): Handle {
  const handle: { -readonly [K in keyof Handle]: Handle[K] } = {
    member,
    group,
    ids: group.ids,
    keys: group.keys,
    limits: group.limits,
    taken: { kind: 'full', full: [] },
    since: 0,
  };
  handle.taken = { kind: 'taken', handle };
  return handle;
}

/** A scope asked about by inFlight within this long keeps being refreshed. */
const WATCH_MS = 10_000;
const LOG_EVERY_MS = 10_000;

/**
 * Slots shared by every instance through Redis: a semaphore of leases that expire unless renewed, so
 * the slots of an instance that dies come back within leaseMs. See docs/concurrency.md.
 */
export class RedisSlots extends SlotQueue<Handle> {
  private readonly redis: RedisClient;
  private readonly namespace: string;
  private readonly channel: string;
  private readonly clock = new RedisClock();
  /** Slots asked for in one turn of the event loop, in one script. */
  private readonly acquisitions = new TurnBatch<Claim, (string | number)[]>((batch) =>
    this.acquireAll(batch),
  );
  /** Releases of the requests that ended in one turn of the event loop, in one script. */
  private readonly releaseBatch = new TurnBatch<Handle, readonly number[]>((handles) =>
    this.releaseAll(handles),
  );
  private readonly instance = randomUUID();
  private leaseSeq = 0;
  /** Leases held by this instance, renewed together by one heartbeat. */
  private readonly held = new Map<string, Handle>();
  /** Every scope this instance has used or been asked about. */
  private readonly scopes = new Map<string, ScopeState>();
  /** Per array of scopes asked for: see ScopeGroup. */
  private readonly groups = new WeakMap<readonly SlotScope[], ScopeGroup>();
  private heartbeat: NodeJS.Timeout | null = null;
  /** Scopes asked about by inFlight, and when last. */
  private readonly watched = new Map<string, number>();
  private refresher: NodeJS.Timeout | null = null;
  private refreshing = false;
  private lastLog = 0;
  private stopped = false;
  /**
   * Leases whose request ended, kept for the next request of the same scopes (keyed by scopes and
   * limits), newest last; still in `held` (renewed) and counted in Redis. See keepsSpare.
   */
  private readonly spares = new Map<string, Handle[]>();
  private spareCount = 0;
  /** Scopes whose spares were taken since the last sweep (`reused` set): the sweep counts them too. */
  private reused: ScopeState[] = [];
  private sweeper: NodeJS.Timeout | null = null;
  private sweeping = false;
  /** When the last sweep started (performance.now()). */
  private lastSweep = 0;

  constructor(private readonly options: RedisSlotsOptions) {
    super({
      maxQueue: options.maxQueue,
      queueTimeoutMs: options.queueTimeoutMs,
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      poll: options.poll ?? { minMs: 20, maxMs: options.subscriber === undefined ? 200 : 1000 },
    });
    this.redis = options.redis;
    this.namespace = options.namespace ?? 'gw-cc';
    // Every instance publishes its releases: the others may listen whether or not this one does.
    this.channel = `{${this.namespace}}:released`;
    const subscriber = options.subscriber;
    if (subscriber !== undefined) {
      const subscribe = (): void => {
        subscriber.subscribe(this.channel).catch(() => {
          // retried on the next 'ready'; polling covers the gap
        });
      };
      subscriber.on('message', (channel) => {
        if (channel === this.channel && !this.stopped) this.wake();
      });
      subscriber.on('ready', subscribe);
      subscribe();
    }
  }

  inFlight(scopeId: string): number {
    this.watched.set(scopeId, performance.now());
    if (this.refresher === null && !this.stopped) {
      this.refresher = setInterval(() => void this.refresh(), this.options.refreshMs ?? 200);
      this.refresher.unref();
    }
    const state = this.scopes.get(scopeId);
    if (state === undefined) return 0;
    // Redis's count includes this instance's spares: idle, not in flight.
    return state.at >= 0 ? Math.max(0, state.count - state.spares) : state.held;
  }

  override async close(): Promise<void> {
    this.stopped = true;
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    if (this.refresher !== null) clearInterval(this.refresher);
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.heartbeat = null;
    this.refresher = null;
    this.sweeper = null;
    // Spares hold slots no request uses: give them back now rather than when their leases lapse.
    const spares = this.takeSpares(() => true);
    this.clearReused();
    for (const handle of spares) this.held.delete(handle.member);
    if (spares.length > 0) {
      await this.releaseAll(spares).catch((error: unknown) => {
        this.logFailure(error, 'concurrency store unavailable: spare slots lapse with their leases');
      });
    }
    await super.close();
  }

  private keyOf(scopeId: string): string {
    return `{${this.namespace}}:${scopeId}`;
  }

  private stateOf(id: string): ScopeState {
    let state = this.scopes.get(id);
    if (state === undefined) {
      state = { id, held: 0, spares: 0, count: 0, at: -1, reused: false };
      this.scopes.set(id, state);
    }
    return state;
  }

  /** Counts of `states` read from Redis at `at` (performance.now()): reply[offset + i] is states[i]'s. */
  private counted(
    states: readonly ScopeState[],
    reply: readonly (string | number)[],
    offset: number,
    at: number,
  ): void {
    states.forEach((state, index) => {
      state.count = Number(reply[offset + index]);
      state.at = at;
    });
  }

  /**
   * A count of the scope asked for at `asked` and read at `at`: kept unless a newer count (from an
   * acquire or release answered meanwhile) arrived after it was asked for.
   */
  private recounted(state: ScopeState, count: number, asked: number, at: number): void {
    if (state.at > asked) return;
    state.count = count;
    state.at = at;
  }

  /** The group of these scopes (the same array as before: no work). */
  private groupOf(scopes: readonly SlotScope[]): ScopeGroup {
    let group = this.groups.get(scopes);
    if (group === undefined) {
      const spareKey = spareKeyOf(scopes);
      let spares = this.spares.get(spareKey);
      if (spares === undefined) {
        spares = [];
        // No list for '' (no spares kept): its groups get one of their own, always empty.
        if (spareKey !== '') this.spares.set(spareKey, spares);
      }
      const ids = scopes.map((scope) => scope.id);
      group = {
        spareKey,
        ids,
        keys: ids.map((id) => this.keyOf(id)),
        limits: scopes.map((scope) => scope.limit),
        states: ids.map((id) => this.stateOf(id)),
        spares,
      };
      this.groups.set(scopes, group);
    }
    return group;
  }

  /** A spare for these scopes, taken at once; null when there is none (take() asks Redis). */
  protected override takeAtOnce(scopes: readonly SlotScope[]): Attempt<Handle> | null {
    if (this.spareCount === 0) return null;
    const spare = this.groupOf(scopes).spares.pop();
    if (spare === undefined) return null;
    this.spareCount--;
    for (const state of spare.group.states) {
      state.spares--;
      state.held++;
      if (!state.reused) {
        state.reused = true;
        this.reused.push(state);
      }
    }
    return spare.taken;
  }

  protected async take(scopes: readonly SlotScope[]): Promise<Attempt<Handle>> {
    const spare = this.takeAtOnce(scopes);
    if (spare !== null) return spare;
    const group = this.groupOf(scopes);
    const { ids, keys, limits } = group;
    const member = `${this.instance}:${this.leaseSeq++}`;
    let reply: (string | number)[];
    try {
      reply = await this.acquisitions.add({ member, keys, limits });
    } catch (error) {
      // Its script may yet run in time with the answer lost: give back what it may have taken.
      const { keys: distinct, args } = packed([{ member, keys, limits: [] }]);
      RELEASE.run(this.redis, distinct, ['', ...args]).catch(() => {
        // lapses with its lease
      });
      return this.storeFailed(error);
    }
    const at = performance.now();
    this.counted(group.states, reply, 1, at);
    if (Number(reply[0]) !== 1) {
      const full = reply.slice(1 + ids.length).map((index) => ids[Number(index) - 1] ?? '');
      return { kind: 'full', full };
    }
    const handle = newHandle(member, group);
    this.held.set(member, handle);
    for (const state of group.states) state.held++;
    this.startHeartbeat();
    return handle.taken;
  }

  /** Keeps the lease as a spare when it may (keepsSpare): true; false: give() releases it. */
  protected override giveAtOnce(handle: Handle): boolean {
    if (!this.keepsSpare(handle)) return false;
    this.notHeld(handle);
    this.addSpare(handle);
    return true;
  }

  /** After giveAtOnce said no (SlotQueue.giveBack): back to Redis. */
  protected async give(handle: Handle): Promise<void> {
    this.notHeld(handle);
    await this.release(handle);
  }

  /** A lease's request ended: it is no longer in flight here. */
  private notHeld(handle: Handle): void {
    for (const state of handle.group.states) state.held = Math.max(0, state.held - 1);
  }

  /** How many leases each scope holds in Redis, across instances (the COUNT script). */
  private async countAll(ids: readonly string[]): Promise<number[]> {
    return (await this.run(
      COUNT,
      ids.map((id) => this.keyOf(id)),
      [],
      false,
    )) as number[];
  }

  /** Gives a lease back to Redis (it is no longer renewed). */
  private async release(handle: Handle): Promise<void> {
    this.held.delete(handle.member);
    if (this.held.size === 0 && this.heartbeat !== null) {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
    }
    try {
      const reply = await this.releaseBatch.add(handle);
      const at = performance.now();
      this.counted(handle.group.states, reply, 0, at);
    } catch (error) {
      // The lease lapses within leaseMs: it is no longer renewed.
      this.logFailure(error, 'concurrency store unavailable: a slot is released when its lease lapses');
    }
  }

  /**
   * Whether a lease whose request ended is kept as a spare for the next request of the same scopes
   * instead of going back to Redis: a request then takes and gives back its slots without a call.
   * Only far from every limit, so that exactness near a limit is untouched: each scope has at least
   * SPARE_MIN_LIMIT slots, its last count seen in Redis (spares included) is at most half its limit, and
   * this instance's spares stay under a SPARE_SHARE-th of it. A spare still counts in Redis (the
   * limit holds whatever the spares); what it costs is a slot another instance cannot have for up to
   * SPARE_IDLE_MS (the sweeper gives idle spares back, and all of a scope's spares once it is found
   * more than half full). See docs/concurrency.md.
   */
  private keepsSpare(handle: Handle): boolean {
    const { spareKey, states, limits } = handle.group;
    if (this.stopped || spareKey === '') return false;
    for (let index = 0; index < states.length; index++) {
      const state = states[index] as ScopeState;
      const limit = limits[index] ?? 0;
      if (state.at < 0 || state.count * 2 > limit) return false;
      if ((state.spares + 1) * SPARE_SHARE > limit) return false;
    }
    return true;
  }

  private addSpare(handle: Handle): void {
    handle.since = performance.now();
    handle.group.spares.push(handle);
    this.spareCount++;
    for (const state of handle.group.states) state.spares++;
    if (this.sweeper === null) {
      this.lastSweep = handle.since;
      this.sweeper = setInterval(() => void this.sweep(), SPARE_IDLE_MS);
      this.sweeper.unref();
    }
  }

  /** Takes out the spares `which` selects (oldest first in each list). */
  private takeSpares(which: (spare: Handle) => boolean): Handle[] {
    const taken: Handle[] = [];
    if (this.spareCount === 0) return taken;
    // In place: groups share these lists.
    for (const list of this.spares.values()) {
      let kept = 0;
      for (const spare of list) {
        if (which(spare)) taken.push(spare);
        else list[kept++] = spare;
      }
      list.length = kept;
    }
    for (const handle of taken) {
      this.spareCount--;
      for (const state of handle.group.states) state.spares--;
    }
    return taken;
  }

  /** Forgets which scopes had spares taken (a sweep counted them). */
  private clearReused(): void {
    for (const state of this.reused) state.reused = false;
    this.reused = [];
  }

  /**
   * Every SPARE_IDLE_MS while there are spares or spares were taken: gives back those idle that long,
   * then counts in Redis the scopes of the others and of those taken since the last sweep, and gives
   * back every spare of a scope found more than half full (others may need its slots). The count also
   * tells keepsSpare what other instances took meanwhile, which reusing spares does not see: a
   * request's release in a scope found crowded goes to Redis again.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    // Stopped here, not when the last spare is taken: spares reused all the time are checked too.
    if (this.spareCount === 0 && this.reused.length === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
      return;
    }
    this.sweeping = true;
    try {
      const now = performance.now();
      if (now - this.lastSweep > LATE_SWEEP_MS) {
        // Late: the process was stopped or starved meanwhile, and its requests had no chance to reuse
        // the spares (they may be waiting in the sockets now). A spare is counted idle from now.
        for (const list of this.spares.values())
          for (const spare of list) spare.since = Math.max(spare.since, now);
      }
      this.lastSweep = now;
      const cutoff = now - SPARE_IDLE_MS;
      const idle = this.takeSpares((spare) => spare.since <= cutoff);
      const releases = idle.map((handle) => this.release(handle));
      const states = [...this.scopes.values()].filter((state) => state.spares > 0 || state.reused);
      this.clearReused();
      if (states.length > 0) {
        const asked = performance.now();
        const reply = await this.countAll(states.map((state) => state.id));
        const at = performance.now();
        const crowded = new Set<string>();
        states.forEach((state, index) => {
          const count = Number(reply[index]);
          this.recounted(state, count, asked, at);
          const limit = this.limitOf(state.id);
          // A scope without spares now: its next release sees this count (keepsSpare).
          if (limit !== undefined && count * 2 > limit) crowded.add(state.id);
        });
        if (crowded.size > 0) {
          const spares = this.takeSpares((spare) => spare.ids.some((id) => crowded.has(id)));
          for (const handle of spares) releases.push(this.release(handle));
        }
      }
      await Promise.all(releases);
    } catch {
      // Redis is away: spares are dropped with the renewal that fails (renew), or lapse.
    } finally {
      this.sweeping = false;
    }
  }

  /** A scope's lowest limit among this instance's spares. */
  private limitOf(id: string): number | undefined {
    let limit: number | undefined;
    for (const list of this.spares.values()) {
      const handle = list[0];
      const index = handle?.ids.indexOf(id) ?? -1;
      if (index >= 0) limit = Math.min(limit ?? Infinity, handle?.limits[index] ?? Infinity);
    }
    return limit;
  }

  /** One script for the slots asked for in one turn; each answer as `taken, counts…, full indexes…`. */
  private async acquireAll(batch: readonly Claim[]): Promise<(string | number)[][]> {
    const { keys, args } = packed(batch);
    const reply = (await this.run(ACQUIRE, keys, [0, this.options.leaseMs, ...args], true)) as (
      string | number
    )[];
    let offset = 2;
    return batch.map(({ keys: scopes }) => {
      const full = Number(reply[offset + 1]);
      const answer = [reply[offset] ?? 0, ...reply.slice(offset + 2, offset + 2 + scopes.length + full)];
      offset += 2 + scopes.length + full;
      return answer;
    });
  }

  private async releaseAll(handles: readonly Handle[]): Promise<(readonly number[])[]> {
    const { keys, args } = packed(handles);
    const reply = (await this.run(RELEASE, keys, [this.channel, ...args], false)) as number[];
    let offset = 0;
    return handles.map((handle) => {
      const counts = reply.slice(offset, offset + handle.keys.length);
      offset += handle.keys.length;
      return counts;
    });
  }

  private storeFailed(error: unknown): Attempt<Handle> {
    const open = this.options.onStoreError === 'open';
    this.options.metrics?.storeError?.(open);
    this.logFailure(
      error,
      open
        ? 'concurrency store unavailable: admitting requests without a slot'
        : 'concurrency store unavailable: refusing requests',
    );
    if (!open) throw new ServiceUnavailableError('The concurrency store is unavailable; retry shortly', 1);
    return { kind: 'unheld' };
  }

  private logFailure(error: unknown, message: string): void {
    const now = Date.now();
    if (now - this.lastLog <= LOG_EVERY_MS) return;
    this.lastLog = now;
    this.options.logger.warn(
      {
        detail: error instanceof Error ? error.message : String(error),
        on_store_error: this.options.onStoreError,
      },
      message,
    );
  }

  private startHeartbeat(): void {
    if (this.heartbeat !== null || this.stopped) return;
    this.heartbeat = setInterval(() => void this.renew(), Math.max(1, Math.floor(this.options.leaseMs / 3)));
    this.heartbeat.unref();
  }

  /** Renews every lease held here in one call (all keys share one hash tag). */
  private async renew(): Promise<void> {
    if (this.held.size === 0) return;
    const members = new Map<string, string[]>();
    for (const handle of this.held.values()) {
      handle.ids.forEach((id) => {
        const list = members.get(id);
        if (list === undefined) members.set(id, [handle.member]);
        else list.push(handle.member);
      });
    }
    const ids = [...members.keys()];
    const args: (string | number)[] = [this.options.leaseMs];
    for (const id of ids) {
      const list = members.get(id) ?? [];
      args.push(list.length, ...list);
    }
    try {
      const reply = (await this.run(
        RENEW,
        ids.map((id) => this.keyOf(id)),
        args,
        false,
      )) as number[];
      const at = performance.now();
      this.counted(
        ids.map((id) => this.stateOf(id)),
        reply,
        1,
        at,
      );
      const lost = Number(reply[0]);
      if (lost > 0) {
        // Which leases lapsed is not known: no spare is trusted any more.
        this.dropSpares();
        this.options.logger.warn(
          { lost },
          'concurrency leases lapsed before their renewal (Redis was unreachable for longer than lease_ms)',
        );
      }
    } catch (error) {
      // A spare whose renewal failed may lapse: none is reused.
      this.dropSpares();
      this.logFailure(error, 'concurrency store unavailable: leases not renewed');
    }
  }

  /** Gives every spare back (best effort: one that does not reach Redis lapses with its lease). */
  private dropSpares(): void {
    for (const handle of this.takeSpares(() => true)) void this.release(handle);
  }

  /** Refreshes inFlight's counts for the scopes asked about lately; stops when none are. */
  private async refresh(): Promise<void> {
    if (this.refreshing || this.stopped) return;
    const now = performance.now();
    for (const [id, at] of this.watched) if (now - at > WATCH_MS) this.watched.delete(id);
    if (this.watched.size === 0) {
      if (this.refresher !== null) clearInterval(this.refresher);
      this.refresher = null;
      return;
    }
    const ids = [...this.watched.keys()];
    this.refreshing = true;
    try {
      const reply = await this.countAll(ids);
      const at = performance.now();
      ids.forEach((id, index) => {
        this.recounted(this.stateOf(id), Number(reply[index]), now, at);
      });
    } catch {
      // the last counts stay
    } finally {
      this.refreshing = false;
    }
  }

  /**
   * Runs a script within storeTimeoutMs. With `deadline`, its first argument is set to the moment this
   * process gives up, in Redis's time (RedisClock): a call given up on does nothing when a stalled
   * Redis gets to it later, so no slot is taken for a request that went on without one.
   */
  private async run(
    script: LuaScript,
    keys: readonly string[],
    args: (string | number)[],
    deadline: boolean,
  ): Promise<unknown> {
    const budget = this.options.storeTimeoutMs;
    if (!Number.isFinite(budget)) return script.run(this.redis, keys, args);
    if (deadline && !this.clock.known) await this.clock.sync(this.redis, budget);
    const sentAt = performance.now();
    if (deadline) args[0] = this.clock.redisTime(sentAt + budget);
    const answer = script.run(this.redis, keys, args).then((reply) => {
      if (deadline && Array.isArray(reply)) {
        this.clock.observe(Number(reply[1]), sentAt, performance.now());
        if (reply[0] === 'late') throw new Error('Redis ran the call after its deadline; it changed nothing');
      }
      return reply;
    });
    return withDeadline(answer, budget);
  }
}
