import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { decodeCursor, exportPages, EXPORT_PAGE, recordRow, type RecordRow } from './request-log-store.js';
import type {
  RequestLogFilters,
  RequestLogPage,
  RequestLogStats,
  RequestLogStore,
  RetentionResult,
  StatsBucket,
  StatsGroupBy,
} from './request-log-store.js';
import type { RequestRecord, StoredRequestRecord } from './request-record.js';
import type { SqliteRequestLogStoreOptions } from './sqlite-request-log-store.js';
import type { RowSink } from './writer.js';

/** A call to the store's thread (store-worker.ts). */
export type StoreCall = { readonly id: number } & (
  | { readonly method: 'migrate' }
  /**
   * Records as their rows (recordRow): arrays of plain values cost the request thread a third of what
   * the same records as objects cost to copy to the store's thread.
   */
  | { readonly method: 'write'; readonly rows: readonly RecordRow[] }
  | {
      readonly method: 'query';
      readonly filters: RequestLogFilters;
      readonly cursor: string | null;
      readonly limit: number;
    }
  | { readonly method: 'get'; readonly requestId: string }
  | {
      readonly method: 'stats';
      readonly filters: RequestLogFilters;
      readonly bucket: StatsBucket;
      readonly groupBy: StatsGroupBy | null;
    }
  | { readonly method: 'retention'; readonly now: number }
  /** Writes what the thread's writer holds (RowSink.flush) and closes that writer. */
  | { readonly method: 'flush'; readonly timeoutMs: number }
  | { readonly method: 'close' }
);

/** Rows handed over (RowSink.handOver): no answer; the thread's writer batches them. */
export interface HandOver {
  readonly method: 'rows';
  readonly rows: RecordRow[];
}

/** What the store's thread is started with. */
export interface StoreWorkerData extends SqliteRequestLogStoreOptions {
  /** written, dropped and failed of the thread's writer, kept current by it (Atomics). */
  readonly counters: SharedArrayBuffer;
  readonly writer: StoreWriterOptions;
}

/** The thread's writer's settings (request_log.batch and max_buffered). */
export interface StoreWriterOptions {
  readonly batchSize?: number;
  readonly flushIntervalMs?: number;
  readonly maxBuffered?: number;
}

/** A warning of the thread's writer (a full buffer, a failed batch), logged by the request thread. */
export interface StoreWarning {
  readonly warning: string;
  readonly fields: Record<string, unknown>;
}

/** Its answer (or a warning of the thread's writer). */
export type StoreReply =
  | StoreWarning
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly message: string };

/** A call before its id is given (Omit of each member of the union). */
type CallBody = StoreCall extends infer Call ? (Call extends StoreCall ? Omit<Call, 'id'> : never) : never;

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The SQLite request log on a worker thread (issue 21: the log "must never slow or block a request").
 * better-sqlite3 is synchronous: written from the request thread, each batch (the records, eight
 * indexes, the rollups) held up every request in flight for its transaction, and a chart query at
 * millions of rows for tens of milliseconds. Here the request thread only posts each batch (a copy of
 * plain records) and the thread that owns the database does the rest.
 *
 * As the request log's RowSink, the request thread hands it rows in small chunks as they come
 * (handOver) and keeps none: a writer on the store's thread batches, writes and retries them, within
 * its own bound, and keeps the counts in shared memory.
 *
 * Calls are answered in order. A thread that dies (it should not) fails the calls in flight and loses
 * the rows handed over and not yet written (counted as failed); the next call starts a new one.
 */
export class ThreadedRequestLogStore implements RequestLogStore, RowSink {
  readonly kind = 'sqlite';
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;
  /** [written, dropped, failed] of the thread's writer (the current thread's, from 0). */
  private readonly counters = new BigInt64Array(new SharedArrayBuffer(3 * 8));
  /** Counts of threads that died, and rows they lost (failed). */
  private readonly before = { written: 0, dropped: 0, failed: 0 };
  private handedOver = 0;
  private readonly logger: Pick<Logger, 'warn'> | null;
  private readonly writerOptions: StoreWriterOptions;

  constructor(
    private readonly options: SqliteRequestLogStoreOptions,
    writer: StoreWriterOptions & { readonly logger?: Pick<Logger, 'warn'> } = {},
  ) {
    const { logger, ...writerOptions } = writer;
    this.logger = logger ?? null;
    this.writerOptions = writerOptions;
  }

  get written(): number {
    return this.before.written + Number(Atomics.load(this.counters, 0));
  }

  get dropped(): number {
    return this.before.dropped + Number(Atomics.load(this.counters, 1));
  }

  get failed(): number {
    return this.before.failed + Number(Atomics.load(this.counters, 2));
  }

  get outstanding(): number {
    return Math.max(0, this.handedOver - this.written - this.dropped - this.failed);
  }

  handOver(rows: RecordRow[]): void {
    if (this.closed) throw new Error('the request log store is closed');
    const worker = this.worker ?? this.start();
    this.handedOver += rows.length;
    worker.postMessage({ method: 'rows', rows } satisfies HandOver);
  }

  async flush(timeoutMs: number): Promise<{ unwritten: number }> {
    if (this.worker === null) return { unwritten: this.outstanding };
    return this.call<{ unwritten: number }>({ method: 'flush', timeoutMs });
  }

  migrate(): Promise<void> {
    return this.call({ method: 'migrate' });
  }

  write(records: readonly RequestRecord[]): Promise<void> {
    return this.writeRows(records.map(recordRow));
  }

  writeRows(rows: readonly RecordRow[]): Promise<void> {
    return this.call({ method: 'write', rows });
  }

  query(filters: RequestLogFilters, cursor: string | null, limit: number): Promise<RequestLogPage> {
    // A cursor this gateway did not give is the caller's error (400), decided here to keep its class.
    try {
      if (cursor !== null) decodeCursor(cursor);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return this.call({ method: 'query', filters, cursor, limit });
  }

  get(requestId: string): Promise<StoredRequestRecord | null> {
    return this.call({ method: 'get', requestId });
  }

  export(filters: RequestLogFilters): AsyncIterable<StoredRequestRecord> {
    return exportPages((cursor) => this.query(filters, cursor, EXPORT_PAGE));
  }

  stats(
    filters: RequestLogFilters,
    bucket: StatsBucket,
    groupBy: StatsGroupBy | null,
  ): Promise<RequestLogStats> {
    return this.call({ method: 'stats', filters, bucket, groupBy });
  }

  retention(now: number): Promise<RetentionResult> {
    return this.call({ method: 'retention', now });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const worker = this.worker;
    if (worker !== null) await this.call({ method: 'close' }).catch(() => undefined);
    this.closed = true;
    this.worker = null;
    await worker?.terminate();
  }

  private call<T>(call: CallBody): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the request log store is closed'));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ ...call, id });
    });
  }

  private start(): Worker {
    // From dist/ the worker is store-worker.js; under the tests (tsx) it is this folder's .ts file.
    const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    // Named: the thread is `request-log` in /proc/<pid>/task/*/comm, for top -H, taskset and the
    // benchmark (which gives it a CPU of its own, as the database it stands for would have).
    const workerData: StoreWorkerData = {
      ...this.options,
      counters: this.counters.buffer,
      writer: this.writerOptions,
    };
    const worker = new Worker(new URL(`./store-worker${extension}`, import.meta.url), {
      workerData,
      name: 'request-log',
    });
    // The gateway's shutdown closes the store; an idle thread must not keep the process alive.
    worker.unref();
    worker.on('message', (reply: StoreReply) => {
      if ('warning' in reply) {
        this.logger?.warn(reply.fields, reply.warning);
        return;
      }
      const pending = this.pending.get(reply.id);
      if (pending === undefined) return;
      this.pending.delete(reply.id);
      if (reply.ok) pending.resolve(reply.result);
      else pending.reject(new Error(reply.message));
    });
    const fail = (error: Error): void => {
      if (this.worker === worker) {
        this.worker = null;
        // Its rows not yet written are lost; the next thread counts from 0.
        const lost = this.outstanding;
        this.before.written += Number(Atomics.exchange(this.counters, 0, 0n));
        this.before.dropped += Number(Atomics.exchange(this.counters, 1, 0n));
        this.before.failed += Number(Atomics.exchange(this.counters, 2, 0n)) + lost;
        if (lost > 0)
          this.logger?.warn({ records: lost, err: error }, "request log store's thread died: records lost");
      }
      for (const [id, pending] of this.pending) {
        this.pending.delete(id);
        pending.reject(error);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      fail(new Error(`the request log store's thread exited (code ${code})`));
    });
    this.worker = worker;
    return worker;
  }
}
