/** The request log page's records: pages appended, live-tail records put in front. test/ui/requests.test.ts. */

export interface RequestAttempt {
  backend: string;
  model: string;
  outcome: string;
  error_code?: string;
  duration_ms: number;
}

/** A record of GET /admin/requests (the live tail's have no store `id`). */
export interface RequestRecord {
  id?: number;
  time: number;
  request_id: string;
  key_id: string | null;
  team: string | null;
  protocol: string;
  route: string;
  model: string | null;
  route_name: string | null;
  backend: string | null;
  upstream_model: string | null;
  status: number;
  error_code: string | null;
  attempts: RequestAttempt[];
  cache: 'HIT' | 'MISS' | 'BYPASS' | null;
  ttfb_ms: number | null;
  duration_ms: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  cached_tokens: number | null;
  reasoning_tokens: number | null;
  cost_micros: number | null;
  client_address: string | null;
  user_agent: string | null;
  prompt: string | null;
  answer: string | null;
}

/** Records the page holds at most: the oldest are dropped past it (scrolling loads them again). */
export const MAX_RECORDS = 5000;

/** A page of older records after those shown (a record already shown is not repeated). */
export function appendPage(shown: readonly RequestRecord[], page: readonly RequestRecord[]): RequestRecord[] {
  const seen = new Set(shown.map((record) => record.request_id));
  return [...shown, ...page.filter((record) => !seen.has(record.request_id))];
}

/** Records from the live tail, newest first, in front of those shown; at most `max` in all. */
export function prependLive(
  shown: readonly RequestRecord[],
  incoming: readonly RequestRecord[],
  max = MAX_RECORDS,
): RequestRecord[] {
  const fresh = [...incoming].reverse();
  const seen = new Set(fresh.map((record) => record.request_id));
  return [...fresh, ...shown.filter((record) => !seen.has(record.request_id))].slice(0, max);
}

/** The timings of a record as [label, ms] pairs for the detail panel. */
export function timings(record: RequestRecord): [string, number | null][] {
  const upstream = record.attempts.reduce((sum, attempt) => sum + attempt.duration_ms, 0);
  return [
    ['Time to first byte', record.ttfb_ms],
    ['Total', record.duration_ms],
    ['In upstream calls', record.attempts.length === 0 ? null : upstream],
    ['In the gateway', record.attempts.length === 0 ? null : Math.max(0, record.duration_ms - upstream)],
  ];
}
