import type { Logger } from 'pino';
import {
  matchesFilters,
  recordOfRow,
  recordRow,
  type RecordRow,
  type RequestLogFilters,
  type RequestLogStore,
} from './request-log-store.js';
import type { RequestRecord } from './request-record.js';

/**
 * A store that takes rows over and writes them itself: the SQLite store's thread, which runs a writer
 * of its own (batches, retries, the bound). The request thread's writer then hands rows over in small
 * chunks, a few milliseconds after each record, and keeps none: rows held until a batch of 500 is full
 * outlive the request thread's young-generation collections and are copied by each of them.
 */
export interface RowSink {
  /** Hands rows over: from now on they are the sink's to write, retry, drop and count. */
  handOver(rows: RecordRow[]): void;
  /** Rows handed over and not yet written, dropped or failed (as last reported). */
  readonly outstanding: number;
  readonly written: number;
  readonly dropped: number;
  readonly failed: number;
  /** Writes what it holds, giving up after `timeoutMs`; resolves with the rows left unwritten. */
  flush(timeoutMs: number): Promise<{ unwritten: number }>;
}

/** Rows per hand-over to a RowSink, and the longest a row waits for its chunk. */
const HANDOVER_ROWS = 64;
const HANDOVER_MS = 10;

export interface RequestLogWriterOptions {
  /** Where batches are written; or a sink (RowSink) that takes the rows over and writes them itself. */
  readonly store: Pick<RequestLogStore, 'writeRows'> | RowSink;
  readonly logger?: Pick<Logger, 'warn'>;
  /** Records waiting at most; past it new ones are dropped and counted. */
  readonly maxBuffered?: number;
  /** Records per write. */
  readonly batchSize?: number;
  /** A partial batch is written after this long. */
  readonly flushIntervalMs?: number;
  /** Tries per batch before it is dropped (and counted as failed). */
  readonly maxAttempts?: number;
  /** First wait before a retry; doubles per failure, up to 10 s. */
  readonly retryDelayMs?: number;
  /** A write that takes longer counts as failed (the store may be stalled, not down). */
  readonly writeTimeoutMs?: number;
  /** close() gives up flushing after this long. */
  readonly closeTimeoutMs?: number;
  readonly maxSubscribers?: number;
  /** Called when written, dropped or failed change (the SQLite store's thread reports them). */
  readonly onCounts?: (counts: {
    readonly written: number;
    readonly dropped: number;
    readonly failed: number;
  }) => void;
}

export type RequestLogListener = (record: RequestRecord) => void;

interface Subscriber {
  readonly filters: RequestLogFilters;
  readonly listener: RequestLogListener;
}

const WARN_EVERY_MS = 10_000;
const MAX_RETRY_DELAY_MS = 10_000;

function settleWithin<T>(promise: Promise<T>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

/**
 * Between the request path and the store (issue 21). add() is O(1), never awaits and never throws: a
 * request must not slow down or fail because its log record can't be written. Records wait in a
 * bounded buffer and go to the store in batches, one write at a time; when the store is slow or down the
 * buffer fills and what doesn't fit is dropped and counted (`dropped`, a warning at most every 10 s).
 * A failed batch is retried with backoff, ahead of newer records, a bounded number of times.
 *
 * A write that times out is retried too, so if the stalled one completes after all, its records are
 * there twice; that is the price of never waiting on a store that may not answer.
 */
export class RequestLogWriter {
  private droppedHere = 0;
  private failedHere = 0;
  private writtenHere = 0;
  private readonly store: Pick<RequestLogStore, 'writeRows'> | null;
  private readonly sink: RowSink | null;
  /** With a sink: the rows not handed over yet (at most HANDOVER_ROWS, for at most HANDOVER_MS). */
  private chunk: RecordRow[] = [];
  private handOverTimer: NodeJS.Timeout | null = null;
  private readonly logger: Pick<Logger, 'warn'> | null;
  private readonly maxBuffered: number;
  private readonly batchSize: number;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly writeTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly maxSubscribers: number;
  private readonly onCounts: RequestLogWriterOptions['onCounts'] | null;
  /**
   * Each record as its row (recordRow: bounded, one flat array): the form the stores insert, so a batch
   * goes to the store as it is, and the cheapest to keep alive on the request thread until then.
   */
  private buffer: RecordRow[] = [];
  /** The batch that failed, retried before anything newer. */
  private retry: { records: RecordRow[]; attempts: number } | null = null;
  private writing: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private pumpScheduled = false;
  private closed = false;
  private lastWarning = -Infinity;
  private interval: NodeJS.Timeout | null = null;
  private readonly subscribers = new Set<Subscriber>();

  constructor(options: RequestLogWriterOptions) {
    this.sink = 'handOver' in options.store ? options.store : null;
    this.store = 'handOver' in options.store ? null : options.store;
    this.logger = options.logger ?? null;
    this.maxBuffered = options.maxBuffered ?? 10_000;
    this.batchSize = options.batchSize ?? 500;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryDelayMs = options.retryDelayMs ?? 500;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.maxSubscribers = options.maxSubscribers ?? 100;
    this.onCounts = options.onCounts ?? null;
    // With a sink there is nothing to pump: rows go over as they come (handOver).
    if (this.store !== null) {
      this.interval = setInterval(() => {
        void this.pump();
      }, options.flushIntervalMs ?? 500);
      this.interval.unref();
    }
  }

  /** Records dropped because the buffer was full (or the writer closed). */
  get dropped(): number {
    return this.droppedHere + (this.sink?.dropped ?? 0);
  }

  /** Records dropped because their batch failed every try. */
  get failed(): number {
    return this.failedHere + (this.sink?.failed ?? 0);
  }

  get written(): number {
    return this.writtenHere + (this.sink?.written ?? 0);
  }

  /** Records waiting to be written (not counting a batch being written or retried). */
  get buffered(): number {
    return this.buffer.length + this.chunk.length + (this.sink?.outstanding ?? 0);
  }

  add(record: RequestRecord): void {
    try {
      if (this.refused()) return;
      const row = recordRow(record);
      // The live tail sees the record as it is stored (bounded); built only when someone is watching.
      if (this.subscribers.size > 0) this.notify(recordOfRow(row));
      this.accept(row);
    } catch {
      this.droppedHere += 1;
    }
  }

  /** A record already as its row (recordRow): what the SQLite store's thread is handed. */
  addRow(row: RecordRow): void {
    if (!this.refused()) this.accept(row);
  }

  /** Closed or full: the record is dropped and counted. */
  private refused(): boolean {
    if (!this.closed && this.buffered < this.maxBuffered) return false;
    this.droppedHere += 1;
    this.onCounts?.(this);
    this.warn(
      this.closed ? 'request log closed: records dropped' : 'request log buffer full: records dropped',
    );
    return true;
  }

  private accept(row: RecordRow): void {
    if (this.sink !== null) {
      this.chunk.push(row);
      if (this.chunk.length >= HANDOVER_ROWS) this.handOver();
      else if (this.handOverTimer === null) {
        this.handOverTimer = setTimeout(() => {
          this.handOver();
        }, HANDOVER_MS);
        this.handOverTimer.unref();
      }
      return;
    }
    this.buffer.push(row);
    if (this.buffer.length >= this.batchSize && !this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        void this.pump();
      });
    }
  }

  /** Gives the sink the rows waiting for it. */
  private handOver(): void {
    if (this.handOverTimer !== null) clearTimeout(this.handOverTimer);
    this.handOverTimer = null;
    if (this.chunk.length === 0 || this.sink === null) return;
    const rows = this.chunk;
    this.chunk = [];
    try {
      this.sink.handOver(rows);
    } catch (error) {
      this.droppedHere += rows.length;
      this.warn('request log store unavailable: records dropped', error);
    }
  }

  /**
   * Calls `listener` with each record added from now on that matches `filters` (the live tail). Null
   * when there are already as many subscribers as allowed; otherwise the function that unsubscribes.
   */
  subscribe(filters: RequestLogFilters, listener: RequestLogListener): (() => void) | null {
    if (this.subscribers.size >= this.maxSubscribers) return null;
    const subscriber = { filters, listener };
    this.subscribers.add(subscriber);
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /**
   * Stops taking records and writes what is buffered, giving up after closeTimeoutMs; the records left
   * are counted as dropped. Resolves, never rejects.
   */
  async close(timeoutMs = this.closeTimeoutMs): Promise<{ unwritten: number }> {
    this.closed = true;
    if (this.interval !== null) clearInterval(this.interval);
    if (this.sink !== null) {
      this.handOver();
      this.subscribers.clear();
      const sink = this.sink;
      // Bounded here too: the sink's thread may be stuck in a write.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<{ unwritten: number }>((resolve) => {
        timer = setTimeout(() => {
          resolve({ unwritten: sink.outstanding });
        }, timeoutMs + 1000);
      });
      try {
        return await Promise.race([
          sink.flush(timeoutMs).catch(() => ({ unwritten: sink.outstanding })),
          late,
        ]);
      } finally {
        clearTimeout(timer);
      }
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const write = this.pump(true);
      if (write === null) break;
      if (!(await settleWithin(write, left))) break;
    }
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    const unwritten = this.buffer.length + (this.retry?.records.length ?? 0);
    this.droppedHere += unwritten;
    this.onCounts?.(this);
    this.buffer = [];
    this.retry = null;
    this.subscribers.clear();
    return { unwritten };
  }

  /**
   * Starts the next write unless one is running (or a retry is waiting out its delay, unless `now`);
   * returns the running write, or null when there is nothing to write.
   */
  private pump(now = false): Promise<void> | null {
    if (this.writing !== null) return this.writing;
    if (this.store === null) return null;
    if (this.retryTimer !== null) {
      if (!now) return null;
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    let batch = this.retry;
    if (batch === null) {
      if (this.buffer.length === 0) return null;
      batch = { records: this.buffer.splice(0, this.batchSize), attempts: 0 };
    }
    this.retry = null;
    const taken = batch;
    this.writing = this.writeBatch(taken.records).then(
      () => {
        this.writing = null;
        this.writtenHere += taken.records.length;
        this.onCounts?.(this);
        if (this.buffer.length >= this.batchSize && !this.closed) void this.pump();
      },
      (error: unknown) => {
        this.writing = null;
        const attempts = taken.attempts + 1;
        if (attempts >= this.maxAttempts) {
          this.failedHere += taken.records.length;
          this.onCounts?.(this);
          this.warn('request log batch failed every try: records dropped', error);
          return;
        }
        this.retry = { records: taken.records, attempts };
        if (this.closed) return;
        const delay = Math.min(MAX_RETRY_DELAY_MS, this.retryDelayMs * 2 ** (attempts - 1));
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          void this.pump();
        }, delay);
        this.retryTimer.unref();
      },
    );
    return this.writing;
  }

  private async writeBatch(rows: RecordRow[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`request log store did not answer within ${this.writeTimeoutMs} ms`));
      }, this.writeTimeoutMs);
      timer.unref();
    });
    // Through then(), so a store that throws instead of rejecting is a failed write too.
    const store = this.store;
    if (store === null) throw new Error('no store to write to');
    const write = Promise.resolve().then(() => store.writeRows(rows));
    // A write given up on at the timeout may still fail later; nobody is waiting for it then.
    write.catch(() => undefined);
    try {
      await Promise.race([write, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private notify(record: RequestRecord): void {
    for (const subscriber of this.subscribers) {
      if (!matchesFilters(record, subscriber.filters)) continue;
      try {
        subscriber.listener(record);
      } catch {
        // A broken live-tail client must not cost the record or the request.
      }
    }
  }

  private warn(message: string, error?: unknown): void {
    const now = Date.now();
    if (this.logger === null || now - this.lastWarning < WARN_EVERY_MS) return;
    this.lastWarning = now;
    this.logger.warn(
      { dropped: this.dropped, failed: this.failed, buffered: this.buffered, err: error },
      message,
    );
  }
}
