import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { UsageRecorder } from './usage-recorder.js';
import type { UsageBatch, UsageEvent, UsageIncrement, UsageQuery, UsageRow, UsageStore } from './usage.js';

const T0 = Date.parse('2030-05-06T09:00:00.000Z');

type Totals = Omit<UsageIncrement, 'hour' | 'keyId' | 'model'>;

/** A store that keeps sums per cell, can be told to fail, and lets a test wait for its calls. */
class FakeStore implements UsageStore {
  readonly calls: { increments: UsageIncrement[]; batch: UsageBatch | undefined }[] = [];
  readonly cells = new Map<string, Totals>();
  /** The next this many calls fail without applying anything. */
  failures = 0;
  /** Held calls wait for this promise before they answer. */
  gate: Promise<void> | null = null;
  private waiters: (() => void)[] = [];

  async add(increments: readonly UsageIncrement[], batch?: UsageBatch): Promise<void> {
    this.calls.push({ increments: [...increments], batch });
    for (const waiter of this.waiters.splice(0)) waiter();
    if (this.gate !== null) await this.gate;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('store down');
    }
    for (const increment of increments) {
      const id = JSON.stringify([increment.hour, increment.keyId, increment.model]);
      const current = this.cells.get(id);
      this.cells.set(id, {
        requests: (current?.requests ?? 0) + increment.requests,
        errors: (current?.errors ?? 0) + increment.errors,
        cached: (current?.cached ?? 0) + increment.cached,
        promptTokens: (current?.promptTokens ?? 0) + increment.promptTokens,
        completionTokens: (current?.completionTokens ?? 0) + increment.completionTokens,
        costMicros:
          increment.costMicros === null && current?.costMicros == null
            ? null
            : (current?.costMicros ?? 0) + (increment.costMicros ?? 0),
      });
    }
  }

  query(_query: UsageQuery): Promise<UsageRow[]> {
    return Promise.reject(new Error('not used'));
  }

  /** Resolves once the store has received `count` calls in all; fails after timeoutMs. */
  async waitForCalls(count: number, timeoutMs = 5000): Promise<void> {
    // The recorder's timer is unref'd: this one keeps the process alive while the test waits.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`timed out waiting for ${count} store calls (saw ${this.calls.length})`));
      }, timeoutMs);
    });
    try {
      while (this.calls.length < count) {
        await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), deadline]);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  cell(hour: string, keyId: string, model: string): Totals | undefined {
    return this.cells.get(JSON.stringify([hour, keyId, model]));
  }
}

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(text: string) {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      },
    },
  );
  return { logger, lines };
}

function event(values: Partial<UsageEvent> = {}): UsageEvent {
  return {
    keyId: 'key-a',
    model: 'llama',
    at: T0,
    error: false,
    cached: false,
    promptTokens: 10,
    completionTokens: 5,
    costMicros: null,
    ...values,
  };
}

/** A recorder whose timer never fires during a test: flushes are the test's own. */
function recorder(store: UsageStore, options: ConstructorParameters<typeof UsageRecorder>[2] = {}) {
  const { logger, lines } = capture();
  const made = new UsageRecorder(store, logger, { flushIntervalMs: 3_600_000, ...options });
  return { recorder: made, lines };
}

describe('UsageRecorder', () => {
  it('adds many events into a few cells with the right sums, in one store call', async () => {
    const store = new FakeStore();
    const { recorder: usage } = recorder(store);
    const keys = ['key-a', 'key-b'];
    const models = ['llama', 'priced-1'];
    const expected = new Map<string, Totals>();
    for (let index = 0; index < 1000; index++) {
      const keyId = keys[index % 2]!;
      const model = models[Math.floor(index / 2) % 2]!;
      const e = event({
        keyId,
        model,
        at: T0 + index * 1000,
        error: index % 7 === 0,
        cached: index % 5 === 0,
        promptTokens: index,
        completionTokens: index % 13,
        // What the pipeline prices (src/usage/pricing.ts): here 1000 and 2000 per million for priced-*.
        costMicros: model === 'priced-1' ? index * 1000 + (index % 13) * 2000 : null,
      });
      usage.record(e);
      const id = `${keyId}/${model}`;
      const current = expected.get(id) ?? {
        requests: 0,
        errors: 0,
        cached: 0,
        promptTokens: 0,
        completionTokens: 0,
        costMicros: null,
      };
      expected.set(id, {
        ...current,
        requests: current.requests + 1,
        errors: current.errors + (e.error ? 1 : 0),
        cached: current.cached + (e.cached ? 1 : 0),
        promptTokens: current.promptTokens + e.promptTokens,
        completionTokens: current.completionTokens + e.completionTokens,
      });
    }
    assert.equal(usage.waitingCells, 4);
    assert.equal(await usage.flush(), true);
    assert.equal(store.calls.length, 1);
    assert.equal(store.calls[0]!.increments.length, 4);
    assert.equal(usage.waitingCells, 0);
    for (const [id, totals] of expected) {
      const [keyId, model] = id.split('/') as [string, string];
      const stored = store.cell('2030-05-06T09', keyId, model);
      const cost = model === 'priced-1' ? totals.promptTokens * 1000 + totals.completionTokens * 2000 : null;
      assert.deepEqual(stored, { ...totals, costMicros: cost }, id);
    }
    // Nothing new: no call.
    assert.equal(await usage.flush(), true);
    assert.equal(store.calls.length, 1);
    await usage.close();
  });

  it('puts each event in the UTC hour it finished in, in any order', async () => {
    const store = new FakeStore();
    const { recorder: usage } = recorder(store);
    const hourMs = 3_600_000;
    usage.record(event({ at: T0 + hourMs - 1 }));
    usage.record(event({ at: T0 + hourMs }));
    usage.record(event({ at: T0 - 1 }));
    usage.record(event({ at: T0 }));
    usage.record(event({ at: T0 + hourMs + 1 }));
    usage.record(event({ at: T0 + 25 * hourMs }));
    await usage.flush();
    assert.equal(store.cell('2030-05-06T08', 'key-a', 'llama')?.requests, 1);
    assert.equal(store.cell('2030-05-06T09', 'key-a', 'llama')?.requests, 2);
    assert.equal(store.cell('2030-05-06T10', 'key-a', 'llama')?.requests, 2);
    assert.equal(store.cell('2030-05-07T10', 'key-a', 'llama')?.requests, 1);
    assert.equal(store.cells.size, 4);
    await usage.close();
  });

  it('keeps apart keys and models that a plain join would confuse', async () => {
    const store = new FakeStore();
    const { recorder: usage } = recorder(store);
    usage.record(event({ keyId: 'a', model: 'bc' }));
    usage.record(event({ keyId: 'ab', model: 'c' }));
    usage.record(event({ keyId: '1:a', model: 'b' }));
    usage.record(event({ keyId: '1', model: ':ab' }));
    await usage.flush();
    assert.equal(store.cells.size, 4);
    await usage.close();
  });

  it('counts nonsense token numbers as 0 and a missing time as now', async () => {
    const store = new FakeStore();
    const { recorder: usage } = recorder(store, { now: () => T0 + 7_200_000 });
    usage.record(event({ promptTokens: Number.NaN, completionTokens: -4 }));
    usage.record(event({ at: Number.NaN, promptTokens: 2.4, completionTokens: Number.POSITIVE_INFINITY }));
    await usage.flush();
    assert.deepEqual(store.cell('2030-05-06T09', 'key-a', 'llama'), {
      requests: 1,
      errors: 0,
      cached: 0,
      promptTokens: 0,
      completionTokens: 0,
      costMicros: null,
    });
    assert.equal(store.cell('2030-05-06T11', 'key-a', 'llama')?.promptTokens, 2);
    await usage.close();
  });

  it('keeps what the store refused and delivers it exactly once later, in order, with the same batch', async () => {
    const store = new FakeStore();
    const { recorder: usage, lines } = recorder(store);
    usage.record(event({ promptTokens: 1 }));
    usage.record(event({ keyId: 'key-b', promptTokens: 2 }));
    store.failures = 2;
    assert.equal(await usage.flush(), false);
    assert.equal(store.cells.size, 0);
    assert.equal(usage.waitingCells, 2);
    usage.record(event({ promptTokens: 100 }));
    assert.equal(await usage.flush(), false);
    assert.equal(await usage.flush(), true);
    assert.equal(usage.waitingCells, 0);
    // The refused batch was sent again unchanged, then the new one.
    const sent = store.calls.map((call) => [call.batch?.sequence, call.increments.length]);
    assert.deepEqual(sent, [
      [1, 2],
      [1, 2],
      [1, 2],
      [2, 1],
    ]);
    assert.ok(store.calls.every((call) => call.batch?.source === store.calls[0]!.batch?.source));
    assert.equal(store.cell('2030-05-06T09', 'key-a', 'llama')?.promptTokens, 101);
    assert.equal(store.cell('2030-05-06T09', 'key-a', 'llama')?.requests, 2);
    assert.equal(store.cell('2030-05-06T09', 'key-b', 'llama')?.promptTokens, 2);
    assert.equal(await usage.flush(), true);
    assert.equal(store.calls.length, 4);
    const warnings = lines.filter((line) => line['level'] === 40);
    assert.equal(warnings.length, 1, 'one warning within 10 s');
    assert.match(String(warnings[0]!['msg']), /usage store unavailable/);
    assert.equal(warnings[0]!['detail'], 'store down');
    await usage.close();
  });

  it('warns about a failing store at most every 10 s', async () => {
    const store = new FakeStore();
    let now = T0;
    const { recorder: usage, lines } = recorder(store, { now: () => now });
    store.failures = 100;
    usage.record(event());
    for (const step of [0, 5000, 4999, 1, 9999, 1]) {
      now += step;
      await usage.flush();
    }
    // t = 0 warns, 5000 and 9999 do not, 10000 does, 19999 not, 20000 does.
    assert.equal(lines.filter((line) => line['level'] === 40).length, 3);
    store.failures = 0;
    await usage.close();
  });

  it('serialises concurrent flushes: no batch is sent twice and none overtakes another', async () => {
    const store = new FakeStore();
    const { recorder: usage } = recorder(store);
    let open!: () => void;
    store.gate = new Promise((resolve) => {
      open = resolve;
    });
    usage.record(event({ promptTokens: 1 }));
    const first = usage.flush();
    await store.waitForCalls(1);
    usage.record(event({ promptTokens: 2 }));
    const second = usage.flush();
    const third = usage.flush();
    open();
    assert.deepEqual(await Promise.all([first, second, third]), [true, true, true]);
    assert.deepEqual(
      store.calls.map((call) => call.batch?.sequence),
      [1, 2],
    );
    assert.equal(store.cell('2030-05-06T09', 'key-a', 'llama')?.promptTokens, 3);
    await usage.close();
  });

  it('splits a large flush into batches of batchCells', async () => {
    const store = new FakeStore();
    const { recorder: usage } = recorder(store, { batchCells: 10 });
    for (let index = 0; index < 25; index++) usage.record(event({ keyId: `key-${index}` }));
    await usage.flush();
    assert.deepEqual(
      store.calls.map((call) => [call.batch?.sequence, call.increments.length]),
      [
        [1, 10],
        [2, 10],
        [3, 5],
      ],
    );
    assert.equal(store.cells.size, 25);
    await usage.close();
  });

  it('bounds the cells in memory: beyond maxCells new cells are dropped, counted and warned about', async () => {
    const store = new FakeStore();
    let now = T0;
    const { recorder: usage, lines } = recorder(store, { maxCells: 3, now: () => now });
    for (let index = 0; index < 5; index++) usage.record(event({ keyId: `key-${index}` }));
    // Cells already waiting still count.
    usage.record(event({ keyId: 'key-0' }));
    assert.equal(usage.waitingCells, 3);
    assert.equal(usage.droppedEvents, 2);
    assert.equal(
      lines.filter(
        (line) => line['msg'] === 'usage events dropped: too many usage counters wait for the store',
      ).length,
      1,
    );
    // Refused cells still take room until delivered.
    store.failures = 1;
    await usage.flush();
    usage.record(event({ keyId: 'key-9' }));
    assert.equal(usage.droppedEvents, 3);
    now += 10_000;
    usage.record(event({ keyId: 'key-10' }));
    const drops = lines.filter((line) => String(line['msg']).startsWith('usage events dropped'));
    assert.equal(drops.length, 2);
    assert.equal(drops[1]!['dropped'], 3);
    assert.equal(drops[1]!['dropped_total'], 4);
    await usage.flush();
    assert.equal(store.cell('2030-05-06T09', 'key-0', 'llama')?.requests, 2);
    assert.equal(store.cells.size, 3);
    usage.record(event({ keyId: 'key-new' }));
    assert.equal(usage.waitingCells, 1);
    await usage.close();
  });

  it('flushes by itself every flushIntervalMs when there is something', async () => {
    const store = new FakeStore();
    const { recorder: usage } = recorder(store, { flushIntervalMs: 5 });
    usage.record(event());
    await store.waitForCalls(1);
    assert.equal(store.cell('2030-05-06T09', 'key-a', 'llama')?.requests, 1);
    usage.record(event({ keyId: 'key-b' }));
    await store.waitForCalls(2);
    assert.equal(store.cell('2030-05-06T09', 'key-b', 'llama')?.requests, 1);
    await usage.close();
  });

  it('flushes at close, and logs what it could not deliver', async () => {
    const store = new FakeStore();
    const { recorder: usage, lines } = recorder(store);
    usage.record(event());
    await usage.close();
    assert.equal(store.cell('2030-05-06T09', 'key-a', 'llama')?.requests, 1);

    const failing = new FakeStore();
    failing.failures = 1;
    const other = recorder(failing);
    other.recorder.record(event());
    await other.recorder.close();
    const error = other.lines.find((line) => line['level'] === 50);
    assert.equal(error?.['cells'], 1);
    assert.equal(lines.filter((line) => Number(line['level']) >= 40).length, 0);
  });
});
