/**
 * Query strings of the admin API, built from what the pages hold: the request log's filters (as
 * GET /admin/requests takes them) and the overview's time range (GET /admin/stats).
 */

/** The filters of GET /admin/requests, /admin/requests/stream and /admin/stats, as typed by a person. */
export interface RequestFilters {
  key: string;
  team: string;
  model: string;
  backend: string;
  status: string;
  error_code: string;
  cache: string;
  from: string;
  to: string;
  min_duration_ms: string;
  request_id: string;
}

export const FILTER_NAMES: readonly (keyof RequestFilters)[] = [
  'key',
  'team',
  'model',
  'backend',
  'status',
  'error_code',
  'cache',
  'from',
  'to',
  'min_duration_ms',
  'request_id',
];

export function emptyFilters(): RequestFilters {
  return {
    key: '',
    team: '',
    model: '',
    backend: '',
    status: '',
    error_code: '',
    cache: '',
    from: '',
    to: '',
    min_duration_ms: '',
    request_id: '',
  };
}

/** `?a=1&b=2` of the given parameters, skipping empty ones (no `?` when none is left). */
export function queryString(
  parameters: Readonly<Record<string, string | number | null | undefined>>,
): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value === null || value === undefined) continue;
    const text = String(value).trim();
    if (text !== '') search.set(name, text);
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/** A `datetime-local` value (the browser's zone) as ms since the epoch; other forms pass as written. */
function timeParameter(value: string): string {
  const text = value.trim();
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(text)) {
    const time = new Date(text).getTime();
    return Number.isFinite(time) ? String(time) : text;
  }
  return text;
}

/** The query of a page of the request log: filters, then the cursor of the next page. */
export function requestsQuery(filters: RequestFilters, cursor: string | null = null, limit = 50): string {
  return queryString({
    ...filterParameters(filters),
    limit,
    cursor,
  });
}

/** The filters as the API takes them (times as ms since the epoch, the cache upper-case). */
export function filterParameters(filters: RequestFilters): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const name of FILTER_NAMES) {
    const value = filters[name].trim();
    if (value === '') continue;
    if (name === 'from' || name === 'to') parameters[name] = timeParameter(value);
    else if (name === 'cache') parameters[name] = value.toUpperCase();
    else parameters[name] = value;
  }
  return parameters;
}

/** Filters read back from a page's URL (?model=…&status=5xx), so that a filtered view can be shared. */
export function filtersFromSearch(search: string): RequestFilters {
  const parameters = new URLSearchParams(search);
  const filters = emptyFilters();
  for (const name of FILTER_NAMES) filters[name] = parameters.get(name) ?? '';
  return filters;
}

/** The page's own URL query for these filters (only those set). */
export function searchOfFilters(filters: RequestFilters): string {
  const parameters: Record<string, string> = {};
  for (const name of FILTER_NAMES) parameters[name] = filters[name];
  return queryString(parameters);
}

/** What is wrong with a filter a person typed, before asking the server; null when nothing is. */
export function filterProblem(filters: RequestFilters): string | null {
  if (filters.status !== '' && !/^([1-5]xx|[1-5]\d\d)$/i.test(filters.status.trim()))
    return 'status: an exact status (429) or a class (2xx, 4xx, 5xx)';
  if (filters.cache !== '' && !/^(hit|miss|bypass)$/i.test(filters.cache.trim()))
    return 'cache: HIT, MISS or BYPASS';
  if (filters.min_duration_ms !== '' && !/^\d+$/.test(filters.min_duration_ms.trim()))
    return 'min duration: a whole number of milliseconds';
  return null;
}

export type StatsRange = 'hour' | 'day' | 'month';
export type StatsGroup = 'none' | 'model' | 'key' | 'team' | 'backend';

export const RANGES: readonly { value: StatsRange; label: string }[] = [
  { value: 'hour', label: 'Last hour' },
  { value: 'day', label: 'Last 24 hours' },
  { value: 'month', label: 'Last 30 days' },
];

export interface StatsWindow {
  readonly bucket: 'minute' | 'hour';
  readonly bucketMs: number;
  readonly from: number;
  readonly to: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * The buckets of a range ending now: the last hour by minute, the last day or 30 days by hour. The end
 * is the end of the current bucket, so that the newest requests are in.
 */
export function statsWindow(range: StatsRange, now: number): StatsWindow {
  const bucketMs = range === 'hour' ? MINUTE : HOUR;
  const to = Math.ceil((now + 1) / bucketMs) * bucketMs;
  const span = range === 'hour' ? HOUR : range === 'day' ? 24 * HOUR : 30 * 24 * HOUR;
  return { bucket: range === 'hour' ? 'minute' : 'hour', bucketMs, from: to - span, to };
}

/**
 * The query of GET /admin/stats for a window. `group_by` team is not a grouping the rollups keep: the
 * page asks once per team with `team=<id>` instead (extra).
 */
export function statsQuery(
  window: StatsWindow,
  group: StatsGroup,
  extra: Readonly<Record<string, string>> = {},
): string {
  return queryString({
    bucket: window.bucket,
    from: window.from,
    to: window.to,
    group_by: group === 'none' || group === 'team' ? null : group,
    ...extra,
  });
}
