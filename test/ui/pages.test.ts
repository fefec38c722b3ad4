/** The admin UI's budgets, backends, request-log and route logic (ui/src/lib/*.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendRows, type BackendView } from '../../ui/src/lib/backends.js';
import { budgetBars, type BudgetStatus } from '../../ui/src/lib/budgets.js';
import type { StatsRow } from '../../ui/src/lib/chart-data.js';
import { appendPage, prependLive, timings, type RequestRecord } from '../../ui/src/lib/requests.js';
import { parseRoute, pathOf } from '../../ui/src/lib/routes.js';

function budget(fields: Partial<BudgetStatus>): BudgetStatus {
  return {
    scope: 'team:research',
    unit: 'usd',
    limit: 100,
    window: 'month',
    soft: false,
    spent: 0,
    reserved: 0,
    remaining: 100,
    window_start: '2026-12-01T00:00:00Z',
    window_end: '2027-01-01T00:00:00Z',
    ...fields,
  };
}

function record(id: string, time = 0): RequestRecord {
  return {
    time,
    request_id: id,
    key_id: 'k',
    team: null,
    protocol: 'openai-chat',
    route: '/v1/chat/completions',
    model: 'small',
    route_name: 'small',
    backend: 'vllm',
    upstream_model: null,
    status: 200,
    error_code: null,
    attempts: [{ backend: 'vllm', model: 'small', outcome: 'ok', duration_ms: 80 }],
    cache: null,
    ttfb_ms: 30,
    duration_ms: 100,
    prompt_tokens: 1,
    completion_tokens: 2,
    cached_tokens: null,
    reasoning_tokens: null,
    cost_micros: null,
    client_address: null,
    user_agent: null,
    prompt: null,
    answer: null,
  };
}

describe('admin UI budget bars', () => {
  it('draws spent then reserved, and names the alert thresholds crossed', () => {
    const [bar] = budgetBars([budget({ spent: 85, reserved: 30 })], [0.5, 0.8, 1]);
    assert.ok(bar);
    assert.equal(bar.spentShare, 0.85);
    assert.ok(Math.abs(bar.reservedShare - 0.15) < 1e-9, 'reserved fills at most the rest');
    assert.deepEqual(bar.crossed, [0.5, 0.8]);
    assert.equal(bar.level, 'warning');
    assert.equal(bar.label, 'team:research · month');
  });

  it('shows an exhausted budget full, and an unspent one empty', () => {
    const [over, none] = budgetBars([budget({ spent: 150 }), budget({ soft: true })], [0.5, 0.8, 1]);
    assert.equal(over?.spentShare, 1);
    assert.equal(over?.level, 'exhausted');
    assert.deepEqual(over?.crossed, [0.5, 0.8, 1]);
    assert.equal(none?.level, 'ok');
    assert.equal(none?.label, 'team:research · month (soft)');
  });
});

describe('admin UI backends', () => {
  const backend = (fields: Partial<BackendView>): BackendView => ({
    name: 'vllm',
    type: 'openai',
    url: 'http://gpu:8000/v1',
    health: 'healthy',
    health_detail: null,
    circuit: 'closed',
    open_circuits: [],
    open_circuits_total: 0,
    in_flight: 0,
    in_flight_all_instances: null,
    queued: 0,
    max_concurrency: null,
    ...fields,
  });
  const stats = (group: string, requests: number, errors: number, p50: number | null): StatsRow => ({
    bucket_start: 0,
    group,
    requests,
    errors,
    duration_p50_ms: p50,
    duration_p95_ms: p50 === null ? null : p50 * 2,
    ttfb_p50_ms: null,
    ttfb_p95_ms: null,
    prompt_tokens: 0,
    completion_tokens: 0,
    cached_tokens: 0,
    reasoning_tokens: 0,
    cost_micros: 0,
    cache_hit_ratio: null,
  });

  it("joins each backend's live state with its last hour's requests, errors and latency", () => {
    const [row] = backendRows(
      [backend({})],
      [stats('vllm', 10, 1, 100), stats('vllm', 10, 1, 200), stats('other', 5, 5, 1)],
    );
    assert.equal(row?.requests, 20);
    assert.equal(row?.errorRate, 0.1);
    assert.equal(row?.p50Ms, 200, 'the latest bucket');
    assert.equal(row?.p95Ms, 400);
    assert.equal(row?.status, 'ok');
  });

  it('calls a backend down when it fails its health check, degraded with an open circuit or many errors', () => {
    assert.equal(backendRows([backend({ health: 'unhealthy' })], [])[0]?.status, 'down');
    assert.equal(backendRows([backend({ circuit: 'open' })], [])[0]?.status, 'degraded');
    assert.equal(backendRows([backend({})], [stats('vllm', 10, 5, 1)])[0]?.status, 'degraded');
    assert.equal(backendRows([backend({})], [])[0]?.errorRate, null);
  });
});

describe('admin UI request log', () => {
  it('appends older pages without repeating a record, and puts live ones in front, newest first', () => {
    const shown = appendPage([record('c', 3)], [record('c', 3), record('b', 2), record('a', 1)]);
    assert.deepEqual(
      shown.map((item) => item.request_id),
      ['c', 'b', 'a'],
    );
    const live = prependLive(shown, [record('d', 4), record('e', 5)]);
    assert.deepEqual(
      live.map((item) => item.request_id),
      ['e', 'd', 'c', 'b', 'a'],
    );
    assert.equal(prependLive(live, [record('f', 6)], 3).length, 3);
  });

  it('splits a request’s time between upstream calls and the gateway', () => {
    assert.deepEqual(timings(record('x')), [
      ['Time to first byte', 30],
      ['Total', 100],
      ['In upstream calls', 80],
      ['In the gateway', 20],
    ]);
  });
});

describe('admin UI routes', () => {
  it('reads the page and item from the path', () => {
    assert.deepEqual(parseRoute('/ui'), { page: 'overview', item: null });
    assert.deepEqual(parseRoute('/ui/'), { page: 'overview', item: null });
    assert.deepEqual(parseRoute('/ui/keys/key%2F1'), { page: 'keys', item: 'key/1' });
    assert.deepEqual(parseRoute('/ui/requests/abc-123'), { page: 'requests', item: 'abc-123' });
    assert.deepEqual(parseRoute('/ui/nothing-here'), { page: 'overview', item: null });
    assert.equal(pathOf('keys', 'key/1'), '/ui/keys/key%2F1');
    assert.equal(pathOf('overview'), '/ui/');
  });
});
