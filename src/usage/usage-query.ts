/**
 * The parameters of a usage query as people write them (GET /admin/usage's query string and the
 * `ai-gateway usage` options), checked and turned into a UsageQuery. One parser for both, so that the
 * API and the CLI accept exactly the same things.
 */
import { ceilHour, DAY_MS, HOUR_MS } from './hours.js';
import type { UsageGroup, UsageQuery } from './usage.js';

/** A query may span at most this many days (400: a year and then some, about 9,600 hourly buckets). */
export const MAX_SPAN_DAYS = 400;
/** Without `from`, the query covers the 24 hourly buckets before `to`. */
export const DEFAULT_SPAN_MS = 24 * HOUR_MS;
export const USAGE_GROUPS: readonly UsageGroup[] = ['key', 'model', 'day', 'hour'];
export const DEFAULT_GROUP_BY: readonly UsageGroup[] = ['key', 'model'];

/** A parameter that cannot be used; `param` names it as the API spells it (group_by, from, ...). */
export class UsageParamError extends Error {
  constructor(
    readonly param: string,
    /** What is wrong, without the parameter's name. */
    readonly detail: string,
  ) {
    super(`${param}: ${detail}`);
    this.name = 'UsageParamError';
  }
}

export interface UsageParams {
  readonly key?: string | undefined;
  readonly model?: string | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly group_by?: string | undefined;
}

const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const RELATIVE = /^(\d{1,6})([hd])$/;

/**
 * An instant: an ISO 8601 date (`2026-11-27`, midnight UTC), date-time (`2026-11-27T09:30:00Z`,
 * `…+02:00`; without an offset it is UTC; minutes and seconds may be left out, as in the hour form
 * `2026-11-27T09`), `now`, or a time before now: `36h`, `7d`.
 */
export function parseInstant(param: string, text: string, now: number): number {
  if (text === 'now') return now;
  const relative = RELATIVE.exec(text);
  if (relative !== null) {
    return now - Number(relative[1]) * (relative[2] === 'd' ? DAY_MS : HOUR_MS);
  }
  const match = INSTANT.exec(text);
  const fail = (): never => {
    throw new UsageParamError(
      param,
      `'${text}' is not a time; write an ISO 8601 date (2026-11-27) or date-time (2026-11-27T09:00:00Z), or 24h / 7d before now`,
    );
  };
  if (match === null) return fail();
  const [, year, month, day, hour, minute, second, fraction, zone] = match;
  const numbers = {
    year: Number(year),
    month: Number(month),
    day: Number(day),
    hour: Number(hour ?? 0),
    minute: Number(minute ?? 0),
    second: Number(second ?? 0),
    ms: Number((fraction ?? '').padEnd(3, '0').slice(0, 3)),
  };
  if (numbers.month < 1 || numbers.month > 12 || numbers.hour > 23 || numbers.minute > 59) fail();
  if (numbers.second > 59) fail();
  const date = new Date(0);
  date.setUTCFullYear(numbers.year, numbers.month - 1, numbers.day);
  date.setUTCHours(numbers.hour, numbers.minute, numbers.second, numbers.ms);
  // 2026-02-30 would roll over into March.
  if (date.getUTCDate() !== numbers.day || date.getUTCMonth() !== numbers.month - 1) fail();
  let offsetMinutes = 0;
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const hours = Number(digits.slice(0, 2));
    const minutes = Number(digits.slice(2));
    if (hours > 23 || minutes > 59) fail();
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
  }
  return date.getTime() - offsetMinutes * 60_000;
}

/** `key,model`, `day`, ... (comma-separated, each once); an empty value groups nothing: one row of totals. */
export function parseGroupBy(text: string | undefined): UsageGroup[] {
  if (text === undefined) return [...DEFAULT_GROUP_BY];
  const groups: UsageGroup[] = [];
  if (text.trim() === '') return groups;
  for (const part of text.split(',')) {
    const name = part.trim();
    const group = USAGE_GROUPS.find((candidate) => candidate === name);
    if (group === undefined)
      throw new UsageParamError(
        'group_by',
        `'${name}' is not a grouping; use key, model, day or hour (comma-separated for several)`,
      );
    if (groups.includes(group)) throw new UsageParamError('group_by', `'${name}' is given twice`);
    groups.push(group);
  }
  return groups;
}

/**
 * Checks the parameters and builds the query. Defaults: `to` now, `from` 24 hours before `to` (the 24
 * hourly buckets before it, rounded up to an hour boundary), `group_by` key,model.
 */
export function parseUsageParams(params: UsageParams, now: number): UsageQuery {
  const to = params.to === undefined ? now : parseInstant('to', params.to, now);
  const from =
    params.from === undefined ? ceilHour(to - DEFAULT_SPAN_MS) : parseInstant('from', params.from, now);
  if (!(from < to))
    throw new UsageParamError(
      'from',
      `must be before to (${new Date(to).toISOString()}); to is exclusive: from=2026-11-27&to=2026-11-28 is one day`,
    );
  if (to - from > MAX_SPAN_DAYS * DAY_MS)
    throw new UsageParamError(
      'from',
      `from and to are more than ${MAX_SPAN_DAYS} days apart; query at most ${MAX_SPAN_DAYS} days at a time`,
    );
  for (const name of ['key', 'model'] as const) {
    if (params[name] === '') throw new UsageParamError(name, 'must not be empty; leave it out for all');
  }
  return {
    key: params.key ?? null,
    model: params.model ?? null,
    from,
    to,
    groupBy: parseGroupBy(params.group_by),
  };
}
