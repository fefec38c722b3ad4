/**
 * The request log's storage seam (issue 21): one interface, a SQLite and a PostgreSQL implementation,
 * run through one contract suite (request-log-store.test.ts). Everything here is plain data and pure
 * functions that both stores share: filters, the cursor, the filter SQL, stats assembly.
 */
import { InvalidRequestError } from '../errors/errors.js';
import { type CacheStatus, type RequestRecord, type StoredRequestRecord } from './request-record.js';
import type { RollupInput } from './rollup.js';

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

/** All optional; every one given must match. Times in ms since the epoch, `from` ≤ time < `to`. */
export interface RequestLogFilters {
  readonly key?: string;
  readonly team?: string;
  /** The model the client asked for. */
  readonly model?: string;
  readonly backend?: string;
  readonly status?: number;
  readonly status_class?: StatusClass;
  readonly error_code?: string;
  readonly cache?: CacheStatus;
  readonly from?: number;
  readonly to?: number;
  readonly min_duration_ms?: number;
  readonly request_id?: string;
}

export interface RequestLogPage {
  /** Newest first: by time, then by the store's id. */
  readonly records: StoredRequestRecord[];
  /** Pass back for the next (older) page; null when this page is the last. */
  readonly next_cursor: string | null;
}

export type StatsBucket = 'minute' | 'hour';
export type StatsGroupBy = 'model' | 'key' | 'backend';

export interface StatsRow {
  /** Start of the minute or hour, ms since the epoch. */
  readonly bucket_start: number;
  /** The model, key id or backend; null when not grouped (or the record had none). */
  readonly group: string | null;
  readonly requests: number;
  readonly errors: number;
  readonly duration_p50_ms: number | null;
  readonly duration_p95_ms: number | null;
  readonly ttfb_p50_ms: number | null;
  readonly ttfb_p95_ms: number | null;
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly cached_tokens: number;
  readonly reasoning_tokens: number;
  readonly cost_micros: number;
  /** HIT / (HIT + MISS); null when no request consulted the cache. */
  readonly cache_hit_ratio: number | null;
}

export interface RequestLogStats {
  /** `rollup` when the hourly rollups could answer; `records` when the rows had to be read. */
  readonly source: 'rollup' | 'records';
  /** Oldest bucket first; within a bucket, by group. */
  readonly rows: StatsRow[];
}

export interface RetentionResult {
  readonly deleted_rows: number;
  readonly dropped_partitions: readonly string[];
}

export interface RequestLogStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies the migrations not yet recorded in schema_migrations; safe to call from several instances. */
  migrate(): Promise<void>;
  /** Writes a batch (records already bounded by the writer) and updates the hourly rollups, all or none. */
  write(records: readonly RequestRecord[]): Promise<void>;
  /** Newest first; `cursor` from a previous page's next_cursor (an invalid one is a 400 naming `cursor`). */
  query(filters: RequestLogFilters, cursor: string | null, limit: number): Promise<RequestLogPage>;
  /** The newest record with that request id. */
  get(requestId: string): Promise<StoredRequestRecord | null>;
  /** Every matching record, newest first, read page by page (never all in memory). */
  export(filters: RequestLogFilters): AsyncIterable<StoredRequestRecord>;
  stats(
    filters: RequestLogFilters,
    bucket: StatsBucket,
    groupBy: StatsGroupBy | null,
  ): Promise<RequestLogStats>;
  /** Drops what is older than the retention (days, from the constructor) before `now`. */
  retention(now: number): Promise<RetentionResult>;
  close(): Promise<void>;
}

export const MAX_PAGE = 1000;
export const EXPORT_PAGE = 1000;
export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

export function clampLimit(limit: number): number {
  return Number.isFinite(limit) ? Math.min(MAX_PAGE, Math.max(1, Math.floor(limit))) : 50;
}

export interface RequestLogCursor {
  readonly time: number;
  readonly id: number;
}

/** Opaque to clients: base64url of "time.id", the position of the last record of a page. */
export function encodeCursor(cursor: RequestLogCursor): string {
  return Buffer.from(`${cursor.time}.${cursor.id}`).toString('base64url');
}

export function decodeCursor(text: string): RequestLogCursor {
  const match = /^(\d{1,16})\.(\d{1,16})$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (match === null) {
    throw new InvalidRequestError('cursor is not one this gateway gave; pass next_cursor as it was', {
      param: 'cursor',
    });
  }
  return { time: Number(match[1]), id: Number(match[2]) };
}

function statusRange(statusClass: StatusClass): readonly [number, number] {
  const first = Number(statusClass[0]) * 100;
  return [first, first + 99];
}

/** The filters as a predicate over one record: the live tail's filter, and the tests' oracle. */
export function matchesFilters(record: RequestRecord, filters: RequestLogFilters): boolean {
  if (filters.key !== undefined && record.key_id !== filters.key) return false;
  if (filters.team !== undefined && record.team !== filters.team) return false;
  if (filters.model !== undefined && record.model !== filters.model) return false;
  if (filters.backend !== undefined && record.backend !== filters.backend) return false;
  if (filters.status !== undefined && record.status !== filters.status) return false;
  if (filters.status_class !== undefined) {
    const [low, high] = statusRange(filters.status_class);
    if (record.status < low || record.status > high) return false;
  }
  if (filters.error_code !== undefined && record.error_code !== filters.error_code) return false;
  if (filters.cache !== undefined && record.cache !== filters.cache) return false;
  if (filters.from !== undefined && record.time < filters.from) return false;
  if (filters.to !== undefined && record.time >= filters.to) return false;
  if (filters.min_duration_ms !== undefined && record.duration_ms < filters.min_duration_ms) return false;
  if (filters.request_id !== undefined && record.request_id !== filters.request_id) return false;
  return true;
}

export interface SqlWhere {
  readonly sql: string;
  readonly params: unknown[];
}

/**
 * The filters as a WHERE clause over request_log's columns (the same in both stores); `placeholder`
 * makes the n-th (1-based) parameter marker: `?` for SQLite, `$n` for PostgreSQL.
 */
export function whereSql(
  filters: RequestLogFilters,
  cursor: RequestLogCursor | null,
  placeholder: (index: number) => string,
): SqlWhere {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const add = (template: (marker: string) => string, value: unknown): void => {
    params.push(value);
    clauses.push(template(placeholder(params.length)));
  };
  if (filters.key !== undefined) add((p) => `key_id = ${p}`, filters.key);
  if (filters.team !== undefined) add((p) => `team = ${p}`, filters.team);
  if (filters.model !== undefined) add((p) => `model = ${p}`, filters.model);
  if (filters.backend !== undefined) add((p) => `backend = ${p}`, filters.backend);
  // Status is indexed by its class, (status / 100, time): a class is then one index range already in
  // time order (a range over status itself would have to be sorted), and an exact status narrows it.
  if (filters.status !== undefined) {
    add((p) => `status / 100 = ${p}`, Math.floor(filters.status / 100));
    add((p) => `status = ${p}`, filters.status);
  }
  if (filters.status_class !== undefined) {
    add((p) => `status / 100 = ${p}`, Number(filters.status_class[0]));
  }
  if (filters.error_code !== undefined) add((p) => `error_code = ${p}`, filters.error_code);
  if (filters.cache !== undefined) add((p) => `cache = ${p}`, filters.cache);
  if (filters.from !== undefined) add((p) => `time >= ${p}`, filters.from);
  if (filters.to !== undefined) add((p) => `time < ${p}`, filters.to);
  if (filters.min_duration_ms !== undefined) add((p) => `duration_ms >= ${p}`, filters.min_duration_ms);
  if (filters.request_id !== undefined) add((p) => `request_id = ${p}`, filters.request_id);
  if (cursor !== null) {
    // Row-value comparison keeps the (time, id) order in one index range scan, in both databases.
    params.push(cursor.time, cursor.id);
    clauses.push(`(time, id) < (${placeholder(params.length - 1)}, ${placeholder(params.length)})`);
  }
  return { sql: clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`, params };
}

/** The columns of request_log besides id, in insert order. */
export const RECORD_COLUMNS = [
  'time',
  'request_id',
  'key_id',
  'team',
  'protocol',
  'route',
  'model',
  'route_name',
  'backend',
  'upstream_model',
  'status',
  'error_code',
  'attempts',
  'cache',
  'ttfb_ms',
  'duration_ms',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'reasoning_tokens',
  'cost_micros',
  'client_address',
  'user_agent',
  'prompt',
  'answer',
] as const;

/**
 * One record as the row values, in RECORD_COLUMNS order (attempts as JSON text). Spelled out rather
 * than mapped over RECORD_COLUMNS: the SQLite store converts each batch on the request thread, where
 * reading the fields by a variable name took 6.6 µs per record and these direct reads 4.1 (timed in
 * place, the attempts' JSON included). A test checks the order against RECORD_COLUMNS.
 */
export function recordValues(record: RequestRecord): unknown[] {
  return [
    record.time,
    record.request_id,
    record.key_id,
    record.team,
    record.protocol,
    record.route,
    record.model,
    record.route_name,
    record.backend,
    record.upstream_model,
    record.status,
    record.error_code,
    JSON.stringify(record.attempts),
    record.cache,
    record.ttfb_ms,
    record.duration_ms,
    record.prompt_tokens,
    record.completion_tokens,
    record.cached_tokens,
    record.reasoning_tokens,
    record.cost_micros,
    record.client_address,
    record.user_agent,
    record.prompt,
    record.answer,
  ];
}

/** The index of each of RECORD_COLUMNS in a row of recordValues. */
const COLUMN = Object.fromEntries(RECORD_COLUMNS.map((column, index) => [column, index])) as Record<
  (typeof RECORD_COLUMNS)[number],
  number
>;

/**
 * What the rollups read, from a record's row values (recordValues, as the store's thread gets them):
 * without parsing its attempts or building the whole record again.
 */
export function rollupInputOf(values: readonly unknown[]): RollupInput {
  const at = (column: keyof typeof COLUMN): unknown => values[COLUMN[column]];
  return {
    time: Number(at('time')),
    model: textOf(at('model')),
    key_id: textOf(at('key_id')),
    backend: textOf(at('backend')),
    status: Number(at('status')),
    error_code: textOf(at('error_code')),
    cache: textOf(at('cache')) as CacheStatus | null,
    duration_ms: Number(at('duration_ms')),
    ttfb_ms: numberOrNullOf(at('ttfb_ms')),
    prompt_tokens: numberOrNullOf(at('prompt_tokens')),
    completion_tokens: numberOrNullOf(at('completion_tokens')),
    cached_tokens: numberOrNullOf(at('cached_tokens')),
    reasoning_tokens: numberOrNullOf(at('reasoning_tokens')),
    cost_micros: numberOrNullOf(at('cost_micros')),
  };
}

/** A stored number, which may come back as a string (PostgreSQL's bigint), or null. */
function numberOrNullOf(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function textOf(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Numbers may come back as strings (PostgreSQL's bigint); attempts as JSON text. */
export function rowToRecord(row: Record<string, unknown>): StoredRequestRecord {
  return {
    id: Number(row.id),
    time: Number(row.time),
    request_id: textOf(row.request_id) ?? '',
    key_id: textOf(row.key_id),
    team: textOf(row.team),
    protocol: textOf(row.protocol) ?? '',
    route: textOf(row.route) ?? '',
    model: textOf(row.model),
    route_name: textOf(row.route_name),
    backend: textOf(row.backend),
    upstream_model: textOf(row.upstream_model),
    status: Number(row.status),
    error_code: textOf(row.error_code),
    attempts: JSON.parse(textOf(row.attempts) ?? '[]') as StoredRequestRecord['attempts'],
    cache: textOf(row.cache) as CacheStatus | null,
    ttfb_ms: numberOrNullOf(row.ttfb_ms),
    duration_ms: Number(row.duration_ms),
    prompt_tokens: numberOrNullOf(row.prompt_tokens),
    completion_tokens: numberOrNullOf(row.completion_tokens),
    cached_tokens: numberOrNullOf(row.cached_tokens),
    reasoning_tokens: numberOrNullOf(row.reasoning_tokens),
    cost_micros: numberOrNullOf(row.cost_micros),
    client_address: textOf(row.client_address),
    user_agent: textOf(row.user_agent),
    prompt: textOf(row.prompt),
    answer: textOf(row.answer),
  };
}

/** Turns a page of rows (one more than asked for) into records and the next cursor. */
export function toPage(rows: readonly Record<string, unknown>[], limit: number): RequestLogPage {
  const records = rows.slice(0, limit).map(rowToRecord);
  const last = records.at(-1);
  return {
    records,
    next_cursor: rows.length > limit && last !== undefined ? encodeCursor(last) : null,
  };
}

/** Reads all pages of a query through `page`, yielding records one by one. */
export async function* exportPages(
  page: (cursor: string | null) => Promise<RequestLogPage>,
): AsyncGenerator<StoredRequestRecord> {
  let cursor: string | null = null;
  do {
    const result: RequestLogPage = await page(cursor);
    yield* result.records;
    cursor = result.next_cursor;
  } while (cursor !== null);
}
