import { groupByHashTag } from '../state/redis/hash-tag.js';
import { LuaScript } from '../state/redis/lua-script.js';
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
 * GCRA over every limit of a request in one script: one round trip, atomic (either all limits are
 * charged or none), and Redis's clock for every instance, so instances whose clocks differ still agree.
 * Each key expires by itself once its budget is whole again. TATs are counted in emission intervals,
 * as in gcra.ts.
 * ARGV: for each key, its emission interval T (ms), limit L (τ in emission intervals) and cost.
 * Returns: { allowed (1|0), now (ms), then per key: its TAT after the decision (unchanged when refused) },
 * with numbers as strings of 17 significant digits, which read back as the very same doubles (Redis
 * would truncate Lua numbers to integers, and tostring keeps only 14 digits: 0.1 ms of a timestamp).
 */
const ACQUIRE = new LuaScript(`
local function num(x) return string.format('%.17g', x) end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local current = {}
local before = {}
local after = {}
local allowed = 1
for i = 1, #KEYS do
  local interval = tonumber(ARGV[i * 3 - 2])
  local tolerance = tonumber(ARGV[i * 3 - 1])
  local cost = tonumber(ARGV[i * 3])
  current[i] = now / interval
  local tat = tonumber(redis.call('GET', KEYS[i]) or current[i])
  if tat < current[i] then tat = current[i] end
  before[i] = tat
  after[i] = tat + cost
  if after[i] - current[i] > tolerance + 1e-9 then allowed = 0 end
end
local reply = { allowed, num(now) }
for i = 1, #KEYS do
  if allowed == 1 then
    if after[i] > current[i] then
      local ttl = math.ceil((after[i] - current[i]) * tonumber(ARGV[i * 3 - 2])) + 1
      redis.call('SET', KEYS[i], num(after[i]), 'PX', ttl)
    end
    reply[i + 2] = num(after[i])
  else
    reply[i + 2] = num(before[i])
  end
end
return reply`);

/* Corrects earlier charges (a token reservation settled to real usage). ARGV: per key, T (ms) and delta. */
const ADJUST = new LuaScript(`
local function num(x) return string.format('%.17g', x) end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
for i = 1, #KEYS do
  local interval = tonumber(ARGV[i * 2 - 1])
  local delta = tonumber(ARGV[i * 2])
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
return 1`);

/*
 * Keys: `gw-rl:{<key id>}:<scope>`. Every limit of one request belongs to one API key, so the keys of one
 * acquire share the hash tag `{<key id>}`: one Redis Cluster slot, as a script's keys must be. A batch of
 * adjustments mixes API keys: in a cluster it is sent as one script call per hash tag.
 */
export class RedisLimiter implements LimiterStore {
  private readonly cluster: boolean;

  constructor(private readonly redis: RedisClient) {
    this.cluster = isCluster(redis);
  }

  async acquire(checks: readonly LimitCheck[]): Promise<AcquireResult> {
    const args: (string | number)[] = [];
    for (const check of checks) {
      const gcra = gcraLimitOf(check.limit);
      args.push(emissionInterval(gcra), gcra.limit, check.cost);
    }
    const reply = (await ACQUIRE.run(
      this.redis,
      checks.map((check) => check.key),
      args,
    )) as (string | number)[];
    const allowed = Number(reply[0]) === 1;
    const now = Number(reply[1]);
    let refused: AcquireResult['refused'] = null;
    const statuses: LimitStatus[] = checks.map((check, index) => {
      const tat = Number(reply[index + 2]);
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

  async adjust(adjustments: readonly LimitAdjustment[]): Promise<void> {
    if (adjustments.length === 0) return;
    const groups = this.cluster ? groupByHashTag(adjustments, (adjustment) => adjustment.key) : [adjustments];
    await Promise.all(groups.map((group) => this.adjustGroup(group)));
  }

  private async adjustGroup(adjustments: readonly LimitAdjustment[]): Promise<void> {
    const args: (string | number)[] = [];
    for (const adjustment of adjustments) {
      args.push(emissionInterval(gcraLimitOf(adjustment.limit)), adjustment.delta);
    }
    await ADJUST.run(
      this.redis,
      adjustments.map((adjustment) => adjustment.key),
      args,
    );
  }
}
