/**
 * The request log's storage seam (issue 21): one interface, a SQLite and a PostgreSQL implementation,
 * run through one contract suite (request-log-store.test.ts). Everything here is plain data and pure
 * functions that both stores share: filters, the cursor, the filter SQL, stats assembly.
 */
import { InvalidRequestError } from '../errors/errors.js';
import {
  cut,
  FIELD_LIMITS,
  integer,
  integerOrNull,
  MAX_ATTEMPTS,
  type CacheStatus,
  type RequestAttempt,
  type RequestRecord,
  type StoredRequestRecord,
} from './request-record.js';
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
  /** Writes a batch of records (bounded here) and updates the hourly rollups, all or none. */
  write(records: readonly RequestRecord[]): Promise<void>;
  /** The same for records as their rows (recordRow): what the writer buffers and hands over. */
  writeRows(rows: readonly RecordRow[]): Promise<void>;
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

/**
 * The indexes of the columns that are often NULL (no teams, auth off, refused before routing): partial,
 * WHERE the column IS NOT NULL, since migration 3 in both stores. Filters on them are equalities, which
 * never match NULL.
 */
export const PARTIAL_INDEXES = [
  ['request_log_key_time', 'key_id'],
  ['request_log_team_time', 'team'],
  ['request_log_model_time', 'model'],
  ['request_log_backend_time', 'backend'],
] as const;

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

/** A record as the stores insert it: its fields in RECORD_COLUMNS order (recordRow). */
export type RecordRow = readonly unknown[];

/**
 * A record as the row the stores insert, in RECORD_COLUMNS order: strings cut to FIELD_LIMITS, numbers
 * made non-negative integers, at most MAX_ATTEMPTS attempts (as JSON text). This is where a record is
 * bounded: the writer keeps rows, so neither its buffer nor a stored row grows with client input. One
 * pass over the fields, spelled out: it runs on the request thread for every request when the log is
 * on (reading fields by a variable name cost half again as much, timed in place); a test checks the
 * order against RECORD_COLUMNS. Pure; never throws on odd input.
 */
export function recordRow(record: RequestRecord): unknown[] {
  return [
    integer(record.time),
    cut(record.request_id, FIELD_LIMITS.request_id),
    cut(record.key_id, FIELD_LIMITS.key_id),
    cut(record.team, FIELD_LIMITS.team),
    cut(record.protocol, FIELD_LIMITS.protocol),
    cut(record.route, FIELD_LIMITS.route),
    cut(record.model, FIELD_LIMITS.model),
    cut(record.route_name, FIELD_LIMITS.route_name),
    cut(record.backend, FIELD_LIMITS.backend),
    cut(record.upstream_model, FIELD_LIMITS.upstream_model),
    integer(record.status),
    cut(record.error_code, FIELD_LIMITS.error_code),
    attemptsText(record.attempts),
    record.cache,
    integerOrNull(record.ttfb_ms),
    integer(record.duration_ms),
    integerOrNull(record.prompt_tokens),
    integerOrNull(record.completion_tokens),
    integerOrNull(record.cached_tokens),
    integerOrNull(record.reasoning_tokens),
    integerOrNull(record.cost_micros),
    cut(record.client_address, FIELD_LIMITS.client_address),
    cut(record.user_agent, FIELD_LIMITS.user_agent),
    cut(record.prompt, FIELD_LIMITS.prompt),
    cut(record.answer, FIELD_LIMITS.answer),
  ];
}

/**
 * The attempts as the JSON text stored: each one's fields picked and bounded. Written out as text, with
 * JSON.stringify for each string, rather than built as objects and stringified: it runs per request.
 */
function attemptsText(attempts: readonly RequestAttempt[]): string {
  let text = '[';
  for (const [index, attempt] of attempts.entries()) {
    if (index === MAX_ATTEMPTS) break;
    if (index > 0) text += ',';
    text += `{"backend":${JSON.stringify(cut(attempt.backend, FIELD_LIMITS.backend))},"model":${JSON.stringify(cut(attempt.model, FIELD_LIMITS.upstream_model))},"outcome":${JSON.stringify(cut(attempt.outcome, FIELD_LIMITS.attempt_outcome))}`;
    if (attempt.error_code !== undefined)
      text += `,"error_code":${JSON.stringify(cut(attempt.error_code, FIELD_LIMITS.error_code))}`;
    text += `,"duration_ms":${integer(attempt.duration_ms)}}`;
  }
  return `${text}]`;
}

/** The record cut to the field limits, numbers made non-negative integers: a stored record's fields. */
export function boundRecord(record: RequestRecord): RequestRecord {
  return recordOfRow(recordRow(record));
}

/** The index of each of RECORD_COLUMNS in a row of recordRow. */
const COLUMN = Object.fromEntries(RECORD_COLUMNS.map((column, index) => [column, index])) as Record<
  (typeof RECORD_COLUMNS)[number],
  number
>;

/**
 * What the rollups read, from a record's row (recordRow, as the store's thread gets it): without
 * parsing its attempts or building the whole record again.
 */
export function rollupInputOf(values: RecordRow): RollupInput {
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

/** The time of a record's row (what PostgreSQL partitions by). */
export function rowTime(values: RecordRow): number {
  return Number(values[COLUMN.time]);
}

/** A stored number, which may come back as a string (PostgreSQL's bigint), or null. */
function numberOrNullOf(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function textOf(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * A record from its row values (recordRow's, or a stored row's: numbers may come back as strings,
 * PostgreSQL's bigint; attempts are JSON text).
 */
export function recordOfRow(values: RecordRow): RequestRecord {
  const at = (column: keyof typeof COLUMN): unknown => values[COLUMN[column]];
  return {
    // The fields the rollups read, read alike; then the rest.
    ...rollupInputOf(values),
    request_id: textOf(at('request_id')) ?? '',
    team: textOf(at('team')),
    protocol: textOf(at('protocol')) ?? '',
    route: textOf(at('route')) ?? '',
    route_name: textOf(at('route_name')),
    upstream_model: textOf(at('upstream_model')),
    attempts: JSON.parse(textOf(at('attempts')) ?? '[]') as RequestAttempt[],
    client_address: textOf(at('client_address')),
    user_agent: textOf(at('user_agent')),
    prompt: textOf(at('prompt')),
    answer: textOf(at('answer')),
  };
}

/** A stored row (a database's, by column name) as a record with the store's id. */
export function rowToRecord(row: Record<string, unknown>): StoredRequestRecord {
  return { id: Number(row.id), ...recordOfRow(RECORD_COLUMNS.map((column) => row[column])) };
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
