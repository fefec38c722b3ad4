import { MemorySlots } from './memory-slots.js';
import { describeSlotsContract } from './slots-contract.js';

describeSlotsContract('MemorySlots', {
  pools: (settings = {}) => {
    // One instance: the "two instances" of the contract are the same pool.
    const pool = new MemorySlots({
      maxQueue: settings.maxQueue ?? 10_000,
      queueTimeoutMs: settings.queueTimeoutMs ?? 10_000,
      ...(settings.metrics === undefined ? {} : { metrics: settings.metrics }),
    });
    return Promise.resolve([pool, pool]);
  },
});
