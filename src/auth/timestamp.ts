/**
 * RFC 3339 date-times, strictly (issue 16, finding 9): `2026-06-30T12:00:00Z`, with optional fractions
 * of a second and a `Z` or `±hh:mm` offset. The date and the time must exist: no February 30, no hour
 * 24, no leap second (a JavaScript Date cannot hold one, and Date.parse answers NaN for it, which then
 * compares false with everything: a key that "expires" at 23:59:60 would never expire).
 */
const RFC_3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Milliseconds since the epoch, or null when `text` is not a real RFC 3339 date-time. */
export function parseTimestamp(text: string): number | null {
  const match = RFC_3339.exec(text);
  if (match === null) return null;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const milliseconds = Math.floor(Number(`0.${match[7] ?? '0'}`) * 1000);
  if (hour > 23 || minute > 59 || second > 59) return null;
  const offsetHours = Number(match[10] ?? '0');
  const offsetMinutes = Number(match[11] ?? '0');
  if (offsetHours > 23 || offsetMinutes > 59) return null;
  // The date must round-trip: setUTCFullYear would carry 2026-02-30 into March.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, milliseconds);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day)
    return null;
  const sign = match[9] === '-' ? -1 : 1;
  const time = date.getTime() - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  return Number.isNaN(new Date(time).getTime()) ? null : time;
}

/** The same instant as `2026-06-30T12:00:00.000Z`, or null when `text` is not a real date-time. */
export function normalizeTimestamp(text: string): string | null {
  const time = parseTimestamp(text);
  return time === null ? null : new Date(time).toISOString();
}
