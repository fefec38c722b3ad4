import type { Logger } from 'pino';
import type { KeyStore } from '../auth/key-store.js';
import type { TeamStore } from '../auth/team-store.js';
import type { GatewayConfig } from '../config/config.js';
import type { ReadinessCheck } from '../server/context.js';
import { MemoryCacheStore, RedisCacheStore, type CacheStore } from '../cache/cache-store.js';
import { EmbeddedStore } from './embedded/embedded-store.js';
import {
  checkRedis,
  createStateClient,
  createSubscriber,
  firstConnection,
  type RedisClient,
} from './redis/redis-client.js';
import type { ChangeSubscriber } from './redis/cluster-subscriber.js';
import { RedisKeyStore } from './redis/redis-key-store.js';
import { RedisTeamStore } from './redis/redis-team-store.js';
import { EmbeddedTeamStore } from './embedded/embedded-team-store.js';
import { EmbeddedUsageStore } from '../usage/embedded-usage-store.js';
import { RedisUsageStore } from '../usage/redis-usage-store.js';
import type { UsageStore } from '../usage/usage.js';
import { EmbeddedKeyValueStore } from './embedded/embedded-kv-store.js';
import { KV_TIMEOUT_MS, type KeyValueStore } from './kv-store.js';
import { RedisKeyValueStore } from './redis/redis-kv-store.js';

const READINESS_TIMEOUT_MS = 500;
/** Key look-ups that miss the in-process cache wait at most this long for Redis. */
const KEY_LOOKUP_TIMEOUT_MS = 250;
/** Usage flushes and queries are off the request path: their connection has a timeout of its own. */
const USAGE_TIMEOUT_MS = 2000;

/**
 * The state stores of one gateway: Redis when configured (shared by instances), else SQLite. Redis is
 * one server (redis.url), a Redis Cluster (redis.cluster) or a master found through Sentinel
 * (redis.sentinel): the same connections and timeouts in each case, and every multi-key script or
 * transaction touches keys of one hash tag (one cluster slot).
 */
export interface Stores {
  readonly keys: KeyStore;
  /** The admin API's teams (issue 20): beside the keys, in the same SQLite file or Redis. */
  readonly teams: TeamStore;
  /** The rate limiter's connection (the limiter bounds its calls by rate_limit.store_timeout_ms); null without Redis. */
  readonly limiterRedis: RedisClient | null;
  /**
   * Budgets, concurrency slots and alert claims (issue 20; null without Redis): several scripts per
   * request, each sent alone, so this connection pipelines scripts too (one write per turn of the event
   * loop for all requests in flight, not one system call per script).
   */
  readonly spendingRedis: RedisClient | null;
  /** The pub/sub connection of the key store (null without Redis): concurrency slots hear releases on it. */
  readonly subscriber: ChangeSubscriber | null;
  /** The response cache's store: Redis (sharing the rate limiter's short-timeout connection), else in process. */
  readonly cache: CacheStore;
  /** Usage counters: Redis (a connection of its own, 2 s command timeout), else the SQLite file. */
  readonly usage: UsageStore;
  /** Key-value entries with a TTL (stored Responses API responses): Redis (the usage connection), else SQLite. */
  readonly kv: KeyValueStore;
  /** Readiness checks of the stores, each bounded by a short timeout. */
  check(): Promise<Record<string, ReadinessCheck>>;
  /**
   * Waits, at most `timeoutMs`, for each Redis connection's first attempt to connect; resolves with
   * those not ready then (empty without Redis), as "<name>: <status>".
   */
  connected(timeoutMs: number): Promise<string[]>;
  close(): Promise<void>;
}

export function openStores(config: GatewayConfig, logger: Logger): Stores {
  if (config.redis === null) {
    const embedded = new EmbeddedStore(config.server.stateDir);
    return {
      keys: embedded,
      teams: new EmbeddedTeamStore(embedded.db),
      limiterRedis: null,
      spendingRedis: null,
      subscriber: null,
      cache: new MemoryCacheStore(config.cache.memoryMaxBytes, config.cache.maxEntryBytes),
      usage: new EmbeddedUsageStore(embedded.db, config.usage.retentionDays),
      kv: new EmbeddedKeyValueStore(embedded.db, false),
      check: () => {
        try {
          embedded.check();
          return Promise.resolve({ state_store: { status: 'ok' } });
        } catch {
          return Promise.resolve({
            state_store: { status: 'error', detail: 'the embedded store does not answer' },
          });
        }
      },
      connected: () => Promise.resolve([]),
      close: () => embedded.close(),
    };
  }
  const redisConfig = config.redis;
  const options = { logger, commandTimeoutMs: KEY_LOOKUP_TIMEOUT_MS };
  const redis = createStateClient(redisConfig, options);
  const subscriber = createSubscriber(redisConfig, redis, { logger, commandTimeoutMs: 2000 });
  const keys = new RedisKeyStore(redis, subscriber, logger, KEY_LOOKUP_TIMEOUT_MS);
  // The limiter bounds each call by rate_limit.store_timeout_ms itself (rate-limiter.ts, withDeadline);
  // this command timeout is only a backstop that ends commands a stalled server never answers.
  const limiterRedis = createStateClient(redisConfig, {
    logger,
    commandTimeoutMs: config.rateLimit.storeTimeoutMs + 1000,
    // Commands issued in the same tick (concurrent requests) leave in one write: a socket write costs
    // a system call, which under load cost more than the script itself.
    autoPipelining: true,
  });
  // Budgets, slots and alert claims: scripts, each already carrying the calls of one turn of the event
  // loop (TurnBatch), so each is written at once; pipelining them as well cost more CPU than the few
  // system calls it saved (same-process A/B, 2026-12-03: −33% against −26% for budgets and caps).
  const spendingRedis = createStateClient(redisConfig, {
    logger,
    commandTimeoutMs: config.rateLimit.storeTimeoutMs + 1000,
  });
  const usageRedis = createStateClient(redisConfig, { logger, commandTimeoutMs: USAGE_TIMEOUT_MS });
  /** The connections beside the key store's, by name (readiness and the first connection name them). */
  const others = [
    ['rate limit', limiterRedis],
    ['budgets and slots', spendingRedis],
    ['usage', usageRedis],
  ] as const;
  return {
    keys,
    teams: new RedisTeamStore(redis, subscriber, logger, KEY_LOOKUP_TIMEOUT_MS),
    limiterRedis,
    spendingRedis,
    subscriber,
    cache: new RedisCacheStore(limiterRedis, config.cache.maxEntryBytes, config.rateLimit.storeTimeoutMs),
    usage: new RedisUsageStore(usageRedis, config.usage.retentionDays),
    kv: new RedisKeyValueStore(usageRedis, KV_TIMEOUT_MS, false),
    async check() {
      let result = await checkRedis(redis, READINESS_TIMEOUT_MS);
      // The other connections reconnect on their own: while one is down, limits would fall back to
      // per-instance counting (or usage would wait), so readiness waits for them too.
      for (const [name, client] of others) {
        if (result.status === 'ok' && client.status !== 'ready') {
          result = { status: 'error', detail: `the ${name} connection is ${client.status}` };
        }
      }
      return { state_store: result, redis: result };
    },
    async connected(timeoutMs) {
      const connections = [['keys', redis], ...others] as const;
      const statuses = await Promise.all(connections.map(([, client]) => firstConnection(client, timeoutMs)));
      return connections.flatMap(([name], index) =>
        statuses[index] === 'ready' ? [] : [`${name}: ${statuses[index]}`],
      );
    },
    async close() {
      await keys.close();
      redis.disconnect();
      limiterRedis.disconnect();
      spendingRedis.disconnect();
      usageRedis.disconnect();
    },
  };
}
