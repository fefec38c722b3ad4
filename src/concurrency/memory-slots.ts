import { SlotQueue, type Attempt, type SlotQueueOptions } from './slot-queue.js';
import type { SlotScope } from './slots.js';

export type MemorySlotsOptions = Omit<SlotQueueOptions, 'poll'>;

/**
 * Slots counted in this process: exact for one instance (no Redis). Nothing lapses: a lease is held
 * until released, and only releases free slots, so the queue needs no polling.
 */
export class MemorySlots extends SlotQueue<readonly string[]> {
  private readonly counts = new Map<string, number>();

  constructor(options: MemorySlotsOptions) {
    super({ ...options, poll: null });
  }

  inFlight(scopeId: string): number {
    return this.counts.get(scopeId) ?? 0;
  }

  protected take(scopes: readonly SlotScope[]): Promise<Attempt<readonly string[]>> {
    const full = scopes.filter((scope) => this.inFlight(scope.id) >= scope.limit).map((scope) => scope.id);
    if (full.length > 0) return Promise.resolve({ kind: 'full', full });
    const ids = scopes.map((scope) => scope.id);
    for (const id of ids) this.counts.set(id, this.inFlight(id) + 1);
    return Promise.resolve({ kind: 'taken', handle: ids });
  }

  protected give(ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const count = this.inFlight(id) - 1;
      if (count > 0) this.counts.set(id, count);
      else this.counts.delete(id);
    }
    return Promise.resolve();
  }
}
