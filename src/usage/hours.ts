/** UTC hours as usage counts them: 'YYYY-MM-DDTHH' (e.g. '2026-11-27T09'). */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** The UTC hour that contains `ms`, as 'YYYY-MM-DDTHH'. */
export function hourOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 13);
}

/** The start of an hour given as 'YYYY-MM-DDTHH', in ms since the epoch. */
export function hourStart(hour: string): number {
  return Date.parse(`${hour}:00:00.000Z`);
}

/** The first hour boundary at or after `ms`. */
export function ceilHour(ms: number): number {
  return Math.ceil(ms / HOUR_MS) * HOUR_MS;
}

/** The hours that start in [from, to), oldest first. */
export function hoursIn(from: number, to: number): string[] {
  const hours: string[] = [];
  for (let start = ceilHour(from); start < to; start += HOUR_MS) hours.push(hourOf(start));
  return hours;
}

/**
 * The newest hour whose counters have expired at `now`: an hour's counters are kept until the end of
 * the hour plus the retention, as Redis's EXPIREAT does.
 */
export function lastExpiredHour(now: number, retentionDays: number): string {
  return hourOf(now - retentionDays * DAY_MS - HOUR_MS);
}

/** When an hour's counters expire: the end of the hour plus the retention (ms since the epoch). */
export function expiryOf(hour: string, retentionDays: number): number {
  return hourStart(hour) + HOUR_MS + retentionDays * DAY_MS;
}
