import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../errors/errors.js';
import { csvField, parseFilters, parseInstant, parseStatsParams } from './requests-routes.js';

const HOUR = 3_600_000;

function paramOf(work: () => unknown): string | null {
  try {
    work();
  } catch (error) {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.status, 400);
    return error.param;
  }
  assert.fail('no error');
}

describe('request log query parameters', () => {
  it('reads times as ms, or ISO 8601 in UTC when no offset is written', () => {
    assert.equal(parseInstant('1764684000000', 'from'), 1764684000000);
    assert.equal(parseInstant('2026-12-02T14:00:00Z', 'from'), Date.UTC(2026, 11, 2, 14));
    assert.equal(parseInstant('2026-12-02T14:00:00', 'from'), Date.UTC(2026, 11, 2, 14));
    assert.equal(parseInstant('2026-12-02T14:00:00+02:00', 'from'), Date.UTC(2026, 11, 2, 12));
    assert.equal(parseInstant('2026-12-02', 'from'), Date.UTC(2026, 11, 2));
    assert.equal(
      paramOf(() => parseInstant('tomorrow', 'to')),
      'to',
    );
  });

  it('status: an exact status or a class', () => {
    assert.deepEqual(parseFilters({ status: '429' }), { status: 429 });
    assert.deepEqual(parseFilters({ status: '5XX' }), { status_class: '5xx' });
    assert.equal(
      paramOf(() => parseFilters({ status: '600' })),
      'status',
    );
    assert.equal(
      paramOf(() => parseFilters({ status: '2x' })),
      'status',
    );
  });

  it('cache in any case; a range that ends before it starts is refused', () => {
    assert.deepEqual(parseFilters({ cache: 'hit' }), { cache: 'HIT' });
    assert.equal(
      paramOf(() => parseFilters({ from: '2000', to: '1000' })),
      'to',
    );
    assert.equal(
      paramOf(() => parseFilters({ min_duration_ms: '1.5' })),
      'min_duration_ms',
    );
    assert.equal(
      paramOf(() => parseFilters({ key: '' })),
      'key',
    );
  });

  it('stats: the last 24 whole hours by default, so that the rollups can answer', () => {
    const now = Date.UTC(2026, 11, 2, 14, 25);
    const { filters, bucket, groupBy } = parseStatsParams({}, now);
    assert.equal(bucket, 'hour');
    assert.equal(groupBy, null);
    assert.equal(filters.to, Date.UTC(2026, 11, 2, 15));
    assert.equal(filters.from, Date.UTC(2026, 11, 2, 15) - 24 * HOUR);
    const minutes = parseStatsParams({ bucket: 'minute', group_by: 'backend' }, now);
    assert.equal((minutes.filters.to ?? 0) - (minutes.filters.from ?? 0), HOUR);
    assert.equal(
      paramOf(() => parseStatsParams({ bucket: 'minute', from: '0', to: String(30 * 24 * HOUR) }, now)),
      'from',
    );
    assert.equal(
      paramOf(() => parseStatsParams({ group_by: 'team' }, now)),
      'group_by',
    );
  });
});

describe('request log CSV fields', () => {
  it('quotes commas, quotes and line breaks (RFC 4180); null is empty; numbers as they are', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('one\r\ntwo'), '"one\r\ntwo"');
    assert.equal(csvField(null), '');
    assert.equal(csvField(-5), '-5');
  });

  it('neutralises text a spreadsheet would run, and leaves out control characters', () => {
    assert.equal(csvField('=1+2'), "'=1+2");
    assert.equal(csvField('+1'), "'+1");
    assert.equal(csvField('-1'), "'-1");
    assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
    assert.equal(csvField('a\u001b[31mb\u202e'), 'a[31mb');
    assert.equal(csvField([{ backend: 'x' }]), '"[{""backend"":""x""}]"');
  });
});
