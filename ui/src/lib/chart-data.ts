/**
 * GET /admin/stats rows shaped for the overview's charts (uPlot takes one x array and one array per
 * series, aligned). Pure functions over plain data: test/ui/chart-data.test.ts.
 */
import type { paths } from '../../../clients/typescript/src/generated/openapi.js';
import type { StatsWindow } from './query.js';

/** One row of GET /admin/stats, as the API's generated types have it. */
export type StatsRow =
  paths['/admin/stats']['get']['responses'][200]['content']['application/json']['data'][number];

export type ChartUnit = 'rate' | 'ratio' | 'ms' | 'count' | 'usd';

export interface ChartSpec {
  readonly id: string;
  readonly title: string;
  readonly unit: ChartUnit;
  /** Counts add up: a bucket without rows is 0. Others (ratios, percentiles) are a gap there. */
  readonly additive: boolean;
  value(row: StatsRow, bucketSeconds: number): number | null;
}

export const CHARTS: readonly ChartSpec[] = [
  {
    id: 'requests',
    title: 'Requests per second',
    unit: 'rate',
    additive: true,
    value: (row, seconds) => row.requests / seconds,
  },
  {
    id: 'error-rate',
    title: 'Error rate',
    unit: 'ratio',
    additive: false,
    value: (row) => (row.requests === 0 ? null : row.errors / row.requests),
  },
  {
    id: 'latency-p50',
    title: 'Latency p50',
    unit: 'ms',
    additive: false,
    value: (row) => row.duration_p50_ms,
  },
  {
    id: 'latency-p95',
    title: 'Latency p95',
    unit: 'ms',
    additive: false,
    value: (row) => row.duration_p95_ms,
  },
  {
    id: 'ttfb-p50',
    title: 'Time to first byte p50',
    unit: 'ms',
    additive: false,
    value: (row) => row.ttfb_p50_ms,
  },
  {
    id: 'ttfb-p95',
    title: 'Time to first byte p95',
    unit: 'ms',
    additive: false,
    value: (row) => row.ttfb_p95_ms,
  },
  {
    id: 'tokens',
    title: 'Tokens (prompt + completion)',
    unit: 'count',
    additive: true,
    value: (row) => row.prompt_tokens + row.completion_tokens,
  },
  {
    id: 'cost',
    title: 'Cost (USD)',
    unit: 'usd',
    additive: true,
    value: (row) => row.cost_micros / 1e6,
  },
  {
    id: 'cache-hit-ratio',
    title: 'Cache hit ratio',
    unit: 'ratio',
    additive: false,
    value: (row) => row.cache_hit_ratio,
  },
];

export interface ChartSeries {
  readonly label: string;
  readonly values: (number | null)[];
}

export interface ChartData {
  /** Bucket starts, in seconds (uPlot's time unit). */
  readonly x: number[];
  readonly series: ChartSeries[];
  /** Groups left out (beyond the largest `maxGroups` by requests). */
  readonly hiddenGroups: number;
}

/** The label of the rows' group: the group's name, or "all" for ungrouped stats. */
export function groupLabel(group: string | null): string {
  return group ?? 'all';
}

/** Groups by requests in the window, most first (ties by name). */
export function rankGroups(rows: readonly StatsRow[]): string[] {
  const totals = new Map<string, number>();
  for (const row of rows) {
    const label = groupLabel(row.group);
    totals.set(label, (totals.get(label) ?? 0) + row.requests);
  }
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([label]) => label);
}

/**
 * One chart's data: a point per bucket of the window (oldest first), one series per group (the
 * `maxGroups` with most requests).
 */
export function shapeChart(
  rows: readonly StatsRow[],
  window: StatsWindow,
  chart: ChartSpec,
  maxGroups = 6,
): ChartData {
  const x: number[] = [];
  const index = new Map<number, number>();
  for (let start = window.from; start < window.to; start += window.bucketMs) {
    index.set(start, x.length);
    x.push(start / 1000);
  }
  const ranked = rankGroups(rows);
  const shown = ranked.slice(0, maxGroups);
  const seconds = window.bucketMs / 1000;
  const series = shown.map((label) => {
    const values: (number | null)[] = x.map(() => (chart.additive ? 0 : null));
    for (const row of rows) {
      if (groupLabel(row.group) !== label) continue;
      const at = index.get(row.bucket_start);
      if (at === undefined) continue;
      values[at] = chart.value(row, seconds);
    }
    return { label, values };
  });
  return { x, series, hiddenGroups: ranked.length - shown.length };
}

/** Rows of several GET /admin/stats answers (one per team, each ungrouped), labelled by team. */
export function labelRows(parts: readonly { group: string; rows: readonly StatsRow[] }[]): StatsRow[] {
  return parts.flatMap((part) => part.rows.map((row) => ({ ...row, group: part.group })));
}

export interface StatsTotals {
  readonly requests: number;
  readonly errors: number;
  readonly errorRate: number | null;
  readonly tokens: number;
  readonly costUsd: number;
  /** The slowest bucket's p95: an upper bound of the window's p95 (percentiles do not add up). */
  readonly worstP95Ms: number | null;
  /** Cache hits over requests that consulted the cache, estimated from each bucket's ratio. */
  readonly cacheHitRatio: number | null;
}

export function totals(rows: readonly StatsRow[]): StatsTotals {
  let requests = 0;
  let errors = 0;
  let tokens = 0;
  let micros = 0;
  let worst: number | null = null;
  let hitWeight = 0;
  let hitRequests = 0;
  for (const row of rows) {
    requests += row.requests;
    errors += row.errors;
    tokens += row.prompt_tokens + row.completion_tokens;
    micros += row.cost_micros;
    if (row.duration_p95_ms !== null) worst = Math.max(worst ?? 0, row.duration_p95_ms);
    if (row.cache_hit_ratio !== null) {
      hitWeight += row.cache_hit_ratio * row.requests;
      hitRequests += row.requests;
    }
  }
  return {
    requests,
    errors,
    errorRate: requests === 0 ? null : errors / requests,
    tokens,
    costUsd: micros / 1e6,
    worstP95Ms: worst,
    cacheHitRatio: hitRequests === 0 ? null : hitWeight / hitRequests,
  };
}
