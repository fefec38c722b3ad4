/**
 * One record per request (issue 21): what an operator needs to answer "what did key X send at 14:02 and
 * why did it fail", "which model is slow today", "who spent this". Written after the request completes;
 * the caller fills it, the stores keep it as is.
 */

/** Whether a request was answered from the cache; null where the cache was not consulted at all. */
export type CacheStatus = 'HIT' | 'MISS' | 'BYPASS';

/** One try at one backend (fallbacks make several). */
export interface RequestAttempt {
  readonly backend: string;
  readonly model: string;
  /** `ok`, or what went wrong: `error`, `timeout`, `cancelled`, ... (free text, bounded). */
  readonly outcome: string;
  readonly error_code?: string;
  readonly duration_ms: number;
}

/** Field names are snake_case: they are what the admin API and the export emit. */
export interface RequestRecord {
  /** When the request completed, ms since the epoch. */
  readonly time: number;
  readonly request_id: string;
  readonly key_id: string | null;
  readonly team: string | null;
  /** The client protocol, e.g. `openai-chat`. */
  readonly protocol: string;
  /** The HTTP route, e.g. `/v1/chat/completions`. */
  readonly route: string;
  /** The model the client asked for. */
  readonly model: string | null;
  /** The `models:` entry that matched. */
  readonly route_name: string | null;
  /** The backend that answered last (null when none was reached). */
  readonly backend: string | null;
  readonly upstream_model: string | null;
  readonly status: number;
  readonly error_code: string | null;
  readonly attempts: readonly RequestAttempt[];
  readonly cache: CacheStatus | null;
  readonly ttfb_ms: number | null;
  readonly duration_ms: number;
  readonly prompt_tokens: number | null;
  readonly completion_tokens: number | null;
  readonly cached_tokens: number | null;
  readonly reasoning_tokens: number | null;
  /** Integer micro-dollars; null when the model has no price. */
  readonly cost_micros: number | null;
  readonly client_address: string | null;
  readonly user_agent: string | null;
  /** Only when `logging.prompts` is on (the caller redacts and decides). */
  readonly prompt: string | null;
  readonly answer: string | null;
}

/** A record as the stores give it back: with the store's own id, the second half of the cursor. */
export interface StoredRequestRecord extends RequestRecord {
  readonly id: number;
}

/**
 * Caps per string field, in characters. With them, and at most MAX_ATTEMPTS attempts, a record's size
 * is bounded (about 70 KB with both texts full), so neither the buffer nor a row can grow without end.
 */
export const FIELD_LIMITS = {
  request_id: 128,
  key_id: 128,
  team: 128,
  protocol: 32,
  route: 256,
  model: 256,
  route_name: 256,
  backend: 128,
  upstream_model: 256,
  error_code: 64,
  client_address: 64,
  user_agent: 512,
  prompt: 32_768,
  answer: 32_768,
  attempt_outcome: 32,
} as const;

export const MAX_ATTEMPTS = 16;

export function cut(value: string, max: number): string;
export function cut(value: string | null, max: number): string | null;
export function cut(value: string | null, max: number): string | null {
  if (value === null || value.length <= max) return value;
  // Don't leave half a surrogate pair at the end: it would not survive a round trip through UTF-8.
  const end = isHighSurrogate(value.charCodeAt(max - 1)) ? max - 1 : max;
  return value.slice(0, end);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

export function integerOrNull(value: number | null): number | null {
  return value === null || !Number.isFinite(value) ? null : Math.max(0, Math.round(value));
}

export function integer(value: number): number {
  return Number.isFinite(value) ? Math.max(0, Math.round(value)) : 0;
}

/** Counted as an error in the stats: any 4xx or 5xx, or a 2xx that ended badly (a cut-off stream). */
export function isError(record: Pick<RequestRecord, 'status' | 'error_code'>): boolean {
  return record.status >= 400 || record.error_code !== null;
}
