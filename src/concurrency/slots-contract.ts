/* eslint-disable @typescript-eslint/no-floating-promises -- node:test's describe and it return promises the runner awaits, as in *.test.ts (eslint.config.js) */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { ConcurrencyLimitError } from '../errors/errors.js';
import type { Lease, SlotMetrics, SlotPool, SlotScope, WaitOutcome } from './slots.js';

/** What a contract test may set on the pools it asks for. */
export interface PoolSettings {
  readonly maxQueue?: number;
  readonly queueTimeoutMs?: number;
  readonly metrics?: SlotMetrics;
}

/**
 * The contract every SlotPool keeps, run against the in-memory and the Redis pool alike. `pools` gives
 * two pools over the same slots (two instances in Redis; the same pool twice in memory, which serves
 * one instance), fresh for each test.
 */
export interface SlotsFixture {
  readonly pools: (settings?: PoolSettings) => Promise<readonly [SlotPool, SlotPool]>;
}

/** Resolves once `condition` holds, checking every few ms; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Settles to what the promise did, without an unhandled rejection meanwhile. */
function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

export function describeSlotsContract(name: string, fixture: SlotsFixture): void {
  describe(`${name} (SlotPool contract)`, () => {
    it('never holds more than each limit across two instances under 100 concurrent acquirers', async () => {
      const [one, two] = await fixture.pools({ queueTimeoutMs: 60_000 });
      const backend: SlotScope = { id: 'backend:gpu', limit: 3 };
      const keys = Array.from({ length: 4 }, (_, index): SlotScope => ({ id: `key:k${index}`, limit: 2 }));
      const held = new Map<string, number>();
      const highest = new Map<string, number>();
      let seenInFlight = 0;
      const run = async (index: number): Promise<void> => {
        const pool = index % 2 === 0 ? one : two;
        const key = keys[index % keys.length];
        assert.ok(key !== undefined);
        const lease = await pool.acquire([key, backend], { priority: index % 3 === 0 ? 100 : 10 });
        for (const id of lease.scopes) {
          const count = (held.get(id) ?? 0) + 1;
          held.set(id, count);
          highest.set(id, Math.max(highest.get(id) ?? 0, count));
        }
        seenInFlight = Math.max(seenInFlight, pool.inFlight(backend.id));
        await sleep(index % 5);
        for (const id of lease.scopes) held.set(id, (held.get(id) ?? 0) - 1);
        await lease.release();
      };
      await Promise.all(Array.from({ length: 100 }, (_, index) => run(index)));
      assert.equal(highest.get(backend.id), 3, 'the backend was full at some point, never over');
      for (const key of keys) assert.ok((highest.get(key.id) ?? 0) <= 2, key.id);
      assert.ok(seenInFlight >= 1 && seenInFlight <= 3, `inFlight ${seenInFlight}`);
      assert.equal(one.queueLength() + two.queueLength(), 0);
      await waitFor(() => one.inFlight(backend.id) === 0, 'the backend to be idle');
    });

    it('gives a freed slot by priority, first come first served within one', async () => {
      const [pool] = await fixture.pools();
      const scope: SlotScope = { id: 'backend:one', limit: 1 };
      const first = await pool.tryAcquire([scope]);
      assert.ok(first !== null);
      const order: string[] = [];
      const waiters: Promise<void>[] = [];
      const arrivals: [string, number][] = [
        ['batch-1', 10],
        ['batch-2', 10],
        ['interactive-1', 100],
        ['batch-3', 10],
        ['interactive-2', 100],
        ['custom-50', 50],
      ];
      for (const [label, priority] of arrivals) {
        const queued = pool.queueLength();
        waiters.push(
          pool.acquire([scope], { priority }).then(async (lease) => {
            order.push(label);
            await lease.release();
          }),
        );
        // One after the other: arrival order is what the queue sees.
        await waitFor(() => pool.queueLength() === queued + 1, `${label} to queue`);
      }
      assert.equal(pool.queueLength(scope.id), 6);
      await first.release();
      await Promise.all(waiters);
      assert.deepEqual(order, [
        'interactive-1',
        'interactive-2',
        'custom-50',
        'batch-1',
        'batch-2',
        'batch-3',
      ]);
    });

    it('queues a newcomer of the same priority behind a waiter instead of letting it take the freed slot', async () => {
      const [pool] = await fixture.pools();
      const scope: SlotScope = { id: 'backend:fair', limit: 1 };
      const holder = await pool.tryAcquire([scope]);
      assert.ok(holder !== null);
      const order: string[] = [];
      const waiter = pool.acquire([scope], { priority: 10 }).then((lease) => {
        order.push('waiter');
        return lease;
      });
      await waitFor(() => pool.queueLength(scope.id) === 1, 'the waiter to queue');
      // A freed slot goes to the queue: tryAcquire does not take it from under the waiter.
      assert.equal(await pool.tryAcquire([scope], { priority: 10 }), null);
      void holder.release();
      const newcomer = pool.acquire([scope], { priority: 10 }).then((lease) => {
        order.push('newcomer');
        return lease;
      });
      const waiterLease = await waiter;
      assert.deepEqual(order, ['waiter']);
      await waitFor(() => pool.queueLength(scope.id) === 1, 'the newcomer to wait');
      await waiterLease.release();
      await (await newcomer).release();
      assert.deepEqual(order, ['waiter', 'newcomer']);
    });

    it('lets a request pass waiters blocked on a scope it does not need', async () => {
      const [pool] = await fixture.pools();
      const full: SlotScope = { id: 'backend:gpu-a', limit: 1 };
      const holder = await pool.tryAcquire([full]);
      assert.ok(holder !== null);
      const waiting = pool.acquire([{ id: 'key:alice', limit: 5 }, full], { priority: 100 });
      await waitFor(() => pool.queueLength(full.id) === 1, 'the waiter to queue');
      // Lower priority, same key, another backend: not held up by the waiter for gpu-a.
      const lease = await pool.acquire(
        [
          { id: 'key:alice', limit: 5 },
          { id: 'backend:gpu-b', limit: 1 },
        ],
        {
          priority: 10,
          timeoutMs: 0,
        },
      );
      assert.equal(pool.queueLength(full.id), 1);
      await lease.release();
      await holder.release();
      await (await waiting).release();
    });

    it('drops an aborted waiter from the queue at once and gives the slot to the next', async () => {
      const [pool] = await fixture.pools();
      const scope: SlotScope = { id: 'backend:abort', limit: 1 };
      const holder = await pool.tryAcquire([scope]);
      assert.ok(holder !== null);
      const controller = new AbortController();
      const leaving = settle(pool.acquire([scope], { signal: controller.signal, priority: 100 }));
      await waitFor(() => pool.queueLength(scope.id) === 1, 'the first waiter to queue');
      const next = pool.acquire([scope], { priority: 10 });
      await waitFor(() => pool.queueLength(scope.id) === 2, 'the second waiter to queue');
      const reason = new Error('client closed the connection');
      controller.abort(reason);
      // At once, not at the next attempt.
      assert.equal(pool.queueLength(scope.id), 1);
      const left = await leaving;
      assert.ok(!left.ok);
      assert.equal(left.error, reason);
      await holder.release();
      const lease = await next;
      assert.deepEqual(lease.scopes, [scope.id]);
      assert.equal(pool.queueLength(), 0);
      await lease.release();
    });

    it('rejects at once with the reason of a signal already aborted', async () => {
      const [pool] = await fixture.pools();
      const reason = new Error('gone');
      await assert.rejects(
        pool.acquire([{ id: 'backend:x', limit: 1 }], { signal: AbortSignal.abort(reason) }),
        (error) => error === reason,
      );
    });

    it('answers ConcurrencyLimitError with Retry-After after the queue timeout', async () => {
      const outcomes: WaitOutcome[] = [];
      const lengths: number[] = [];
      const [pool] = await fixture.pools({
        metrics: {
          waited: (scopeId, _ms, outcome) => {
            if (scopeId === 'backend:slow') outcomes.push(outcome);
          },
          queueLength: (scopeId, length) => {
            if (scopeId === 'backend:slow') lengths.push(length);
          },
        },
      });
      const scope: SlotScope = { id: 'backend:slow', limit: 1 };
      const holder = await pool.tryAcquire([scope]);
      assert.ok(holder !== null);
      const started = Date.now();
      const result = await settle(pool.acquire([scope], { timeoutMs: 150 }));
      assert.ok(Date.now() - started >= 140, 'not before the timeout');
      assert.ok(!result.ok);
      assert.ok(result.error instanceof ConcurrencyLimitError);
      assert.equal(result.error.code, 'concurrency_limit_exceeded');
      assert.equal(result.error.status, 429);
      assert.ok(Number(result.error.headers['retry-after']) >= 1);
      assert.match(result.error.message, /backend:slow/);
      assert.equal(pool.queueLength(), 0);
      assert.deepEqual(outcomes, ['timeout']);
      assert.deepEqual(lengths, [1, 0]);
      await holder.release();
    });

    it('refuses at once when the queue is full, and when asked not to wait', async () => {
      const [pool] = await fixture.pools({ maxQueue: 2 });
      const scope: SlotScope = { id: 'backend:busy', limit: 1 };
      const holder = await pool.tryAcquire([scope]);
      assert.ok(holder !== null);
      const queued = [pool.acquire([scope]), pool.acquire([scope])];
      await waitFor(() => pool.queueLength() === 2, 'two waiters');
      await assert.rejects(pool.acquire([scope]), ConcurrencyLimitError);
      await assert.rejects(
        pool.acquire([{ id: 'backend:other', limit: 1 }, scope], { priority: 100, timeoutMs: 0 }),
        ConcurrencyLimitError,
      );
      assert.equal(pool.queueLength(), 2);
      await holder.release();
      for (const waiting of queued) await (await waiting).release();
    });

    it('takes every scope of a request or none: a key slot is not held while it waits for the backend', async () => {
      const [pool] = await fixture.pools();
      const key: SlotScope = { id: 'key:alice', limit: 1 };
      const backend: SlotScope = { id: 'backend:gpu-a', limit: 1 };
      const other = await pool.tryAcquire([{ id: 'key:bob', limit: 1 }, backend]);
      assert.ok(other !== null);
      assert.equal(await pool.tryAcquire([key, backend]), null);
      const waiting = pool.acquire([key, backend]);
      await waitFor(() => pool.queueLength(backend.id) === 1, 'alice to queue');
      assert.equal(pool.queueLength(key.id), 1);
      assert.equal(pool.inFlight(key.id), 0);
      // Alice's key slot is free for her requests to another backend meanwhile.
      const elsewhere = await pool.tryAcquire([key, { id: 'backend:gpu-b', limit: 1 }]);
      assert.ok(elsewhere !== null);
      await elsewhere.release();
      await other.release();
      const lease = await waiting;
      assert.deepEqual([...lease.scopes].sort(), [backend.id, key.id]);
      assert.equal(pool.inFlight(key.id), 1);
      await lease.release();
      assert.equal(pool.inFlight(key.id), 0);
    });

    it('releases once however often release is called', async () => {
      const [pool] = await fixture.pools();
      const scope: SlotScope = { id: 'backend:twice', limit: 2 };
      const a = await pool.tryAcquire([scope]);
      const b = await pool.tryAcquire([scope]);
      assert.ok(a !== null && b !== null);
      assert.equal(await pool.tryAcquire([scope]), null);
      await Promise.all([a.release(), a.release()]);
      await a.release();
      assert.equal(pool.inFlight(scope.id), 1);
      const c = await pool.tryAcquire([scope]);
      assert.ok(c !== null);
      assert.equal(await pool.tryAcquire([scope]), null, 'b and c hold both slots');
      await b.release();
      await c.release();
    });

    it('takes one slot in a scope named twice', async () => {
      const [pool] = await fixture.pools();
      const lease = await pool.tryAcquire([
        { id: 'team:twice', limit: 2 },
        { id: 'team:twice', limit: 2 },
      ]);
      assert.ok(lease !== null);
      assert.equal(pool.inFlight('team:twice'), 1);
      assert.ok((await pool.tryAcquire([{ id: 'team:twice', limit: 2 }])) !== null, 'one slot is left');
    });

    it('counts the requests in flight per scope', async () => {
      const [one, two] = await fixture.pools();
      const scope: SlotScope = { id: 'backend:count', limit: 5 };
      const leases: Lease[] = [];
      for (let index = 0; index < 3; index++) {
        const lease = await one.tryAcquire([scope]);
        assert.ok(lease !== null);
        leases.push(lease);
      }
      assert.equal(one.inFlight(scope.id), 3);
      // Another instance learns it within a refresh.
      await waitFor(() => two.inFlight(scope.id) === 3, 'the other instance to count 3');
      for (const lease of leases) await lease.release();
      assert.equal(one.inFlight(scope.id), 0);
      await waitFor(() => two.inFlight(scope.id) === 0, 'the other instance to count 0');
    });
  });
}
