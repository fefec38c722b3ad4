/** The admin UI's formatting (ui/src/lib/format.ts), without a browser. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatCount,
  formatDuration,
  formatMicros,
  formatRatio,
  formatRelative,
  formatTime,
  formatUsd,
  statusKind,
} from '../../ui/src/lib/format.js';

describe('admin UI formatting', () => {
  it('writes counts with separators, then k, M and B with three significant digits', () => {
    assert.equal(formatCount(0), '0');
    assert.equal(formatCount(1234), '1,234');
    assert.equal(formatCount(12_345), '12.3 k');
    assert.equal(formatCount(1_234_567), '1.23 M');
    assert.equal(formatCount(2_000_000_000), '2 B');
    assert.equal(formatCount(0.256), '0.256');
    assert.equal(formatCount(null), '—');
    assert.equal(formatCount(Number.NaN), '—');
  });

  it('writes durations in ms, s, or minutes and seconds', () => {
    assert.equal(formatDuration(8.4), '8 ms');
    assert.equal(formatDuration(999), '999 ms');
    assert.equal(formatDuration(1234), '1.23 s');
    assert.equal(formatDuration(125_000), '2 min 5 s');
    assert.equal(formatDuration(120_000), '2 min');
    assert.equal(formatDuration(null), '—');
  });

  it('writes dollars with cents, and small amounts with three significant digits', () => {
    assert.equal(formatUsd(0), '$0');
    assert.equal(formatUsd(12.345), '$12.35');
    assert.equal(formatUsd(1234.5), '$1,234.50');
    assert.equal(formatUsd(0.001234), '$0.00123');
    assert.equal(formatUsd(-0.5), '-$0.50');
    assert.equal(formatMicros(1500), '$0.0015');
    assert.equal(formatMicros(null), '—');
  });

  it('writes ratios as percentages', () => {
    assert.equal(formatRatio(0.125), '12.5%');
    assert.equal(formatRatio(1), '100%');
    assert.equal(formatRatio(0), '0%');
    assert.equal(formatRatio(0.0123), '1.2%');
    assert.equal(formatRatio(null), '—');
  });

  it('writes a time in the given zone, and how long ago it was', () => {
    const time = Date.UTC(2026, 11, 2, 15, 41, 12);
    assert.equal(formatTime(time, 'UTC'), '2026-12-02 15:41:12');
    assert.equal(formatTime('2026-12-02T15:41:12Z', 'Europe/Paris'), '2026-12-02 16:41:12');
    assert.equal(formatTime(null), '—');
    assert.equal(formatRelative(time, time + 2000), 'just now');
    assert.equal(formatRelative(time, time + 42_000), '42 s ago');
    assert.equal(formatRelative(time, time + 5 * 60_000), '5 min ago');
    assert.equal(formatRelative(time, time + 3 * 3_600_000), '3 h ago');
    assert.equal(formatRelative(time + 2 * 86_400_000, time), 'in 2 d');
  });

  it('tells successes, client errors and server errors apart', () => {
    assert.equal(statusKind(200), 'ok');
    assert.equal(statusKind(429), 'client-error');
    assert.equal(statusKind(502), 'server-error');
  });
});
