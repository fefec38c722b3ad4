import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeTimestamp, parseTimestamp } from './timestamp.js';

describe('parseTimestamp', () => {
  it('reads RFC 3339 date-times, with fractions and offsets, as the instant they name', () => {
    assert.equal(parseTimestamp('2026-06-30T12:00:00Z'), Date.UTC(2026, 5, 30, 12));
    assert.equal(parseTimestamp('2026-06-30t12:00:00z'), Date.UTC(2026, 5, 30, 12));
    assert.equal(parseTimestamp('2026-06-30T12:00:00.25Z'), Date.UTC(2026, 5, 30, 12, 0, 0, 250));
    assert.equal(parseTimestamp('2026-06-30T12:00:00.123456789Z'), Date.UTC(2026, 5, 30, 12, 0, 0, 123));
    assert.equal(parseTimestamp('2026-06-30T14:30:00+02:30'), Date.UTC(2026, 5, 30, 12));
    assert.equal(parseTimestamp('2026-06-30T09:00:00-03:00'), Date.UTC(2026, 5, 30, 12));
    assert.equal(parseTimestamp('2028-02-29T00:00:00Z'), Date.UTC(2028, 1, 29));
    assert.equal(parseTimestamp('0099-01-01T00:00:00Z'), Date.parse('0099-01-01T00:00:00Z'));
  });

  it('refuses dates and times that do not exist', () => {
    for (const text of [
      '2025-12-31T23:59:60Z', // a leap second: Date.parse gives NaN
      '2026-02-30T00:00:00Z',
      '2027-02-29T00:00:00Z', // not a leap year
      '2026-04-31T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-00-10T00:00:00Z',
      '2026-01-00T00:00:00Z',
      '2026-12-31T24:00:00Z',
      '2026-12-31T23:60:00Z',
      '2026-12-31T10:00:00+24:00',
      '2026-12-31T10:00:00+01:60',
    ]) {
      assert.equal(parseTimestamp(text), null, text);
    }
  });

  it('refuses what is not RFC 3339: no offset, date only, spaces, expanded years, words', () => {
    for (const text of [
      '2026-12-31T10:00:00',
      '2026-12-31',
      '2026-12-31 10:00:00Z',
      '+002026-12-31T10:00:00Z',
      '2026-12-31T10:00Z',
      '2026-12-31T10:00:00.Z',
      '2026-12-31T10:00:00+0100',
      ' 2026-12-31T10:00:00Z',
      'Thu, 31 Dec 2026 10:00:00 GMT',
      '',
    ]) {
      assert.equal(parseTimestamp(text), null, text);
    }
  });
});

describe('normalizeTimestamp', () => {
  it('gives the instant in UTC with milliseconds, as Date.parse reads back', () => {
    const normalized = normalizeTimestamp('2026-06-30T14:30:00+02:30');
    assert.equal(normalized, '2026-06-30T12:00:00.000Z');
    assert.equal(Date.parse(normalized ?? ''), Date.UTC(2026, 5, 30, 12));
    assert.equal(normalizeTimestamp('2025-12-31T23:59:60Z'), null);
  });
});
