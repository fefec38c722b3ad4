import type { BudgetWindow } from '../config/config.js';

/** A budget window: [start, end) in ms since the epoch; `total` ends at +Infinity. */
export interface WindowSpan {
  readonly start: number;
  readonly end: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** A local wall-clock time in some time zone: its fields, as Date.UTC takes them (month from 0). */
interface WallTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** 1 (Monday) … 7 (Sunday), ISO 8601. */
  readonly weekday: number;
}

const WEEKDAYS: Readonly<Record<string, number>> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** One formatter per time zone: creating one costs tens of µs, formatting with it a few. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    // Throws RangeError for a zone ICU does not know.
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
      era: 'short',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** True when `timeZone` is an IANA zone this runtime knows (for config checks). */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    formatterOf(timeZone);
    return true;
  } catch {
    return false;
  }
}

function wallTimeAt(timeZone: string, at: number): WallTime {
  const fields: Record<string, string> = {};
  for (const part of formatterOf(timeZone).formatToParts(at)) fields[part.type] = part.value;
  const year = Number(fields.year);
  return {
    // Years before 1 AD (era BC) never occur for a budget, but keep the arithmetic honest.
    year: fields.era === 'BC' ? 1 - year : year,
    month: Number(fields.month) - 1,
    day: Number(fields.day),
    hour: Number(fields.hour),
    minute: Number(fields.minute),
    second: Number(fields.second),
    weekday: WEEKDAYS[fields.weekday ?? ''] ?? 1,
  };
}

/** The wall time read as if it were UTC: comparable, and local offset = this − the instant. */
function asUtc(wall: Omit<WallTime, 'weekday'>): number {
  const date = new Date(0);
  date.setUTCFullYear(wall.year, wall.month, wall.day);
  date.setUTCHours(wall.hour, wall.minute, wall.second, 0);
  return date.getTime();
}

/** The zone's offset from UTC (ms) at an instant. */
function offsetAt(timeZone: string, at: number): number {
  const whole = Math.floor(at / 1000) * 1000;
  return asUtc(wallTimeAt(timeZone, whole)) - whole;
}

/**
 * The first instant at which the zone's clock reads `local` (a local time as asUtc gives it) or later.
 * Tried with the offsets a day before and a day after (a zone changes offset at most once in between):
 * of the instants whose clock reads at least `local`, the earliest. That is the instant itself when the
 * clock reads `local` once, the first of two when it reads it twice (a clock set back), and the moment
 * of the change when the clock skips it (a clock set forward over midnight, as in some zones).
 */
function firstInstantAt(timeZone: string, local: number): number {
  const candidates = [local - offsetAt(timeZone, local - DAY_MS), local - offsetAt(timeZone, local + DAY_MS)];
  let best = Infinity;
  for (const candidate of candidates) {
    if (asUtc(wallTimeAt(timeZone, candidate)) >= local && candidate < best) best = candidate;
  }
  // Unreachable for real zones; the later candidate is a safe answer.
  return Number.isFinite(best) ? best : Math.max(...candidates);
}

/** Local midnight of a calendar date (month from 0, day may overflow: Date.UTC normalises it). */
function localMidnight(timeZone: string, year: number, month: number, day: number): number {
  return firstInstantAt(timeZone, asUtc({ year, month, day, hour: 0, minute: 0, second: 0 }));
}

/**
 * The window of kind `window` that contains `now` on the calendars of `timeZone` (IANA): `hour` from the
 * local hour's start, one hour long; `day` from local midnight to the next (23 or 25 hours on the days
 * the clocks change); `week` from Monday 00:00 local; `month` from the 1st 00:00 local; `total` from 0
 * to +Infinity. Pure: the same arguments give the same span.
 */
export function windowAt(window: BudgetWindow, timeZone: string, now: number): WindowSpan {
  switch (window) {
    case 'total':
      return { start: 0, end: Infinity };
    case 'hour': {
      // An hour starts where the local clock shows minute 0: whole-hour and half-hour offsets alike.
      const wall = wallTimeAt(timeZone, now);
      const start = now - (wall.minute * 60_000 + wall.second * 1000 + (((now % 1000) + 1000) % 1000));
      return { start, end: start + HOUR_MS };
    }
    case 'day': {
      const wall = wallTimeAt(timeZone, now);
      return {
        start: localMidnight(timeZone, wall.year, wall.month, wall.day),
        end: localMidnight(timeZone, wall.year, wall.month, wall.day + 1),
      };
    }
    case 'week': {
      const wall = wallTimeAt(timeZone, now);
      const monday = wall.day - (wall.weekday - 1);
      return {
        start: localMidnight(timeZone, wall.year, wall.month, monday),
        end: localMidnight(timeZone, wall.year, wall.month, monday + 7),
      };
    }
    case 'month': {
      const wall = wallTimeAt(timeZone, now);
      return {
        start: localMidnight(timeZone, wall.year, wall.month, 1),
        end: localMidnight(timeZone, wall.year, wall.month + 1, 1),
      };
    }
  }
}

/**
 * windowAt with the last span of each (zone, window) remembered: a request asks for the same windows
 * over and over, and a span stays right until `now` leaves it. Same answers as windowAt.
 */
export class WindowCalendar {
  /** The zone the remembered spans are of; a different zone (a reload) forgets them. */
  private zone: string | null = null;
  private readonly last = new Map<BudgetWindow, WindowSpan>();

  constructor(private readonly timeZone: () => string) {}

  /** The time zone windows are in now (budget.time_zone, read on each call: reloads change it). */
  currentZone(): string {
    return this.timeZone();
  }

  at(window: BudgetWindow, now: number): WindowSpan {
    const timeZone = this.timeZone();
    if (timeZone !== this.zone) {
      this.last.clear();
      this.zone = timeZone;
    }
    const cached = this.last.get(window);
    if (cached !== undefined && cached.start <= now && now < cached.end) return cached;
    const span = windowAt(window, timeZone, now);
    this.last.set(window, span);
    return span;
  }
}
