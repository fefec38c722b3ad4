/**
 * The hourly rollups: one row per hour × model × key × backend with counts, sums and two latency
 * histograms (duration, time to first byte) in the fixed buckets of latency-histogram.ts. Charts over
 * 30 days read a few thousand of these instead of millions of records. Both stores upsert the deltas
 * computed here in the same transaction as the records, so a rollup never disagrees with its rows.
 */
import { BUCKET_COUNT, bucketOf, bucketSql, quantile } from './latency-histogram.js';
import {
  HOUR_MS,
  MINUTE_MS,
  whereSql,
  type RequestLogFilters,
  type StatsBucket,
  type StatsGroupBy,
  type StatsRow,
} from './request-log-store.js';
import { isError, type RequestRecord } from './request-record.js';

/** NULL can't be part of a primary key that upserts find, so a missing model, key or backend is ''. */
export const NONE = '';

const DURATION_COLUMNS = Array.from({ length: BUCKET_COUNT }, (_, index) => `d${index}`);
const TTFB_COLUMNS = Array.from({ length: BUCKET_COUNT }, (_, index) => `t${index}`);
const SUM_COLUMNS = [
  'requests',
  'errors',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'reasoning_tokens',
  'cost_micros',
  'cache_hits',
  'cache_misses',
] as const;

export const ROLLUP_KEY_COLUMNS = ['hour', 'model', 'key_id', 'backend'] as const;
/** Every counter column, added up by the upsert. */
export const ROLLUP_COUNTER_COLUMNS: readonly string[] = [
  ...SUM_COLUMNS,
  ...DURATION_COLUMNS,
  ...TTFB_COLUMNS,
];
export const ROLLUP_COLUMNS: readonly string[] = [...ROLLUP_KEY_COLUMNS, ...ROLLUP_COUNTER_COLUMNS];

/** CREATE TABLE body (without the name), the same in both databases. */
export function rollupTableSql(integer: string): string {
  const counters = ROLLUP_COUNTER_COLUMNS.map((column) => `${column} ${integer} NOT NULL DEFAULT 0`);
  return `(
    hour ${integer} NOT NULL,
    model TEXT NOT NULL,
    key_id TEXT NOT NULL,
    backend TEXT NOT NULL,
    ${counters.join(',\n    ')},
    PRIMARY KEY (hour, model, key_id, backend)
  )`;
}

/** `ON CONFLICT ... DO UPDATE` adding the new counts to the old, the same in both databases. */
export function rollupUpsertSql(table: string): string {
  const sets = ROLLUP_COUNTER_COLUMNS.map((column) => `${column} = ${table}.${column} + excluded.${column}`);
  return `ON CONFLICT (${ROLLUP_KEY_COLUMNS.join(', ')}) DO UPDATE SET ${sets.join(', ')}`;
}

/**
 * A batch's rollup rows (values in ROLLUP_COLUMNS order), sorted by key: two instances upserting the
 * same rows in the same order cannot deadlock.
 */
export function rollupDeltas(records: readonly RequestRecord[]): (string | number)[][] {
  const rows = new Map<string, (string | number)[]>();
  const offset = ROLLUP_KEY_COLUMNS.length;
  for (const record of records) {
    const key = [
      Math.floor(record.time / HOUR_MS) * HOUR_MS,
      record.model ?? NONE,
      record.key_id ?? NONE,
      record.backend ?? NONE,
    ];
    const id = JSON.stringify(key);
    let row = rows.get(id);
    if (row === undefined) {
      row = [...key, ...ROLLUP_COUNTER_COLUMNS.map(() => 0)];
      rows.set(id, row);
    }
    const bump = (index: number, by: number): void => {
      row[offset + index] = Number(row[offset + index]) + by;
    };
    bump(0, 1);
    bump(1, isError(record) ? 1 : 0);
    bump(2, record.prompt_tokens ?? 0);
    bump(3, record.completion_tokens ?? 0);
    bump(4, record.cached_tokens ?? 0);
    bump(5, record.reasoning_tokens ?? 0);
    bump(6, record.cost_micros ?? 0);
    bump(7, record.cache === 'HIT' ? 1 : 0);
    bump(8, record.cache === 'MISS' ? 1 : 0);
    bump(SUM_COLUMNS.length + bucketOf(record.duration_ms), 1);
    if (record.ttfb_ms !== null) bump(SUM_COLUMNS.length + BUCKET_COUNT + bucketOf(record.ttfb_ms), 1);
  }
  return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
}

/** Partial sums for one (bucket, group), as either source gives them; merged by assembleStats. */
export interface StatsPartial {
  bucket_start: number;
  group: string | null;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  cost_micros: number;
  cache_hits: number;
  cache_misses: number;
  duration: number[];
  ttfb: number[];
}

function emptyPartial(bucketStart: number, group: string | null): StatsPartial {
  return {
    bucket_start: bucketStart,
    group,
    requests: 0,
    errors: 0,
    prompt_tokens: 0,
    completion_tokens: 0,
    cached_tokens: 0,
    reasoning_tokens: 0,
    cost_micros: 0,
    cache_hits: 0,
    cache_misses: 0,
    duration: new Array<number>(BUCKET_COUNT).fill(0),
    ttfb: new Array<number>(BUCKET_COUNT).fill(0),
  };
}

/**
 * Whether the rollups can answer: hourly buckets, only filters the rollup has as columns, and a time
 * range on whole hours (a rollup row can't be split).
 */
export function rollupsCanAnswer(filters: RequestLogFilters, bucket: StatsBucket): boolean {
  if (bucket !== 'hour') return false;
  const allowed = new Set(['key', 'model', 'backend', 'from', 'to']);
  for (const [name, value] of Object.entries(filters)) {
    if (value !== undefined && !allowed.has(name)) return false;
  }
  return (filters.from ?? 0) % HOUR_MS === 0 && (filters.to ?? 0) % HOUR_MS === 0;
}

const GROUP_COLUMN: Record<StatsGroupBy, string> = { model: 'model', key: 'key_id', backend: 'backend' };

export interface StatsSql {
  readonly sql: string;
  readonly params: unknown[];
}

/** One query over the rollup table: sums per (hour, group). */
export function rollupStatsSql(
  table: string,
  filters: RequestLogFilters,
  groupBy: StatsGroupBy | null,
  placeholder: (index: number) => string,
): StatsSql {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const add = (clause: (marker: string) => string, value: unknown): void => {
    params.push(value);
    clauses.push(clause(placeholder(params.length)));
  };
  if (filters.key !== undefined) add((p) => `key_id = ${p}`, filters.key);
  if (filters.model !== undefined) add((p) => `model = ${p}`, filters.model);
  if (filters.backend !== undefined) add((p) => `backend = ${p}`, filters.backend);
  if (filters.from !== undefined) add((p) => `hour >= ${p}`, filters.from);
  if (filters.to !== undefined) add((p) => `hour < ${p}`, filters.to);
  const group = groupBy === null ? 'NULL' : GROUP_COLUMN[groupBy];
  const sums = ROLLUP_COUNTER_COLUMNS.map((column) => `SUM(${column}) AS ${column}`);
  return {
    sql: `SELECT hour AS bucket_start, ${group} AS grp, ${sums.join(', ')} FROM ${table}
      ${clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`} GROUP BY hour, grp`,
    params,
  };
}

/** Three queries over the records: sums, then the duration and ttfb histograms, per (bucket, group). */
export function recordStatsSql(
  table: string,
  filters: RequestLogFilters,
  bucket: StatsBucket,
  groupBy: StatsGroupBy | null,
  placeholder: (index: number) => string,
): { sums: StatsSql; duration: StatsSql; ttfb: StatsSql } {
  const width = bucket === 'hour' ? HOUR_MS : MINUTE_MS;
  const start = `(time / ${width}) * ${width}`;
  const group = groupBy === null ? 'NULL' : GROUP_COLUMN[groupBy];
  const where = whereSql(filters, null, placeholder);
  const sums = `SELECT ${start} AS bucket_start, ${group} AS grp, COUNT(*) AS requests,
      SUM(CASE WHEN status >= 400 OR error_code IS NOT NULL THEN 1 ELSE 0 END) AS errors,
      SUM(COALESCE(prompt_tokens, 0)) AS prompt_tokens, SUM(COALESCE(completion_tokens, 0)) AS completion_tokens,
      SUM(COALESCE(cached_tokens, 0)) AS cached_tokens, SUM(COALESCE(reasoning_tokens, 0)) AS reasoning_tokens,
      SUM(COALESCE(cost_micros, 0)) AS cost_micros,
      SUM(CASE WHEN cache = 'HIT' THEN 1 ELSE 0 END) AS cache_hits,
      SUM(CASE WHEN cache = 'MISS' THEN 1 ELSE 0 END) AS cache_misses
    FROM ${table} ${where.sql} GROUP BY 1, 2`;
  const histogram = (column: string, extra: string): string => {
    const condition = where.sql === '' ? `WHERE ${extra}` : `${where.sql} AND ${extra}`;
    return `SELECT ${start} AS bucket_start, ${group} AS grp, ${bucketSql(column)} AS idx, COUNT(*) AS n
      FROM ${table} ${condition} GROUP BY 1, 2, 3`;
  };
  return {
    sums: { sql: sums, params: where.params },
    duration: { sql: histogram('duration_ms', 'duration_ms >= 0'), params: where.params },
    ttfb: { sql: histogram('ttfb_ms', 'ttfb_ms IS NOT NULL'), params: where.params },
  };
}

function groupOf(value: unknown): string | null {
  return typeof value !== 'string' || value === NONE ? null : value;
}

/** Partials from rollup rows (as rollupStatsSql selects them). */
export function partialsFromRollups(rows: readonly Record<string, unknown>[]): StatsPartial[] {
  return rows.map((row) => {
    const partial = emptyPartial(Number(row.bucket_start), groupOf(row.grp));
    for (const column of SUM_COLUMNS) partial[column] = Number(row[column] ?? 0);
    partial.duration = DURATION_COLUMNS.map((column) => Number(row[column] ?? 0));
    partial.ttfb = TTFB_COLUMNS.map((column) => Number(row[column] ?? 0));
    return partial;
  });
}

/** Partials from the three record queries of recordStatsSql. */
export function partialsFromRecords(
  sums: readonly Record<string, unknown>[],
  duration: readonly Record<string, unknown>[],
  ttfb: readonly Record<string, unknown>[],
): StatsPartial[] {
  const partials = new Map<string, StatsPartial>();
  const at = (row: Record<string, unknown>): StatsPartial => {
    const group = groupOf(row.grp);
    const id = `${Number(row.bucket_start)}\u0000${group ?? '\u0001'}`;
    let partial = partials.get(id);
    if (partial === undefined) {
      partial = emptyPartial(Number(row.bucket_start), group);
      partials.set(id, partial);
    }
    return partial;
  };
  for (const row of sums) {
    const partial = at(row);
    for (const column of SUM_COLUMNS) partial[column] = Number(row[column] ?? 0);
  }
  for (const row of duration) at(row).duration[Number(row.idx)] = Number(row.n);
  for (const row of ttfb) at(row).ttfb[Number(row.idx)] = Number(row.n);
  return [...partials.values()];
}

/** Merges partials of the same (bucket, group), oldest bucket first, and reads the percentiles. */
export function assembleStats(partials: readonly StatsPartial[]): StatsRow[] {
  const merged = new Map<string, StatsPartial>();
  for (const partial of partials) {
    const id = `${partial.bucket_start}\u0000${partial.group ?? '\u0001'}`;
    const into = merged.get(id);
    if (into === undefined) {
      merged.set(id, { ...partial, duration: [...partial.duration], ttfb: [...partial.ttfb] });
      continue;
    }
    for (const column of SUM_COLUMNS) into[column] += partial[column];
    partial.duration.forEach((count, index) => (into.duration[index] = (into.duration[index] ?? 0) + count));
    partial.ttfb.forEach((count, index) => (into.ttfb[index] = (into.ttfb[index] ?? 0) + count));
  }
  return [...merged.values()]
    .sort(
      (a, b) =>
        a.bucket_start - b.bucket_start ||
        (a.group ?? '').localeCompare(b.group ?? '') ||
        Number(a.group !== null) - Number(b.group !== null),
    )
    .map((partial) => ({
      bucket_start: partial.bucket_start,
      group: partial.group,
      requests: partial.requests,
      errors: partial.errors,
      duration_p50_ms: quantile(partial.duration, 0.5),
      duration_p95_ms: quantile(partial.duration, 0.95),
      ttfb_p50_ms: quantile(partial.ttfb, 0.5),
      ttfb_p95_ms: quantile(partial.ttfb, 0.95),
      prompt_tokens: partial.prompt_tokens,
      completion_tokens: partial.completion_tokens,
      cached_tokens: partial.cached_tokens,
      reasoning_tokens: partial.reasoning_tokens,
      cost_micros: partial.cost_micros,
      cache_hit_ratio:
        partial.cache_hits + partial.cache_misses === 0
          ? null
          : partial.cache_hits / (partial.cache_hits + partial.cache_misses),
    }));
}
