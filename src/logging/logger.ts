import cluster from 'node:cluster';
import { write } from 'node:fs';
import pino, { type Logger } from 'pino';
import { LogBufferWatch, type LogBufferNotice } from './log-buffer.js';

export interface LoggerOptions {
  readonly level: string;
  /** Human-readable lines (pino-pretty) instead of JSON; the CLI turns it on when stdout is a terminal. */
  readonly pretty: boolean;
  /**
   * Bytes of lines held while stdout is not read (a stuck log collector); lines past it are dropped
   * and counted (logging.max_buffer_bytes).
   */
  readonly maxBufferBytes: number;
}

/** Lines are written in batches of at least this many bytes, or after FLUSH_INTERVAL_MS at the latest. */
const BATCH_BYTES = 4096;
const FLUSH_INTERVAL_MS = 250;

let timeMs = -1;
let timeField = '';

/** pino's isoTime, formatted once per millisecond rather than once per line. */
export function isoTime(): string {
  const now = Date.now();
  if (now !== timeMs) {
    timeMs = now;
    timeField = `,"time":"${new Date(now).toISOString()}"`;
  }
  return timeField;
}

/** Properties of an error that are safe to log: what it is, never what a client or upstream sent. */
const ERROR_FIELDS = [
  'type',
  'message',
  'stack',
  'code',
  'errno',
  'syscall',
  'statusCode',
  'status',
] as const;

/**
 * pino's error serializer copies every enumerable property of an error, and some carry what the
 * client sent (Node's HTTP parser errors: `rawPacket`, the request's raw bytes, API key and prompt
 * included; issue 16, finding 4) or an upstream's headers and body. Only the fields above are kept, at
 * every level; a cause is serialized the same way.
 */
export function serializeError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return error;
  const full = pino.stdSerializers.err(error) as unknown as Record<string, unknown>;
  const safe: Record<string, unknown> = {};
  for (const field of ERROR_FIELDS) if (full[field] !== undefined) safe[field] = full[field];
  if (error.cause !== undefined && depth < 3) safe['cause'] = serializeError(error.cause, depth + 1);
  return safe;
}

/** The serializers of every logger the gateway makes (tests use them too). */
export const LOG_SERIALIZERS = { err: serializeError, error: serializeError };

/**
 * JSON lines on stdout, written asynchronously and in batches so that logging never blocks the event
 * loop and costs few system calls. pino flushes what is buffered when the process exits, unless stdout
 * has stalled. While stdout is not read, at most maxBufferBytes of lines are held; later ones are dropped.
 * Secrets stay out of the logs by construction (nothing logs headers or bodies), which the tests check
 * by grepping captured output.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    // With server.workers > 1, each worker's lines say which worker wrote them.
    base: cluster.isWorker
      ? { service: 'ai-gateway', worker: cluster.worker?.id }
      : { service: 'ai-gateway' },
    timestamp: isoTime,
    serializers: LOG_SERIALIZERS,
  };
  if (options.pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  const destination = pino.destination({
    dest: 1,
    sync: false,
    minLength: BATCH_BYTES,
    maxLength: options.maxBufferBytes,
  });
  const watch = new LogBufferWatch({
    maxBytes: options.maxBufferBytes,
    notify: (notice) => {
      noticeOnStderr(base.base, notice);
    },
  });
  watch.watch(destination);
  // pino flushes synchronously at exit (and after a fatal line): on a pipe nobody reads, that write
  // never returns and SIGTERM never ends the process. Lines that stdout will not take are left.
  const flushSync = destination.flushSync.bind(destination);
  destination.flushSync = () => {
    if (!watch.stalled) flushSync();
  };
  setInterval(() => {
    destination.flush();
    watch.tick();
  }, FLUSH_INTERVAL_MS).unref();
  return pino(base, destination);
}

/**
 * A warning line on stderr, shaped as the log lines are. Written asynchronously: stderr may be the
 * same stuck pipe as stdout (2>&1), and a synchronous write to it would block the event loop.
 */
function noticeOnStderr(base: Record<string, unknown>, notice: LogBufferNotice): void {
  const { msg, ...fields } = notice;
  const line = JSON.stringify({ level: 40, time: new Date().toISOString(), ...base, ...fields, msg });
  write(2, `${line}\n`, () => undefined);
}
