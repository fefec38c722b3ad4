import type { EventEmitter } from 'node:events';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConfig, RedisNodeAddress } from '../../config/config.js';
import { ClusterChangeSubscriber, type ChangeSubscriber } from './cluster-subscriber.js';

/** A connection to one server (by URL or through Sentinel), or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

export interface RedisClientOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Every command fails after this long instead of waiting on a stalled server. */
  readonly commandTimeoutMs: number;
}

export interface StateClientOptions {
  readonly logger: Logger;
  /** Every command fails after this long instead of waiting on a stalled server (per node in a cluster). */
  readonly commandTimeoutMs: number;
  /** Commands issued in the same tick leave in one write (per node in a cluster). */
  readonly autoPipelining?: boolean;
}

/** Reconnection, forever, backing off to one attempt every 2 s. */
const reconnectDelay = (times: number): number => Math.min(times * 100, 2000);
const CONNECT_TIMEOUT_MS = 1000;
/** A sentinel that does not answer within this long is skipped for the next. */
const SENTINEL_COMMAND_TIMEOUT_MS = 1000;

/**
 * The hot path's options: commands are never queued while disconnected (they would be replayed later,
 * RELIABILITY.md #2) and each has a timeout; reconnection goes on in the background.
 */
function hotPathOptions(commandTimeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
  };
}

/** A Redis connection for the hot path to one server given by URL. */
export function createRedisClient(options: RedisClientOptions, extra: RedisOptions = {}): Redis {
  const redis = new Redis(options.url, { ...hotPathOptions(options.commandTimeoutMs), ...extra });
  logErrors(redis, options.logger);
  return redis;
}

function credentialsOf(config: { readonly username?: string; readonly password?: string }): RedisOptions {
  return {
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(config.password === undefined ? {} : { password: config.password }),
  };
}

/** The options of a connection to the master a sentinel names (also the subscriber's). */
function sentinelOptions(config: Extract<RedisConfig, { sentinel: unknown }>['sentinel']): RedisOptions {
  return {
    sentinels: config.sentinels.map((node) => ({ host: node.host, port: node.port })),
    name: config.name,
    role: 'master',
    db: config.db,
    ...credentialsOf(config),
    ...(config.sentinelUsername === undefined ? {} : { sentinelUsername: config.sentinelUsername }),
    ...(config.sentinelPassword === undefined ? {} : { sentinelPassword: config.sentinelPassword }),
    ...(config.sentinelTls ? { sentinelTLS: {} } : {}),
    ...(config.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    sentinelCommandTimeout: SENTINEL_COMMAND_TIMEOUT_MS,
    sentinelRetryStrategy: reconnectDelay,
    // Listens to the sentinels' +switch-master and reconnects at once, even when the old master is
    // cut off and cannot close our connections.
    failoverDetector: true,
    // A master turned replica answers writes with READONLY: ask the sentinels again.
    reconnectOnError: (error: Error) => error.message.startsWith('READONLY'),
  };
}

/** The per-node options of a cluster client: credentials, TLS, timeouts. */
function clusterNodeOptions(
  config: Extract<RedisConfig, { cluster: unknown }>,
  commandTimeoutMs: number,
): ClusterOptions['redisOptions'] {
  return {
    commandTimeout: commandTimeoutMs,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    ...credentialsOf(config),
    ...(config.tls ? { tls: {} } : {}),
  };
}

/**
 * The right client for the `redis` section, with the hot path's options: a Redis for `url` (and
 * `redis.username`/`password` when the URL has none), a Redis that asks the sentinels where the master
 * is (and again after a failover) for `sentinel`, a Cluster for `cluster`. The cluster client sends
 * every command to the master of its key's slot (scaleReads: master, so reads see the writes just
 * made), follows MOVED/ASK, refreshes the slot map and retries a command whose node went away
 * (retryDelayOnFailover, bounded by maxRedirections); it queues nothing while the cluster is down.
 */
export function createStateClient(config: RedisConfig, options: StateClientOptions): RedisClient {
  // Scripts are batched by their callers already (one call per turn of the event loop): written at
  // once rather than a turn later.
  const pipelining =
    options.autoPipelining === true
      ? {
          enableAutoPipelining: true,
          autoPipeliningIgnoredCommands: ['evalsha', 'eval'],
        }
      : {};
  let client: RedisClient;
  if ('cluster' in config) {
    client = new Cluster(
      config.cluster.map((node) => ({ host: node.host, port: node.port })),
      {
        ...pipelining,
        enableOfflineQueue: false,
        scaleReads: 'master',
        clusterRetryStrategy: reconnectDelay,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        maxRedirections: 16,
        slotsRefreshTimeout: 1000,
        slotsRefreshInterval: 5000,
        redisOptions: clusterNodeOptions(config, options.commandTimeoutMs),
      },
    );
  } else if ('sentinel' in config) {
    client = new Redis({
      ...hotPathOptions(options.commandTimeoutMs),
      ...sentinelOptions(config.sentinel),
      ...pipelining,
    });
  } else {
    client = new Redis(config.url, {
      ...hotPathOptions(options.commandTimeoutMs),
      ...credentialsOf(config),
      ...pipelining,
    });
  }
  logErrors(client, options.logger);
  return client;
}

/** Seed (or current) node addresses of a cluster client, for a subscriber of its own. */
function clusterAddresses(client: Cluster, seeds: readonly RedisNodeAddress[]): RedisNodeAddress[] {
  const known = client
    .nodes('all')
    .map((node) => ({ host: node.options.host ?? '127.0.0.1', port: node.options.port ?? 6379 }));
  return known.length > 0 ? known : [...seeds];
}

/**
 * A connection for pub/sub (key invalidation). Without a cluster: a connection of its own to the server
 * (through the sentinels: the master). In a cluster, classic PUBLISH reaches every node, so the
 * subscriber is one plain connection to any node, which moves to another node when it loses its own,
 * and says so ('close', then 'ready'), so that the key store knows messages may have been missed.
 */
export function createSubscriber(
  config: RedisConfig,
  client: RedisClient,
  options: StateClientOptions,
): ChangeSubscriber {
  const own = { ...hotPathOptions(options.commandTimeoutMs), autoResubscribe: false };
  let subscriber: ChangeSubscriber & EventEmitter;
  if ('cluster' in config) {
    const seeds = config.cluster;
    subscriber = new ClusterChangeSubscriber(
      () => (isCluster(client) ? clusterAddresses(client, seeds) : [...seeds]),
      { ...own, ...credentialsOf(config), ...(config.tls ? { tls: {} } : {}) },
    );
  } else if ('sentinel' in config) {
    subscriber = new Redis({ ...own, ...sentinelOptions(config.sentinel) });
  } else {
    subscriber = new Redis(config.url, { ...own, ...credentialsOf(config) });
  }
  logErrors(subscriber, options.logger);
  return subscriber;
}

/** A server that is down reports an error on every reconnection attempt: log one every 10 s. */
function logErrors(emitter: EventEmitter, logger: Logger): void {
  let lastLog = 0;
  const log = (error: Error & { lastNodeError?: Error }, node?: string): void => {
    const now = Date.now();
    if (now - lastLog <= 10_000) return;
    lastLog = now;
    // Messages name host:port at most; credentials are never part of them.
    const detail =
      error.lastNodeError === undefined ? error.message : `${error.message} (${error.lastNodeError.message})`;
    logger.warn(node === undefined ? { detail } : { detail, node }, 'redis error');
  };
  emitter.on('error', (error: Error) => {
    log(error);
  });
  // A cluster client reports each node's errors apart.
  emitter.on('node error', (error: Error, node: string) => {
    log(error, node);
  });
}

/**
 * Waits until a new client has made its first connection ('ready'), failed its first attempt (it
 * then reconnects in the background), or `timeoutMs` passed; resolves with its status then. The hot
 * path's commands are never queued while a client connects (hotPathOptions): a request served before
 * this would fail its Redis calls at once.
 */
export function firstConnection(client: RedisClient, timeoutMs: number): Promise<string> {
  if (client.status !== 'wait' && !client.status.startsWith('connect')) return Promise.resolve(client.status);
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      for (const event of FIRST_CONNECTION_EVENTS) client.off(event, done);
      resolve(client.status);
    };
    const timer = setTimeout(done, timeoutMs);
    for (const event of FIRST_CONNECTION_EVENTS) client.on(event, done);
  });
}

/** A client's first attempt is over at one of these. */
const FIRST_CONNECTION_EVENTS = ['ready', 'close', 'end'] as const;

/**
 * Readiness of a client, bounded by `timeoutMs`: PING for one server (by URL or through Sentinel); for
 * a cluster, the client is connected, the cluster reports `cluster_state:ok` (every slot served), and
 * every master the client knows answers PING.
 */
export async function checkRedis(
  client: RedisClient,
  timeoutMs: number,
): Promise<{ status: 'ok' | 'error'; detail?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      isCluster(client) ? checkCluster(client) : client.ping(),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }),
    ]);
    return { status: 'ok' };
  } catch (error) {
    return { status: 'error', detail: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

async function checkCluster(client: Cluster): Promise<void> {
  if (client.status !== 'ready') throw new Error(`the cluster client is ${client.status}`);
  const info = await client.cluster('INFO');
  const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
  if (state !== 'ok') throw new Error(`cluster_state:${state}`);
  const masters = client.nodes('master');
  if (masters.length === 0) throw new Error('no master node known');
  await Promise.all(
    masters.map((node) =>
      node.ping().catch((error: unknown) => {
        throw new Error(`master ${node.options.host}:${node.options.port}: ${(error as Error).message}`);
      }),
    ),
  );
}
