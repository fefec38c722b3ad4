import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeLedgerContract } from './ledger-contract.js';
import { MemoryBudgetLedger } from './memory-ledger.js';

describeLedgerContract('MemoryBudgetLedger', {
  ledgers: (options) => {
    const ledger = new MemoryBudgetLedger(options);
    return Promise.resolve([ledger, ledger]);
  },
});

describe('MemoryBudgetLedger', () => {
  it('forgets a window an hour after it ends', async () => {
    const ledger = new MemoryBudgetLedger({ timeZone: () => 'UTC' });
    const budget = { unit: 'tokens', limit: 10, window: 'hour', soft: false } as const;
    const now = Date.parse('2030-01-01T10:30:00Z');
    const first = await ledger.reserve([{ scope: 'key:a', budget, amount: 10 }], now);
    assert.ok(first.ok);
    await ledger.settle(first.reservation, { usdMicros: 0, tokens: 10 });
    // Late in the margin: still counted; past it (next sweep): gone.
    const [kept] = await ledger.status('key:a', [budget], now);
    assert.equal(kept?.spent, 10);
    await ledger.reserve([], Date.parse('2030-01-01T12:00:01Z'));
    const [gone] = await ledger.status('key:a', [budget], now);
    assert.equal(gone?.spent, 0);
  });

  it('counts a lapsed reservation settled late once, and never gives its amount back twice', async () => {
    const ledger = new MemoryBudgetLedger({ timeZone: () => 'UTC', reservationTtlMs: () => 1000 });
    const budget = { unit: 'tokens', limit: 100, window: 'day', soft: false } as const;
    const now = Date.parse('2030-01-01T10:30:00Z');
    const lapsing = ledger.reserveNow([{ scope: 'key:a', budget, amount: 60 }], now);
    assert.ok(lapsing.ok);
    // Lapsed at its expiry: its 60 are free again, once.
    const next = ledger.reserveNow([{ scope: 'key:a', budget, amount: 40 }], now + 1000);
    assert.ok(next.ok);
    assert.equal(ledger.settleNow(lapsing.reservation, { usdMicros: 0, tokens: 7 }).counted, true);
    assert.equal(ledger.settleNow(lapsing.reservation, { usdMicros: 0, tokens: 7 }).counted, false);
    const [status] = await ledger.status('key:a', [budget], now + 1000);
    assert.deepEqual([status?.spent, status?.reserved], [7, 40]);
    assert.equal(ledger.reserveNow([{ scope: 'key:a', budget, amount: 53 }], now + 1000).ok, true);
    assert.equal(ledger.reserveNow([{ scope: 'key:a', budget, amount: 1 }], now + 1000).ok, false);
  });
});
