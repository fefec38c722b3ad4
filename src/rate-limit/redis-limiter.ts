import { performance } from 'node:perf_hooks';
import { groupByHashTag } from '../state/redis/hash-tag.js';
import { LuaScript } from '../state/redis/lua-script.js';
import { withDeadline } from '../state/deadline.js';
import { RedisClock } from '../state/redis/redis-clock.js';
import { isCluster, type RedisClient } from '../state/redis/redis-client.js';
import { emissionInterval } from './gcra.js';
import { gcraLimitOf } from './policy.js';
import type {
  AcquireResult,
  LimitAdjustment,
  LimitCheck,
  LimiterStore,
  LimitStatus,
} from './limiter-store.js';

/*
 * GCRA in one script for a batch of requests: each request's limits are decided together (either all
 * of them are charged or none), one request after the other in the batch's order, exactly as if each had
 * been its own script call; and Redis's clock for every instance, so instances whose clocks differ still
 * agree. Each key expires by itself once its budget is whole again. TATs are counted in emission
 * intervals, as in gcra.ts. The requests of a batch mostly share their keys (one API key's limits): each
 * distinct key is read once, its TAT carried from request to request, and written once at the end.
 * KEYS: the batch's distinct keys.
 * ARGV: the deadline (ms, Redis's clock; 0: none); D, the number of keys; per key its emission interval
 * T (ms) and limit L (τ in emission intervals); the number of requests; per request its number of
 * limits n, then n pairs of key index (1-based) and cost.
 * Returns: { now (ms), then per request: allowed (1|0) and per limit its TAT after the decision
 * (unchanged when refused) }, with numbers as strings of 17 significant digits, which read back as the
 * very same doubles (Redis would truncate Lua numbers to integers, and tostring keeps only 14 digits:
 * 0.1 ms of a timestamp). Past the deadline it changes nothing and returns { 'late', now }: the caller
 * has given up and decided without Redis, and a stalled server runs what was written to it when it
 * resumes (issue 17).
 */
const ACQUIRE = new LuaScript(`
local function num(x) return string.format('%.17g', x) end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local deadline = tonumber(ARGV[1])
if deadline > 0 and now > deadline then return { 'late', num(now) } end
local keys = tonumber(ARGV[2])
local intervals = {}
local tolerances = {}
local current = {}
local tats = {}
local charged = {}
for d = 1, keys do
  intervals[d] = tonumber(ARGV[d * 2 + 1])
  tolerances[d] = tonumber(ARGV[d * 2 + 2])
  current[d] = now / intervals[d]
  local tat = tonumber(redis.call('GET', KEYS[d]) or current[d])
  if tat < current[d] then tat = current[d] end
  tats[d] = tat
end
local reply = { num(now) }
local a = keys * 2 + 3
local requests = tonumber(ARGV[a])
a = a + 1
for r = 1, requests do
  local n = tonumber(ARGV[a])
  a = a + 1
  local which = {}
  local after = {}
  local allowed = 1
  for i = 1, n do
    local d = tonumber(ARGV[a])
    which[i] = d
    after[i] = tats[d] + tonumber(ARGV[a + 1])
    a = a + 2
    if after[i] - current[d] > tolerances[d] + 1e-9 then allowed = 0 end
  end
  reply[#reply + 1] = allowed
  for i = 1, n do
    local d = which[i]
    if allowed == 1 then
      tats[d] = after[i]
      charged[d] = true
    end
    reply[#reply + 1] = num(tats[d])
  end
end
for d = 1, keys do
  if charged[d] and tats[d] > current[d] then
    local ttl = math.ceil((tats[d] - current[d]) * intervals[d]) + 1
    redis.call('SET', KEYS[d], num(tats[d]), 'PX', ttl)
  end
end
return reply`);

/*
 * Corrects earlier charges (a token reservation settled to real usage). ARGV: the deadline (as ACQUIRE's),
 * then per key T (ms) and delta. Returns now (ms), or { 'late', now } having changed nothing: the caller
 * keeps what it could not settle and sends it again.
 */
const ADJUST = new LuaScript(`
local function num(x) return string.format('%.17g', x) end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local deadline = tonumber(ARGV[1])
if deadline > 0 and now > deadline then return { 'late', num(now) } end
for i = 1, #KEYS do
  local interval = tonumber(ARGV[i * 2])
  local delta = tonumber(ARGV[i * 2 + 1])
  local current = now / interval
  local tat = tonumber(redis.call('GET', KEYS[i]) or current)
  if tat < current then tat = current end
  tat = tat + delta
  if tat > current then
    redis.call('SET', KEYS[i], num(tat), 'PX', math.ceil((tat - current) * interval) + 1)
  else
    redis.call('DEL', KEYS[i])
  end
end
return num(now)`);

/*
 * Keys: `gw-rl:{<key id>}:<scope>`. Every limit of one request belongs to one API key, so the keys of one
 * acquire share the hash tag `{<key id>}`: one Redis Cluster slot, as a script's keys must be. A batch of
 * adjustments mixes API keys: in a cluster it is sent as one script call per hash tag.
 */
/** One request waiting for the next batch. */
interface PendingAcquire {
  readonly checks: readonly LimitCheck[];
  readonly resolve: (result: AcquireResult) => void;
  readonly reject: (error: Error) => void;
}

/** At most this many requests in one script call: Redis runs a script alone, and must not stall long. */
const MAX_BATCH_REQUESTS = 256;
/**
 * A call's wait for Redis is store_timeout_ms plus this much per request this instance is waiting on
 * Redis for (the call's own included), up to MAX_WAIT_FACTOR × store_timeout_ms. A burst is when a
 * limit is reached and exactness matters, and on a loaded machine it is when redis-server waits for a
 * CPU: 250 requests at once waited up to 135 ms for their script to start, and fell back at 50 ms
 * (issue 17). A call given up on changes nothing later (its deadline), so waiting longer is safe; a
 * lone request still waits store_timeout_ms and 1 ms.
 */
const WAIT_MS_PER_REQUEST = 1;
const MAX_WAIT_FACTOR = 10;

/**
 * Requests are gathered until the event loop has read what arrived (one setImmediate), then decided by
 * one script call per batch (per hash tag in a cluster): one round trip for every request of a turn
 * instead of one command each, in the order they asked. The deadline (`timeoutMs`, grown by the
 * requests waiting: WAIT_MS_PER_REQUEST) is the batch's, started once its command is written; a batch
 * that fails, times out or reaches Redis after its deadline fails each of its requests, and changes
 * nothing in Redis.
 */
export class RedisLimiter implements LimiterStore {
  private readonly cluster: boolean;
  private queue: PendingAcquire[] = [];
  private readonly clock = new RedisClock();
  /** Requests whose batch was sent and has not been answered or given up on. */
  private waiting = 0;

  constructor(
    private readonly redis: RedisClient,
    /** Longest wait for Redis, read for each batch (a config reload may change it); none when infinite. */
    private readonly timeoutMs: () => number = () => Infinity,
  ) {
    this.cluster = isCluster(redis);
  }

  acquire(checks: readonly LimitCheck[]): Promise<AcquireResult> {
    if (checks.length === 0) return Promise.resolve({ allowed: true, statuses: [], refused: null });
    return new Promise((resolve, reject) => {
      if (this.queue.push({ checks, resolve, reject }) === 1) setImmediate(this.flush);
    });
  }

  private readonly flush = (): void => {
    const queue = this.queue;
    this.queue = [];
    // Every limit of one request belongs to one API key: one hash tag, one slot.
    const groups = this.cluster ? groupByHashTag(queue, (pending) => pending.checks[0]?.key ?? '') : [queue];
    for (const group of groups) {
      for (let start = 0; start < group.length; start += MAX_BATCH_REQUESTS)
        void this.send(group.slice(start, start + MAX_BATCH_REQUESTS));
    }
  };

  private async send(batch: readonly PendingAcquire[]): Promise<void> {
    // Each distinct key once (its limit is part of its name), then the requests by key index.
    const keyIndex = new Map<string, number>();
    const keyArgs: (string | number)[] = [];
    const requestArgs: (string | number)[] = [batch.length];
    for (const pending of batch) {
      requestArgs.push(pending.checks.length);
      for (const check of pending.checks) {
        let index = keyIndex.get(check.key);
        if (index === undefined) {
          index = keyIndex.size + 1;
          keyIndex.set(check.key, index);
          const gcra = gcraLimitOf(check.limit);
          keyArgs.push(emissionInterval(gcra), gcra.limit);
        }
        requestArgs.push(index, check.cost);
      }
    }
    const keys = [...keyIndex.keys()];
    // The deadline goes first; run() fills it in.
    const args = [0, keys.length, ...keyArgs, ...requestArgs];
    let reply: (string | number)[];
    this.waiting += batch.length;
    try {
      reply = (await this.run(ACQUIRE, keys, args)) as (string | number)[];
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const pending of batch) pending.reject(failure);
      return;
    } finally {
      this.waiting -= batch.length;
    }
    const now = Number(reply[0]);
    let index = 1;
    for (const pending of batch) {
      pending.resolve(decision(pending.checks, Number(reply[index]) === 1, now, reply, index + 1));
      index += 1 + pending.checks.length;
    }
  }

  /**
   * Rejects with UnappliedAdjustmentsError naming the adjustments that did not take effect (in a
   * cluster, one script call per hash tag: some may have); those never will, their deadline past.
   */
  async adjust(adjustments: readonly LimitAdjustment[]): Promise<void> {
    if (adjustments.length === 0) return;
    const groups = this.cluster ? groupByHashTag(adjustments, (adjustment) => adjustment.key) : [adjustments];
    const results = await Promise.allSettled(groups.map((group) => this.adjustGroup(group)));
    const unapplied: LimitAdjustment[] = [];
    let reason = '';
    results.forEach((result, index) => {
      if (result.status === 'fulfilled') return;
      unapplied.push(...(groups[index] ?? []));
      reason ||= result.reason instanceof Error ? result.reason.message : String(result.reason);
    });
    if (unapplied.length > 0) throw new UnappliedAdjustmentsError(reason, unapplied);
  }

  private async adjustGroup(adjustments: readonly LimitAdjustment[]): Promise<void> {
    const args: (string | number)[] = [0];
    for (const adjustment of adjustments) {
      args.push(emissionInterval(gcraLimitOf(adjustment.limit)), adjustment.delta);
    }
    await this.run(
      ADJUST,
      adjustments.map((adjustment) => adjustment.key),
      args,
    );
  }

  /**
   * Runs a script whose first argument is its deadline, set here in Redis's time (RedisClock) to the
   * moment this process gives up waiting: a call given up on does nothing when a stalled Redis gets to
   * it later (issue 17), so that what this process decided without Redis is all that counts. Rejects when
   * Redis fails, does not answer in time, or answers that it was late.
   */
  private async run(script: LuaScript, keys: readonly string[], args: (string | number)[]): Promise<unknown> {
    const base = this.timeoutMs();
    if (!Number.isFinite(base)) return script.run(this.redis, keys, args);
    const budget = Math.min(base + this.waiting * WAIT_MS_PER_REQUEST, base * MAX_WAIT_FACTOR);
    if (!this.clock.known) await this.clock.sync(this.redis, budget);
    const sentAt = performance.now();
    args[0] = this.clock.redisTime(sentAt + budget);
    const answer = script.run(this.redis, keys, args).then((reply) => {
      const late = Array.isArray(reply) && reply[0] === 'late';
      const redisNow = Number(Array.isArray(reply) ? reply[late ? 1 : 0] : reply);
      this.clock.observe(redisNow, sentAt, performance.now());
      if (late) throw new Error('Redis ran the call after its deadline; it changed nothing');
      return reply;
    });
    return withDeadline(answer, budget);
  }
}

/** Settlements that did not take effect, and will not later: the caller may send them again. */
export class UnappliedAdjustmentsError extends Error {
  constructor(
    message: string,
    readonly unapplied: readonly LimitAdjustment[],
  ) {
    super(message);
  }
}

/** One request's result from the script's reply: its TATs start at `offset`. */
function decision(
  checks: readonly LimitCheck[],
  allowed: boolean,
  now: number,
  reply: readonly (string | number)[],
  offset: number,
): AcquireResult {
  let refused: AcquireResult['refused'] = null;
  const statuses: LimitStatus[] = checks.map((check, index) => {
    const tat = Number(reply[offset + index]);
    const limit = check.limit.rate.limit;
    const interval = emissionInterval(gcraLimitOf(check.limit));
    // The script's own arithmetic on the same doubles: `excess > limit + 1e-9` exactly when it refused
    // this limit.
    const current = now / interval;
    const remaining = Math.max(0, Math.floor(limit - (tat - current) + 1e-9));
    const excess = tat + check.cost - current;
    if (!allowed && excess > limit + 1e-9) {
      const wait = check.cost > limit ? Infinity : (excess - limit) * interval;
      if (refused === null || wait > refused.retryAfterMs)
        refused = { limit: check.limit, retryAfterMs: wait };
    }
    return { limit: check.limit, remaining, resetMs: Math.max(0, (tat - current) * interval) };
  });
  return { allowed, statuses, refused };
}
