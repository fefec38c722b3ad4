import { SlotQueue, unheldLease, type Attempt, type SlotQueueOptions } from './slot-queue.js';
import type { Lease, SlotScope } from './slots.js';

export type MemorySlotsOptions = Omit<SlotQueueOptions, 'poll'>;

/**
 * Slots counted in this process: exact for one instance (no Redis). Nothing lapses: a lease is held
 * until released, and only releases free slots, so the queue needs no polling.
 */
export class MemorySlots extends SlotQueue<readonly SlotScope[]> {
  private readonly counts = new Map<string, number>();

  constructor(options: MemorySlotsOptions) {
    super({ ...options, poll: null });
  }

  inFlight(scopeId: string): number {
    return this.counts.get(scopeId) ?? 0;
  }

  /** tryAcquire(), at once: the counts are here. */
  tryAcquireNow(requested: readonly SlotScope[], options: { readonly priority?: number } = {}): Lease | null {
    const scopes = this.tryable(requested, options.priority);
    if (scopes === null) return null;
    if (scopes.length === 0) return unheldLease([], true);
    return this.tried(scopes, this.takeNow(scopes));
  }

  protected take(scopes: readonly SlotScope[]): Promise<Attempt<readonly SlotScope[]>> {
    return Promise.resolve(this.takeNow(scopes));
  }

  protected give(scopes: readonly SlotScope[]): Promise<void> {
    this.giveNow(scopes);
    return Promise.resolve();
  }

  /** The handle is the lease's own array of scopes (callers keep theirs): nothing is made per lease. */
  protected override giveNow(scopes: readonly SlotScope[]): void {
    for (let index = 0; index < scopes.length; index++) {
      const id = (scopes[index] as SlotScope).id;
      const count = this.inFlight(id) - 1;
      if (count > 0) this.counts.set(id, count);
      else this.counts.delete(id);
    }
  }

  private takeNow(scopes: readonly SlotScope[]): Attempt<readonly SlotScope[]> {
    for (let index = 0; index < scopes.length; index++) {
      const scope = scopes[index] as SlotScope;
      if (this.inFlight(scope.id) >= scope.limit) return this.full(scopes);
    }
    for (let index = 0; index < scopes.length; index++) {
      const id = (scopes[index] as SlotScope).id;
      this.counts.set(id, this.inFlight(id) + 1);
    }
    return { kind: 'taken', handle: scopes };
  }

  private full(scopes: readonly SlotScope[]): Attempt<readonly SlotScope[]> {
    const full = scopes.filter((scope) => this.inFlight(scope.id) >= scope.limit).map((scope) => scope.id);
    return { kind: 'full', full };
  }
}
