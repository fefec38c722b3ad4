import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExpiry } from './keys-command.js';

const NOW = Date.parse('2030-01-01T00:00:00.000Z');

describe('parseExpiry', () => {
  it('reads days, hours and minutes from the injected now', () => {
    assert.equal(parseExpiry('30d', NOW), '2030-01-31T00:00:00.000Z');
    assert.equal(parseExpiry('12h', NOW), '2030-01-01T12:00:00.000Z');
    assert.equal(parseExpiry('45m', NOW), '2030-01-01T00:45:00.000Z');
    assert.equal(parseExpiry('1m', NOW), '2030-01-01T00:01:00.000Z');
    assert.equal(parseExpiry('365d', NOW), '2031-01-01T00:00:00.000Z');
  });

  it('counts from the injected now, not the clock', () => {
    const later = NOW + 123_456;
    assert.equal(parseExpiry('1h', later), new Date(later + 3_600_000).toISOString());
  });

  it('keeps an ISO-8601 time in the future, as the same instant in UTC', () => {
    assert.equal(parseExpiry('2030-06-01T12:00:00.000Z', NOW), '2030-06-01T12:00:00.000Z');
    assert.equal(parseExpiry('2030-06-01T12:00:00Z', NOW), '2030-06-01T12:00:00.000Z');
    assert.equal(parseExpiry('2030-06-01T12:00:00+02:00', NOW), '2030-06-01T10:00:00.000Z');
    assert.equal(parseExpiry('2030-06-01', NOW), '2030-06-01T00:00:00.000Z');
    assert.equal(parseExpiry('2030-01-01T00:00:00.001Z', NOW), '2030-01-01T00:00:00.001Z');
  });

  it('refuses a time in the past, or now itself', () => {
    for (const text of [
      '2029-12-31T23:59:59Z',
      '2029-12-31',
      '2000-01-01T00:00:00Z',
      '2030-01-01T00:00:00Z',
    ]) {
      assert.throws(() => parseExpiry(text, NOW), /--expires: must be in the future/, text);
    }
  });

  it('refuses a relative time of zero: the key would be expired on arrival', () => {
    for (const text of ['0d', '0h', '0m']) {
      assert.throws(() => parseExpiry(text, NOW), /--expires: must be in the future/, text);
    }
  });

  it('refuses nonsense with a message naming --expires', () => {
    for (const text of [
      '',
      'soon',
      'tomorrow',
      '30',
      'd',
      '30 d',
      '30D',
      '1w',
      '30s',
      '-5d',
      '1.5h',
      '+30d',
      'June 1 2030',
      '1/6/2030',
      '2030-13-45',
      'not-a-date',
    ]) {
      assert.throws(
        () => parseExpiry(text, NOW),
        (error: unknown) => error instanceof Error && /^--expires: /.test(error.message),
        `'${text}' should be refused`,
      );
    }
  });

  it('refuses times that do not exist, or have no offset (issue 16, finding 9)', () => {
    for (const text of [
      '2030-12-31T23:59:60Z',
      '2031-02-30T00:00:00Z',
      '2030-12-31T24:00:00Z',
      '2030-06-31',
      '2030-06-01T12:00:00',
      '2030-06-01 12:00:00Z',
    ]) {
      assert.throws(
        () => parseExpiry(text, NOW),
        (error: unknown) => error instanceof Error && /^--expires: '.+' is neither/.test(error.message),
        `'${text}' should be refused`,
      );
    }
  });

  it('refuses a relative time too far ahead for a date, with a message, not a RangeError', () => {
    assert.throws(
      () => parseExpiry('100000000d', NOW),
      (error: unknown) =>
        error instanceof Error && !(error instanceof RangeError) && /^--expires: /.test(error.message),
    );
  });
});
