/**
 * Requests in flight per backend across every instance of the gateway, for `strategy: least_busy`
 * (issue 20). The concurrency pool provides it (its slots are counted in Redis); without one, or for a
 * backend it does not count, the runner uses this instance's own count.
 *
 * The runner asks while choosing a target, synchronously and once per candidate per attempt, so an
 * implementation answers from memory (a snapshot refreshed in the background, or its own bookkeeping),
 * never with a round trip to Redis.
 */
export interface BackendLoad {
  /** Requests in flight on `backend` now, on every instance (this one included); null: not known. */
  inFlight(backend: string): number | null;
}
