/**
 * The hourly rollups, one table per store with a row per hour × dimension × value: dimension 'all'
 * (value ''), the totals; 'model', 'key', 'backend', one row per model, key id or backend seen in the
 * hour. Each row has counts, sums and two latency histograms (duration, time to first byte) in the fixed
 * buckets of latency-histogram.ts. Per dimension rather than per model × key × backend because with
 * many keys and backends nearly every record had its own combined row (1,000 keys × 20 models × 5
 * backends), so a 30-day chart by model read millions; now it reads hours × models. Both stores upsert
 * the deltas computed here in the same transaction as the records, so a rollup never disagrees with its
 * rows.
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

export const ROLLUP_TABLE = 'request_log_rollup';

/** 'all' holds the totals (value ''); the others one row per value of that column. */
export type RollupDimension = 'all' | StatsGroupBy;
export const ROLLUP_DIMENSIONS: readonly RollupDimension[] = ['all', 'model', 'key', 'backend'];

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

/** In this order in the primary key: a chart reads one dimension over a range of hours, one index range. */
export const ROLLUP_KEY_COLUMNS = ['dimension', 'hour', 'value'] as const;
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
    dimension TEXT NOT NULL,
    hour ${integer} NOT NULL,
    value TEXT NOT NULL,
    ${counters.join(',\n    ')},
    PRIMARY KEY (dimension, hour, value)
  )`;
}

/**
 * Version 1's combined rollup (hour × model × key_id × backend), which migration 1 still makes and
 * migration 2 sums into the per dimension table and drops.
 */
export function combinedRollupTableSql(integer: string): string {
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
 * The migration from the old combined rollup (`old`: hour × model × key_id × backend) into the per
 * dimension one (`table`): it is additive, so each dimension is the old rows summed by that column.
 * Exact, and far cheaper than reading the records again.
 */
export function rollupBackfillSql(table: string, old: string): string {
  const sums = ROLLUP_COUNTER_COLUMNS.map((column) => `SUM(${column})`).join(', ');
  const columns = ROLLUP_COLUMNS.join(', ');
  const from = (dimension: RollupDimension, value: string): string =>
    `INSERT INTO ${table} (${columns}) SELECT '${dimension}', hour, ${value}, ${sums} FROM ${old}
       GROUP BY hour${value === `'${NONE}'` ? '' : `, ${value}`};`;
  return [
    from('all', `'${NONE}'`),
    from('model', 'model'),
    from('key', 'key_id'),
    from('backend', 'backend'),
  ].join('\n');
}

/**
 * Retention: up to `batch` rollup rows of one dimension at or before an hour, by the primary key (row
 * values, the same in both databases). Parameters: dimension, last hour to drop.
 */
export function rollupRetentionSql(
  table: string,
  batch: number,
  placeholder: (index: number) => string,
): string {
  return `DELETE FROM ${table} WHERE (dimension, hour, value) IN
    (SELECT dimension, hour, value FROM ${table} WHERE dimension = ${placeholder(1)} AND hour <= ${placeholder(2)}
     ORDER BY dimension, hour LIMIT ${batch})`;
}

/** What the rollups read of a record (not its attempts, prompt or answer). */
export type RollupInput = Pick<
  RequestRecord,
  | 'time'
  | 'model'
  | 'key_id'
  | 'backend'
  | 'status'
  | 'error_code'
  | 'cache'
  | 'duration_ms'
  | 'ttfb_ms'
  | 'prompt_tokens'
  | 'completion_tokens'
  | 'cached_tokens'
  | 'reasoning_tokens'
  | 'cost_micros'
>;

/**
 * A batch's rollup rows (values in ROLLUP_COLUMNS order), four per record before merging, sorted by
 * key: two instances upserting the same rows in the same order cannot deadlock.
 */
export function rollupDeltas(records: readonly RollupInput[]): (string | number)[][] {
  // Found by dimension, then hour, then value in nested maps: no key is built per record (this runs
  // on the store's thread for every record; a JSON.stringify of the three cost a microsecond).
  const rows: (string | number)[][] = [];
  const byDimension = new Map<RollupDimension, Map<number, Map<string, (string | number)[]>>>();
  const offset = ROLLUP_KEY_COLUMNS.length;
  const counters = ROLLUP_COUNTER_COLUMNS.length;
  const rowOf = (dimension: RollupDimension, hour: number, value: string): (string | number)[] => {
    let byHour = byDimension.get(dimension);
    if (byHour === undefined)
      byDimension.set(dimension, (byHour = new Map<number, Map<string, (string | number)[]>>()));
    let byValue = byHour.get(hour);
    if (byValue === undefined) byHour.set(hour, (byValue = new Map<string, (string | number)[]>()));
    let row = byValue.get(value);
    if (row === undefined) {
      row = [dimension, hour, value];
      for (let index = 0; index < counters; index += 1) row.push(0);
      byValue.set(value, row);
      rows.push(row);
    }
    return row;
  };
  const add = (
    row: (string | number)[],
    record: RollupInput,
    error: number,
    hit: number,
    miss: number,
    duration: number,
    ttfb: number | null,
  ): void => {
    const bump = (index: number, by: number): void => {
      row[offset + index] = Number(row[offset + index]) + by;
    };
    bump(0, 1);
    bump(1, error);
    bump(2, record.prompt_tokens ?? 0);
    bump(3, record.completion_tokens ?? 0);
    bump(4, record.cached_tokens ?? 0);
    bump(5, record.reasoning_tokens ?? 0);
    bump(6, record.cost_micros ?? 0);
    bump(7, hit);
    bump(8, miss);
    bump(duration, 1);
    if (ttfb !== null) bump(ttfb, 1);
  };
  for (const record of records) {
    const hour = Math.floor(record.time / HOUR_MS) * HOUR_MS;
    const error = isError(record) ? 1 : 0;
    const hit = record.cache === 'HIT' ? 1 : 0;
    const miss = record.cache === 'MISS' ? 1 : 0;
    const duration = SUM_COLUMNS.length + bucketOf(record.duration_ms);
    const ttfb =
      record.ttfb_ms === null ? null : SUM_COLUMNS.length + BUCKET_COUNT + bucketOf(record.ttfb_ms);
    add(rowOf('all', hour, NONE), record, error, hit, miss, duration, ttfb);
    add(rowOf('model', hour, record.model ?? NONE), record, error, hit, miss, duration, ttfb);
    add(rowOf('key', hour, record.key_id ?? NONE), record, error, hit, miss, duration, ttfb);
    add(rowOf('backend', hour, record.backend ?? NONE), record, error, hit, miss, duration, ttfb);
  }
  return rows.sort(byRollupKey);
}

/** The order of rollup rows by (dimension, hour, value): the same in every instance. */
function byRollupKey(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let index = 0; index < 3; index += 1) {
    const left = a[index] ?? '';
    const right = b[index] ?? '';
    if (left < right) return -1;
    if (left > right) return 1;
  }
  return 0;
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
 * The rollup dimension that can answer, or null when only the records can: hourly buckets, a time
 * range on whole hours (a rollup row can't be split), and filters on at most one of model, key and
 * backend, which must be the grouped one when there is a group (the per-model rows know nothing of
 * keys). Ungrouped with one such filter reads that dimension's rows for the value; nothing, the totals.
 */
export function rollupDimension(
  filters: RequestLogFilters,
  bucket: StatsBucket,
  groupBy: StatsGroupBy | null,
): RollupDimension | null {
  if (bucket !== 'hour') return null;
  if ((filters.from ?? 0) % HOUR_MS !== 0 || (filters.to ?? 0) % HOUR_MS !== 0) return null;
  const dimensions: Record<string, StatsGroupBy> = { model: 'model', key: 'key', backend: 'backend' };
  const filtered: StatsGroupBy[] = [];
  for (const [name, value] of Object.entries(filters)) {
    if (value === undefined || name === 'from' || name === 'to') continue;
    const dimension = dimensions[name];
    if (dimension === undefined) return null;
    filtered.push(dimension);
  }
  if (filtered.length > 1) return null;
  const only = filtered[0];
  if (only === undefined) return groupBy ?? 'all';
  return groupBy === null || groupBy === only ? only : null;
}

const GROUP_COLUMN: Record<StatsGroupBy, string> = { model: 'model', key: 'key_id', backend: 'backend' };

export interface StatsSql {
  readonly sql: string;
  readonly params: unknown[];
}

/**
 * One query over one dimension of the rollup table. `dimension` from rollupDimension, so besides the
 * time range at most the filter on that dimension's value applies, and there is exactly one row per
 * (hour, group) already: no GROUP BY (a 30-day chart by model is 720 × 20 rows read as they are stored).
 */
export function rollupStatsSql(
  table: string,
  dimension: RollupDimension,
  filters: RequestLogFilters,
  groupBy: StatsGroupBy | null,
  placeholder: (index: number) => string,
  /** The counters as one comma-separated text column (PostgreSQL's concat_ws) instead of 59 columns. */
  packed = false,
): StatsSql {
  const params: unknown[] = [dimension];
  const clauses = [`dimension = ${placeholder(1)}`];
  const add = (clause: (marker: string) => string, value: unknown): void => {
    params.push(value);
    clauses.push(clause(placeholder(params.length)));
  };
  if (filters.from !== undefined) add((p) => `hour >= ${p}`, filters.from);
  if (filters.to !== undefined) add((p) => `hour < ${p}`, filters.to);
  const value = dimension === 'all' ? undefined : filters[dimension];
  if (value !== undefined) add((p) => `value = ${p}`, value);
  const group = groupBy === null ? 'NULL' : 'value';
  // Packed: the counters as one text, `1,0,17,…` (partialFromPacked reads it). A 30-day chart by
  // model is 14,400 rows of 59 counters; the driver made a string of each of those 850,000 fields,
  // which took most of the chart's time.
  const counters = packed
    ? `concat_ws(',', ${ROLLUP_COUNTER_COLUMNS.join(', ')})`
    : ROLLUP_COUNTER_COLUMNS.join(', ');
  return {
    sql: `SELECT hour AS bucket_start, ${group} AS grp, ${counters} FROM ${table}
      WHERE ${clauses.join(' AND ')}`,
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

/** Sets the counter of index `column` in ROLLUP_COUNTER_COLUMNS' order: a sum, then duration, then ttfb buckets. */
function setCounter(partial: StatsPartial, column: number, value: number): void {
  const sums = SUM_COLUMNS.length;
  if (column < sums) partial[SUM_COLUMNS[column] ?? 'requests'] = value;
  else if (column < sums + BUCKET_COUNT) partial.duration[column - sums] = value;
  else partial.ttfb[column - sums - BUCKET_COUNT] = value;
}

/**
 * Partials from rollup rows as rollupStatsSql selects them, each row an array (better-sqlite3's raw
 * mode, pg's rowMode 'array'): bucket_start, grp, then ROLLUP_COUNTER_COLUMNS. Arrays rather than
 * objects because a chart is some 15,000 rows of 52 columns, and reading that many named properties
 * cost more than the query.
 */
export function partialsFromRollups(rows: readonly (readonly unknown[])[]): StatsPartial[] {
  return rows.map((row) => {
    const partial = emptyPartial(Number(row[0]), groupOf(row[1]));
    for (let column = 0; column < ROLLUP_COUNTER_COLUMNS.length; column += 1)
      setCounter(partial, column, Number(row[2 + column] ?? 0));
    return partial;
  });
}

/**
 * Partials from rollup rows of the packed form (`rollupStatsSql(…, packed)`): bucket, group, and the
 * counters in ROLLUP_COUNTER_COLUMNS' order as one text of integers separated by commas,
 * read without splitting it.
 */
export function partialsFromPackedRollups(rows: readonly (readonly unknown[])[]): StatsPartial[] {
  return rows.map((row) => {
    const partial = emptyPartial(Number(row[0]), groupOf(row[1]));
    const text = typeof row[2] === 'string' ? row[2] : '';
    let column = 0;
    let value = 0;
    let sign = 1;
    for (let index = 0; index <= text.length; index += 1) {
      const code = index < text.length ? text.charCodeAt(index) : 44;
      if (code === 45) sign = -1;
      if (code !== 44) {
        if (code !== 45) value = value * 10 + (code - 48);
        continue;
      }
      setCounter(partial, column, value * sign);
      sign = 1;
      column += 1;
      value = 0;
    }
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

/** The order of String.prototype.localeCompare, without making a collator per comparison. */
const COLLATOR = new Intl.Collator();

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
        COLLATOR.compare(a.group ?? '', b.group ?? '') ||
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
