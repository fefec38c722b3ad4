/**
 * Usage accounting: what each key used of each model, per UTC hour (days are sums of hours). The
 * request path only calls UsageRecorder.record (in memory, no I/O); increments are flushed to the store
 * in batches (Redis HINCRBY, or SQLite upserts), so that accounting costs no round trip per request.
 */

/** One finished request, as the request_complete log line sees it. */
export interface UsageEvent {
  readonly keyId: string;
  /** The model name the client asked for. */
  readonly model: string;
  /** When the request finished (ms since the epoch). */
  readonly at: number;
  /** Answered with a status >= 400, or a stream that ended with an error. */
  readonly error: boolean;
  /** Answered from the response cache. */
  readonly cached: boolean;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /**
   * What the request cost in millionths of the price table's currency (src/usage/pricing.ts); null
   * when no price applies. A cache hit costs 0: no backend was paid.
   */
  readonly costMicros: number | null;
}

/** Counters added to one (hour, key, model) cell. */
export interface UsageIncrement {
  /** The UTC hour: 'YYYY-MM-DDTHH' (e.g. '2026-11-27T09'). */
  readonly hour: string;
  readonly keyId: string;
  readonly model: string;
  readonly requests: number;
  readonly errors: number;
  readonly cached: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /**
   * Estimated cost in millionths of the price table's currency (integers keep counters exact); null
   * when no price of usage.prices applies to the model (a row is then null, not 0, unless another of
   * its cells had a price).
   */
  readonly costMicros: number | null;
}

/**
 * Identifies a batch for exactly-once delivery: a store that has applied batch `sequence` of `source`
 * skips any later call with the same source and a sequence not above it. A recorder retries a batch
 * that failed (a timeout may have applied it anyway) with the same identity, and numbers its batches
 * in increasing order.
 */
export interface UsageBatch {
  /** Unique per recorder (a random id per process). */
  readonly source: string;
  readonly sequence: number;
}

export type UsageGroup = 'key' | 'model' | 'day' | 'hour';

export interface UsageQuery {
  readonly key: string | null;
  readonly model: string | null;
  /** Inclusive start and exclusive end, in ms since the epoch; hours that start in [from, to) count. */
  readonly from: number;
  readonly to: number;
  /** Group rows by these (in this order); empty: one row with the totals. */
  readonly groupBy: readonly UsageGroup[];
}

/** One row of GET /admin/usage: the grouping members that apply, then the sums. */
export interface UsageRow {
  key?: string;
  model?: string;
  /** 'YYYY-MM-DD' */
  day?: string;
  /** 'YYYY-MM-DDTHH:00:00Z' */
  hour?: string;
  requests: number;
  errors: number;
  cached: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Estimated cost from usage.prices; null when no price applies to any of the row's models. */
  cost: number | null;
}

/** Where usage is kept: Redis (shared by instances) or the embedded SQLite store. */
export interface UsageStore {
  /**
   * Adds the increments atomically (counters, never read-modify-write). With `batch`, a batch already
   * applied is skipped, so that retrying after an ambiguous failure counts it once.
   */
  add(increments: readonly UsageIncrement[], batch?: UsageBatch): Promise<void>;
  query(query: UsageQuery): Promise<UsageRow[]>;
}
