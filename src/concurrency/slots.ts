/**
 * Concurrency slots (issue 20): how many requests may be in flight at once per API key, per team and per
 * backend. A scope is a string, `key:<id>`, `team:<id>` or `backend:<name>`, with a limit (its
 * `max_concurrency`). A lease holds one slot in each scope of a request, all of them or none, from
 * before the upstream call until the last byte of the answer. docs/concurrency.md explains the
 * guarantees and their bounds.
 */

/** One scope a request needs a slot in, and that scope's limit (at least 1). */
export interface SlotScope {
  /** `key:<id>`, `team:<id>` or `backend:<name>`. */
  readonly id: string;
  /** Slots the scope has (max_concurrency). */
  readonly limit: number;
}

/** The slots one request holds: one in each of its scopes. */
export interface Lease {
  /** The scopes it holds a slot in. */
  readonly scopes: readonly string[];
  /**
   * False when the request was admitted without a slot because the store was unavailable and the pool
   * fails open: nothing is held, release does nothing.
   */
  readonly held: boolean;
  /**
   * Gives the slots back and wakes this instance's queue. Idempotent: a second call does nothing and
   * returns the first call's promise. Never rejects (a release Redis did not get lapses with its lease).
   */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** Higher first (PRIORITY.interactive = 100, PRIORITY.batch = 10); first come first served within one. */
  readonly priority?: number;
  /** The client left: the waiter leaves the queue at once and the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Longest wait in the queue; then ConcurrencyLimitError. Default: the pool's queueTimeoutMs. 0: no wait. */
  readonly timeoutMs?: number;
}

/** How a wait in the queue ended. */
export type WaitOutcome = 'acquired' | 'timeout' | 'aborted' | 'refused';

/**
 * Hooks for metrics (the server wires prom-client to them). Each is called synchronously and must not
 * throw; every argument is a scope id or a number, never a key's secret.
 */
export interface SlotMetrics {
  /** The number of requests of this instance waiting for a slot in `scopeId` changed. */
  queueLength?(scopeId: string, length: number): void;
  /**
   * A request that had to wait (or was refused for a full queue) is done waiting: once per scope of
   * the request, with the time it waited in ms (0 when refused at once).
   */
  waited?(scopeId: string, waitedMs: number, outcome: WaitOutcome): void;
  /** The store failed or timed out on a call; `admitted`: the request went on without a slot (fail open). */
  storeError?(admitted: boolean): void;
}

/** What a store call failing means for the request: go on without a slot (open), or 503 (closed). */
export type OnStoreError = 'open' | 'closed';

/**
 * A pool of slots: in process (MemorySlots, one instance) or in Redis (RedisSlots, every instance).
 * Both run the same queue (SlotQueue), so they behave alike apart from where the counts live.
 */
export interface SlotPool {
  /**
   * A slot in every scope, or null at once when any of them is full (nothing is held then), or when a
   * request of this instance with at least `priority` (default: any) waits for one of them: a free slot
   * goes to the queue first. Never queues: the router asks this of each target before it queues on one
   * (fallback on saturation). Rejects with ServiceUnavailableError when the store is unavailable and the
   * pool fails closed.
   */
  tryAcquire(scopes: readonly SlotScope[], options?: { readonly priority?: number }): Promise<Lease | null>;
  /**
   * tryAcquire(), answered at once: a pool in this process has it (no store to wait for). Throws
   * ServiceUnavailableError when the pool is closed.
   */
  tryAcquireNow?(scopes: readonly SlotScope[], options?: { readonly priority?: number }): Lease | null;
  /**
   * tryAcquire(), answered at once when this pool can without its store (a Redis pool reusing a spare
   * slot); undefined when it cannot: call tryAcquire().
   */
  tryAcquireAtOnce?(
    scopes: readonly SlotScope[],
    options?: { readonly priority?: number },
  ): Lease | null | undefined;
  /**
   * A slot in every scope, waiting in this instance's queue when one is full: by priority, first come
   * first served within a priority. Rejects with ConcurrencyLimitError after the timeout or when the
   * queue is full (maxQueue), with the signal's reason when it aborts, and with ServiceUnavailableError
   * when the store is unavailable and the pool fails closed.
   */
  acquire(scopes: readonly SlotScope[], options?: AcquireOptions): Promise<Lease>;
  /**
   * Requests in flight in the scope, synchronously, for routing (least_busy): exact in process; in
   * Redis, the count across instances as of at most ~250 ms ago (refreshed in the background for the
   * scopes asked about) or as of this instance's last acquire or release in it, whichever is newer.
   */
  inFlight(scopeId: string): number;
  /** Requests of this instance waiting for a slot in the scope (all of them without an argument). */
  queueLength(scopeId?: string): number;
  /**
   * Stops the pool's timers and rejects its waiters (ServiceUnavailableError). Leases still held are
   * not released: in Redis they lapse after leaseMs, as an instance's that dies.
   */
  close(): Promise<void>;
}

/**
 * tryAcquire, answered at once when the pool can (in process: no promise, no turn of the event loop),
 * else its promise.
 */
export function tryAcquireSoon(
  pool: SlotPool,
  scopes: readonly SlotScope[],
  options: { readonly priority?: number },
): Lease | null | Promise<Lease | null> {
  if (pool.tryAcquireNow !== undefined) return pool.tryAcquireNow(scopes, options);
  const atOnce = pool.tryAcquireAtOnce?.(scopes, options);
  return atOnce !== undefined ? atOnce : pool.tryAcquire(scopes, options);
}
