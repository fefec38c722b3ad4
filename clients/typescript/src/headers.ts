/** Reading the gateway's response headers: request id, cache, backend, rate limits, Retry-After. */
import type { CacheStatus, OpenAiRateLimit, RateLimitItem, RateLimitState, ResponseMeta } from './types.js';

type Parameters = Record<string, string | number | boolean>;

interface ListItem {
  value: string;
  parameters: Parameters;
}

/**
 * A structured-field list (RFC 9651) as the rate-limit headers use it: `"requests";q=100;w=60, ...`.
 * Lenient: an item it cannot read is skipped, never thrown on.
 */
export function parseStructuredList(text: string): ListItem[] {
  const items: ListItem[] = [];
  let at = 0;
  const skipSpaces = (): void => {
    while (at < text.length && (text[at] === ' ' || text[at] === '\t')) at++;
  };
  const bareItem = (): string | number | boolean | null => {
    const first = text[at];
    if (first === '"') {
      let out = '';
      at++;
      while (at < text.length) {
        const char = text.charAt(at++);
        if (char === '\\') out += text.charAt(at++);
        else if (char === '"') return out;
        else out += char;
      }
      return null;
    }
    if (first === '?') {
      at++;
      const bit = text[at++];
      return bit === '1' ? true : bit === '0' ? false : null;
    }
    const match = /^[^,;=\s]*/.exec(text.slice(at));
    const token = match?.[0] ?? '';
    at += token.length;
    if (token === '') return null;
    const number = Number(token);
    return /^-?\d+(\.\d+)?$/.test(token) && Number.isFinite(number) ? number : token;
  };
  while (at < text.length) {
    skipSpaces();
    const value = bareItem();
    const parameters: Parameters = {};
    skipSpaces();
    while (text[at] === ';') {
      at++;
      skipSpaces();
      const key = /^[a-z*][a-z0-9_.*-]*/.exec(text.slice(at))?.[0] ?? '';
      at += key.length;
      let parameter: string | number | boolean | null = true;
      if (text[at] === '=') {
        at++;
        parameter = bareItem();
      }
      if (key !== '' && parameter !== null) parameters[key] = parameter;
      skipSpaces();
    }
    if (value !== null && typeof value !== 'boolean') items.push({ value: String(value), parameters });
    // Whatever is left of a malformed item, up to the next comma.
    while (at < text.length && text[at] !== ',') at++;
    at++;
  }
  return items;
}

function numberParameter(parameters: Parameters, name: string): number | null {
  const value = parameters[name];
  return typeof value === 'number' ? value : null;
}

/** OpenAI's duration format in x-ratelimit-reset-*: "1h2m3.5s", "1m0s", "20s", "250ms". */
export function parseOpenAiDuration(text: string): number | null {
  const match =
    /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$/.exec(
      text.trim(),
    );
  if (match === null || text.trim() === '') return null;
  const [, hours, minutes, seconds, milliseconds] = match;
  return (
    Number(hours ?? 0) * 3_600_000 +
    Number(minutes ?? 0) * 60_000 +
    Number(seconds ?? 0) * 1000 +
    Number(milliseconds ?? 0)
  );
}

function integerHeader(headers: Headers, name: string): number | null {
  const value = headers.get(name);
  if (value === null || !/^\s*\d+\s*$/.test(value)) return null;
  return Number(value);
}

function openAiLimit(headers: Headers, kind: 'requests' | 'tokens'): OpenAiRateLimit | null {
  const limit = integerHeader(headers, `x-ratelimit-limit-${kind}`);
  const remaining = integerHeader(headers, `x-ratelimit-remaining-${kind}`);
  const reset = headers.get(`x-ratelimit-reset-${kind}`);
  const resetMs = reset === null ? null : parseOpenAiDuration(reset);
  if (limit === null && remaining === null && resetMs === null) return null;
  return { limit, remaining, resetMs };
}

/** `RateLimit-Policy`, `RateLimit` and `x-ratelimit-*`, or null when the response had none of them. */
export function parseRateLimit(headers: Headers): RateLimitState | null {
  const policy = headers.get('ratelimit-policy');
  const current = headers.get('ratelimit');
  const requests = openAiLimit(headers, 'requests');
  const tokens = openAiLimit(headers, 'tokens');
  if (policy === null && current === null && requests === null && tokens === null) return null;
  const limits: RateLimitItem[] = [];
  const byName = (name: string): RateLimitItem => {
    let item = limits.find((limit) => limit.name === name);
    if (item === undefined) {
      item = { name, quota: null, windowSeconds: null, remaining: null, resetSeconds: null };
      limits.push(item);
    }
    return item;
  };
  for (const { value, parameters } of parseStructuredList(policy ?? '')) {
    const item = byName(value);
    item.quota = numberParameter(parameters, 'q');
    item.windowSeconds = numberParameter(parameters, 'w');
  }
  for (const { value, parameters } of parseStructuredList(current ?? '')) {
    const item = byName(value);
    item.remaining = numberParameter(parameters, 'r');
    item.resetSeconds = numberParameter(parameters, 't');
  }
  return { limits, requests, tokens };
}

/**
 * How long the gateway asks the client to wait: `retry-after-ms` (milliseconds, sent with the
 * gateway's own 429s) or else `Retry-After` (whole seconds, or an HTTP date). Null when neither is there.
 */
export function parseRetryAfter(headers: Headers, now: number = Date.now()): number | null {
  const milliseconds = headers.get('retry-after-ms');
  if (milliseconds !== null && /^\s*\d+(\.\d+)?\s*$/.test(milliseconds)) return Number(milliseconds);
  const value = headers.get('retry-after');
  if (value === null) return null;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function cacheStatus(value: string | null): CacheStatus | null {
  const upper = value?.trim().toUpperCase();
  return upper === 'HIT' || upper === 'MISS' || upper === 'BYPASS' ? upper : null;
}

export function responseMeta(response: Response, attempts: number): ResponseMeta {
  const headers = response.headers;
  return {
    status: response.status,
    requestId: headers.get('x-request-id'),
    cache: cacheStatus(headers.get('x-cache')),
    backend: headers.get('x-gateway-backend'),
    gatewayAttempts: integerHeader(headers, 'x-gateway-attempts'),
    attempts,
    rateLimit: parseRateLimit(headers),
    headers,
  };
}
