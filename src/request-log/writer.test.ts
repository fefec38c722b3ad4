import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordOfRow, type RecordRow } from './request-log-store.js';
import type { RequestRecord } from './request-record.js';
import { FIELD_LIMITS } from './request-record.js';
import { RequestLogWriter } from './writer.js';

function record(index: number, status = 200): RequestRecord {
  return {
    time: 1_700_000_000_000 + index,
    request_id: `req-${index}`,
    key_id: 'key-a',
    team: null,
    protocol: 'openai-chat',
    route: '/v1/chat/completions',
    model: 'small',
    route_name: 'small',
    backend: 'local',
    upstream_model: 'qwen',
    status,
    error_code: status >= 500 ? 'upstream_error' : null,
    attempts: [],
    cache: null,
    ttfb_ms: 5,
    duration_ms: 10,
    prompt_tokens: 1,
    completion_tokens: 1,
    cached_tokens: null,
    reasoning_tokens: null,
    cost_micros: null,
    client_address: '127.0.0.1',
    user_agent: 'u'.repeat(10_000),
    prompt: null,
    answer: null,
  };
}

/** Waits for a condition the writer reaches on its own timers (bounded). */
async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

class RecordingStore {
  readonly batches: RequestRecord[][] = [];
  failuresLeft = 0;
  calls = 0;
  /** The writer hands over rows (recordRow); kept here as the records they stand for. */
  writeRows(rows: readonly RecordRow[]): Promise<void> {
    this.calls += 1;
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      return Promise.reject(new Error('database is down'));
    }
    this.batches.push(rows.map(recordOfRow));
    return Promise.resolve();
  }
  get ids(): string[] {
    return this.batches.flat().map((entry) => entry.request_id);
  }
}

describe('request log writer', () => {
  it('writes records in batches, cut to the field limits', async () => {
    const store = new RecordingStore();
    const writer = new RequestLogWriter({ store, batchSize: 500, flushIntervalMs: 20 });
    for (let index = 0; index < 1200; index += 1) writer.add(record(index));
    await until(() => store.ids.length === 1200, 'all records written');
    assert.deepEqual(
      store.batches.map((batch) => batch.length),
      [500, 500, 200],
    );
    assert.deepEqual(
      store.ids,
      Array.from({ length: 1200 }, (_, index) => `req-${index}`),
    );
    assert.equal(store.batches[0]?.[0]?.user_agent?.length, FIELD_LIMITS.user_agent);
    assert.equal(writer.written, 1200);
    await writer.close();
  });

  it('stays instant when the store stalls: the buffer fills, the overflow is dropped and counted', async () => {
    let started = 0;
    const warnings: string[] = [];
    const writer = new RequestLogWriter({
      store: {
        writeRows: () => {
          started += 1;
          return new Promise<void>(() => undefined);
        },
      },
      logger: { warn: (_fields: unknown, message?: string) => warnings.push(message ?? '') },
      maxBuffered: 100,
      batchSize: 10,
      flushIntervalMs: 5,
      writeTimeoutMs: 60_000,
      closeTimeoutMs: 50,
    });
    const startedAt = performance.now();
    for (let index = 0; index < 1000; index += 1) writer.add(record(index));
    const elapsed = performance.now() - startedAt;
    assert.equal(writer.buffered, 100);
    assert.equal(writer.dropped, 900);
    assert.equal(warnings.length, 1, 'one warning, not one per record');
    await until(() => started === 1, 'the first batch handed to the store');
    assert.equal(writer.buffered, 90);
    for (let index = 0; index < 20; index += 1) writer.add(record(1000 + index));
    assert.equal(writer.dropped, 910);
    assert.equal(started, 1, 'one write at a time: nothing piles up on a stalled store');
    // 1000 adds against a dead store are plain array pushes; generous for a loaded machine.
    assert.ok(elapsed < 250, `1000 add() calls took ${elapsed.toFixed(1)} ms`);
    const closed = await writer.close();
    assert.equal(closed.unwritten, 100);
  });

  it('retries a failed batch ahead of newer records, so each record arrives once', async () => {
    const store = new RecordingStore();
    store.failuresLeft = 3;
    const writer = new RequestLogWriter({ store, batchSize: 10, flushIntervalMs: 5, retryDelayMs: 2 });
    for (let index = 0; index < 25; index += 1) writer.add(record(index));
    await until(() => store.ids.length === 25, 'every record written after the store recovers');
    for (let index = 25; index < 30; index += 1) writer.add(record(index));
    await until(() => store.ids.length === 30, 'later records written');
    assert.deepEqual(
      store.ids,
      Array.from({ length: 30 }, (_, index) => `req-${index}`),
    );
    assert.equal(store.calls, store.batches.length + 3);
    assert.equal(writer.failed, 0);
    assert.equal(writer.dropped, 0);
    await writer.close();
  });

  it('drops and counts a batch that fails every try, then goes on with the next', async () => {
    const store = new RecordingStore();
    store.failuresLeft = 3;
    const writer = new RequestLogWriter({
      store,
      batchSize: 10,
      flushIntervalMs: 5,
      retryDelayMs: 1,
      maxAttempts: 3,
    });
    for (let index = 0; index < 10; index += 1) writer.add(record(index));
    await until(() => writer.failed === 10, 'the batch given up');
    writer.add(record(10));
    await until(() => store.ids.length === 1, 'the next record written');
    assert.deepEqual(store.ids, ['req-10']);
    await writer.close();
  });

  it('treats a throwing store like a failing one', async () => {
    let calls = 0;
    const received: string[] = [];
    const writer = new RequestLogWriter({
      store: {
        writeRows: (rows) => {
          calls += 1;
          if (calls === 1) throw new Error('synchronous failure');
          received.push(...rows.map((row) => recordOfRow(row).request_id));
          return Promise.resolve();
        },
      },
      batchSize: 2,
      flushIntervalMs: 5,
      retryDelayMs: 1,
    });
    writer.add(record(0));
    writer.add(record(1));
    await until(() => received.length === 2, 'the retried batch');
    assert.deepEqual(received, ['req-0', 'req-1']);
    await writer.close();
  });

  it('flushes what is buffered on close, and drops what comes after', async () => {
    const store = new RecordingStore();
    const writer = new RequestLogWriter({ store, batchSize: 10, flushIntervalMs: 60_000 });
    for (let index = 0; index < 7; index += 1) writer.add(record(index));
    assert.equal(store.calls, 0);
    assert.deepEqual(await writer.close(), { unwritten: 0 });
    assert.equal(store.ids.length, 7);
    writer.add(record(7));
    assert.equal(writer.dropped, 1);
    assert.equal(store.ids.length, 7);
  });

  it('hands each added record to the live-tail subscribers whose filter it matches', async () => {
    const writer = new RequestLogWriter({
      store: new RecordingStore(),
      maxSubscribers: 2,
      flushIntervalMs: 60_000,
    });
    const errors: string[] = [];
    const unsubscribe = writer.subscribe({ status_class: '5xx' }, (entry) => errors.push(entry.request_id));
    const seen: RequestRecord[] = [];
    const broken = writer.subscribe({}, (entry) => {
      seen.push(entry);
      throw new Error('client went away');
    });
    assert.ok(unsubscribe !== null && broken !== null);
    assert.equal(
      writer.subscribe({}, () => undefined),
      null,
      'no third subscriber',
    );
    writer.add(record(1, 200));
    writer.add(record(2, 502));
    unsubscribe();
    writer.add(record(3, 500));
    assert.deepEqual(errors, ['req-2']);
    assert.equal(seen[0]?.user_agent?.length, FIELD_LIMITS.user_agent, 'the tail sees the record as stored');
    assert.equal(writer.buffered, 3, 'a throwing listener costs no record');
    assert.equal(writer.subscriberCount, 1);
    await writer.close();
  });
});

/** A RowSink that keeps what it is handed; `written` moves when the test says so. */
class RecordingSink {
  readonly chunks: RecordRow[][] = [];
  written = 0;
  dropped = 0;
  failed = 0;
  flushed: number | null = null;
  handOver(rows: RecordRow[]): void {
    this.chunks.push(rows);
  }
  get outstanding(): number {
    return this.chunks.flat().length - this.written - this.dropped - this.failed;
  }
  flush(timeoutMs: number): Promise<{ unwritten: number }> {
    this.flushed = timeoutMs;
    return Promise.resolve({ unwritten: this.outstanding });
  }
}

describe('request log writer with a sink (the SQLite thread)', () => {
  it('hands rows over in small chunks at once and keeps none; the bound counts what the sink holds', async () => {
    const sink = new RecordingSink();
    const writer = new RequestLogWriter({ store: sink, maxBuffered: 200, closeTimeoutMs: 1234 });
    for (let index = 0; index < 150; index += 1) writer.add(record(index));
    // Two full chunks went over in the same turn; the rest within a few milliseconds.
    assert.deepEqual(
      sink.chunks.map((chunk) => chunk.length),
      [64, 64],
    );
    await until(() => sink.chunks.length === 3, 'the partial chunk handed over');
    assert.equal(sink.chunks[2]?.length, 22);
    assert.equal(recordOfRow(sink.chunks[0]?.[0] ?? []).user_agent?.length, FIELD_LIMITS.user_agent);
    assert.equal(writer.buffered, 150, 'what the sink has not written counts against the bound');
    for (let index = 150; index < 260; index += 1) writer.add(record(index));
    assert.equal(writer.buffered, 200);
    assert.equal(writer.dropped, 60, 'past max_buffered, dropped and counted');
    sink.written = 150;
    sink.failed = 10;
    writer.add(record(999));
    assert.equal(writer.dropped, 60, 'room again once the sink wrote');
    assert.equal(writer.failed, 10);
    assert.equal(writer.written, 150);
    assert.deepEqual(await writer.close(), { unwritten: 41 });
    assert.equal(sink.flushed, 1234, 'close flushes the sink, within the close timeout');
    assert.equal(sink.chunks.flat().length, 201, 'the last partial chunk went over before the flush');
  });
});
