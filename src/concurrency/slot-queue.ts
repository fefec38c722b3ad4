import { performance } from 'node:perf_hooks';
import { ConcurrencyLimitError, ServiceUnavailableError } from '../errors/errors.js';
import type { AcquireOptions, Lease, SlotMetrics, SlotPool, SlotScope, WaitOutcome } from './slots.js';

/** What a store says to one all-or-nothing attempt. */
export type Attempt<H> =
  /** A slot in every scope, held by `handle` until given back. */
  | { readonly kind: 'taken'; readonly handle: H }
  /** Nothing taken: these scopes (ids) were full. */
  | { readonly kind: 'full'; readonly full: readonly string[] }
  /** The store failed and the pool fails open: admitted without a slot. */
  | { readonly kind: 'unheld' };

export interface SlotQueueOptions {
  /** Requests waiting at most on this instance; beyond it refused at once. */
  readonly maxQueue: number;
  /** A wait's default longest time (AcquireOptions.timeoutMs overrides it). */
  readonly queueTimeoutMs: number;
  readonly metrics?: SlotMetrics;
  /**
   * Retry the queue's head this often while it waits, backing off from `minMs` to `maxMs`: slots freed by
   * other instances (or lapsed leases) are noticed no later than that. Null: only this instance's
   * releases free slots (in process).
   */
  readonly poll?: { readonly minMs: number; readonly maxMs: number } | null;
}

interface Waiter {
  readonly scopes: readonly SlotScope[];
  readonly ids: readonly string[];
  readonly priority: number;
  readonly seq: number;
  readonly enqueuedAt: number;
  /** The scopes that were full at its last attempt: later requests that need one of them queue behind it. */
  blockedBy: readonly string[];
  /** An attempt for it is under way (its result may arrive after it left the queue). */
  trying: boolean;
  done: boolean;
  timer: NodeJS.Timeout | null;
  readonly resolve: (lease: Lease) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

/** How much one hold counts in a scope's moving average of hold times (for Retry-After). */
const HOLD_WEIGHT = 0.2;
const MAX_RETRY_AFTER_SECONDS = 60;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The queue and the leases, over a store that only knows how to take and give back slots (all or
 * nothing). Fairness is per scope: a request waits behind every queued request of a higher or equal
 * priority that is blocked on a scope it needs too (so newcomers do not take the slot the head is
 * waiting for), but passes those blocked on scopes it does not need (a full backend does not hold up
 * requests for another one). When slots free up, the queue is tried in order, each waiter unless an
 * earlier one is still blocked on one of its scopes.
 */
export abstract class SlotQueue<H> implements SlotPool {
  /** Waiters by priority (highest first), then arrival. */
  private queue: Waiter[] = [];
  private readonly waiting = new Map<string, number>();
  private seq = 0;
  private draining = false;
  private drainAgain = false;
  /** Releases that completed on this instance: an attempt that saw a full scope and a release since then retries. */
  private releases = 0;
  private pollTimer: NodeJS.Timeout | null = null;
  private pollDelay: number;
  private closed = false;
  /** Moving average of how long a slot of each scope is held (ms), for Retry-After. */
  private readonly holdMs = new Map<string, HoldTime>();
  /** Per array of scopes asked for (callers keep theirs): its ids and hold times, worked out once. */
  private readonly leaseGroups = new WeakMap<readonly SlotScope[], LeaseGroup>();

  protected constructor(private readonly queueOptions: SlotQueueOptions) {
    this.pollDelay = queueOptions.poll?.minMs ?? 0;
  }

  /** One all-or-nothing attempt at a slot in every scope. Throws ServiceUnavailableError when failing closed. */
  protected abstract take(scopes: readonly SlotScope[]): Promise<Attempt<H>>;
  /** Gives the slots of a lease back. Must not reject. */
  protected abstract give(handle: H): Promise<void>;
  /** give(), at once: a store in this process has it; releases then take no turn of the event loop. */
  protected giveNow?(handle: H): void;
  /** take() answered without the store when it can (a spare slot); null: take() must ask it. */
  protected takeAtOnce?(scopes: readonly SlotScope[]): Attempt<H> | null;
  /** give() done without the store when it can (kept as a spare): true; false: give() follows. */
  protected giveAtOnce?(handle: H): boolean;
  abstract inFlight(scopeId: string): number;

  async tryAcquire(
    requested: readonly SlotScope[],
    options: { priority?: number } = {},
  ): Promise<Lease | null> {
    const scopes = this.tryable(requested, options.priority);
    if (scopes === null) return null;
    if (scopes.length === 0) return unheldLease([], true);
    return this.tried(scopes, await this.take(scopes));
  }

  /** See SlotPool.tryAcquireAtOnce. */
  tryAcquireAtOnce(
    requested: readonly SlotScope[],
    options: { priority?: number } = {},
  ): Lease | null | undefined {
    if (this.takeAtOnce === undefined) return undefined;
    const scopes = this.tryable(requested, options.priority);
    if (scopes === null) return null;
    if (scopes.length === 0) return unheldLease([], true);
    const attempt = this.takeAtOnce(scopes);
    return attempt === null ? undefined : this.tried(scopes, attempt);
  }

  /**
   * tryAcquire's checks before the store is asked: the distinct scopes (empty: nothing to hold), or
   * null when a queued request of at least `priority` waits for one of them.
   */
  protected tryable(
    requested: readonly SlotScope[],
    priority: number | undefined,
  ): readonly SlotScope[] | null {
    this.assertOpen();
    const scopes = distinct(requested);
    return scopes.length > 0 && this.blockers(scopes, priority ?? -Infinity).length > 0 ? null : scopes;
  }

  /** tryAcquire's answer for what the store said. */
  protected tried(scopes: readonly SlotScope[], attempt: Attempt<H>): Lease | null {
    return attempt.kind === 'full' ? null : this.leaseOf(scopes, attempt);
  }

  async acquire(requested: readonly SlotScope[], options: AcquireOptions = {}): Promise<Lease> {
    this.assertOpen();
    const scopes = distinct(requested);
    const signal = options.signal;
    signal?.throwIfAborted();
    if (scopes.length === 0) return unheldLease([], true);
    const priority = options.priority ?? 0;
    const timeoutMs = options.timeoutMs ?? this.queueOptions.queueTimeoutMs;
    let blockedBy: readonly string[] = this.blockers(scopes, priority);
    const releasesBefore = this.releases;
    if (blockedBy.length === 0) {
      const attempt = await this.take(scopes);
      if (attempt.kind !== 'full') {
        const lease = this.leaseOf(scopes, attempt);
        if (signal?.aborted === true) {
          void lease.release();
          signal.throwIfAborted();
        }
        return lease;
      }
      blockedBy = attempt.full;
      signal?.throwIfAborted();
      // Closed while the store decided: nothing would wake a waiter now.
      this.assertOpen();
    }
    const ids = scopes.map((scope) => scope.id);
    if (timeoutMs <= 0 || this.queue.length >= this.queueOptions.maxQueue) {
      for (const id of ids) this.queueOptions.metrics?.waited?.(id, 0, 'refused');
      throw new ConcurrencyLimitError(
        timeoutMs <= 0
          ? `No free concurrency slot for ${blockedBy.join(', ')}`
          : `Too many requests are waiting for a concurrency slot (${blockedBy.join(', ')})`,
        this.retryAfterSeconds(blockedBy),
      );
    }
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        scopes,
        ids,
        priority,
        seq: this.seq++,
        enqueuedAt: performance.now(),
        blockedBy,
        trying: false,
        done: false,
        timer: null,
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.finish(waiter, 'aborted');
          try {
            signal?.throwIfAborted();
          } catch (reason) {
            // The signal's own reason, as fetch rejects with it.
            reject(reason instanceof Error ? reason : new Error(String(reason), { cause: reason }));
          }
        },
      };
      // Beyond a timer's range (about 24.8 days, or Infinity): no timeout.
      if (timeoutMs <= MAX_TIMER_MS)
        waiter.timer = setTimeout(() => {
          this.finish(waiter, 'timeout');
          reject(
            new ConcurrencyLimitError(
              `No concurrency slot for ${waiter.blockedBy.join(', ')} became free within ${timeoutMs} ms`,
              this.retryAfterSeconds(waiter.blockedBy),
            ),
          );
        }, timeoutMs);
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.enqueue(waiter);
      // A slot freed between the attempt and now woke nobody: try again.
      if (this.releases !== releasesBefore) this.wake();
      else this.schedulePoll();
    });
  }

  queueLength(scopeId?: string): number {
    return scopeId === undefined ? this.queue.length : (this.waiting.get(scopeId) ?? 0);
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    for (const waiter of [...this.queue]) {
      this.finish(waiter, 'refused');
      waiter.reject(new ServiceUnavailableError('The gateway is shutting down; retry the request', 1));
    }
    return Promise.resolve();
  }

  /** Retries the queue now: a slot may have freed (a release here, or a message from another instance). */
  protected wake(): void {
    if (this.closed || this.queue.length === 0) return;
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    void this.drain();
  }

  /** The scopes among `scopes` on which a queued request of at least `priority` is blocked. */
  private blockers(scopes: readonly SlotScope[], priority: number): string[] {
    if (this.queue.length === 0) return [];
    const blocked = new Set<string>();
    for (const waiter of this.queue) {
      if (waiter.priority < priority) break;
      for (const id of waiter.blockedBy) blocked.add(id);
    }
    return scopes.filter((scope) => blocked.has(scope.id)).map((scope) => scope.id);
  }

  private async drain(): Promise<void> {
    this.draining = true;
    let acquired = false;
    try {
      do {
        this.drainAgain = false;
        const blocked = new Set<string>();
        for (const waiter of [...this.queue]) {
          if (waiter.done) continue;
          if (waiter.ids.some((id) => blocked.has(id))) continue;
          waiter.trying = true;
          let attempt: Attempt<H>;
          try {
            attempt = await this.take(waiter.scopes);
          } catch (error) {
            waiter.trying = false;
            if (!left(waiter)) {
              this.finish(waiter, 'refused');
              waiter.reject(error);
            }
            continue;
          }
          waiter.trying = false;
          if (attempt.kind === 'full') {
            if (!left(waiter)) waiter.blockedBy = attempt.full;
            for (const id of attempt.full) blocked.add(id);
            continue;
          }
          const lease = this.leaseOf(waiter.scopes, attempt);
          if (left(waiter)) {
            // It left (aborted, timed out) while the store was deciding.
            void lease.release();
            continue;
          }
          acquired = true;
          this.finish(waiter, 'acquired');
          waiter.resolve(lease);
        }
      } while (this.wokenWhileDraining());
    } finally {
      this.draining = false;
    }
    const poll = this.queueOptions.poll;
    if (poll != null) this.pollDelay = acquired ? poll.minMs : Math.min(this.pollDelay * 2, poll.maxMs);
    this.schedulePoll();
  }

  /** Set by wake() while a pass was under way (read through a call: the pass awaited the store). */
  private wokenWhileDraining(): boolean {
    return this.drainAgain && !this.closed;
  }

  private schedulePoll(): void {
    const poll = this.queueOptions.poll;
    if (poll == null || this.closed || this.pollTimer !== null || this.queue.length === 0) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.wake();
    }, this.pollDelay);
    this.pollTimer.unref();
  }

  private enqueue(waiter: Waiter): void {
    // After every waiter of a higher or equal priority: first come first served within a priority.
    let index = this.queue.length;
    while (index > 0 && (this.queue[index - 1]?.priority ?? Infinity) < waiter.priority) index--;
    this.queue.splice(index, 0, waiter);
    for (const id of waiter.ids) this.countWaiting(id, 1);
  }

  /** Takes the waiter out of the queue (once), with its timer and abort listener. */
  private finish(waiter: Waiter, outcome: WaitOutcome): void {
    if (waiter.done) return;
    waiter.done = true;
    if (waiter.timer !== null) clearTimeout(waiter.timer);
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    const index = this.queue.indexOf(waiter);
    if (index >= 0) this.queue.splice(index, 1);
    const waitedMs = performance.now() - waiter.enqueuedAt;
    for (const id of waiter.ids) {
      this.countWaiting(id, -1);
      this.queueOptions.metrics?.waited?.(id, waitedMs, outcome);
    }
    if (this.queue.length === 0 && this.pollTimer !== null) {
      clearTimeout(this.pollTimer);
      this.pollTimer = null;
    }
    // The slots it was blocking others from may now go to the next ones.
    if (outcome !== 'acquired' && this.queue.length > 0) this.wake();
  }

  private countWaiting(id: string, delta: number): void {
    const length = (this.waiting.get(id) ?? 0) + delta;
    if (length === 0) this.waiting.delete(id);
    else this.waiting.set(id, length);
    this.queueOptions.metrics?.queueLength?.(id, length);
  }

  private leaseOf(scopes: readonly SlotScope[], attempt: Exclude<Attempt<H>, { kind: 'full' }>): Lease {
    const group = this.leaseGroupOf(scopes);
    if (attempt.kind === 'unheld') return unheldLease(group.ids, false);
    return new HeldLease(this, group, performance.now(), attempt.handle);
  }

  private leaseGroupOf(scopes: readonly SlotScope[]): LeaseGroup {
    let group = this.leaseGroups.get(scopes);
    if (group === undefined) {
      group = {
        ids: scopes.map((scope) => scope.id),
        holds: scopes.map((scope) => {
          let hold = this.holdMs.get(scope.id);
          if (hold === undefined) {
            hold = { ms: -1 };
            this.holdMs.set(scope.id, hold);
          }
          return hold;
        }),
      };
      this.leaseGroups.set(scopes, group);
    }
    return group;
  }

  /** A lease's release (HeldLease calls it once). */
  giveBack(group: LeaseGroup, heldSince: number, handle: H): Promise<void> {
    const heldMs = performance.now() - heldSince;
    for (const hold of group.holds)
      hold.ms = hold.ms < 0 ? heldMs : hold.ms + HOLD_WEIGHT * (heldMs - hold.ms);
    if (this.giveNow !== undefined) {
      this.giveNow(handle);
    } else if (this.giveAtOnce === undefined || !this.giveAtOnce(handle)) {
      return this.give(handle).then(() => {
        this.given();
      });
    }
    this.given();
    return RESOLVED;
  }

  /** A lease's slots are back: the queue may go on. */
  private given(): void {
    this.releases++;
    this.wake();
  }

  /**
   * Retry-After for a request refused for these full scopes: how long a slot of theirs is typically
   * held here (a moving average), at least 1 s and at most 60 s.
   */
  private retryAfterSeconds(scopeIds: readonly string[]): number {
    let ms = 1000;
    for (const id of scopeIds) ms = Math.max(ms, this.holdMs.get(id)?.ms ?? 0);
    return Math.min(MAX_RETRY_AFTER_SECONDS, Math.ceil(ms / 1000));
  }

  private assertOpen(): void {
    if (this.closed) throw new ServiceUnavailableError('The gateway is shutting down; retry the request', 1);
  }
}

/** A scope's moving average of how long its slots are held (ms); -1: none ended yet. */
interface HoldTime {
  ms: number;
}

/** What leases of one array of scopes share. */
interface LeaseGroup {
  readonly ids: readonly string[];
  readonly holds: readonly HoldTime[];
}

/** A lease holding slots (one object per request: no closures). */
class HeldLease<H> implements Lease {
  readonly held = true;
  private released: Promise<void> | null = null;

  constructor(
    private readonly queue: SlotQueue<H>,
    private readonly group: LeaseGroup,
    private readonly heldSince: number,
    private readonly handle: H,
  ) {}

  get scopes(): readonly string[] {
    return this.group.ids;
  }

  release(): Promise<void> {
    return (this.released ??= this.queue.giveBack(this.group, this.heldSince, this.handle));
  }
}

/** A lease that holds nothing: no scopes, or admitted without a slot (fail open). */
export function unheldLease(scopes: readonly string[], held: boolean): Lease {
  return { scopes, held, release: () => Promise.resolve() };
}

/** Read through a call: the waiter may have left while an attempt for it awaited the store. */
function left(waiter: { readonly done: boolean }): boolean {
  return waiter.done;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** One slot per scope: a scope named twice counts once, at its lowest limit. */
function distinct(scopes: readonly SlotScope[]): readonly SlotScope[] {
  if (scopes.length <= 1) return scopes;
  const byId = new Map<string, SlotScope>();
  for (const scope of scopes) {
    const seen = byId.get(scope.id);
    if (seen === undefined || scope.limit < seen.limit) byId.set(scope.id, scope);
  }
  return byId.size === scopes.length ? scopes : [...byId.values()];
}
