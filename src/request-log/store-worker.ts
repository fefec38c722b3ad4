/**
 * The request log's SQLite store on a thread of its own (threaded-store.ts): better-sqlite3 is
 * synchronous, so on the request thread every batch written (a transaction with the records, their
 * indexes and the rollups) and every query of the admin API would hold up the requests being served.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteRequestLogStore } from './sqlite-request-log-store.js';
import type { HandOver, StoreCall, StoreReply, StoreWorkerData } from './threaded-store.js';
import { RequestLogWriter } from './writer.js';

const port = parentPort;
if (port === null) throw new Error('store-worker.ts runs as a worker thread (threaded-store.ts)');
const data = workerData as StoreWorkerData;
const store = new SqliteRequestLogStore(data);
const counters = new BigInt64Array(data.counters);

/**
 * The writer of the rows the request thread hands over (ThreadedRequestLogStore.handOver): batches,
 * retries and the bound, as on the request thread for PostgreSQL; its counts go to shared memory, its
 * warnings to the request thread's log.
 */
const writer = new RequestLogWriter({
  store,
  ...data.writer,
  logger: {
    warn(fields: unknown, message?: string) {
      const { err, ...rest } = (fields ?? {}) as Record<string, unknown>;
      port.postMessage({
        warning: message ?? '',
        fields: { ...rest, ...(err instanceof Error ? { detail: err.message } : {}) },
      } satisfies StoreReply);
    },
  },
  onCounts({ written, dropped, failed }) {
    Atomics.store(counters, 0, BigInt(written));
    Atomics.store(counters, 1, BigInt(dropped));
    Atomics.store(counters, 2, BigInt(failed));
  },
});

/**
 * How much nicer this thread is than the request thread, on Linux: when the CPU is contended, the
 * scheduler gives the requests being served (and the other programs on the machine) the CPU first, and
 * the log its writes in what is left, catching up when the load eases; if it can't, its buffer fills and
 * records are dropped and counted, as when the store is slow. At 10 a thread weighs about a tenth of a
 * normal one. Added to the process's own (a gateway started with `nice` keeps the difference), at most 19.
 */
const STORE_THREAD_NICER = 10;

/**
 * Lowers this thread's priority alone: on Linux a thread has its own nice value, set through its thread
 * id (/proc/thread-self names it). Elsewhere the same call would lower the whole process, so it is not
 * made; where it is not allowed, the thread keeps the normal priority.
 */
function lowerPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    if (Number.isInteger(threadId) && threadId > 0 && threadId !== process.pid)
      setPriority(threadId, Math.min(19, getPriority(process.pid) + STORE_THREAD_NICER));
  } catch {
    // No /proc, or not permitted: normal priority, which is only less polite.
  }
}
lowerPriority();

async function answer(call: StoreCall): Promise<unknown> {
  switch (call.method) {
    case 'migrate':
      return store.migrate();
    case 'write':
      return store.writeRows(call.rows);
    case 'query':
      return store.query(call.filters, call.cursor, call.limit);
    case 'get':
      return store.get(call.requestId);
    case 'stats':
      return store.stats(call.filters, call.bucket, call.groupBy);
    case 'retention':
      return store.retention(call.now);
    case 'flush':
      return writer.close(call.timeoutMs);
    case 'close':
      await writer.close(0);
      return store.close();
  }
}

port.on('message', (call: StoreCall | HandOver) => {
  if (call.method === 'rows') {
    for (const row of call.rows) writer.addRow(row);
    return;
  }
  answer(call).then(
    (result) => {
      port.postMessage({ id: call.id, ok: true, result } satisfies StoreReply);
    },
    (error: unknown) => {
      port.postMessage({
        id: call.id,
        ok: false,
        message: error instanceof Error ? error.message : String(error),
      } satisfies StoreReply);
    },
  );
});
