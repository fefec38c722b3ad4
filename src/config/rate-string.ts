export type RateUnit = 'second' | 'minute' | 'hour' | 'day';

export interface Rate {
  readonly limit: number;
  readonly unit: RateUnit;
  readonly windowSeconds: number;
}

const UNIT_SECONDS: Readonly<Record<RateUnit, number>> = { second: 1, minute: 60, hour: 3600, day: 86400 };
const RATE_PATTERN = /^\s*(\d+)\s*\/\s*(second|minute|hour|day)\s*$/;

/** Parses the seed's "100/minute" form. Returns null when the string is not a rate. */
export function parseRate(text: string): Rate | null {
  const match = RATE_PATTERN.exec(text);
  if (match === null) return null;
  const limit = Number(match[1]);
  const unit = match[2] as RateUnit;
  if (!Number.isSafeInteger(limit) || limit < 1) return null;
  return { limit, unit, windowSeconds: UNIT_SECONDS[unit] };
}
