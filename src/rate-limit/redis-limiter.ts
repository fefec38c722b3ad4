import type { Redis } from 'ioredis';
import { emissionInterval } from './gcra.js';
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
 * Each key expires by itself once its budget is whole again.
 * ARGV: for each key, its emission interval T (ms), tolerance τ (ms) and cost.
 * Returns: { allowed (1|0), now, then per key: its TAT after the decision (unchanged when refused) },
 * with numbers as strings
 * (Redis would truncate Lua numbers to integers).
 */
const ACQUIRE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local before = {}
local after = {}
local allowed = 1
for i = 1, #KEYS do
  local interval = tonumber(ARGV[i * 3 - 2])
  local tolerance = tonumber(ARGV[i * 3 - 1])
  local cost = tonumber(ARGV[i * 3])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  before[i] = tat
  after[i] = tat + cost * interval
  if after[i] - now > tolerance then allowed = 0 end
end
local reply = { allowed, tostring(now) }
for i = 1, #KEYS do
  if allowed == 1 then
    if after[i] > now then
      redis.call('SET', KEYS[i], tostring(after[i]), 'PX', math.ceil(after[i] - now) + 1)
    end
    reply[i + 2] = tostring(after[i])
  else
    reply[i + 2] = tostring(before[i])
  end
end
return reply`;

/* Corrects earlier charges (a token reservation settled to real usage). ARGV: per key, T (ms) and delta. */
const ADJUST = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
for i = 1, #KEYS do
  local interval = tonumber(ARGV[i * 2 - 1])
  local delta = tonumber(ARGV[i * 2])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tat = tat + delta * interval
  if tat > now then
    redis.call('SET', KEYS[i], tostring(tat), 'PX', math.ceil(tat - now) + 1)
  else
    redis.call('DEL', KEYS[i])
  end
end
return 1`;

interface LimiterCommands {
  gatewayAcquire(...args: (string | number)[]): Promise<string[] | [number, ...string[]]>;
  gatewayAdjust(...args: (string | number)[]): Promise<number>;
}

export class RedisLimiter implements LimiterStore {
  private readonly commands: LimiterCommands;

  constructor(redis: Redis) {
    // defineCommand sends EVALSHA, and the script itself only when Redis does not know it yet.
    redis.defineCommand('gatewayAcquire', { lua: ACQUIRE });
    redis.defineCommand('gatewayAdjust', { lua: ADJUST });
    this.commands = redis as unknown as LimiterCommands;
  }

  async acquire(checks: readonly LimitCheck[]): Promise<AcquireResult> {
    const args: (string | number)[] = [checks.length, ...checks.map((check) => check.key)];
    for (const check of checks) {
      const gcra = { limit: check.limit.rate.limit, windowMs: check.limit.rate.windowSeconds * 1000 };
      args.push(emissionInterval(gcra), gcra.windowMs, check.cost);
    }
    const reply = await this.commands.gatewayAcquire(...args);
    const allowed = Number(reply[0]) === 1;
    const now = Number(reply[1]);
    let refused: AcquireResult['refused'] = null;
    const statuses: LimitStatus[] = checks.map((check, index) => {
      const tat = Number(reply[index + 2]);
      const windowMs = check.limit.rate.windowSeconds * 1000;
      const interval = windowMs / check.limit.rate.limit;
      const remaining = Math.max(0, Math.floor((windowMs - (tat - now)) / interval + 1e-9));
      if (!allowed) {
        const wait =
          check.cost > check.limit.rate.limit ? Infinity : tat + check.cost * interval - now - windowMs;
        if (wait > 0 && (refused === null || wait > refused.retryAfterMs))
          refused = { limit: check.limit, retryAfterMs: wait };
      }
      return { limit: check.limit, remaining, resetMs: Math.max(0, tat - now) };
    });
    return { allowed, statuses, refused };
  }

  async adjust(adjustments: readonly LimitAdjustment[]): Promise<void> {
    if (adjustments.length === 0) return;
    const args: (string | number)[] = [
      adjustments.length,
      ...adjustments.map((adjustment) => adjustment.key),
    ];
    for (const adjustment of adjustments) {
      args.push((adjustment.limit.rate.windowSeconds * 1000) / adjustment.limit.rate.limit, adjustment.delta);
    }
    await this.commands.gatewayAdjust(...args);
  }
}
