/**
 * The request log's SQLite store on a thread of its own (threaded-store.ts): better-sqlite3 is
 * synchronous, so on the request thread every batch written (a transaction with the records, their
 * indexes and the rollups) and every query of the admin API would hold up the requests being served.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteRequestLogStore, type SqliteRequestLogStoreOptions } from './sqlite-request-log-store.js';
import type { StoreCall, StoreReply } from './threaded-store.js';

const port = parentPort;
if (port === null) throw new Error('store-worker.ts runs as a worker thread (threaded-store.ts)');
const store = new SqliteRequestLogStore(workerData as SqliteRequestLogStoreOptions);

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
    case 'close':
      return store.close();
  }
}

port.on('message', (call: StoreCall) => {
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
