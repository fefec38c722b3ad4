import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cellGroupValues,
  CONTROL_CHARACTER,
  usageCsv,
  UsageRowBuilder,
  type UsageSums,
} from './usage-rows.js';
import type { UsageRow } from './usage.js';

const sums = (requests: number, costMicros: number | null, extra: Partial<UsageSums> = {}): UsageSums => ({
  requests,
  errors: 0,
  cached: 0,
  promptTokens: 0,
  completionTokens: 0,
  costMicros,
  ...extra,
});

describe('UsageRowBuilder', () => {
  it('sums cells per group in group_by order, sorted, with total_tokens and cost', () => {
    const builder = new UsageRowBuilder(['model', 'key']);
    builder.add(
      cellGroupValues('2030-01-02T03', 'b', 'm1'),
      sums(1, 10, { promptTokens: 5, completionTokens: 2 }),
    );
    builder.add(cellGroupValues('2030-01-02T04', 'b', 'm1'), sums(2, null, { errors: 1, cached: 1 }));
    builder.add(cellGroupValues('2030-01-02T03', 'a', 'm1'), sums(4, null));
    builder.add(cellGroupValues('2030-01-02T03', 'a', 'm0'), sums(8, 0));
    const rows = builder.rows();
    assert.deepEqual(rows, [
      {
        model: 'm0',
        key: 'a',
        requests: 8,
        errors: 0,
        cached: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        cost: 0,
      },
      {
        model: 'm1',
        key: 'a',
        requests: 4,
        errors: 0,
        cached: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        cost: null,
      },
      {
        model: 'm1',
        key: 'b',
        requests: 3,
        errors: 1,
        cached: 1,
        prompt_tokens: 5,
        completion_tokens: 2,
        total_tokens: 7,
        cost: 0.00001,
      },
    ]);
    // Members in group_by order, then the counters.
    assert.deepEqual(Object.keys(rows[0]!), [
      'model',
      'key',
      'requests',
      'errors',
      'cached',
      'prompt_tokens',
      'completion_tokens',
      'total_tokens',
      'cost',
    ]);
  });

  it('groups hours into UTC days and formats hours as date-times', () => {
    const days = new UsageRowBuilder(['day']);
    const hours = new UsageRowBuilder(['hour']);
    for (const hour of ['2030-01-02T23', '2030-01-03T00', '2030-01-02T00']) {
      days.add(cellGroupValues(hour, 'k', 'm'), sums(1, null));
      hours.add(cellGroupValues(hour, 'k', 'm'), sums(1, null));
    }
    assert.deepEqual(
      days.rows().map((row) => [row.day, row.requests]),
      [
        ['2030-01-02', 2],
        ['2030-01-03', 1],
      ],
    );
    assert.deepEqual(
      hours.rows().map((row) => row.hour),
      ['2030-01-02T00:00:00Z', '2030-01-02T23:00:00Z', '2030-01-03T00:00:00Z'],
    );
  });

  it('gives exactly one row of totals without grouping, zeros when nothing was used', () => {
    assert.deepEqual(new UsageRowBuilder([]).rows(), [
      {
        requests: 0,
        errors: 0,
        cached: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        cost: null,
      },
    ]);
    const builder = new UsageRowBuilder([]);
    builder.add(cellGroupValues('2030-01-02T03', 'a', 'x'), sums(1, 1_500_000));
    builder.add(cellGroupValues('2030-01-02T04', 'b', 'y'), sums(2, null));
    assert.deepEqual(builder.rows(), [
      {
        requests: 3,
        errors: 0,
        cached: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
        cost: 1.5,
      },
    ]);
    assert.deepEqual(new UsageRowBuilder(['key']).rows(), []);
  });

  it('keeps apart groups whose values would collide if joined', () => {
    const builder = new UsageRowBuilder(['key', 'model']);
    builder.add({ key: 'a,b', model: 'c' }, sums(1, null));
    builder.add({ key: 'a', model: 'b,c' }, sums(1, null));
    builder.add({ key: 'a\u0000', model: 'b' }, sums(1, null));
    assert.equal(builder.rows().length, 3);
  });
});

describe('usageCsv', () => {
  const row = (values: Partial<UsageRow>): UsageRow => ({
    requests: 1,
    errors: 0,
    cached: 0,
    prompt_tokens: 2,
    completion_tokens: 3,
    total_tokens: 5,
    cost: null,
    ...values,
  });

  it('writes a header line and one CRLF line per row, the same columns as the JSON rows', () => {
    const csv = usageCsv(
      [row({ key: 'a', day: '2030-01-02', cost: 0.25 }), row({ key: 'b', day: '2030-01-02' })],
      ['key', 'day'],
    );
    assert.equal(
      csv,
      'key,day,requests,errors,cached,prompt_tokens,completion_tokens,total_tokens,cost\r\n' +
        'a,2030-01-02,1,0,0,2,3,5,0.25\r\n' +
        'b,2030-01-02,1,0,0,2,3,5,\r\n',
    );
    assert.equal(
      usageCsv([], ['model']),
      'model,requests,errors,cached,prompt_tokens,completion_tokens,total_tokens,cost\r\n',
    );
  });

  it('quotes as RFC 4180 says, leaves control characters out and defuses spreadsheet formulas', () => {
    const csv = usageCsv(
      [
        row({ model: 'a,b' }),
        row({ model: 'say "hi"' }),
        row({ model: 'two\nlines' }),
        row({ model: '=HYPERLINK("http://x")' }),
        row({ model: '+1' }),
        row({ model: '@sum' }),
        row({ model: 'plain-name' }),
      ],
      ['model'],
    );
    const lines = csv.split('\r\n');
    assert.equal(lines[1], '"a,b",1,0,0,2,3,5,');
    assert.equal(lines[2], '"say ""hi""",1,0,0,2,3,5,');
    assert.equal(lines[3], 'twolines,1,0,0,2,3,5,');
    assert.equal(lines[4], `"'=HYPERLINK(""http://x"")",1,0,0,2,3,5,`);
    assert.equal(lines[5], "'+1,1,0,0,2,3,5,");
    assert.equal(lines[6], "'@sum,1,0,0,2,3,5,");
    assert.equal(lines[7], 'plain-name,1,0,0,2,3,5,');
  });

  // Issue 16, finding 7: names with control characters reached the CSV (and the terminal showing it) raw.
  it('strips escape sequences, BEL, line breaks and bidirectional overrides from key ids and model names', () => {
    const csv = usageCsv(
      [
        row({ key: 'k\u0007ey', model: '\u001b[2J\u001b]0;owned\u0007gpt' }),
        row({ key: '\tteam', model: 'a\r\nb\u0085c\u009b31m' }),
        row({ key: 'rtl', model: 'x\u202egnp.exe\u2028\u2066y\u007f' }),
        row({ key: 'tab', model: '\t=1+1' }),
      ],
      ['key', 'model'],
    );
    assert.equal(
      csv,
      'key,model,requests,errors,cached,prompt_tokens,completion_tokens,total_tokens,cost\r\n' +
        'key,[2J]0;ownedgpt,1,0,0,2,3,5,\r\n' +
        'team,abc31m,1,0,0,2,3,5,\r\n' +
        'rtl,xgnp.exey,1,0,0,2,3,5,\r\n' +
        "tab,'=1+1,1,0,0,2,3,5,\r\n",
    );
    assert.doesNotMatch(csv.replaceAll('\r\n', ''), CONTROL_CHARACTER);
  });
});
