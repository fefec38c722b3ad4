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

  describe('spares (scopes of 8 slots or more, at most half full)', () => {
    /** Counts the scripts a connection runs (evalsha and eval). */
    function countScripts(redis: Redis): { calls: number } {
      const counter = { calls: 0 };
      const evalsha = redis.evalsha.bind(redis);
      redis.evalsha = ((...args: Parameters<typeof evalsha>) => {
        counter.calls++;
        return evalsha(...args);
      }) as typeof redis.evalsha;
      return counter;
    }

    let probe: Redis | null = null;
    /** The leases of a scope in Redis, spares included. */
    async function members(namespace: string, id: string): Promise<number> {
      probe ??= await connect();
      return probe.zcard(`{${namespace}}:${id}`);
    }

    async function waitForCount(namespace: string, id: string, count: number, what: string): Promise<void> {
      const start = Date.now();
      while ((await members(namespace, id)) !== count) {
        if (Date.now() - start > 2000) assert.fail(`timed out waiting for ${what}`);
        await sleep(5);
      }
    }

    it('reuses a released slot for the next request of the same scopes without asking Redis', async () => {
      const namespace = `${prefix}-${++namespaces}`;
      const connection = await connect();
      const scripts = countScripts(connection);
      const slots = await pool(namespace, {}, connection);
      const scopes: SlotScope[] = [
        { id: 'key:wide', limit: 64 },
        { id: 'team:wide', limit: 100 },
      ];
      const first = await slots.tryAcquire(scopes);
      assert.ok(first !== null);
      await first.release();
      // Kept: still a lease in Redis (the limit holds whatever the spares), not in flight.
      assert.equal(await members(namespace, 'key:wide'), 1);
      assert.equal(slots.inFlight('key:wide'), 0);
      const before = scripts.calls;
      const second = await slots.tryAcquire(scopes);
      assert.ok(second !== null);
      await second.release();
      assert.equal(scripts.calls, before, 'no script for a spare taken and given back');
      // Other scopes, or the same with another limit, do not take it.
      const other = await slots.tryAcquire([{ id: 'key:wide', limit: 32 }]);
      assert.ok(other !== null);
      assert.equal(scripts.calls, before + 1);
      assert.equal(await members(namespace, 'key:wide'), 2);
      await other.release();
    });

    it('gives a spare back once it has been idle for a few tens of ms', async () => {
      const namespace = `${prefix}-${++namespaces}`;
      const slots = await pool(namespace);
      const scope: SlotScope = { id: 'backend:idle', limit: 16 };
      const lease = await slots.tryAcquire([scope]);
      assert.ok(lease !== null);
      await lease.release();
      assert.equal(await members(namespace, scope.id), 1);
      // Within 2 s (its lease is 15 s): the sweeper gave it back.
      await waitForCount(namespace, scope.id, 0, 'the spare to go back');
    });

    it('keeps its spares through a stop of the process: idle time counts only while it runs', async () => {
      const namespace = `${prefix}-${++namespaces}`;
      const connection = await connect();
      const scripts = countScripts(connection);
      const slots = await pool(namespace, {}, connection);
      const scope: SlotScope = { id: 'backend:frozen', limit: 16 };
      const lease = await slots.tryAcquire([scope]);
      assert.ok(lease !== null);
      await lease.release();
      // The event loop blocked for 300 ms, as a stopped or starved process: the sweep then comes late.
      const until = performance.now() + 300;
      while (performance.now() < until) {
        // busy
      }
      // Timers run first: the late sweep has looked at the spare by the time this resumes.
      await sleep(1);
      assert.equal(await members(namespace, scope.id), 1, 'the spare was not given back by the late sweep');
      const before = scripts.calls;
      const again = await slots.tryAcquire([scope]);
      assert.ok(again !== null);
      assert.equal(scripts.calls, before, 'the spare was reused, without a script');
      await again.release();
      // Unused for 25 ms of running time, it goes back as any other.
      await waitForCount(namespace, scope.id, 0, 'the spare to go back');
    });

    it('releases at once in scopes under 8 slots or more than half full', async () => {
      const namespace = `${prefix}-${++namespaces}`;
      const slots = await pool(namespace);
      const other = await pool(namespace);
      const small: SlotScope = { id: 'backend:small', limit: 7 };
      const lease = await slots.tryAcquire([small]);
      assert.ok(lease !== null);
      await lease.release();
      assert.equal(await members(namespace, small.id), 0);
      const busy: SlotScope = { id: 'backend:busy', limit: 8 };
      const held = await Promise.all([1, 2, 3, 4].map(() => other.tryAcquire([busy])));
      const mine = await slots.tryAcquire([busy]);
      assert.ok(mine !== null);
      await mine.release();
      // Five of eight in use when it ended: more than half, so it went back.
      assert.equal(await members(namespace, busy.id), 4);
      for (const taken of held) await taken?.release();
    });

    it('gives spares back when another instance fills the scope while they are in use', async () => {
      const namespace = `${prefix}-${++namespaces}`;
      const cycling = await pool(namespace);
      const filling = await pool(namespace, { poll: { minMs: 20, maxMs: 20 } });
      const scope: SlotScope = { id: 'backend:shared', limit: 16 };
      // One instance takes and gives back a slot every few ms: its spare is never idle for long.
      let stop = false;
      let cycles = 0;
      const loop = (async () => {
        while (!stop) {
          const lease = await cycling.acquire([scope], { timeoutMs: 10_000 });
          await sleep(2);
          await lease.release();
          cycles++;
          await sleep(2);
        }
      })();
      await waitFor(() => cycles >= 5, 'the cycling instance to run');
      const held = [];
      for (let index = 0; index < 15; index++) held.push(await filling.acquire([scope]));
      // The sixteenth: the cycling instance's spare is its only way in.
      const last = await filling.acquire([scope], { timeoutMs: 5000 });
      stop = true;
      await last.release();
      for (const lease of held) await lease.release();
      await loop;
    });

    it('never has more leases in a scope than its limit across two instances', async () => {
      const namespace = `${prefix}-${++namespaces}`;
      const one = await pool(namespace);
      const two = await pool(namespace);
      const scope: SlotScope = { id: 'backend:wide', limit: 10 };
      let inFlight = 0;
      let most = 0;
      let mostInRedis = 0;
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          mostInRedis = Math.max(mostInRedis, await members(namespace, scope.id));
          await sleep(1);
        }
      })();
      await Promise.all(
        Array.from({ length: 200 }, async (_, index) => {
          const instance = index % 2 === 0 ? one : two;
          const lease = await instance.acquire([scope], { timeoutMs: 20_000 });
          inFlight++;
          most = Math.max(most, inFlight);
          await sleep(index % 7);
          inFlight--;
          await lease.release();
        }),
      );
      watching = false;
      await watcher;
      assert.ok(most <= 10 && most >= 2, `at most ${most} in flight`);
      assert.ok(mostInRedis <= 10, `at most ${mostInRedis} leases in Redis`);
      await waitForCount(namespace, scope.id, 0, 'the spares to go back');
    });

    it('gives its spares back when it closes', async () => {
      const namespace = `${prefix}-${++namespaces}`;
      const slots = await pool(namespace);
      const scope: SlotScope = { id: 'backend:closing', limit: 32 };
      const leases = await Promise.all([1, 2, 3].map(() => slots.tryAcquire([scope])));
      for (const lease of leases) await lease?.release();
      assert.ok((await members(namespace, scope.id)) > 0);
      await slots.close();
      assert.equal(await members(namespace, scope.id), 0);
    });
  });
});
