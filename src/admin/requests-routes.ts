/**
 * The request log's admin API (issue 21): a page of records, one record, an export (NDJSON or CSV,
 * streamed), a live tail (server-sent events) and stats. Guarded by the admin token like every /admin
 * route; 404 when request_log.enabled is false. The filters are parsed here, by pure functions, so that
 * a bad value is a 400 naming its parameter; the CLI (`ai-gateway logs`) parses its flags with them too.
 */
import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  RequestLogExportQuerySchema,
  RequestLogIdParamsSchema,
  RequestLogPageSchema,
  RequestLogQuerySchema,
  RequestLogStatsQuerySchema,
  RequestLogStatsSchema,
  RequestLogStreamQuerySchema,
  RequestRecordSchema,
  type RequestLogExportQueryString,
  type RequestLogQueryString,
  type RequestLogStatsQueryString,
  type RequestLogStreamQueryString,
} from '../api/request-log-schemas.js';
import { GatewayError, InvalidRequestError, ServiceUnavailableError } from '../errors/errors.js';
import type { RequestLog } from '../request-log/request-log.js';
import {
  HOUR_MS,
  MAX_PAGE,
  MINUTE_MS,
  RECORD_COLUMNS,
  type RequestLogFilters,
  type RequestLogStore,
  type StatsBucket,
  type StatsGroupBy,
  type StatusClass,
} from '../request-log/request-log-store.js';
import type { CacheStatus, RequestRecord, StoredRequestRecord } from '../request-log/request-record.js';
import type { GatewayContext } from '../server/context.js';
import { errorResponses } from '../server/routes/openapi-fragments.js';
import { CONTROL_CHARACTER } from '../usage/usage-rows.js';

/** The query parameters that are filters, as the routes and the CLI send them (all strings). */
export type FilterParams = Partial<Record<keyof RequestLogFilters | 'status', string>>;

const CACHE_STATUSES: readonly CacheStatus[] = ['HIT', 'MISS', 'BYPASS'];
const ISO_TIME =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?<zone>Z|[+-]\d{2}:?\d{2})?)?$/i;

function invalid(param: string, detail: string): InvalidRequestError {
  return new InvalidRequestError(`${param}: ${detail}`, { param });
}

/**
 * A time as the API takes it: ms since the epoch, or an ISO 8601 date or date-time (UTC when it has no
 * offset, as in GET /admin/usage; JavaScript would read it as local time).
 */
export function parseInstant(text: string, param: string): number {
  if (/^\d{1,16}$/.test(text)) return Number(text);
  const match = ISO_TIME.exec(text);
  const time =
    match === null
      ? Number.NaN
      : Date.parse(match.groups?.['zone'] === undefined && text.length > 10 ? `${text}Z` : text);
  if (!Number.isFinite(time))
    throw invalid(
      param,
      `'${text.slice(0, 40)}' is not a time; write ms since the epoch or an ISO 8601 date-time (2026-11-27T14:02:00Z)`,
    );
  return time;
}

function parseCount(text: string, param: string, min: number, max: number): number {
  if (!/^\d{1,12}$/.test(text) || Number(text) < min || Number(text) > max)
    throw invalid(param, `'${text.slice(0, 20)}' is not a whole number from ${min} to ${max}`);
  return Number(text);
}

/** The filters of a query string; 400 naming the parameter that is wrong. */
export function parseFilters(params: FilterParams): RequestLogFilters {
  const filters: { -readonly [K in keyof RequestLogFilters]: RequestLogFilters[K] } = {};
  for (const name of ['key', 'team', 'model', 'backend', 'error_code', 'request_id'] as const) {
    const value = params[name];
    if (value !== undefined) {
      if (value === '') throw invalid(name, 'must not be empty');
      filters[name] = value;
    }
  }
  if (params.status !== undefined) {
    const status = params.status.toLowerCase();
    if (/^[1-5]xx$/.test(status)) filters.status_class = status as StatusClass;
    else if (/^[1-5]\d\d$/.test(status)) filters.status = Number(status);
    else
      throw invalid(
        'status',
        `'${params.status}' is neither a status (100–599) nor a class (1xx, 2xx, 3xx, 4xx, 5xx)`,
      );
  }
  if (params.cache !== undefined) {
    const cache = params.cache.toUpperCase() as CacheStatus;
    if (!CACHE_STATUSES.includes(cache))
      throw invalid('cache', `'${params.cache}' is not one of HIT, MISS, BYPASS`);
    filters.cache = cache;
  }
  if (params.from !== undefined) filters.from = parseInstant(params.from, 'from');
  if (params.to !== undefined) filters.to = parseInstant(params.to, 'to');
  if (filters.from !== undefined && filters.to !== undefined && filters.to <= filters.from)
    throw invalid('to', 'must be after from');
  if (params.min_duration_ms !== undefined)
    filters.min_duration_ms = parseCount(params.min_duration_ms, 'min_duration_ms', 0, 86_400_000);
  return filters;
}

function filterParams(query: Record<string, string | undefined>): FilterParams {
  const {
    limit: _limit,
    cursor: _cursor,
    format: _format,
    bucket: _bucket,
    group_by: _group,
    ...rest
  } = query;
  return rest;
}

export function parseLimit(text: string | undefined): number {
  return text === undefined ? 50 : parseCount(text, 'limit', 1, MAX_PAGE);
}

export interface StatsParams {
  readonly filters: RequestLogFilters;
  readonly bucket: StatsBucket;
  readonly groupBy: StatsGroupBy | null;
}

/** At most this many buckets in one answer (per group): 7 days of minutes, 400 days of hours. */
const MAX_SPAN: Record<StatsBucket, number> = { minute: 7 * 86_400_000, hour: 400 * 86_400_000 };

/**
 * bucket, group_by and the time range of GET /admin/stats. Without from and to: the last 24 hours in
 * whole hours (so that the rollups can answer), or the last hour of minutes.
 */
export function parseStatsParams(query: RequestLogStatsQueryString, now: number): StatsParams {
  const bucket = query.bucket ?? 'hour';
  if (bucket !== 'minute' && bucket !== 'hour') throw invalid('bucket', `'${bucket}' is not minute or hour`);
  const groupBy = query.group_by ?? null;
  if (groupBy !== null && groupBy !== 'model' && groupBy !== 'key' && groupBy !== 'backend')
    throw invalid('group_by', `'${groupBy}' is not model, key or backend`);
  const filters = parseFilters(filterParams(query));
  const size = bucket === 'hour' ? HOUR_MS : MINUTE_MS;
  const to = filters.to ?? Math.ceil((now + 1) / size) * size;
  const from = filters.from ?? to - (bucket === 'hour' ? 24 * HOUR_MS : HOUR_MS);
  if (to <= from) throw invalid('from', 'must be before to');
  if (to - from > MAX_SPAN[bucket])
    throw invalid(
      'from',
      `from to to spans more than ${MAX_SPAN[bucket] / 86_400_000} days of ${bucket}s; narrow it or use bucket=hour`,
    );
  return { filters: { ...filters, from, to }, bucket, groupBy };
}

/** The columns of the CSV export: the store's id, then the record's columns in the store's order. */
export const EXPORT_COLUMNS = ['id', ...RECORD_COLUMNS] as const;

const CONTROLS_BUT_LINE_BREAKS = new RegExp(
  `(?![\\r\\n\\t])${CONTROL_CHARACTER.source}`,
  CONTROL_CHARACTER.flags + 'g',
);

/**
 * One CSV field (RFC 4180): a number as it is, null as empty, attempts as JSON, text quoted when it has
 * a comma, a quote or a line break (prompts have them). Text a spreadsheet would run as a formula (it
 * starts with =, +, - or @) gets a leading single quote, and control characters other than line breaks
 * and tabs are left out, as in the usage CSV (src/usage/usage-rows.ts): clients choose these strings.
 */
export function csvField(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null || value === undefined) return '';
  let text = (typeof value === 'string' ? value : JSON.stringify(value)).replace(
    CONTROLS_BUT_LINE_BREAKS,
    '',
  );
  if (/^[=+\-@]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const CSV_HEADER = `${EXPORT_COLUMNS.join(',')}\r\n`;

export function csvLine(record: StoredRequestRecord): string {
  const row = record as unknown as Record<string, unknown>;
  return `${EXPORT_COLUMNS.map((column) => csvField(row[column])).join(',')}\r\n`;
}

/** One server-sent event per record (the store's id is not known yet: it is not written). */
export function sseEvent(record: RequestRecord): string {
  return `event: request\nid: ${record.request_id}\ndata: ${JSON.stringify(record)}\n\n`;
}

/** Heartbeats keep proxies and load balancers from closing an idle live tail. */
const HEARTBEAT_MS = 15_000;
/** A live-tail client this far behind (bytes not yet taken by its socket) is disconnected. */
const MAX_TAIL_BACKLOG = 1 << 20;
/** How long a request waits for the store's schema at start before answering 503. */
const READY_WAIT_MS = 2000;

class RequestLogDisabledError extends GatewayError {
  constructor() {
    super(
      'not_found',
      'The request log is disabled on this gateway (request_log.enabled: false); enable it to use /admin/requests and /admin/stats',
    );
  }
}

class RequestNotFoundError extends GatewayError {
  constructor(id: string) {
    super('not_found', `No request with the id '${id}' is in the request log`, { param: 'id' });
  }
}

/** The store once its schema is in place; 503 when it is still unavailable after a short wait. */
async function readyStore(log: RequestLog): Promise<RequestLogStore> {
  let timer: NodeJS.Timeout | undefined;
  const ready = await Promise.race([
    log.ready.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        resolve(false);
      }, READY_WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (!ready)
    throw new ServiceUnavailableError(
      'The request log store is unavailable (its schema is not in place yet); retry shortly',
      1,
    );
  return log.store;
}

/** Store failures are 503 (retry); the store's own 400s (a bad cursor) pass as they are. */
async function fromLogStore<T>(
  log: RequestLog,
  operation: (store: RequestLogStore) => Promise<T>,
): Promise<T> {
  const store = await readyStore(log);
  try {
    return await operation(store);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new ServiceUnavailableError(
      `The request log store is unavailable (${error instanceof Error ? error.message : String(error)}); retry shortly`,
      1,
    );
  }
}

const tags = ['Admin'];
const security = [{ adminToken: [] }];

/**
 * GET /admin/requests, /admin/requests/export, /admin/requests/stream, /admin/requests/{id} and
 * /admin/stats. `guard` is the admin-token check of the other admin routes.
 */
export function registerRequestLogRoutes(
  app: FastifyInstance,
  context: GatewayContext,
  guard: (request: FastifyRequest) => Promise<void>,
): void {
  app.addSchema(RequestRecordSchema);
  const log = (): RequestLog => {
    if (context.requestLog === null) throw new RequestLogDisabledError();
    return context.requestLog;
  };
  // Live tails end when the gateway shuts down, or they would hold it until the grace period.
  const tails = new Set<() => void>();
  app.addHook('preClose', (done) => {
    for (const end of tails) end();
    done();
  });

  app.get<{ Querystring: RequestLogQueryString }>(
    '/admin/requests',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'Request log: a page of records, newest first, filtered',
        description:
          'Records appear within request_log.batch.interval_ms (500 ms by default) of the request ending. ' +
          'Pages are newest first; pass next_cursor as cursor for the next, older page.',
        querystring: RequestLogQuerySchema,
        response: { 200: RequestLogPageSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const requestLog = log();
      const filters = parseFilters(filterParams(request.query));
      const limit = parseLimit(request.query.limit);
      const page = await fromLogStore(requestLog, (store) =>
        store.query(filters, request.query.cursor ?? null, limit),
      );
      return reply
        .type('application/json')
        .send(JSON.stringify({ data: page.records, next_cursor: page.next_cursor }));
    },
  );

  app.get<{ Querystring: RequestLogExportQueryString }>(
    '/admin/requests/export',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'Request log: every matching record, newest first, as NDJSON or CSV (streamed)',
        description:
          'CSV (RFC 4180) has a header line; attempts are one JSON column; text that a spreadsheet would ' +
          'run as a formula starts with a single quote. The export is read page by page: it never holds more than a page in memory.',
        querystring: RequestLogExportQuerySchema,
        response: {
          200: {
            description: 'The records',
            content: {
              'application/x-ndjson': { schema: { type: 'string', description: 'One record per line' } },
              'text/csv': { schema: { type: 'string', description: 'A header line, one line per record' } },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const requestLog = log();
      const format = request.query.format ?? 'ndjson';
      if (format !== 'ndjson' && format !== 'csv')
        throw invalid('format', `'${format}' is not ndjson or csv`);
      const filters = parseFilters(filterParams(request.query));
      // The first record is read before the answer starts: a store that is down is a 503, not a cut stream.
      const records = await fromLogStore(requestLog, async (store) => {
        const iterator = store.export(filters)[Symbol.asyncIterator]();
        return { iterator, first: await iterator.next() };
      });
      const line =
        format === 'csv' ? csvLine : (record: StoredRequestRecord) => `${JSON.stringify(record)}\n`;
      async function* lines(): AsyncGenerator<string> {
        if (format === 'csv') yield CSV_HEADER;
        let next = records.first;
        while (next.done !== true) {
          yield line(next.value);
          next = await records.iterator.next();
        }
      }
      // Readable.from pulls a line only when the socket has taken the previous ones (backpressure); when
      // the client leaves, the stream is destroyed and the generator returns, ending the store's reads.
      const body = Readable.from(lines(), { objectMode: false });
      body.on('error', (error) => {
        request.log.warn({ detail: error.message }, 'request log export failed part way');
      });
      const date = new Date().toISOString().slice(0, 10);
      return reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8; header=present' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="requests-${date}.${format}"`)
        .send(body);
    },
  );

  app.get<{ Querystring: RequestLogStreamQueryString }>(
    '/admin/requests/stream',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'Request log: a live tail of new records, filtered, as server-sent events',
        description:
          'Each record as an event `request` (data: the record as JSON, without the store id) as the ' +
          'request ends, before it is written; a comment every 15 s keeps the connection open. 503 when ' +
          'the gateway already has its maximum of live tails (100).',
        querystring: RequestLogStreamQuerySchema,
        response: {
          200: {
            description: 'The events',
            content: { 'text/event-stream': { schema: { type: 'string' } } },
          },
          ...errorResponses,
        },
      },
    },
    (request, reply) => {
      const requestLog = log();
      const filters = parseFilters(request.query);
      const stream = new PassThrough();
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        unsubscribe?.();
        clearInterval(heartbeat);
        tails.delete(end);
        stream.end();
      };
      const unsubscribe = requestLog.writer.subscribe(filters, (record) => {
        if (ended) return;
        // A client that does not read must not make the gateway hold its records without end.
        if (stream.writableLength > MAX_TAIL_BACKLOG) {
          stream.write(': too far behind; closing\n\n');
          end();
          return;
        }
        stream.write(sseEvent(record));
      });
      if (unsubscribe === null)
        throw new ServiceUnavailableError(
          'The gateway has as many live tails of the request log as it allows; retry later',
          5,
        );
      const heartbeat = setInterval(() => {
        stream.write(': heartbeat\n\n');
      }, HEARTBEAT_MS);
      heartbeat.unref();
      tails.add(end);
      reply.raw.once('close', end);
      stream.on('error', end);
      // Sent at once, so that the client knows it is subscribed (and proxies see the headers).
      stream.write(': subscribed\n\n');
      return sendEvents(reply, stream);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/requests/:id',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'Request log: one request, by its request id, with its attempts',
        params: RequestLogIdParamsSchema,
        response: { 200: { $ref: 'RequestRecord' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const requestLog = log();
      const id = request.params.id;
      const record = await fromLogStore(requestLog, (store) => store.get(id));
      if (record === null) throw new RequestNotFoundError(id);
      return reply.type('application/json').send(JSON.stringify(record));
    },
  );

  app.get<{ Querystring: RequestLogStatsQueryString }>(
    '/admin/stats',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary:
          'Request log stats per minute or hour: requests, errors, p50/p95 latency and time to first byte, tokens, cost, cache hit ratio',
        description:
          'Without from and to: the last 24 hours (bucket=hour) or the last hour (bucket=minute). Hourly ' +
          'buckets over whole hours, filtered by at most one of key, model and backend (the grouped one ' +
          'when there is a group_by), are read from the rollups (source: rollup); anything else from ' +
          'the records. Percentiles are interpolated in fixed histogram buckets.',
        querystring: RequestLogStatsQuerySchema,
        response: { 200: RequestLogStatsSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const requestLog = log();
      const { filters, bucket, groupBy } = parseStatsParams(request.query, Date.now());
      const stats = await fromLogStore(requestLog, (store) => store.stats(filters, bucket, groupBy));
      return reply.type('application/json').send(
        JSON.stringify({
          source: stats.source,
          from: filters.from,
          to: filters.to,
          bucket,
          group_by: groupBy,
          data: stats.rows,
        }),
      );
    },
  );
}

function sendEvents(reply: FastifyReply, stream: PassThrough): FastifyReply {
  return reply
    .type('text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('x-accel-buffering', 'no')
    .send(stream);
}
