import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import { ServiceUnavailableError } from '../errors/errors.js';
import { RedisSlots, type RedisSlotsOptions } from './redis-slots.js';
import { describeSlotsContract, waitFor } from './slots-contract.js';
import type { SlotScope } from './slots.js';

/** Every pool here works under a namespace of this run, removed at the end. */
const prefix = `gw-cc-test-${process.pid}-${Date.now()}`;
let namespaces = 0;
const connections: Redis[] = [];
const pools: RedisSlots[] = [];
const logger = pino({ level: 'silent' });

/** A connection of its own (an instance), with the hot path's options. */
async function connect(port = 6379): Promise<Redis> {
  const redis = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 2000,
  });
  connections.push(redis);
  await redis.connect();
  return redis;
}

async function pool(
  namespace: string,
  options: Partial<RedisSlotsOptions> = {},
  redis?: Redis,
): Promise<RedisSlots> {
  const slots = new RedisSlots({
    redis: redis ?? (await connect()),
    logger,
    namespace,
    leaseMs: 15_000,
    maxQueue: 10_000,
    queueTimeoutMs: 10_000,
    storeTimeoutMs: 2000,
    onStoreError: 'open',
    refreshMs: 100,
    ...options,
  });
  pools.push(slots);
  return slots;
}

after(async () => {
  for (const slots of pools) await slots.close();
  const cleaner = new Redis(6379, '127.0.0.1');
  const keys: string[] = [];
  for (let cursor = '0'; ;) {
    const [next, found] = await cleaner.scan(cursor, 'MATCH', `{${prefix}-*`, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
    if (cursor === '0') break;
  }
  if (keys.length > 0) await cleaner.del(...keys);
  cleaner.disconnect();
  for (const redis of connections) redis.disconnect();
});

describeSlotsContract('RedisSlots', {
  pools: async (settings = {}) => {
    const namespace = `${prefix}-${++namespaces}`;
    const options: Partial<RedisSlotsOptions> = {
      ...(settings.maxQueue === undefined ? {} : { maxQueue: settings.maxQueue }),
      ...(settings.queueTimeoutMs === undefined ? {} : { queueTimeoutMs: settings.queueTimeoutMs }),
      ...(settings.metrics === undefined ? {} : { metrics: settings.metrics }),
    };
    // Two connections: two instances of the gateway.
    return [await pool(namespace, options), await pool(namespace, options)];
  },
});

describe('RedisSlots', () => {
  const backend: SlotScope = { id: 'backend:gpu', limit: 2 };

  it('gives the slots of an instance that dies back within the lease time', async () => {
    const namespace = `${prefix}-${++namespaces}`;
    const leaseMs = 400;
    const dyingConnection = await connect();
    const dying = await pool(namespace, { leaseMs }, dyingConnection);
    const survivor = await pool(namespace, { leaseMs });
    assert.ok((await dying.tryAcquire([backend])) !== null);
    assert.ok((await dying.tryAcquire([backend])) !== null);
    // Dies: no release, no heartbeat.
    await dying.close();
    dyingConnection.disconnect();
    const diedAt = Date.now();
    assert.equal(await survivor.tryAcquire([backend]), null);
    const lease = await survivor.acquire([backend], { timeoutMs: 5000 });
    const waited = Date.now() - diedAt;
    assert.ok(waited <= leaseMs + 1000, `slots back after ${waited} ms`);
    await lease.release();
  });

  it('keeps a live instance’s leases past the lease time by its heartbeat', async () => {
    const namespace = `${prefix}-${++namespaces}`;
    const leaseMs = 300;
    const holder = await pool(namespace, { leaseMs });
    const other = await pool(namespace, { leaseMs });
    const leases = [await holder.tryAcquire([backend]), await holder.tryAcquire([backend])];
    // Three lease times: the members would have lapsed twice over without renewal.
    await sleep(leaseMs * 3);
    assert.equal(await other.tryAcquire([backend]), null);
    for (const lease of leases) await lease?.release();
    assert.ok((await other.tryAcquire([backend])) !== null);
  });

  it('sets a TTL on every scope key', async () => {
    const namespace = `${prefix}-${++namespaces}`;
    const slots = await pool(namespace, { leaseMs: 5000 });
    const lease = await slots.tryAcquire([backend, { id: 'key:k', limit: 1 }]);
    assert.ok(lease !== null);
    const redis = await connect();
    for (const id of ['backend:gpu', 'key:k']) {
      const ttl = await redis.pttl(`{${namespace}}:${id}`);
      assert.ok(ttl > 0 && ttl <= 6000, `${id}: ${ttl}`);
    }
    await lease.release();
  });

  it('wakes a waiter on another instance through pub/sub when a slot is released there', async () => {
    const namespace = `${prefix}-${++namespaces}`;
    const subscriber = new Redis(6379, '127.0.0.1');
    connections.push(subscriber);
    const holder = await pool(namespace);
    // Polling once a minute: only the release's message can wake it within the test.
    const waiting = await pool(namespace, { subscriber, poll: { minMs: 60_000, maxMs: 60_000 } });
    const probe = await connect();
    const channel = `{${namespace}}:released`;
    const subscribers = async (): Promise<number> =>
      ((await probe.pubsub('NUMSUB', channel)) as [string, number])[1];
    for (let start = Date.now(); (await subscribers()) < 1; await sleep(5))
      assert.ok(Date.now() - start < 5000, 'the subscriber to subscribe');
    const scope: SlotScope = { id: 'backend:one', limit: 1 };
    const lease = await holder.tryAcquire([scope]);
    assert.ok(lease !== null);
    let acquired = false;
    const next = waiting.acquire([scope]).then((held) => {
      acquired = true;
      return held;
    });
    await waitFor(() => waiting.queueLength() === 1, 'the waiter to queue');
    await lease.release();
    await waitFor(() => acquired, 'the waiter to be woken', 5000);
    await (await next).release();
  });

  describe('when Redis does not answer', () => {
    const servers: Server[] = [];
    const sockets: Socket[] = [];

    /** A port that accepts connections and never answers (a stalled Redis). */
    async function stalledRedis(): Promise<Redis> {
      const silent = createServer((socket) => {
        sockets.push(socket);
      });
      servers.push(silent);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const address = silent.address();
      assert.ok(address !== null && typeof address === 'object');
      const redis = new Redis(address.port, '127.0.0.1', {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        enableReadyCheck: false,
        commandTimeout: 5000,
      });
      connections.push(redis);
      await new Promise<void>((resolve) => redis.once('connect', () => resolve()));
      return redis;
    }

    after(() => {
      for (const socket of sockets) socket.destroy();
      for (const server of servers) server.close();
    });

    it('admits without a slot within the store timeout when failing open, and counts it', async () => {
      const redis = await stalledRedis();
      const errors: boolean[] = [];
      const slots = await pool(
        `${prefix}-${++namespaces}`,
        {
          onStoreError: 'open',
          storeTimeoutMs: 100,
          metrics: { storeError: (admitted) => errors.push(admitted) },
        },
        redis,
      );
      const started = Date.now();
      const lease = await slots.acquire([backend]);
      assert.ok(Date.now() - started < 1500, 'bounded by the store timeout');
      assert.equal(lease.held, false);
      assert.deepEqual(errors, [true]);
      await lease.release();
    });

    it('refuses with 503 and Retry-After when failing closed', async () => {
      const redis = await stalledRedis();
      const slots = await pool(
        `${prefix}-${++namespaces}`,
        { onStoreError: 'closed', storeTimeoutMs: 100 },
        redis,
      );
      const error: unknown = await slots.acquire([backend]).then(
        () => null,
        (reason: unknown) => reason,
      );
      assert.ok(error instanceof ServiceUnavailableError);
      assert.equal(error.status, 503);
      assert.equal(error.headers['retry-after'], '1');
    });
  });
});
