/**
 * Both usage stores against the same cases (Redis on a private redis-server, SQLite in a temporary
 * file): they must give the same rows for the same increments. Then what each does on its own:
 * expiry, batch numbers, persistence.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pino from 'pino';
import { startRedisServer, type PrivateRedis } from '../../test/support/redis-server.js';
import { requireTool } from '../../test/support/system-tool.js';
import { EmbeddedStore } from '../state/embedded/embedded-store.js';
import { EmbeddedUsageStore } from './embedded-usage-store.js';
import { DAY_MS, expiryOf, HOUR_MS, hourOf } from './hours.js';
import { hourKey, RedisUsageStore } from './redis-usage-store.js';
import { UsageRecorder } from './usage-recorder.js';
import type { UsageBatch, UsageGroup, UsageIncrement, UsageQuery, UsageRow, UsageStore } from './usage.js';

const RETENTION_DAYS = 90;
// Three days ago (Redis expires keys by the real clock, so the data must be recent), 22:00 UTC.
const DAY = Math.floor(Date.now() / DAY_MS) * DAY_MS - 3 * DAY_MS;
const H0 = DAY + 22 * HOUR_MS;
const H1 = H0 + HOUR_MS;
const H2 = H1 + HOUR_MS; // the next UTC day
const END = H2 + HOUR_MS;
const DAY_0 = hourOf(H0).slice(0, 10);
const DAY_1 = hourOf(H2).slice(0, 10);
const ODD_KEY = 'we\t"ird\n';
const ODD_MODEL = 'm,1\u0000';

function increment(
  at: number,
  keyId: string,
  model: string,
  counters: [number, number, number, number, number, number | null],
): UsageIncrement {
  const [requests, errors, cached, promptTokens, completionTokens, costMicros] = counters;
  return {
    hour: hourOf(at),
    keyId,
    model,
    requests,
    errors,
    cached,
    promptTokens,
    completionTokens,
    costMicros,
  };
}

/** Two batches; key-a/m1 at H0 is split across them. */
const FIRST: UsageIncrement[] = [
  increment(H0, 'key-a', 'm1', [1, 1, 0, 4, 2, 40]),
  increment(H1, 'key-a', 'm2', [3, 0, 2, 30, 0, null]),
  increment(H0, 'key-b', 'm1', [4, 2, 1, 40, 40, 50]),
];
const SECOND: UsageIncrement[] = [
  increment(H0, 'key-a', 'm1', [1, 0, 0, 6, 3, 60]),
  increment(H2, 'key-a', 'm1', [1, 0, 1, 3, 4, 20]),
  increment(H1, ODD_KEY, ODD_MODEL, [1, 0, 0, 1, 1, null]),
];

function row(
  groups: Partial<Record<UsageGroup, string>>,
  counters: [number, number, number, number, number, number | null],
): UsageRow {
  const [requests, errors, cached, prompt, completion, cost] = counters;
  return {
    ...groups,
    requests,
    errors,
    cached,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cost,
  };
}

const TOTALS = row({}, [11, 3, 4, 84, 50, 0.00017]);

function query(values: Partial<UsageQuery> = {}): UsageQuery {
  return { key: null, model: null, from: H0, to: END, groupBy: ['key', 'model'], ...values };
}

interface Subject {
  /** Empties the store's backing state, then makes a store on it. */
  fresh(): Promise<UsageStore>;
}

function contract(name: string, subject: () => Subject, skip: string | false = false): void {
  describe(`${name}: the usage store contract`, { skip }, () => {
    let store: UsageStore;
    beforeEach(async () => {
      store = await subject().fresh();
      await store.add(FIRST, { source: 'test', sequence: 1 });
      await store.add(SECOND, { source: 'test', sequence: 2 });
    });

    it('sums per key and model', async () => {
      assert.deepEqual(await store.query(query()), [
        row({ key: 'key-a', model: 'm1' }, [3, 1, 1, 13, 9, 0.00012]),
        row({ key: 'key-a', model: 'm2' }, [3, 0, 2, 30, 0, null]),
        row({ key: 'key-b', model: 'm1' }, [4, 2, 1, 40, 40, 0.00005]),
        row({ key: ODD_KEY, model: ODD_MODEL }, [1, 0, 0, 1, 1, null]),
      ]);
    });

    it('sums per model, per day, per hour, per key and day, and in total', async () => {
      assert.deepEqual(await store.query(query({ groupBy: ['model'] })), [
        row({ model: ODD_MODEL }, [1, 0, 0, 1, 1, null]),
        row({ model: 'm1' }, [7, 3, 2, 53, 49, 0.00017]),
        row({ model: 'm2' }, [3, 0, 2, 30, 0, null]),
      ]);
      assert.deepEqual(await store.query(query({ groupBy: ['day'] })), [
        row({ day: DAY_0 }, [10, 3, 3, 81, 46, 0.00015]),
        row({ day: DAY_1 }, [1, 0, 1, 3, 4, 0.00002]),
      ]);
      assert.deepEqual(await store.query(query({ groupBy: ['hour'] })), [
        row({ hour: `${hourOf(H0)}:00:00Z` }, [6, 3, 1, 50, 45, 0.00015]),
        row({ hour: `${hourOf(H1)}:00:00Z` }, [4, 0, 2, 31, 1, null]),
        row({ hour: `${hourOf(H2)}:00:00Z` }, [1, 0, 1, 3, 4, 0.00002]),
      ]);
      assert.deepEqual(await store.query(query({ groupBy: ['day', 'key'] })), [
        row({ day: DAY_0, key: 'key-a' }, [5, 1, 2, 40, 5, 0.0001]),
        row({ day: DAY_0, key: 'key-b' }, [4, 2, 1, 40, 40, 0.00005]),
        row({ day: DAY_0, key: ODD_KEY }, [1, 0, 0, 1, 1, null]),
        row({ day: DAY_1, key: 'key-a' }, [1, 0, 1, 3, 4, 0.00002]),
      ]);
      assert.deepEqual(await store.query(query({ groupBy: [] })), [TOTALS]);
    });

    it('filters by key and by model (exact or a pattern)', async () => {
      assert.deepEqual(await store.query(query({ key: 'key-a', groupBy: ['model'] })), [
        row({ model: 'm1' }, [3, 1, 1, 13, 9, 0.00012]),
        row({ model: 'm2' }, [3, 0, 2, 30, 0, null]),
      ]);
      assert.deepEqual(await store.query(query({ model: 'm1', groupBy: ['key'] })), [
        row({ key: 'key-a' }, [3, 1, 1, 13, 9, 0.00012]),
        row({ key: 'key-b' }, [4, 2, 1, 40, 40, 0.00005]),
      ]);
      assert.deepEqual(await store.query(query({ key: ODD_KEY, model: ODD_MODEL, groupBy: [] })), [
        row({}, [1, 0, 0, 1, 1, null]),
      ]);
      assert.deepEqual(await store.query(query({ model: 'm*', groupBy: [] })), [TOTALS]);
      assert.deepEqual(await store.query(query({ model: '*', groupBy: [] })), [TOTALS]);
      assert.deepEqual(await store.query(query({ model: 'm', groupBy: [] })), [
        row({}, [0, 0, 0, 0, 0, null]),
      ]);
      assert.deepEqual(await store.query(query({ key: 'nobody' })), []);
      assert.deepEqual(await store.query(query({ key: 'key-a', model: 'm2', groupBy: ['hour'] })), [
        row({ hour: `${hourOf(H1)}:00:00Z` }, [3, 0, 2, 30, 0, null]),
      ]);
    });

    it('counts the hours that start in [from, to)', async () => {
      const totals = async (from: number, to: number) =>
        (await store.query(query({ from, to, groupBy: [] })))[0];
      assert.deepEqual(await totals(H0, END), TOTALS);
      assert.deepEqual(await totals(H0 - 1, END + 1), TOTALS);
      // H0 starts before from: left out.
      assert.deepEqual(await totals(H0 + 1, END), row({}, [5, 0, 3, 34, 5, 0.00002]));
      // H2 starts at to: left out; one millisecond later it is in.
      assert.deepEqual(await totals(H0, H2), row({}, [10, 3, 3, 81, 46, 0.00015]));
      assert.deepEqual(await totals(H0, H2 + 1), TOTALS);
      assert.deepEqual(await totals(H1, H1 + 1), row({}, [4, 0, 2, 31, 1, null]));
      assert.deepEqual(await totals(H1 + 1, H2), row({}, [0, 0, 0, 0, 0, null]));
      assert.deepEqual(await totals(END, END + DAY_MS), row({}, [0, 0, 0, 0, 0, null]));
    });

    it('keeps a cost of 0 (a price of 0) apart from no price', async () => {
      const at = H0 - DAY_MS;
      await store.add([
        increment(at, 'key-c', 'free', [2, 0, 0, 100, 100, 0]),
        increment(at, 'key-c', 'unpriced', [1, 0, 0, 5, 5, null]),
      ]);
      await store.add([increment(at, 'key-c', 'unpriced', [1, 0, 0, 5, 5, null])]);
      await store.add([increment(at + 1, 'key-c', 'later-priced', [1, 0, 0, 5, 5, null])]);
      await store.add([increment(at + 2, 'key-c', 'later-priced', [1, 0, 0, 5, 5, 7])]);
      assert.deepEqual(await store.query(query({ from: at, to: at + HOUR_MS, groupBy: ['model'] })), [
        row({ model: 'free' }, [2, 0, 0, 100, 100, 0]),
        row({ model: 'later-priced' }, [2, 0, 0, 10, 10, 0.000007]),
        row({ model: 'unpriced' }, [2, 0, 0, 10, 10, null]),
      ]);
    });
  });
}

/** The Redis cases need a private redis-server: skipped without one, except under CI=true. */
const withoutRedis = requireTool('redis-server', 'redis-server');
let server: PrivateRedis;
let redis: Redis;
let directory: string;
let sqlite: Database.Database;

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'gw-usage-'));
  sqlite = new Database(join(directory, 'contract.db'));
  if (withoutRedis !== false) return;
  server = await startRedisServer();
  redis = new Redis(server.port, '127.0.0.1');
});

after(async () => {
  sqlite.close();
  rmSync(directory, { recursive: true, force: true });
  if (withoutRedis !== false) return;
  redis.disconnect();
  await server.stop();
});

contract(
  'Redis',
  () => ({
    fresh: async () => {
      await redis.flushdb();
      return new RedisUsageStore(redis, RETENTION_DAYS);
    },
  }),
  withoutRedis,
);

contract('SQLite', () => ({
  fresh: () => {
    sqlite.exec('DROP TABLE IF EXISTS usage');
    return Promise.resolve(new EmbeddedUsageStore(sqlite, RETENTION_DAYS));
  },
}));

describe('RedisUsageStore', { skip: withoutRedis }, () => {
  beforeEach(async () => {
    await redis.flushdb();
  });

  it('keeps one hash per hour, fields JSON [key, model, counter], zero counters left out', async () => {
    const store = new RedisUsageStore(redis, RETENTION_DAYS);
    await store.add(FIRST);
    assert.deepEqual(
      (await redis.keys('gw-usage:*')).sort(),
      [hourKey(hourOf(H0)), hourKey(hourOf(H1))].sort(),
    );
    assert.equal(hourKey('2030-01-02T03'), 'gw-usage:{u}:2030-01-02T03');
    assert.deepEqual(await redis.hgetall(hourKey(hourOf(H1))), {
      '["key-a","m2","requests"]': '3',
      '["key-a","m2","cached"]': '2',
      '["key-a","m2","prompt_tokens"]': '30',
    });
    assert.equal(await redis.hget(hourKey(hourOf(H0)), '["key-b","m1","cost_micros"]'), '50');
  });

  it('expires each hour at its end plus the retention', async () => {
    const store = new RedisUsageStore(redis, RETENTION_DAYS);
    await store.add([...FIRST, ...SECOND]);
    for (const at of [H0, H1, H2]) {
      const hour = hourOf(at);
      assert.equal(await redis.expiretime(hourKey(hour)), expiryOf(hour, RETENTION_DAYS) / 1000, hour);
    }
    // An hour already past the retention is gone at once.
    const short = new RedisUsageStore(redis, 2);
    await short.add([increment(H0, 'key-a', 'm1', [1, 0, 0, 1, 1, null])]);
    assert.equal(await redis.exists(hourKey(hourOf(H0))), 0);
    const recent = Date.now() - HOUR_MS;
    await short.add([increment(recent, 'key-a', 'm1', [1, 0, 0, 1, 1, null])]);
    const ttl = await redis.ttl(hourKey(hourOf(recent)));
    assert.ok(ttl > 2 * 86_400 - 3600 && ttl <= 2 * 86_400 + 3600, `ttl ${ttl}`);
  });

  it('applies a batch once: a batch number not above the last applied one of its source is skipped', async () => {
    const store = new RedisUsageStore(redis, RETENTION_DAYS);
    const one = [increment(H0, 'key-a', 'm1', [1, 0, 0, 10, 1, null])];
    const batch = (source: string, sequence: number): UsageBatch => ({ source, sequence });
    await store.add(one, batch('a', 1));
    await store.add(one, batch('a', 1));
    await store.add(one, batch('a', 2));
    await store.add(one, batch('a', 1));
    await store.add(one, batch('b', 1));
    await store.add(one);
    await store.add(one);
    const [totals] = await store.query(query({ groupBy: [] }));
    assert.equal(totals?.requests, 5);
    assert.ok((await redis.ttl('gw-usage:{u}:applied:a')) > 6 * 86_400);
  });

  it('with the recorder: a flush that timed out after Redis applied it is counted once', async () => {
    const store = new RedisUsageStore(redis, RETENTION_DAYS);
    let ambiguous = 1;
    // Applied, then the answer is lost: what a command timeout looks like to the client.
    const flaky: UsageStore = {
      async add(increments, batch) {
        await store.add(increments, batch);
        if (ambiguous-- > 0) throw new Error('Command timed out');
      },
      query: (q) => store.query(q),
    };
    const recorder = new UsageRecorder(flaky, pino({ level: 'silent' }), { flushIntervalMs: 3_600_000 });
    for (let index = 0; index < 10; index++)
      recorder.record({
        keyId: 'key-a',
        model: 'm1',
        at: H0,
        error: false,
        cached: false,
        promptTokens: 3,
        completionTokens: 2,
        costMicros: null,
      });
    assert.equal(await recorder.flush(), false);
    recorder.record({
      keyId: 'key-a',
      model: 'm1',
      at: H0,
      error: true,
      cached: false,
      promptTokens: 1,
      completionTokens: 0,
      costMicros: null,
    });
    assert.equal(await recorder.flush(), true);
    await recorder.close();
    assert.deepEqual(await store.query(query({ groupBy: [] })), [row({}, [11, 1, 0, 31, 20, null])]);
  });

  it('with the recorder: nothing is lost while Redis is down, and it is delivered once when Redis is back', async () => {
    const store = new RedisUsageStore(redis, RETENTION_DAYS);
    let down = true;
    const outage: UsageStore = {
      add: (increments, batch) =>
        down ? Promise.reject(new Error('Connection is closed')) : store.add(increments, batch),
      query: (q) => store.query(q),
    };
    const recorder = new UsageRecorder(outage, pino({ level: 'silent' }), { flushIntervalMs: 3_600_000 });
    const record = () =>
      recorder.record({
        keyId: 'key-a',
        model: 'm1',
        at: H0,
        error: false,
        cached: true,
        promptTokens: 1,
        completionTokens: 1,
        costMicros: null,
      });
    record();
    assert.equal(await recorder.flush(), false);
    record();
    assert.equal(await recorder.flush(), false);
    down = false;
    record();
    assert.equal(await recorder.flush(), true);
    assert.equal(await recorder.flush(), true);
    await recorder.close();
    assert.deepEqual(await store.query(query({ groupBy: [] })), [row({}, [3, 0, 3, 3, 3, null])]);
  });

  it('fails (for a 503) when Redis does not answer', async () => {
    const dead = new Redis(1, '127.0.0.1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    dead.on('error', () => {
      // refused: expected
    });
    const store = new RedisUsageStore(dead, RETENTION_DAYS);
    await assert.rejects(store.query(query()));
    await assert.rejects(store.add(FIRST));
    dead.disconnect();
  });
});

describe('EmbeddedUsageStore', () => {
  it('deletes rows past the retention at each add, and never answers them', async () => {
    const database = new Database(':memory:');
    let now = expiryOf(hourOf(H0), 2) - 1;
    const store = new EmbeddedUsageStore(database, 2, () => now);
    await store.add(FIRST);
    const count = () => (database.prepare('SELECT count(*) AS n FROM usage').get() as { n: number }).n;
    assert.equal(count(), 3);
    assert.equal((await store.query(query({ groupBy: [] })))[0]?.requests, 8);
    // H0 expires now; H1 an hour later.
    now += 1;
    assert.equal((await store.query(query({ groupBy: [] })))[0]?.requests, 3);
    assert.equal(count(), 3, 'a query deletes nothing');
    await store.add([increment(Date.now(), 'key-z', 'm', [1, 0, 0, 0, 0, null])]);
    assert.equal(count(), 2);
    now += HOUR_MS;
    await store.add([]);
    assert.equal(count(), 1);
    assert.deepEqual(await store.query(query()), []);
    database.close();
  });

  it('keeps usage in the state file across restarts (the gateway.db of the embedded store)', async () => {
    const stateDir = join(directory, 'state');
    const first = new EmbeddedStore(stateDir);
    await new EmbeddedUsageStore(first.db, RETENTION_DAYS).add(FIRST);
    await first.close();
    const second = new EmbeddedStore(stateDir);
    const store = new EmbeddedUsageStore(second.db, RETENTION_DAYS);
    await store.add(SECOND);
    assert.deepEqual((await store.query(query({ groupBy: [] })))[0], TOTALS);
    await second.close();
    await assert.rejects(store.query(query()), /database connection is not open/);
  });
});
