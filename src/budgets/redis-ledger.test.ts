import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { BudgetStoreError, COUNTER_MARGIN_MS, settledLines } from './ledger.js';
import { describeLedgerContract } from './ledger-contract.js';
import { RedisBudgetLedger } from './redis-ledger.js';
import { windowAt } from './windows.js';

/** The shared test Redis; every ledger here writes under its own prefix, removed at the end. */
const prefix = `gw-budget-test-${process.pid}-${Date.now()}`;
let one: Redis;
let two: Redis;
let ledgers = 0;

before(() => {
  one = new Redis(6379, '127.0.0.1', { maxRetriesPerRequest: 1 });
  two = new Redis(6379, '127.0.0.1', { maxRetriesPerRequest: 1 });
});

after(async () => {
  const keys: string[] = [];
  for (let cursor = '0'; ;) {
    const [next, found] = await one.scan(cursor, 'MATCH', `{${prefix}-*`, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
    if (cursor === '0') break;
  }
  if (keys.length > 0) await one.del(...keys);
  one.disconnect();
  two.disconnect();
});

describeLedgerContract('RedisBudgetLedger', {
  ledgers: (options) => {
    const shared = { ...options, prefix: `${prefix}-${++ledgers}`, timeoutMs: () => 2000 };
    // Two connections: two instances of the gateway.
    return Promise.resolve([new RedisBudgetLedger(one, shared), new RedisBudgetLedger(two, shared)]);
  },
});

describe('RedisBudgetLedger', () => {
  it('expires a counter’s keys an hour after its window ends, and a total budget’s never', async () => {
    const ledger = new RedisBudgetLedger(one, { timeZone: () => 'UTC', prefix: `${prefix}-ttl` });
    const day = { unit: 'usd', limit: 1, window: 'day', soft: false } as const;
    const total = { unit: 'tokens', limit: 100, window: 'total', soft: false } as const;
    const now = Date.now();
    const result = await ledger.reserve(
      [
        { scope: 'key:ttl', budget: day, amount: 10 },
        { scope: 'key:ttl', budget: total, amount: 10 },
      ],
      now,
    );
    assert.ok(result.ok);
    const [dayLine, totalLine] = result.reservation.lines;
    const dayKey = `{${prefix}-ttl}:${dayLine?.counter}`;
    const expected = windowAt('day', 'UTC', now).end + COUNTER_MARGIN_MS;
    const dayExpiry = await one.pexpiretime(dayKey);
    assert.equal(dayExpiry, expected);
    assert.equal(await one.pexpiretime(`${dayKey}:held`), expected);
    assert.equal(await one.pttl(`{${prefix}-ttl}:${totalLine?.counter}`), -1);
    await ledger.settle(result.reservation, { usdMicros: 5, tokens: 5 });
    assert.equal(await one.pexpiretime(dayKey), expected);
  });

  it('keeps nothing per request once settled: the keys and fields are the counters’ own', async () => {
    // Without allowances (below): each request a script of its own.
    const ledger = new RedisBudgetLedger(one, {
      timeZone: () => 'UTC',
      prefix: `${prefix}-bounded`,
      allowances: false,
    });
    const budget = { unit: 'tokens', limit: 1_000_000, window: 'day', soft: false } as const;
    const now = Date.now();
    let counter = '';
    for (let index = 0; index < 50; index++) {
      const result = await ledger.reserve([{ scope: 'key:bounded', budget, amount: 10 }], now);
      assert.ok(result.ok);
      counter = result.reservation.lines[0]?.counter ?? '';
      assert.equal((await ledger.settle(result.reservation, { usdMicros: 0, tokens: 3 })).counted, true);
    }
    const keys = await one.keys(`{${prefix}-bounded}:*`);
    // The counter's hash only (its sorted set of held reservations is empty, so Redis dropped it).
    assert.deepEqual(keys, [`{${prefix}-bounded}:${counter}`]);
    assert.deepEqual(await one.hgetall(keys[0] ?? ''), { spent: '150', reserved: '0' });
  });

  describe('when Redis does not answer', () => {
    let silent: Server;
    const sockets: Socket[] = [];
    let stalled: Redis;

    before(async () => {
      // Accepts connections and never answers: a stalled Redis.
      silent = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const address = silent.address();
      assert.ok(address !== null && typeof address === 'object');
      stalled = new Redis(address.port, '127.0.0.1', { enableOfflineQueue: true, maxRetriesPerRequest: 0 });
    });

    after(async () => {
      stalled.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });

    it('rejects every call with BudgetStoreError within its timeout', async () => {
      const ledger = new RedisBudgetLedger(stalled, {
        timeZone: () => 'UTC',
        prefix: `${prefix}-stalled`,
        timeoutMs: () => 50,
      });
      const budget = { unit: 'tokens', limit: 10, window: 'day', soft: false } as const;
      const started = performance.now();
      await assert.rejects(
        ledger.reserve([{ scope: 'key:s', budget, amount: 1 }], Date.now()),
        BudgetStoreError,
      );
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 45 && elapsed < 1000, `${elapsed} ms`);
      await assert.rejects(
        ledger.status('key:s', [budget], Date.now()),
        /budget store: the store did not answer/,
      );
    });
  });

  describe('allowances (far from a limit)', () => {
    const tokens = (limit: number) => ({ unit: 'tokens', limit, window: 'day', soft: false }) as const;
    const closing: { ledger: RedisBudgetLedger; redis: Redis }[] = [];
    after(async () => {
      for (const { ledger, redis } of closing) {
        await ledger.close();
        redis.disconnect();
      }
    });

    /** A ledger on a connection of its own whose scripts are counted. */
    function counted(
      name: string,
      options: { reservationTtlMs?: () => number } = {},
    ): { ledger: RedisBudgetLedger; redis: Redis; scripts: () => number } {
      const redis = new Redis(6379, '127.0.0.1', { maxRetriesPerRequest: 0 });
      let calls = 0;
      const evalsha = redis.evalsha.bind(redis);
      redis.evalsha = ((...args: Parameters<typeof evalsha>) => {
        calls++;
        return evalsha(...args);
      }) as typeof redis.evalsha;
      const ledger = new RedisBudgetLedger(redis, {
        timeZone: () => 'UTC',
        prefix: `${prefix}-${name}`,
        timeoutMs: () => 2000,
        ...options,
      });
      closing.push({ ledger, redis });
      return { ledger, redis, scripts: () => calls };
    }

    async function waitUntil(condition: () => Promise<boolean>, what: string): Promise<void> {
      const start = Date.now();
      while (!(await condition())) {
        if (Date.now() - start > 5000) assert.fail(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }

    it('reserves and settles locally once it holds an allowance, and sends what was spent', async () => {
      const { ledger, redis, scripts } = counted('local');
      const budget = tokens(1_000_000);
      const reserveAndSettle = async (): Promise<void> => {
        const result = await ledger.reserve([{ scope: 'key:local', budget, amount: 100 }], Date.now());
        assert.ok(result.ok);
        await ledger.settle(result.reservation, { usdMicros: 0, tokens: 40 });
      };
      await reserveAndSettle();
      const key = `{${prefix}-local}:key:local:tokens:day:${windowAt('day', 'UTC', Date.now()).start}`;
      await waitUntil(async () => Number(await redis.hget(key, 'allowed')) > 0, 'an allowance');
      const before = scripts();
      for (let index = 0; index < 99; index++) await reserveAndSettle();
      // At most a sync per 50 ms ran meanwhile, not two scripts per request.
      assert.ok(scripts() - before < 20, `${scripts() - before} scripts for 99 requests`);
      const [status] = await ledger.status('key:local', [budget], Date.now());
      assert.equal(status?.spent, 100 * 40);
      // A status shows what requests hold, not the unused allowance.
      assert.equal(status?.reserved, 0);
      assert.ok(Number(await redis.hget(key, 'reserved')) > 0, 'the allowance is held meanwhile');
      const open = await ledger.reserve([{ scope: 'key:local', budget, amount: 100 }], Date.now());
      assert.ok(open.ok);
      const [holding] = await ledger.status('key:local', [budget], Date.now());
      assert.equal(holding?.reserved, 100);
      assert.equal(holding?.remaining, 1_000_000 - 4000 - 100);
      await ledger.settle(open.reservation, { usdMicros: 0, tokens: 0 });
      await ledger.close();
      // Given back: nothing reserved or allowed, everything spent counted.
      assert.equal(await redis.hget(key, 'reserved'), '0');
      assert.equal(await redis.hget(key, 'allowed'), '0');
      assert.equal(Number(await redis.hget(key, 'inuse')), 0);
      assert.equal(await redis.hget(key, 'spent'), '4000');
    });

    it('uses an allowance after a pause of the process, and not once its syncs fail for a second', async () => {
      const { ledger, redis } = counted('pause');
      const failing = { on: false };
      const evalsha = redis.evalsha.bind(redis);
      redis.evalsha = ((...args: Parameters<typeof evalsha>) =>
        failing.on ? Promise.reject(new Error('Redis is away')) : evalsha(...args)) as typeof redis.evalsha;
      const lines = [{ scope: 'key:pause' as const, budget: tokens(1_000_000), amount: 100 }];
      const first = await ledger.reserve(lines, Date.now());
      assert.ok(first.ok);
      await ledger.settle(first.reservation, { usdMicros: 0, tokens: 10 });
      const local = (): boolean => {
        const result = ledger.reserveLocally(lines, Date.now());
        if (result === null) return false;
        assert.ok(result.ok);
        ledger.settleLocally(result.reservation, { usdMicros: 0, tokens: 10 });
        return true;
      };
      await waitUntil(() => Promise.resolve(local()), 'an allowance');
      // The event loop blocked for over a second (a paused process, a long collection): no sync ran,
      // but nothing says Redis is away, and the allowance is still held there.
      const blockedUntil = performance.now() + 1200;
      while (performance.now() < blockedUntil);
      assert.ok(local(), 'reserved from the allowance right after the pause');
      // Redis away: the syncs fail, and a second after the last one that answered it is not used.
      failing.on = true;
      const away = performance.now();
      await waitUntil(() => Promise.resolve(!local()), 'the allowance given up');
      assert.ok(performance.now() - away < 3000);
      failing.on = false;
      await waitUntil(() => Promise.resolve(local()), 'the allowance back once a sync answers');
    });

    it('never passes a limit and leaves no room unused, two instances each with allowances', async () => {
      const a = counted('exact');
      const b = counted('exact');
      const limit = 200_000;
      const budget = tokens(limit);
      let admitted = 0;
      let requests = 0;
      const worker = async (ledger: RedisBudgetLedger): Promise<void> => {
        for (;;) {
          requests++;
          const result = await ledger.reserve([{ scope: 'key:exact', budget, amount: 100 }], Date.now());
          if (!result.ok) return;
          admitted++;
          await ledger.settle(result.reservation, { usdMicros: 0, tokens: 100 });
        }
      };
      await Promise.all(
        Array.from({ length: 16 }, (_, index) => worker(index % 2 === 0 ? a.ledger : b.ledger)),
      );
      await a.ledger.close();
      await b.ledger.close();
      const [status] = await a.ledger.status('key:exact', [budget], Date.now());
      assert.equal(status?.spent, limit, `spent ${status?.spent} of ${limit}`);
      assert.equal(admitted * 100, limit);
      // Allowances served most of them: far fewer scripts than two per request.
      assert.ok(
        a.scripts() + b.scripts() < requests,
        `${a.scripts() + b.scripts()} scripts, ${requests} requests`,
      );
    });

    it('recalls allowances for a request that fits only without them, and admits it', async () => {
      const holder = counted('recall');
      const other = counted('recall');
      const limit = 1_000_000;
      const budget = tokens(limit);
      for (let index = 0; index < 20; index++) {
        const result = await holder.ledger.reserve(
          [{ scope: 'key:recall', budget, amount: 100 }],
          Date.now(),
        );
        assert.ok(result.ok);
        await holder.ledger.settle(result.reservation, { usdMicros: 0, tokens: 100 });
      }
      const key = `{${prefix}-recall}:key:recall:tokens:day:${windowAt('day', 'UTC', Date.now()).start}`;
      await waitUntil(
        async () =>
          (await holder.redis.hget(key, 'spent')) === '2000' &&
          Number(await holder.redis.hget(key, 'allowed')) > 0,
        'the holder to send its spending and hold an allowance',
      );
      // All that is left: it fits only if the holder's allowance goes back.
      const result = await other.ledger.reserve(
        [{ scope: 'key:recall', budget, amount: limit - 2000 }],
        Date.now(),
      );
      assert.ok(result.ok, 'admitted once the allowance was recalled');
      assert.equal(await holder.redis.hget(key, 'allowed'), '0');
      // The room back, and the recall over (a second): the holder, whose allowance was forgotten, gets
      // a new one and reserves from it again.
      await other.ledger.settle(result.reservation, { usdMicros: 0, tokens: 0 });
      const lines = [{ scope: 'key:recall' as const, budget, amount: 100 }];
      await waitUntil(async () => {
        const local = holder.ledger.reserveLocally(lines, Date.now());
        if (local !== null) {
          assert.ok(local.ok);
          holder.ledger.settleLocally(local.reservation, { usdMicros: 0, tokens: 0 });
          return true;
        }
        const remote = await holder.ledger.reserve(lines, Date.now());
        assert.ok(remote.ok);
        await holder.ledger.settle(remote.reservation, { usdMicros: 0, tokens: 0 });
        return false;
      }, 'a new allowance used');
    });

    it('counts a local reservation settled after it lapsed once, and a second settlement not at all', async () => {
      const { ledger, redis } = counted('lapsed', { reservationTtlMs: () => 300 });
      const budget = tokens(1_000_000);
      const line = { scope: 'key:lapsed', budget, amount: 100 } as const;
      const first = await ledger.reserve([line], Date.now());
      assert.ok(first.ok);
      await ledger.settle(first.reservation, { usdMicros: 0, tokens: 0 });
      const key = `{${prefix}-lapsed}:key:lapsed:tokens:day:${windowAt('day', 'UTC', Date.now()).start}`;
      await waitUntil(async () => Number(await redis.hget(key, 'allowed')) > 0, 'an allowance');
      const held = await ledger.reserve([line], Date.now());
      assert.ok(held.ok);
      assert.ok(held.reservation.local !== undefined, 'reserved from the allowance');
      // Two seconds later on the caller's clock: the hold (300 ms) lapses at the next sync.
      const later = await ledger.reserve([line], Date.now() + 2000);
      assert.ok(later.ok);
      await ledger.settle(later.reservation, { usdMicros: 0, tokens: 0 });
      const reservedNow = async (): Promise<number> =>
        (await ledger.status('key:lapsed', [budget], Date.now() + 2000))[0]?.reserved ?? -1;
      await waitUntil(async () => (await reservedNow()) === 0, 'the lapsed hold to give its amount back');
      const settled = await ledger.settle(held.reservation, { usdMicros: 0, tokens: 40 });
      assert.equal(settled.counted, true);
      assert.equal(settledLines(settled)[0]?.spentAfter, (settledLines(settled)[0]?.spentBefore ?? 0) + 40);
      const again = await ledger.settle(held.reservation, { usdMicros: 0, tokens: 40 });
      assert.equal(again.counted, false);
      const [status] = await ledger.status('key:lapsed', [budget], Date.now() + 2000);
      assert.equal(status?.spent, 40);
      assert.equal(status?.reserved, 0);
    });

    it('gets the allowance of an instance that dies back after the reservation TTL', async () => {
      const ttl = { reservationTtlMs: () => 300 };
      const dying = counted('dying', ttl);
      const survivor = counted('dying', ttl);
      const limit = 1_000_000;
      const budget = tokens(limit);
      const result = await dying.ledger.reserve([{ scope: 'key:dying', budget, amount: 100 }], Date.now());
      assert.ok(result.ok);
      await dying.ledger.settle(result.reservation, { usdMicros: 0, tokens: 100 });
      const key = `{${prefix}-dying}:key:dying:tokens:day:${windowAt('day', 'UTC', Date.now()).start}`;
      await waitUntil(async () => Number(await survivor.redis.hget(key, 'allowed')) > 0, 'an allowance');
      // Dies: its connection is gone, nothing gives the allowance back.
      dying.redis.disconnect();
      const diedAt = Date.now();
      let admitted = false;
      while (!admitted) {
        const big = await survivor.ledger.reserve(
          [{ scope: 'key:dying', budget, amount: limit - 100 }],
          Date.now(),
        );
        if (big.ok) {
          admitted = true;
          await survivor.ledger.settle(big.reservation, { usdMicros: 0, tokens: 0 });
        } else assert.ok(Date.now() - diedAt < 3000, 'the allowance lapses within the TTL');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
  });
});
