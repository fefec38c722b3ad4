import type { RateLimitPolicyConfig } from '../config/schema.js';
import { parseRate, type Rate } from '../config/rate-string.js';
import type { GcraLimit } from './gcra.js';

export type LimitKind = 'requests' | 'tokens';

/** One limit that applies to a request: what it counts, how much, over what window, for whom. */
export interface AppliedLimit {
  /** The policy name shown in RateLimit headers and 429 details: "requests", "tokens-day", "model-requests". */
  readonly name: string;
  readonly kind: LimitKind;
  readonly rate: Rate;
  /** The state key's distinguishing part, e.g. "key:requests:100/minute" or "model:small:tokens:1000/hour". */
  readonly scope: string;
  /** Who it is for, in words, for the 429 detail: "key team-a", "key team-a on model small". */
  readonly subject: string;
}

function rates(value: string | readonly string[] | undefined): Rate[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? [value] : value;
  // The config and admin API have checked every string already.
  return list.map((text) => parseRate(text)).filter((rate): rate is Rate => rate !== null);
}

export interface LimitSources {
  readonly keyId: string;
  /** The key's own policy; each kind it sets replaces the default's for that kind. */
  readonly keyPolicy: RateLimitPolicyConfig | null;
  readonly defaultPolicy: RateLimitPolicyConfig | null;
  /** models[].rate_limit of the route the request matched: applies per key on that route. */
  readonly routeName: string | null;
  readonly routePolicy: RateLimitPolicyConfig | null;
}

/** Every limit that applies to a request of this key on this route. */
export function resolveLimits(sources: LimitSources): AppliedLimit[] {
  const out: AppliedLimit[] = [];
  const add = (kind: LimitKind, list: Rate[], prefix: string, scopePrefix: string, subject: string): void => {
    for (const rate of list) {
      const unique = list.length === 1;
      out.push({
        name: `${prefix}${kind}${unique ? '' : `-${rate.unit}`}`,
        kind,
        rate,
        scope: `${scopePrefix}:${kind}:${rate.limit}/${rate.unit}`,
        subject,
      });
    }
  };
  for (const kind of ['requests', 'tokens'] as const) {
    const own = sources.keyPolicy?.[kind];
    add(kind, rates(own ?? sources.defaultPolicy?.[kind]), '', 'key', `key ${sources.keyId}`);
    if (sources.routeName !== null) {
      add(
        kind,
        rates(sources.routePolicy?.[kind]),
        'model-',
        `model:${sources.routeName}`,
        `key ${sources.keyId} on model ${sources.routeName}`,
      );
    }
  }
  return out;
}

/** A limit in the GCRA's terms: units per window in milliseconds. */
export function gcraLimitOf(limit: AppliedLimit): GcraLimit {
  return { limit: limit.rate.limit, windowMs: limit.rate.windowSeconds * 1000 };
}
