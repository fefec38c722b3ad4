/** The request log page's records: pages appended, live-tail records put in front. test/ui/requests.test.ts. */

import type { components } from '../../../clients/typescript/src/generated/openapi.js';

/** A record of GET /admin/requests, as the API's generated types have it (the live tail's have no store `id`). */
export type RequestRecord = Omit<components['schemas']['RequestRecord'], 'id'> & { id?: number };

export type RequestAttempt = RequestRecord['attempts'][number];

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
