import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ceilHour, expiryOf, hourOf, hoursIn, hourStart, lastExpiredHour } from './hours.js';
import { parseGroupBy, parseInstant, parseUsageParams, UsageParamError } from './usage-query.js';

const NOW = Date.parse('2030-03-15T10:30:00.000Z');
const at = (iso: string): number => Date.parse(iso);

function paramError(param: string, pattern: RegExp) {
  return (error: unknown): boolean =>
    error instanceof UsageParamError && error.param === param && pattern.test(error.message);
}

describe('usage hours', () => {
  it('formats and reads UTC hours', () => {
    assert.equal(hourOf(at('2030-03-15T10:59:59.999Z')), '2030-03-15T10');
    assert.equal(hourOf(at('2030-03-15T11:00:00.000Z')), '2030-03-15T11');
    assert.equal(hourStart('2030-03-15T10'), at('2030-03-15T10:00:00Z'));
    assert.equal(ceilHour(at('2030-03-15T10:00:00Z')), at('2030-03-15T10:00:00Z'));
    assert.equal(ceilHour(at('2030-03-15T10:00:00.001Z')), at('2030-03-15T11:00:00Z'));
  });

  it('lists the hours that start in [from, to)', () => {
    assert.deepEqual(hoursIn(at('2030-03-15T10:00:00Z'), at('2030-03-15T12:00:00Z')), [
      '2030-03-15T10',
      '2030-03-15T11',
    ]);
    assert.deepEqual(hoursIn(at('2030-03-15T10:00:00.001Z'), at('2030-03-15T12:00:00.001Z')), [
      '2030-03-15T11',
      '2030-03-15T12',
    ]);
    assert.deepEqual(hoursIn(at('2030-03-15T10:10:00Z'), at('2030-03-15T10:50:00Z')), []);
    assert.equal(hoursIn(at('2030-03-01T00:00:00Z'), at('2030-03-02T00:00:00Z')).length, 24);
  });

  it('expires an hour at its end plus the retention', () => {
    assert.equal(expiryOf('2030-03-15T10', 2), at('2030-03-17T11:00:00Z'));
    assert.equal(lastExpiredHour(at('2030-03-17T11:00:00Z'), 2), '2030-03-15T10');
    assert.equal(lastExpiredHour(at('2030-03-17T10:59:59.999Z'), 2), '2030-03-15T09');
  });
});

describe('usage parameters', () => {
  it('reads dates, date-times, offsets, hours and relative times', () => {
    assert.equal(parseInstant('from', '2030-03-01', NOW), at('2030-03-01T00:00:00Z'));
    assert.equal(parseInstant('from', '2030-03-01T09', NOW), at('2030-03-01T09:00:00Z'));
    assert.equal(parseInstant('from', '2030-03-01T09:15', NOW), at('2030-03-01T09:15:00Z'));
    assert.equal(parseInstant('from', '2030-03-01T09:15:30', NOW), at('2030-03-01T09:15:30Z'));
    assert.equal(parseInstant('from', '2030-03-01T09:15:30.25Z', NOW), at('2030-03-01T09:15:30.250Z'));
    assert.equal(parseInstant('from', '2030-03-01T09:00:00+02:00', NOW), at('2030-03-01T07:00:00Z'));
    assert.equal(parseInstant('from', '2030-03-01T09:00:00-0530', NOW), at('2030-03-01T14:30:00Z'));
    assert.equal(parseInstant('from', '2030-03-01T09:00:00z', NOW), at('2030-03-01T09:00:00Z'));
    assert.equal(parseInstant('from', '2030-03-15T10:00:00Z', NOW), at('2030-03-15T10:00:00Z'));
    assert.equal(parseInstant('from', '24h', NOW), NOW - 24 * 3_600_000);
    assert.equal(parseInstant('from', '7d', NOW), NOW - 7 * 86_400_000);
    assert.equal(parseInstant('to', 'now', NOW), NOW);
    assert.equal(parseInstant('from', '2028-02-29', NOW), at('2028-02-29T00:00:00Z'));
  });

  it('refuses what is not a time, naming the parameter', () => {
    for (const text of [
      '',
      'yesterday',
      '2030-3-1',
      '2030-02-30',
      '2029-02-29',
      '2030-13-01',
      '2030-03-01T24:00',
      '2030-03-01T10:60',
      '2030-03-01T10:00:61',
      '2030-03-01 10:00',
      '2030-03-01T10:00:00+25:00',
      '1710000000',
      '-7d',
      '7w',
      '2030-03-01Z',
    ]) {
      assert.throws(() => parseInstant('to', text, NOW), paramError('to', /^to: '.*' is not a time/), text);
    }
  });

  it('reads group_by lists', () => {
    assert.deepEqual(parseGroupBy(undefined), ['key', 'model']);
    assert.deepEqual(parseGroupBy('day'), ['day']);
    assert.deepEqual(parseGroupBy('model, key ,hour'), ['model', 'key', 'hour']);
    assert.deepEqual(parseGroupBy(''), []);
    assert.throws(() => parseGroupBy('week'), paramError('group_by', /'week' is not a grouping/));
    assert.throws(() => parseGroupBy('key,'), paramError('group_by', /'' is not a grouping/));
    assert.throws(() => parseGroupBy('key,key'), paramError('group_by', /'key' is given twice/));
    assert.throws(() => parseGroupBy('KEY'), paramError('group_by', /not a grouping/));
  });

  it('defaults to the 24 hourly buckets before now, grouped by key and model', () => {
    const query = parseUsageParams({}, NOW);
    assert.deepEqual(query, {
      key: null,
      model: null,
      from: at('2030-03-14T11:00:00Z'),
      to: NOW,
      groupBy: ['key', 'model'],
    });
    assert.equal(hoursIn(query.from, query.to).length, 24);
    assert.equal(hoursIn(query.from, query.to)[23], '2030-03-15T10');
    const day = parseUsageParams({ to: '2030-03-02' }, NOW);
    assert.equal(day.from, at('2030-03-01T00:00:00Z'));
  });

  it('takes filters and refuses empty ones, a backward span and a span over 400 days', () => {
    const query = parseUsageParams(
      { key: 'team-a', model: 'llama*', from: '2030-01-01', to: '2030-02-01', group_by: 'day' },
      NOW,
    );
    assert.deepEqual(query, {
      key: 'team-a',
      model: 'llama*',
      from: at('2030-01-01T00:00:00Z'),
      to: at('2030-02-01T00:00:00Z'),
      groupBy: ['day'],
    });
    assert.throws(() => parseUsageParams({ key: '' }, NOW), paramError('key', /must not be empty/));
    assert.throws(() => parseUsageParams({ model: '' }, NOW), paramError('model', /must not be empty/));
    assert.throws(
      () => parseUsageParams({ from: '2030-02-01', to: '2030-01-01' }, NOW),
      paramError('from', /must be before to/),
    );
    assert.throws(
      () => parseUsageParams({ from: '2030-01-01', to: '2030-01-01' }, NOW),
      paramError('from', /must be before to/),
    );
    assert.throws(() => parseUsageParams({ from: '2031-01-01' }, NOW), paramError('from', /before to/));
    assert.doesNotThrow(() => parseUsageParams({ from: '2029-01-01', to: '2030-02-05' }, NOW));
    assert.throws(
      () => parseUsageParams({ from: '2029-01-01', to: '2030-02-06' }, NOW),
      paramError('from', /more than 400 days apart/),
    );
  });
});
