/**
 * How the admin UI writes numbers, durations, money and times. Plain functions over plain values, so
 * that they are tested without a browser (test/ui/format.test.ts).
 */

const EMPTY = '—';

/** 1234 → "1,234"; 1234567 → "1.23 M"; null → "—". */
export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return EMPTY;
  const size = Math.abs(value);
  if (size >= 1e9) return `${trim(value / 1e9)} B`;
  if (size >= 1e6) return `${trim(value / 1e6)} M`;
  if (size >= 1e4) return `${trim(value / 1e3)} k`;
  return Number.isInteger(value) ? value.toLocaleString('en-US') : trim(value);
}

/** Three significant digits at most, without trailing zeros. */
function trim(value: number): string {
  return String(Number(value.toPrecision(3)));
}

/** 8 → "8 ms"; 1234 → "1.23 s"; 125000 → "2 min 5 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return EMPTY;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${trim(ms / 1000)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms - minutes * 60_000) / 1000);
  return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
}

/** US dollars: "$12.34"; below a cent with up to 3 significant digits ("$0.00123"); null → "—". */
export function formatUsd(usd: number | null | undefined): string {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return EMPTY;
  if (usd === 0) return '$0';
  const size = Math.abs(usd);
  if (size < 0.01) return `${usd < 0 ? '-' : ''}$${Number(size.toPrecision(3)).toString()}`;
  return `${usd < 0 ? '-' : ''}$${size.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** Micro-dollars (the request log's unit) as dollars. */
export function formatMicros(micros: number | null | undefined): string {
  return micros === null || micros === undefined ? EMPTY : formatUsd(micros / 1e6);
}

/** 0.125 → "12.5%"; null → "—". */
export function formatRatio(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return EMPTY;
  const percent = ratio * 100;
  return `${percent === 0 || percent >= 10 ? Math.round(percent * 10) / 10 : Number(percent.toPrecision(2))}%`;
}

/** A moment as "2026-12-02 15:41:12" in the given time zone (the browser's by default). */
export function formatTime(ms: number | string | null | undefined, timeZone?: string): string {
  if (ms === null || ms === undefined) return EMPTY;
  const time = typeof ms === 'number' ? ms : Date.parse(ms);
  if (!Number.isFinite(time)) return EMPTY;
  const parts = new Intl.DateTimeFormat('en-CA', {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    ...(timeZone === undefined ? {} : { timeZone }),
  }).formatToParts(time);
  const part = (type: Intl.DateTimeFormatPartTypes): string =>
    parts.find((candidate) => candidate.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}:${part('second')}`;
}

/** How long ago: "just now", "42 s ago", "5 min ago", "3 h ago", "12 d ago"; "in 2 d" for the future. */
export function formatRelative(ms: number | string, now: number): string {
  const time = typeof ms === 'number' ? ms : Date.parse(ms);
  if (!Number.isFinite(time)) return EMPTY;
  const delta = now - time;
  const future = delta < 0;
  const size = Math.abs(delta);
  let text: string;
  if (size < 5_000) return 'just now';
  else if (size < 60_000) text = `${Math.round(size / 1000)} s`;
  else if (size < 3_600_000) text = `${Math.round(size / 60_000)} min`;
  else if (size < 86_400_000) text = `${Math.round(size / 3_600_000)} h`;
  else text = `${Math.round(size / 86_400_000)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

/** The kind of an HTTP status, for its colour. */
export function statusKind(status: number): 'ok' | 'client-error' | 'server-error' {
  if (status >= 500) return 'server-error';
  if (status >= 400) return 'client-error';
  return 'ok';
}
