import type { RedisClient } from '../state/redis/redis-client.js';
import { matchesModelPattern } from '../routing/model-patterns.js';
import { DAY_MS, expiryOf, hoursIn } from './hours.js';
import { cellGroupValues, UsageRowBuilder } from './usage-rows.js';
import type { UsageBatch, UsageIncrement, UsageQuery, UsageRow, UsageStore } from './usage.js';

/**
 * Usage in Redis, shared by every instance: one hash per UTC hour,
 *
 *   gw-usage:{u}:YYYY-MM-DDTHH   field JSON [key id, model, counter] → integer
 *
 * with counters requests, errors, cached, prompt_tokens, completion_tokens and cost_micros (the last
 * only for models with a price, so that "no price" and "a cost of 0" stay apart; a zero counter is not
 * written). Key ids and model names can hold any character: JSON keeps them apart. Each hour's hash
 * expires at the end of the hour plus usage.retention_days (EXPIREAT). The `{u}` hash tag puts every
 * usage key on one Redis Cluster slot, so that one script may touch them all.
 *
 * A batch is applied by one Lua script: every HINCRBY, the EXPIREATs, and the batch's sequence number
 * in `gw-usage:{u}:applied:<source>`; a batch whose number is not above the stored one is skipped, so
 * that a retry after a timeout (applied, but the answer lost) is not counted twice.
 */
export const USAGE_KEY_PREFIX = 'gw-usage:{u}:';
const APPLIED_PREFIX = `${USAGE_KEY_PREFIX}applied:`;
/** A recorder that has not written for this long has its batch number forgotten. */
const APPLIED_TTL_SECONDS = (7 * DAY_MS) / 1000;
/** Admin queries and the first flush, sent right after start, wait this long for the connection. */
const FIRST_CONNECTION_WAIT_MS = 2000;

const COUNTERS = [
  ['requests', 'requests'],
  ['errors', 'errors'],
  ['cached', 'cached'],
  ['prompt_tokens', 'promptTokens'],
  ['completion_tokens', 'completionTokens'],
] as const;
const COST = 'cost_micros';

// KEYS[1]: the batch marker; KEYS[2..]: the hour hashes.
// ARGV[1]: the batch's sequence (-1: none); ARGV[2]: the marker's TTL in seconds;
// ARGV[3 .. 2+H]: EXPIREAT of each hour hash (H = #KEYS - 1); then triples (hash index, field, increment).
const ADD = `
local sequence = tonumber(ARGV[1])
if sequence >= 0 then
  local applied = tonumber(redis.call('GET', KEYS[1]) or '-1')
  if applied >= sequence then return 0 end
end
local hours = #KEYS - 1
local i = 3 + hours
while i <= #ARGV do
  redis.call('HINCRBY', KEYS[tonumber(ARGV[i]) + 1], ARGV[i + 1], ARGV[i + 2])
  i = i + 3
end
for h = 1, hours do
  redis.call('EXPIREAT', KEYS[h + 1], ARGV[2 + h])
end
if sequence >= 0 then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 1`;

export function hourKey(hour: string): string {
  return `${USAGE_KEY_PREFIX}${hour}`;
}

export class RedisUsageStore implements UsageStore {
  private readonly firstConnection: Promise<void>;

  constructor(
    private readonly redis: RedisClient,
    private readonly retentionDays: number,
  ) {
    // The gateway's clients queue nothing while disconnected: a command sent before the first
    // connection fails at once. Usage is off the request path, so it waits for it, bounded.
    this.firstConnection =
      redis.status === 'ready'
        ? Promise.resolve()
        : new Promise((resolve) => {
            const timer = setTimeout(resolve, FIRST_CONNECTION_WAIT_MS);
            timer.unref();
            redis.once('ready', () => {
              clearTimeout(timer);
              resolve();
            });
          });
  }

  async add(increments: readonly UsageIncrement[], batch?: UsageBatch): Promise<void> {
    if (increments.length === 0) return;
    await this.firstConnection;
    const hourIndex = new Map<string, number>();
    const keys: string[] = [batch === undefined ? `${APPLIED_PREFIX}-` : APPLIED_PREFIX + batch.source];
    const expiries: string[] = [];
    const triples: string[] = [];
    for (const increment of increments) {
      let index = hourIndex.get(increment.hour);
      if (index === undefined) {
        index = hourIndex.size + 1;
        hourIndex.set(increment.hour, index);
        keys.push(hourKey(increment.hour));
        expiries.push(String(Math.ceil(expiryOf(increment.hour, this.retentionDays) / 1000)));
      }
      for (const [counter, member] of COUNTERS) {
        const value = increment[member];
        if (value !== 0) triples.push(String(index), field(increment, counter), String(value));
      }
      if (increment.costMicros !== null)
        triples.push(String(index), field(increment, COST), String(increment.costMicros));
    }
    // call() takes the arguments as one array: a batch may have more than a spread call allows.
    await this.redis.call('EVAL', [
      ADD,
      keys.length,
      ...keys,
      String(batch?.sequence ?? -1),
      String(APPLIED_TTL_SECONDS),
      ...expiries,
      ...triples,
    ]);
  }

  async query(query: UsageQuery): Promise<UsageRow[]> {
    await this.firstConnection;
    const hours = hoursIn(query.from, query.to);
    const builder = new UsageRowBuilder(query.groupBy);
    if (hours.length > 0) {
      const pipeline = this.redis.pipeline();
      for (const hour of hours) pipeline.hgetall(hourKey(hour));
      const results = (await pipeline.exec()) ?? [];
      hours.forEach((hour, index) => {
        const [error, value] = results[index] ?? [new Error('no answer'), null];
        if (error !== null) throw error;
        this.addHour(builder, hour, value as Record<string, string>, query);
      });
    }
    return builder.rows();
  }

  private addHour(
    builder: UsageRowBuilder,
    hour: string,
    fields: Record<string, string>,
    query: UsageQuery,
  ): void {
    const cells = new Map<string, { keyId: string; model: string; counters: Record<string, number> }>();
    for (const [name, value] of Object.entries(fields)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(name);
      } catch {
        continue; // not ours
      }
      if (!Array.isArray(parsed) || parsed.length !== 3) continue;
      const [keyId, model, counter] = parsed as unknown[];
      if (typeof keyId !== 'string' || typeof model !== 'string' || typeof counter !== 'string') continue;
      if (query.key !== null && keyId !== query.key) continue;
      if (query.model !== null && !matchesModelPattern(query.model, model)) continue;
      const cellId = JSON.stringify([keyId, model]);
      let cell = cells.get(cellId);
      if (cell === undefined) {
        cell = { keyId, model, counters: {} };
        cells.set(cellId, cell);
      }
      cell.counters[counter] = (cell.counters[counter] ?? 0) + Number(value);
    }
    for (const { keyId, model, counters } of cells.values()) {
      builder.add(cellGroupValues(hour, keyId, model), {
        requests: counters['requests'] ?? 0,
        errors: counters['errors'] ?? 0,
        cached: counters['cached'] ?? 0,
        promptTokens: counters['prompt_tokens'] ?? 0,
        completionTokens: counters['completion_tokens'] ?? 0,
        costMicros: counters[COST] ?? null,
      });
    }
  }
}

function field(increment: UsageIncrement, counter: string): string {
  return JSON.stringify([increment.keyId, increment.model, counter]);
}
