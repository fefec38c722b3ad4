import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { BudgetStoreError, COUNTER_MARGIN_MS } from './ledger.js';
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
    const ledger = new RedisBudgetLedger(one, { timeZone: () => 'UTC', prefix: `${prefix}-bounded` });
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
});
