/** The overview's chart data (ui/src/lib/chart-data.ts): GET /admin/stats rows as uPlot series. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CHARTS,
  labelRows,
  rankGroups,
  shapeChart,
  totals,
  type StatsRow,
} from '../../ui/src/lib/chart-data.js';
import { statsWindow } from '../../ui/src/lib/query.js';

const now = Date.UTC(2026, 11, 2, 15, 41, 12);
const window = statsWindow('hour', now);

function row(minute: number, fields: Partial<StatsRow> = {}): StatsRow {
  return {
    bucket_start: window.from + minute * 60_000,
    group: null,
    requests: 60,
    errors: 6,
    duration_p50_ms: 100,
    duration_p95_ms: 400,
    ttfb_p50_ms: 20,
    ttfb_p95_ms: 80,
    prompt_tokens: 1000,
    completion_tokens: 500,
    cached_tokens: 0,
    reasoning_tokens: 0,
    cost_micros: 2_500_000,
    cache_hit_ratio: 0.25,
    ...fields,
  };
}

const chart = (id: string) => {
  const found = CHARTS.find((candidate) => candidate.id === id);
  assert.ok(found, id);
  return found;
};

describe('admin UI chart data', () => {
  it('has a point per minute of the hour; counts are 0 where no row is, percentiles a gap', () => {
    const rows = [row(0), row(59)];
    const requests = shapeChart(rows, window, chart('requests'));
    assert.equal(requests.x.length, 60);
    assert.equal(requests.x[0], window.from / 1000);
    assert.deepEqual(
      requests.series.map((series) => series.label),
      ['all'],
    );
    assert.equal(requests.series[0]?.values[0], 1, '60 requests in a minute: 1 per second');
    assert.equal(requests.series[0]?.values[1], 0);
    const latency = shapeChart(rows, window, chart('latency-p95'));
    assert.equal(latency.series[0]?.values[0], 400);
    assert.equal(latency.series[0]?.values[1], null);
  });

  it('computes error rate, tokens, cost in dollars and the cache hit ratio per bucket', () => {
    const rows = [row(3)];
    assert.equal(shapeChart(rows, window, chart('error-rate')).series[0]?.values[3], 0.1);
    assert.equal(shapeChart(rows, window, chart('tokens')).series[0]?.values[3], 1500);
    assert.equal(shapeChart(rows, window, chart('cost')).series[0]?.values[3], 2.5);
    assert.equal(shapeChart(rows, window, chart('cache-hit-ratio')).series[0]?.values[3], 0.25);
    assert.equal(
      shapeChart([row(3, { requests: 0, errors: 0 })], window, chart('error-rate')).series[0]?.values[3],
      null,
    );
  });

  it('draws the groups with most requests, one series each, and counts the others', () => {
    const rows = [
      row(1, { group: 'small', requests: 10 }),
      row(1, { group: 'large', requests: 50 }),
      row(2, { group: 'tiny', requests: 1 }),
      row(2, { group: 'small', requests: 10 }),
    ];
    assert.deepEqual(rankGroups(rows), ['large', 'small', 'tiny']);
    const data = shapeChart(rows, window, chart('requests'), 2);
    assert.deepEqual(
      data.series.map((series) => series.label),
      ['large', 'small'],
    );
    assert.equal(data.hiddenGroups, 1);
    assert.equal(data.series[1]?.values[2], 10 / 60);
  });

  it('ignores rows outside the window', () => {
    const data = shapeChart([row(-5), row(60)], window, chart('requests'));
    assert.ok(data.series[0]?.values.every((value) => value === 0));
  });

  it('labels the per-team answers by team', () => {
    const rows = labelRows([
      { group: 'research', rows: [row(1)] },
      { group: 'ops', rows: [row(2)] },
    ]);
    assert.deepEqual(
      rows.map((item) => item.group),
      ['research', 'ops'],
    );
  });

  it('totals a window: sums, error rate, the slowest p95, a request-weighted cache hit ratio', () => {
    const sum = totals([
      row(1),
      row(2, { duration_p95_ms: 900, cache_hit_ratio: null, requests: 40, errors: 0 }),
    ]);
    assert.equal(sum.requests, 100);
    assert.equal(sum.errors, 6);
    assert.equal(sum.errorRate, 0.06);
    assert.equal(sum.tokens, 3000);
    assert.equal(sum.costUsd, 5);
    assert.equal(sum.worstP95Ms, 900);
    assert.equal(sum.cacheHitRatio, 0.25);
    assert.equal(totals([]).errorRate, null);
  });
});
