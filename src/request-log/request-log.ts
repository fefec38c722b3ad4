/**
 * The request log as the gateway runs it (issue 21): the store the config names (SQLite in the state
 * directory, or PostgreSQL), its migrations applied in the background (a store that is down at start
 * does not stop the gateway: records wait in the writer's buffer, then are dropped and counted), the
 * writer between the request path and the store, and retention once an hour.
 */
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/config.js';
import { PostgresRequestLogStore } from './postgres-request-log-store.js';
import type { RequestLogStore } from './request-log-store.js';
import { ThreadedRequestLogStore } from './threaded-store.js';
import { RequestLogWriter } from './writer.js';

const RETENTION_EVERY_MS = 3_600_000;
const MIGRATE_RETRY_MS = 5_000;

export interface RequestLog {
  readonly store: RequestLogStore;
  readonly writer: RequestLogWriter;
  /** Resolves once the store's schema is in place (retried until then). */
  readonly ready: Promise<void>;
  /** Flushes the writer (bounded) and closes the store. */
  close(): Promise<void>;
}

export function openRequestLog(config: GatewayConfig, logger: Logger): RequestLog | null {
  const settings = config.requestLog;
  if (!settings.enabled) return null;
  const batches = {
    batchSize: settings.batchSize,
    flushIntervalMs: settings.flushIntervalMs,
    maxBuffered: settings.maxBuffered,
  };
  let store: RequestLogStore;
  let writer: RequestLogWriter;
  if (settings.store === 'postgres' && settings.postgresUrl !== null) {
    store = new PostgresRequestLogStore({ url: settings.postgresUrl, retentionDays: settings.retentionDays });
    writer = new RequestLogWriter({ store, logger, ...batches });
  } else {
    // On a thread of its own: better-sqlite3 is synchronous. The thread batches the rows too, so the
    // request thread only hands them over (threaded-store.ts).
    const threaded = new ThreadedRequestLogStore(
      { stateDir: config.server.stateDir, retentionDays: settings.retentionDays },
      { ...batches, logger },
    );
    store = threaded;
    writer = new RequestLogWriter({ store: threaded, logger, maxBuffered: settings.maxBuffered });
  }
  let closed = false;
  let retryTimer: NodeJS.Timeout | null = null;
  const ready = new Promise<void>((resolve) => {
    const attempt = (): void => {
      store.migrate().then(resolve, (error: unknown) => {
        if (closed) return;
        logger.error(
          { detail: error instanceof Error ? error.message : String(error), store: settings.store },
          'request log store unavailable: its schema could not be applied; retrying (records wait, then are dropped)',
        );
        retryTimer = setTimeout(attempt, MIGRATE_RETRY_MS);
        retryTimer.unref();
      });
    };
    attempt();
  });
  const retention = setInterval(() => {
    void ready
      .then(() => store.retention(Date.now()))
      .catch((error: unknown) => {
        logger.warn(
          { detail: error instanceof Error ? error.message : String(error) },
          'request log retention failed; it runs again in an hour',
        );
      });
  }, RETENTION_EVERY_MS);
  retention.unref();
  // Once at start too, after the schema: a gateway restarted daily still drops old data.
  void ready.then(() => store.retention(Date.now())).catch(() => undefined);
  return {
    store,
    writer,
    ready,
    async close() {
      closed = true;
      clearInterval(retention);
      if (retryTimer !== null) clearTimeout(retryTimer);
      const { unwritten } = await writer.close();
      if (unwritten > 0)
        logger.error(
          { records: unwritten },
          'request log store unavailable at shutdown: these records are lost',
        );
      await store.close().catch(() => undefined);
    },
  };
}
