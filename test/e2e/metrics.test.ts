/**
 * Prometheus metrics (issue 7, "Tests"): a run of known traffic through a real gateway in front of
 * stand-in upstreams (misses, hits, bypasses, a 429, an upstream 502, a stream with usage, embeddings,
 * a 404, a 401, requests for 100 made-up model names and 5 made-up paths), then GET /metrics parsed with
 * a real Prometheus text parser: every counter equals what was sent, histogram counts equal the
 * counters, gauges are at rest, the default process metrics are there, and no label carries a
 * client's made-up model name or a request id. Then how /metrics is guarded: a token (config or
 * METRICS_TOKEN), a port of its own, and `metrics.enabled: false`.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sha256Hex } from '../../src/auth/api-key.js';
import { freePort } from '../support/free-port.js';
import {
  TEST_KEY,
  startGateway,
  testConfig,
  waitForLog,
  type RunningGateway,
} from '../support/gateway-harness.js';
import { exchange, type Exchange } from '../support/http-exchange.js';
import type { Problem } from '../support/problem.js';
import { parseScrape, seriesOf, type Scrape } from '../support/prometheus-text.js';
import { STAND_IN_USAGE, StandInUpstream } from '../support/stand-in-upstream.js';

const LIMITED_KEY = 'sk-gw-limitedDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD';
const CHAT = '/v1/chat/completions';
const EMBEDDINGS = '/v1/embeddings';
const PROMETHEUS_CONTENT_TYPE = /^text\/plain; version=0\.0\.4; charset=utf-8$/;

/** Adds one to `tally[key]`. */
function bump(tally: Record<string, number>, key: string, by = 1): void {
  tally[key] = (tally[key] ?? 0) + by;
}

function messages(text: string): { role: string; content: string }[] {
  return [{ role: 'user', content: text }];
}

/** The minimal gateway the guard tests use: a demo backend, the test keys. */
function demoConfig(metrics: Record<string, unknown> | null): Record<string, unknown> {
  return testConfig({
    backends: [{ name: 'demo', type: 'demo' }],
    models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
    ...(metrics === null ? {} : { extra: { metrics } }),
  });
}

function assertProblem(answer: Exchange, status: number, code: string): void {
  assert.equal(answer.status, status, answer.text);
  assert.match(answer.headers['content-type'] ?? '', /^application\/problem\+json/);
  const problem = JSON.parse(answer.text) as Problem;
  assert.equal(problem.status, status);
  assert.equal(problem.error.code, code);
}

async function waitForCompleted(running: RunningGateway, count: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = running.logs.filter((line) => line['msg'] === 'request_complete').length;
    if (done >= count) return;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${count} request_complete lines (saw ${done})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('GET /metrics after a run of known traffic', () => {
  const upstream = new StandInUpstream();
  const failing = new StandInUpstream();
  let running: RunningGateway;
  /** The first scrape, taken once every request of the run has completed. */
  let scrape: Scrape;
  /** A second scrape, right after the first. */
  let second: Scrape;

  // What the run sent, counted by the test as it sends.
  const http: Record<string, number> = {};
  const cache = { hit: 0, miss: 0, bypass: 0 };
  const attempts: Record<string, number> = {};
  const attemptDurations: Record<string, number> = {};
  const firstTokens: Record<string, number> = {};
  const tokens: Record<string, number> = {};
  const rejections: Record<string, number> = {};
  const requestIds: string[] = [];
  const madeUpNames: string[] = [];
  let sent = 0;

  /** Sends one request with a fresh X-Request-ID, checks its status and counts it under its route. */
  async function send(
    route: string,
    status: number,
    options: {
      method?: string;
      path?: string;
      key?: string | null;
      body?: unknown;
      headers?: Record<string, string>;
    },
  ): Promise<Exchange> {
    const requestId = `req-${randomUUID()}`;
    requestIds.push(requestId);
    const key = options.key === undefined ? TEST_KEY : options.key;
    const method = options.method ?? 'POST';
    const answer = await exchange(`${running.url}${options.path ?? route}`, {
      method,
      headers: {
        'x-request-id': requestId,
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { body: options.body }),
    });
    sent++;
    assert.equal(answer.status, status, `${method} ${options.path ?? route}: ${answer.text}`);
    assert.equal(answer.headers['x-request-id'], requestId);
    bump(http, `route=${route},method=${method},status_class=${String(status)[0]}xx`);
    return answer;
  }

  /** A non-streaming chat request answered by the stand-in on `model` (route `chat`). */
  function upstreamOk(keyId: string, route: string, backend: string): void {
    bump(attempts, `backend=${backend},model=${route},outcome=ok`);
    bump(attemptDurations, `backend=${backend},model=${route}`);
    bump(tokens, `kind=prompt,model=${route},key_id=${keyId}`, STAND_IN_USAGE.prompt_tokens);
    bump(tokens, `kind=completion,model=${route},key_id=${keyId}`, STAND_IN_USAGE.completion_tokens);
  }

  function upstreamError(route: string, backend: string): void {
    bump(attempts, `backend=${backend},model=${route},outcome=error`);
    bump(attemptDurations, `backend=${backend},model=${route}`);
  }

  before(async () => {
    await upstream.start();
    await failing.start();
    failing.behaviour = { kind: 'status', status: 500 };
    const deadPort = await freePort();
    running = await startGateway(
      testConfig({
        backends: [
          { name: 'vllm', type: 'openai', url: `${upstream.url}/v1`, api_key: 'upstream-secret-key' },
          { name: 'failing', type: 'openai', url: `${failing.url}/v1` },
          { name: 'dead', type: 'openai', url: `http://127.0.0.1:${deadPort}/v1` },
        ],
        models: [
          { name: 'chat', targets: [{ backend: 'vllm', model: 'stand-in' }] },
          { name: 'embed', targets: [{ backend: 'vllm', model: 'stand-in-embed' }] },
          { name: 'broken', targets: [{ backend: 'failing' }] },
          { name: 'rnd-*', targets: [{ backend: 'dead' }] },
        ],
        extra: {
          cache: { enabled: true },
          auth: {
            keys: [
              { id: 'test-key', sha256: sha256Hex(TEST_KEY) },
              { id: 'limited-key', sha256: sha256Hex(LIMITED_KEY), rate_limit: { requests: '3/minute' } },
            ],
          },
        },
      }),
    );

    // 3 misses, answered upstream.
    for (let index = 1; index <= 3; index++) {
      const answer = await send(CHAT, 200, { body: { model: 'chat', messages: messages(`miss ${index}`) } });
      assert.equal(answer.headers['x-cache'], 'MISS');
      cache.miss++;
      upstreamOk('test-key', 'chat', 'vllm');
    }
    // 2 hits: the first request again.
    for (let index = 1; index <= 2; index++) {
      const answer = await send(CHAT, 200, { body: { model: 'chat', messages: messages('miss 1') } });
      assert.equal(answer.headers['x-cache'], 'HIT');
      cache.hit++;
    }
    // 2 bypasses (Cache-Control: no-store), answered upstream.
    for (let index = 1; index <= 2; index++) {
      const answer = await send(CHAT, 200, {
        body: { model: 'chat', messages: messages(`bypass ${index}`) },
        headers: { 'cache-control': 'no-store' },
      });
      assert.equal(answer.headers['x-cache'], 'BYPASS');
      cache.bypass++;
      upstreamOk('test-key', 'chat', 'vllm');
    }
    // The limited key (requests: 3/minute): 3 answered, the 4th refused with 429 by policy "requests".
    for (let index = 1; index <= 4; index++) {
      const status = index <= 3 ? 200 : 429;
      const answer = await send(CHAT, status, {
        key: LIMITED_KEY,
        body: { model: 'chat', messages: messages(`limited ${index}`) },
      });
      assert.equal(answer.headers['x-cache'], 'MISS'); // looked up before the limit refused it
      cache.miss++;
      if (status === 200) upstreamOk('limited-key', 'chat', 'vllm');
      else bump(rejections, 'policy=requests');
    }
    // An upstream 500 → 502.
    {
      const answer = await send(CHAT, 502, { body: { model: 'broken', messages: messages('broken') } });
      assert.equal(JSON.parse(answer.text).error.code, 'upstream_error');
      cache.miss++;
      upstreamError('broken', 'failing');
    }
    // A stream with include_usage.
    {
      const answer = await send(CHAT, 200, {
        body: {
          model: 'chat',
          messages: messages('stream 1'),
          stream: true,
          stream_options: { include_usage: true },
        },
      });
      assert.match(answer.headers['content-type'] ?? '', /^text\/event-stream/);
      assert.match(answer.text, /"usage":\{"prompt_tokens":11,"completion_tokens":6/);
      assert.match(answer.text, /data: \[DONE\]\n\n$/);
      cache.miss++;
      upstreamOk('test-key', 'chat', 'vllm');
      bump(firstTokens, 'backend=vllm,model=chat');
    }
    // Embeddings: the stand-in reports 2 prompt tokens per input, no completion tokens.
    {
      const answer = await send(EMBEDDINGS, 200, { body: { model: 'embed', input: ['alpha', 'beta'] } });
      assert.equal(JSON.parse(answer.text).usage.prompt_tokens, 4);
      cache.miss++;
      bump(attempts, 'backend=vllm,model=embed,outcome=ok');
      bump(attemptDurations, 'backend=vllm,model=embed');
      bump(tokens, 'kind=prompt,model=embed,key_id=test-key', 4);
    }
    // 404 model_not_found, and 401 without a key: neither reaches the cache.
    {
      const answer = await send(CHAT, 404, { body: { model: 'nope', messages: messages('nope') } });
      assert.equal(JSON.parse(answer.text).error.code, 'model_not_found');
      const unauthenticated = await send(CHAT, 401, {
        key: null,
        body: { model: 'chat', messages: messages('x') },
      });
      assert.equal(JSON.parse(unauthenticated.text).error.code, 'invalid_api_key');
    }
    // 50 made-up names on the `rnd-*` route, whose backend refuses connections (502 each), and 50
    // made-up names no route matches (404 each).
    for (let index = 0; index < 50; index++) {
      const name = `rnd-${randomBytes(8).toString('hex')}`;
      madeUpNames.push(name);
      const answer = await send(CHAT, 502, { body: { model: name, messages: messages('random') } });
      assert.equal(JSON.parse(answer.text).error.code, 'upstream_error');
      cache.miss++;
      upstreamError('rnd-*', 'dead');
    }
    for (let index = 0; index < 50; index++) {
      const name = `ghost${randomBytes(8).toString('hex')}`;
      madeUpNames.push(name);
      const answer = await send(CHAT, 404, { body: { model: name, messages: messages('random') } });
      assert.equal(JSON.parse(answer.text).error.code, 'model_not_found');
    }
    // 5 made-up paths: one route label for all of them.
    for (let index = 0; index < 5; index++) {
      const path = `/path${randomBytes(8).toString('hex')}`;
      madeUpNames.push(path.slice(1));
      await send('unmatched', 404, { method: 'GET', path, key: null });
    }

    // Every request has been counted once its request_complete line is out (the same close handler).
    await waitForCompleted(running, sent);
    const first = await exchange(`${running.url}/metrics`);
    assert.equal(first.status, 200, first.text);
    assert.match(first.headers['content-type'] ?? '', PROMETHEUS_CONTENT_TYPE);
    assert.equal(first.headers['cache-control'], 'no-store');
    scrape = parseScrape(first.text);
    await waitForCompleted(running, sent + 1);
    const again = await exchange(`${running.url}/metrics`);
    assert.equal(again.status, 200);
    second = parseScrape(again.text);
  });

  after(async () => {
    await running?.stop();
    await upstream.stop();
    await failing.stop();
  });

  it('declares each gateway family with its Prometheus type', () => {
    const expected: Record<string, string> = {
      gateway_http_requests_total: 'COUNTER',
      gateway_log_lines_dropped_total: 'COUNTER',
      gateway_http_request_duration_seconds: 'HISTOGRAM',
      gateway_upstream_attempts_total: 'COUNTER',
      gateway_upstream_duration_seconds: 'HISTOGRAM',
      gateway_upstream_time_to_first_token_seconds: 'HISTOGRAM',
      gateway_tokens_total: 'COUNTER',
      gateway_cache_requests_total: 'COUNTER',
      gateway_rate_limit_rejections_total: 'COUNTER',
      gateway_store_errors_total: 'COUNTER',
      gateway_rate_limit_fail_open_total: 'COUNTER',
      gateway_requests_in_flight: 'GAUGE',
      gateway_streams_in_flight: 'GAUGE',
      gateway_circuit_state: 'GAUGE',
      gateway_backend_healthy: 'GAUGE',
      gateway_spend_usd_total: 'COUNTER',
      gateway_budget_reservations_total: 'COUNTER',
      gateway_budget_alerts_total: 'COUNTER',
      gateway_concurrency_queue_length: 'GAUGE',
      gateway_concurrency_wait_seconds: 'HISTOGRAM',
      gateway_request_log_dropped_total: 'COUNTER',
    };
    const actual = Object.fromEntries(
      [...scrape.types]
        .filter(([name]) => name.startsWith('gateway_'))
        .sort(([a], [b]) => a.localeCompare(b)),
    );
    assert.deepEqual(
      actual,
      Object.fromEntries(Object.entries(expected).sort(([a], [b]) => a.localeCompare(b))),
    );
  });

  it('counts HTTP requests by route pattern, method and status class, exactly', () => {
    const labels = ['route', 'method', 'status_class'];
    assert.deepEqual(seriesOf(scrape, 'gateway_http_requests_total', labels), http);
    // The numbers the run was built to produce, spelled out (so that a slip in the tally shows too).
    assert.deepEqual(http, {
      'route=/v1/chat/completions,method=POST,status_class=2xx': 3 + 2 + 2 + 3 + 1,
      'route=/v1/chat/completions,method=POST,status_class=4xx': 1 + 1 + 1 + 50,
      'route=/v1/chat/completions,method=POST,status_class=5xx': 1 + 50,
      'route=/v1/embeddings,method=POST,status_class=2xx': 1,
      'route=unmatched,method=GET,status_class=4xx': 5,
    });
    // The first scrape is counted once answered: the second scrape sees it.
    assert.deepEqual(seriesOf(second, 'gateway_http_requests_total', labels), {
      ...http,
      'route=/metrics,method=GET,status_class=2xx': 1,
    });
  });

  it('counts cache hits, misses and bypasses, exactly', () => {
    assert.deepEqual(cache, { hit: 2, miss: 60, bypass: 2 });
    assert.deepEqual(seriesOf(scrape, 'gateway_cache_requests_total', ['result']), {
      'result=hit': cache.hit,
      'result=miss': cache.miss,
      'result=bypass': cache.bypass,
    });
  });

  it('counts rate-limit rejections by policy, exactly', () => {
    assert.deepEqual(rejections, { 'policy=requests': 1 });
    assert.deepEqual(seriesOf(scrape, 'gateway_rate_limit_rejections_total', ['policy']), rejections);
    assert.deepEqual(seriesOf(scrape, 'gateway_store_errors_total', ['store']), {
      'store=rate_limit': 0,
      'store=cache': 0,
      'store=keys': 0,
      'store=budgets': 0,
      'store=concurrency': 0,
    });
    assert.deepEqual(seriesOf(scrape, 'gateway_rate_limit_fail_open_total', []), { '': 0 });
  });

  it('counts upstream attempts by backend, route and outcome, exactly', () => {
    assert.deepEqual(attempts, {
      'backend=vllm,model=chat,outcome=ok': 3 + 2 + 3 + 1,
      'backend=vllm,model=embed,outcome=ok': 1,
      'backend=failing,model=broken,outcome=error': 1,
      'backend=dead,model=rnd-*,outcome=error': 50,
    });
    assert.deepEqual(
      seriesOf(scrape, 'gateway_upstream_attempts_total', ['backend', 'model', 'outcome']),
      attempts,
    );
  });

  it('counts the tokens the stand-in reported, by kind, route and key id', () => {
    assert.deepEqual(tokens, {
      'kind=prompt,model=chat,key_id=test-key': 6 * STAND_IN_USAGE.prompt_tokens,
      'kind=completion,model=chat,key_id=test-key': 6 * STAND_IN_USAGE.completion_tokens,
      'kind=prompt,model=chat,key_id=limited-key': 3 * STAND_IN_USAGE.prompt_tokens,
      'kind=completion,model=chat,key_id=limited-key': 3 * STAND_IN_USAGE.completion_tokens,
      'kind=prompt,model=embed,key_id=test-key': 4,
    });
    assert.deepEqual(seriesOf(scrape, 'gateway_tokens_total', ['kind', 'model', 'key_id']), tokens);
  });

  it('has histogram counts equal to the counters, and +Inf buckets equal to the counts', () => {
    const requestLabels = ['route', 'method', 'status_class'];
    assert.deepEqual(seriesOf(scrape, 'gateway_http_request_duration_seconds_count', requestLabels), http);
    assert.deepEqual(
      seriesOf(scrape, 'gateway_upstream_duration_seconds_count', ['backend', 'model']),
      attemptDurations,
    );
    assert.deepEqual(
      seriesOf(scrape, 'gateway_upstream_time_to_first_token_seconds_count', ['backend', 'model']),
      firstTokens,
    );
    for (const family of [
      'gateway_http_request_duration_seconds',
      'gateway_upstream_duration_seconds',
      'gateway_upstream_time_to_first_token_seconds',
    ]) {
      const counts = scrape.samples(`${family}_count`);
      assert.ok(counts.length > 0, `${family}: no series`);
      for (const count of counts) {
        const inf = scrape
          .samples(`${family}_bucket`)
          .filter(
            (bucket) =>
              bucket.labels['le'] === '+Inf' &&
              Object.entries(count.labels).every(([name, value]) => bucket.labels[name] === value),
          );
        assert.equal(inf.length, 1, `${family}${JSON.stringify(count.labels)}: one +Inf bucket`);
        assert.equal(inf[0]?.value, count.value);
        const sum = scrape
          .samples(`${family}_sum`)
          .find((candidate) => JSON.stringify(candidate.labels) === JSON.stringify(count.labels));
        assert.ok(sum !== undefined && sum.value > 0 && Number.isFinite(sum.value), `${family}_sum`);
      }
    }
  });

  it('shows the gauges at rest: nothing in flight but the scrape itself, every circuit closed', () => {
    // The scrape is a request on the main port: it is in flight while it renders the metrics.
    assert.deepEqual(seriesOf(scrape, 'gateway_requests_in_flight', []), { '': 1 });
    assert.deepEqual(seriesOf(scrape, 'gateway_streams_in_flight', []), { '': 0 });
    assert.deepEqual(seriesOf(scrape, 'gateway_circuit_state', ['target', 'backend']), {
      'target=vllm/stand-in,backend=vllm': 0,
      'target=vllm/stand-in-embed,backend=vllm': 0,
      'target=failing/(client model),backend=failing': 0,
      'target=dead/(client model),backend=dead': 0,
    });
    assert.deepEqual(seriesOf(scrape, 'gateway_backend_healthy', ['backend']), {
      'backend=vllm': 1,
      'backend=failing': 1,
      'backend=dead': 1,
    });
  });

  it("includes Node's default process and event-loop metrics", () => {
    for (const [name, type] of [
      ['process_cpu_user_seconds_total', 'COUNTER'],
      ['process_resident_memory_bytes', 'GAUGE'],
      ['process_start_time_seconds', 'GAUGE'],
      ['nodejs_eventloop_lag_seconds', 'GAUGE'],
      ['nodejs_eventloop_lag_p99_seconds', 'GAUGE'],
      ['nodejs_heap_size_used_bytes', 'GAUGE'],
      ['nodejs_active_handles_total', 'GAUGE'],
    ] as const) {
      assert.equal(scrape.types.get(name), type, name);
      const samples = scrape.samples(name);
      assert.equal(samples.length, 1, name);
      const value = samples[0]?.value ?? NaN;
      assert.ok(Number.isFinite(value) && value >= 0, `${name} = ${value}`);
    }
    assert.ok((scrape.samples('process_resident_memory_bytes')[0]?.value ?? 0) > 1_000_000);
  });

  it('keeps label sets bounded: no made-up model name, path or request id in any label', () => {
    assert.equal(madeUpNames.length, 105);
    assert.equal(requestIds.length, sent);
    const values = new Set<string>();
    for (const name of scrape.names())
      for (const sample of scrape.samples(name))
        for (const value of Object.values(sample.labels)) values.add(value);
    assert.ok(values.has('rnd-*') && values.has('/v1/chat/completions'), 'the label values were collected');
    for (const value of values) {
      for (const made of madeUpNames) {
        const random = made.replace(/^(rnd-|ghost|path)/, '');
        assert.ok(
          !value.includes(random),
          `label value ${JSON.stringify(value)} carries the made-up ${made}`,
        );
      }
      for (const id of requestIds)
        assert.ok(!value.includes(id.slice(4)), `label value ${value} carries ${id}`);
      assert.doesNotMatch(value, /[0-9a-f]{8}-[0-9a-f]{4}-/, `label value ${value} looks like a request id`);
    }
    // The label values of the gateway's own families come from the configuration and fixed sets only.
    const allowed: Record<string, readonly string[]> = {
      route: ['/v1/chat/completions', '/v1/embeddings', '/metrics', 'unmatched'],
      method: ['GET', 'POST'],
      status_class: ['2xx', '4xx', '5xx'],
      backend: ['vllm', 'failing', 'dead'],
      model: ['chat', 'embed', 'broken', 'rnd-*'],
      outcome: ['ok', 'error', 'cancelled', 'held', 'refused', 'store_error_admitted', 'store_error_refused'],
      kind: ['prompt', 'completion'],
      key_id: ['test-key', 'limited-key'],
      result: ['hit', 'miss', 'bypass'],
      policy: ['requests'],
      store: ['rate_limit', 'cache', 'keys', 'budgets', 'concurrency'],
      target: ['vllm/stand-in', 'vllm/stand-in-embed', 'failing/(client model)', 'dead/(client model)'],
      le: [],
    };
    for (const name of second.names().filter((candidate) => candidate.startsWith('gateway_'))) {
      for (const sample of second.samples(name)) {
        for (const [label, value] of Object.entries(sample.labels)) {
          const set = allowed[label];
          assert.ok(set !== undefined, `${name}: unexpected label ${label}`);
          if (label !== 'le')
            assert.ok(set.includes(value), `${name}{${label}="${value}"}: not a configured value`);
        }
      }
    }
  });
});

describe('guarding GET /metrics', () => {
  const TOKEN = 'metrics-token-0123456789abcdef';
  const gateways: RunningGateway[] = [];

  async function start(
    metrics: Record<string, unknown> | null,
    env: Record<string, string> = {},
  ): Promise<RunningGateway> {
    const running = await startGateway(demoConfig(metrics), env);
    gateways.push(running);
    return running;
  }

  after(async () => {
    await Promise.all(gateways.map((running) => running.stop()));
  });

  for (const variant of ['metrics.token_sha256', 'METRICS_TOKEN'] as const) {
    it(`answers 401 problem+json without the token and 200 with it (${variant})`, async () => {
      const running =
        variant === 'METRICS_TOKEN'
          ? await start(null, { METRICS_TOKEN: TOKEN })
          : await start({ token_sha256: sha256Hex(TOKEN) });
      const url = `${running.url}/metrics`;
      assertProblem(await exchange(url), 401, 'invalid_api_key');
      assertProblem(
        await exchange(url, { headers: { authorization: `Bearer ${TOKEN}x` } }),
        401,
        'invalid_api_key',
      );
      // An API key is not the metrics token.
      assertProblem(
        await exchange(url, { headers: { authorization: `Bearer ${TEST_KEY}` } }),
        401,
        'invalid_api_key',
      );
      assertProblem(await exchange(url, { headers: { authorization: TOKEN } }), 401, 'invalid_api_key');
      await waitForCompleted(running, 4);
      const ok = await exchange(url, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 200, ok.text);
      assert.match(ok.headers['content-type'] ?? '', PROMETHEUS_CONTENT_TYPE);
      const parsed = parseScrape(ok.text);
      // The four refusals were answered and counted before this scrape.
      assert.deepEqual(seriesOf(parsed, 'gateway_http_requests_total', ['route', 'method', 'status_class']), {
        'route=/metrics,method=GET,status_class=4xx': 4,
      });
    });
  }

  it('serves /metrics on metrics.port only: 404 problem+json on the main port', async () => {
    const port = await freePort();
    const running = await start({ port });
    const own = `http://127.0.0.1:${port}`;
    const chat = await exchange(`${running.url}${CHAT}`, {
      headers: { authorization: `Bearer ${TEST_KEY}` },
      body: { model: 'demo', messages: messages('hello') },
    });
    assert.equal(chat.status, 200, chat.text);
    assertProblem(await exchange(`${running.url}/metrics`), 404, 'not_found');
    await waitForCompleted(running, 2);
    const scraped = await exchange(`${own}/metrics`);
    assert.equal(scraped.status, 200, scraped.text);
    assert.match(scraped.headers['content-type'] ?? '', PROMETHEUS_CONTENT_TYPE);
    const parsed = parseScrape(scraped.text);
    assert.deepEqual(seriesOf(parsed, 'gateway_http_requests_total', ['route', 'method', 'status_class']), {
      'route=/v1/chat/completions,method=POST,status_class=2xx': 1,
      'route=unmatched,method=GET,status_class=4xx': 1,
    });
    // This scrape did not go through the gateway's request pipeline: nothing is in flight at rest.
    assert.deepEqual(seriesOf(parsed, 'gateway_requests_in_flight', []), { '': 0 });
    assert.equal((await exchange(`${own}/other`)).status, 404);
    assert.equal((await exchange(`${own}/v1/models`)).status, 404);
    assert.equal((await exchange(`${own}/metrics`, { method: 'POST', body: '{}' })).status, 405);
  });

  it('guards metrics.port with the token too: 401 without it, 200 with it', async () => {
    const port = await freePort();
    await start({ port, token_sha256: sha256Hex(TOKEN) });
    const url = `http://127.0.0.1:${port}/metrics`;
    const refused = await exchange(url);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], 'Bearer');
    assert.doesNotMatch(refused.text, /gateway_/);
    assert.equal((await exchange(url, { headers: { authorization: `Bearer ${TOKEN}x` } })).status, 401);
    const ok = await exchange(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.ok(parseScrape(ok.text).types.has('gateway_http_requests_total'));
  });

  it('has no /metrics with metrics.enabled: false (404, and nothing on metrics.port)', async () => {
    const port = await freePort();
    const running = await start({ enabled: false, port });
    assertProblem(await exchange(`${running.url}/metrics`), 404, 'not_found');
    await assert.rejects(exchange(`http://127.0.0.1:${port}/metrics`), /fetch failed/);
    await waitForLog(running, (line) => line['msg'] === 'request_complete' && line['status'] === 404);
  });
});
