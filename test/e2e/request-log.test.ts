/**
 * The request log (issue 21) end to end: every field of the record for a success, an error, a cache
 * hit, a stream, a cancelled stream and a fallback, on SQLite and on PostgreSQL (a database made and
 * dropped by the test); two instances writing to one PostgreSQL; PostgreSQL stalled (a proxy that
 * forwards nothing) or down never slows a request, and the overflow is counted; the admin API's
 * filters, pages, export and live tail; `ai-gateway logs` against a running gateway (node dist/cli.js;
 * `npm run build` first when run alone).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { CLI, childEnv, killStrayChildren, runCli } from '../support/cli-process.js';
import { freePort } from '../support/free-port.js';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../support/postgres-database.js';
import { StallingProxy } from '../support/stalling-proxy.js';
import { StandInUpstream } from '../support/stand-in-upstream.js';
import { RECORD_COLUMNS } from '../../src/request-log/request-log-store.js';
import type { RequestRecord } from '../../src/request-log/request-record.js';

const ADMIN_TOKEN = 'admin-token-for-the-request-log-test';
const ADMIN_ENV = { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN };
const pgSkip = (await postgresAvailable()) ? false : 'no PostgreSQL at 127.0.0.1:5432';

type Json = Record<string, unknown>;
type Store = 'sqlite' | 'postgres';

async function admin(base: string, path: string): Promise<{ status: number; json: Json; text: string }> {
  const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const text = await response.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    // an export: not one JSON document
  }
  return { status: response.status, json, text };
}

function subscribers(running: RunningGateway): number {
  return running.gateway.context.requestLog?.writer.subscriberCount ?? 0;
}

/** Polls GET /admin/requests/{id} until the record is written (records go in batches). */
async function recordOf(base: string, requestId: string, timeoutMs = 10_000): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await admin(base, `/admin/requests/${encodeURIComponent(requestId)}`);
    if (answer.status === 200) return answer.json;
    assert.equal(answer.status, 404, answer.text);
    if (Date.now() > deadline) throw new Error(`no record of ${requestId} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function chat(
  base: string,
  body: Json,
  headers: Record<string, string> = {},
): Promise<{ status: number; requestId: string; text: string }> {
  const response = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_KEY}`,
      'content-type': 'application/json',
      'user-agent': 'request-log-test/1.0',
      ...headers,
    },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    requestId: response.headers.get('x-request-id') ?? '',
    text: await response.text(),
  };
}

function message(text: string): Json {
  return { messages: [{ role: 'user', content: text }] };
}

function gatewayConfig(upstream: string, down: number, requestLog: Json): Json {
  return testConfig({
    backends: [
      { name: 'vllm', type: 'openai', url: `${upstream}/v1` },
      { name: 'down', type: 'openai', url: `http://127.0.0.1:${down}/v1`, timeout_ms: 2000 },
    ],
    models: [
      { name: 'stand-in-*', targets: [{ backend: 'vllm' }] },
      {
        name: 'fallback',
        targets: [
          { backend: 'down', model: 'first-choice' },
          { backend: 'vllm', model: 'second-choice' },
        ],
      },
    ],
    extra: {
      cache: { enabled: true },
      routing: { max_attempts: 2, circuit_breaker: { enabled: false } },
      logging: { prompts: { enabled: true } },
      usage: { prices: [{ model: 'stand-in-*', prompt_per_million: 1, completion_per_million: 2 }] },
      request_log: { enabled: true, batch: { interval_ms: 20 }, ...requestLog },
    },
  });
}

for (const store of ['sqlite', 'postgres'] as Store[]) {
  describe(
    `request log on ${store}: every field of each kind of request`,
    { skip: store === 'postgres' && pgSkip },
    () => {
      const upstream = new StandInUpstream();
      let database: TestDatabase | null = null;
      let running: RunningGateway;
      let base: string;

      before(async () => {
        const upstreamUrl = await upstream.start();
        if (store === 'postgres') database = await createTestDatabase();
        running = await startGateway(
          gatewayConfig(
            upstreamUrl,
            await freePort(),
            database === null ? {} : { store: 'postgres', postgres_url: database.url },
          ),
          ADMIN_ENV,
        );
        base = running.url;
        await running.gateway.context.requestLog?.ready;
      });
      after(async () => {
        await running.stop();
        await upstream.stop();
        await database?.drop();
      });

      it('a success: who, what, where, how long, tokens, cost, client, prompt and answer', async () => {
        const sent = await chat(base, { model: 'stand-in-a', ...message('hello success') });
        assert.equal(sent.status, 200, sent.text);
        const record = await recordOf(base, sent.requestId);
        assert.equal(record['request_id'], sent.requestId);
        assert.equal(typeof record['id'], 'number');
        assert.ok(Math.abs((record['time'] as number) - Date.now()) < 10_000);
        assert.equal(record['key_id'], 'test-key');
        assert.equal(record['team'], null);
        assert.equal(record['protocol'], 'openai-chat');
        assert.equal(record['route'], '/v1/chat/completions');
        assert.equal(record['model'], 'stand-in-a');
        assert.equal(record['route_name'], 'stand-in-*');
        assert.equal(record['backend'], 'vllm');
        assert.equal(record['upstream_model'], 'stand-in-a');
        assert.equal(record['status'], 200);
        assert.equal(record['error_code'], null);
        const attempts = record['attempts'] as Json[];
        assert.equal(attempts.length, 1);
        assert.equal(attempts[0]?.['backend'], 'vllm');
        assert.equal(attempts[0]?.['outcome'], 'ok');
        assert.equal(record['cache'], 'MISS');
        assert.equal(typeof record['ttfb_ms'], 'number');
        assert.ok((record['duration_ms'] as number) >= (record['ttfb_ms'] as number));
        assert.equal(record['prompt_tokens'], 11);
        assert.equal(record['completion_tokens'], 6);
        // 11 × $1/M + 6 × $2/M = 23 micro-dollars.
        assert.equal(record['cost_micros'], 23);
        assert.equal(record['client_address'], '127.0.0.1');
        assert.equal(record['user_agent'], 'request-log-test/1.0');
        assert.match(String(record['prompt']), /hello success/);
        assert.match(String(record['answer']), /stand-in upstream/);
      });

      it('an upstream error: the status sent, the error code, the failed attempt', async () => {
        // Both tries (routing.max_attempts: 2) fail.
        const failure = { kind: 'status', status: 500, body: '{"error":{"message":"boom"}}' } as const;
        upstream.once(failure, failure);
        const sent = await chat(base, { model: 'stand-in-b', ...message('hello error') });
        assert.equal(sent.status, 502, sent.text);
        const record = await recordOf(base, sent.requestId);
        assert.equal(record['status'], 502);
        assert.equal(record['error_code'], 'upstream_error');
        const attempts = record['attempts'] as Json[];
        assert.ok(attempts.length >= 1);
        assert.notEqual(attempts[0]?.['outcome'], 'ok');
        assert.equal(record['completion_tokens'], null);
      });

      it('a cache hit: cache HIT, no attempt at any backend', async () => {
        const first = await chat(base, { model: 'stand-in-c', ...message('hello cache') });
        await recordOf(base, first.requestId);
        const sent = await chat(base, { model: 'stand-in-c', ...message('hello cache') });
        assert.equal(sent.status, 200, sent.text);
        const record = await recordOf(base, sent.requestId);
        assert.equal(record['cache'], 'HIT');
        assert.deepEqual(record['attempts'], []);
        assert.equal(record['status'], 200);
        assert.equal(record['key_id'], 'test-key');
        assert.equal(record['model'], 'stand-in-c');
      });

      it('a stream: time to first byte before the end, tokens from the usage chunk', async () => {
        upstream.once({ kind: 'slow-stream', delayMs: 30 });
        const sent = await chat(base, {
          model: 'stand-in-d',
          stream: true,
          stream_options: { include_usage: true },
          ...message('hello stream'),
        });
        assert.equal(sent.status, 200);
        assert.match(sent.text, /\[DONE\]/);
        const record = await recordOf(base, sent.requestId);
        assert.equal(record['status'], 200);
        assert.equal(record['error_code'], null);
        assert.equal(record['backend'], 'vllm');
        assert.equal(record['completion_tokens'], 6);
        assert.ok(
          (record['ttfb_ms'] as number) < (record['duration_ms'] as number),
          `ttfb ${String(record['ttfb_ms'])} < duration ${String(record['duration_ms'])}`,
        );
        assert.match(String(record['answer']), /stand-in upstream/);
      });

      it('a stream the client cancels: status 499, the attempt, the time to first byte', async () => {
        upstream.once({ kind: 'slow-stream', delayMs: 200 });
        const controller = new AbortController();
        const response = await fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'stand-in-e', stream: true, ...message('hello cancel') }),
          signal: controller.signal,
        });
        const requestId = response.headers.get('x-request-id') ?? '';
        const reader = response.body?.getReader();
        await reader?.read();
        controller.abort();
        const record = await recordOf(base, requestId);
        assert.equal(record['model'], 'stand-in-e');
        assert.equal(record['backend'], 'vllm');
        // 499 (nginx's "client closed request"), as in the request_complete log line.
        assert.equal(record['status'], 499);
        assert.equal(record['error_code'], null);
        const attempts = record['attempts'] as Json[];
        assert.equal(attempts[0]?.['backend'], 'vllm');
        assert.equal(typeof record['ttfb_ms'], 'number');
        assert.ok((record['ttfb_ms'] as number) <= (record['duration_ms'] as number));
        // The backend reported no usage before the cut: the record says so (null), it does not guess.
        assert.equal(record['completion_tokens'], null);
        assert.match(String(record['prompt']), /hello cancel/);
      });

      it('a fallback: two attempts, the first down, the second answered', async () => {
        const sent = await chat(base, { model: 'fallback', ...message('hello fallback') });
        assert.equal(sent.status, 200, sent.text);
        const record = await recordOf(base, sent.requestId);
        const attempts = record['attempts'] as Json[];
        assert.equal(attempts.length, 2, JSON.stringify(attempts));
        assert.equal(attempts[0]?.['backend'], 'down');
        assert.equal(attempts[0]?.['model'], 'first-choice');
        assert.notEqual(attempts[0]?.['outcome'], 'ok');
        assert.equal(attempts[1]?.['backend'], 'vllm');
        assert.equal(attempts[1]?.['outcome'], 'ok');
        assert.equal(record['backend'], 'vllm');
        assert.equal(record['upstream_model'], 'second-choice');
        assert.equal(record['route_name'], 'fallback');
      });
    },
  );
}

/** A synthetic record, as the stores keep it, for the tests of filters and pages. */
function synthetic(index: number, time: number, overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    time,
    request_id: `synthetic-${index}`,
    key_id: index % 2 === 0 ? 'key-even' : 'key-odd',
    team: index % 3 === 0 ? 'team-three' : null,
    protocol: 'openai-chat',
    route: '/v1/chat/completions',
    model: index % 4 === 0 ? 'model-four' : 'model-other',
    route_name: 'synthetic',
    backend: index % 5 === 0 ? 'backend-five' : 'backend-other',
    upstream_model: 'upstream',
    status: index % 10 === 0 ? 503 : index % 7 === 0 ? 429 : 200,
    error_code: index % 10 === 0 ? 'service_unavailable' : index % 7 === 0 ? 'rate_limit_exceeded' : null,
    attempts: [{ backend: 'backend-other', model: 'upstream', outcome: 'ok', duration_ms: index }],
    cache: index % 6 === 0 ? 'HIT' : 'MISS',
    ttfb_ms: index,
    duration_ms: index * 10,
    prompt_tokens: 10,
    completion_tokens: 5,
    cached_tokens: 0,
    reasoning_tokens: 0,
    cost_micros: 15,
    client_address: '127.0.0.1',
    user_agent: 'synthetic',
    prompt: null,
    answer: null,
    ...overrides,
  };
}

describe('request log admin API: filters, pages, export, stats, live tail, errors', () => {
  const upstream = new StandInUpstream();
  let running: RunningGateway;
  let base: string;
  const COUNT = 120;
  // Whole hours in the past, so that stats over them come from the rollups.
  const start = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
  const all: RequestRecord[] = [];

  before(async () => {
    const upstreamUrl = await upstream.start();
    running = await startGateway(gatewayConfig(upstreamUrl, await freePort(), {}), ADMIN_ENV);
    base = running.url;
    const log = running.gateway.context.requestLog;
    assert.ok(log !== null);
    await log.ready;
    for (let index = 0; index < COUNT; index++) all.push(synthetic(index, start + index * 60_000));
    // Two records at the same millisecond: the cursor orders them by id too.
    all.push(synthetic(COUNT, start + 5 * 60_000, { request_id: 'same-time' }));
    await log.store.write(all);
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  /** The request ids of every page of a query, following next_cursor. */
  async function allPages(query: string, limit: number): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await admin(
        base,
        `/admin/requests?${query}&limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      assert.equal(page.status, 200, page.text);
      const data = page.json['data'] as Json[];
      assert.ok(data.length <= limit);
      ids.push(...data.map((record) => String(record['request_id'])));
      cursor = page.json['next_cursor'] as string | null;
      pages++;
    } while (cursor !== null);
    return { ids, pages };
  }

  function expected(filter: (record: RequestRecord) => boolean): string[] {
    return all
      .map((record, index) => ({ record, index }))
      .filter(({ record }) => filter(record) && record.user_agent === 'synthetic')
      .sort((a, b) => b.record.time - a.record.time || b.index - a.index)
      .map(({ record }) => record.request_id);
  }

  it('pages newest first through every record, no gap, no duplicate', async () => {
    const { ids, pages } = await allPages(`from=${start}&to=${start + 2 * 3_600_000}`, 25);
    assert.deepEqual(
      ids,
      expected(() => true),
    );
    assert.equal(pages, Math.ceil((COUNT + 1) / 25));
  });

  it('filters: key, team, model, backend, status exact and class, error code, cache, time, duration', async () => {
    const cases: [string, (record: RequestRecord) => boolean][] = [
      ['key=key-even', (r) => r.key_id === 'key-even'],
      ['team=team-three', (r) => r.team === 'team-three'],
      ['model=model-four', (r) => r.model === 'model-four'],
      ['backend=backend-five', (r) => r.backend === 'backend-five'],
      ['status=429', (r) => r.status === 429],
      ['status=5xx', (r) => r.status >= 500],
      ['status=2xx&cache=HIT', (r) => r.status === 200 && r.cache === 'HIT'],
      ['error_code=rate_limit_exceeded', (r) => r.error_code === 'rate_limit_exceeded'],
      [
        `from=${new Date(start + 30 * 60_000).toISOString()}&to=${start + 40 * 60_000}`,
        (r) => r.time >= start + 30 * 60_000 && r.time < start + 40 * 60_000,
      ],
      ['min_duration_ms=1000', (r) => r.duration_ms >= 1000],
      ['request_id=synthetic-17', (r) => r.request_id === 'synthetic-17'],
      [
        'key=key-odd&model=model-other&status=2xx',
        (r) => r.key_id === 'key-odd' && r.model === 'model-other' && r.status < 300,
      ],
    ];
    for (const [query, filter] of cases) {
      const range = query.includes('from=') ? '' : `&from=${start}&to=${start + 2 * 3_600_000}`;
      const { ids } = await allPages(`${query}${range}`, 1000);
      const want = expected(filter);
      assert.ok(want.length > 0, `${query} matches some records`);
      assert.deepEqual(ids, want, query);
    }
  });

  it('one record by its request id, with its attempts; 404 for an unknown id', async () => {
    const record = await admin(base, '/admin/requests/synthetic-42');
    assert.equal(record.status, 200, record.text);
    assert.equal(record.json['key_id'], 'key-even');
    assert.deepEqual(record.json['attempts'], [
      { backend: 'backend-other', model: 'upstream', outcome: 'ok', duration_ms: 42 },
    ]);
    const missing = await admin(base, '/admin/requests/no-such-request');
    assert.equal(missing.status, 404);
    assert.equal((missing.json['error'] as Json)['code'], 'not_found');
  });

  it('400 naming the parameter for a bad value, an unknown parameter, a bad cursor', async () => {
    for (const [query, param] of [
      ['status=6xx', 'status'],
      ['status=abc', 'status'],
      ['cache=MAYBE', 'cache'],
      ['from=yesterday', 'from'],
      ['from=2026-12-02T10:00:00Z&to=2026-12-01T10:00:00Z', 'to'],
      ['min_duration_ms=-5', 'min_duration_ms'],
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
    ] as const) {
      const answer = await admin(base, `/admin/requests?${query}`);
      assert.equal(answer.status, 400, `${query}: ${answer.text}`);
      assert.equal((answer.json['error'] as Json)['param'], param, `${query}: ${answer.text}`);
      assert.match(String(answer.json['detail']), new RegExp(param));
    }
    const unknown = await admin(base, '/admin/requests?colour=red');
    assert.equal(unknown.status, 400);
    const stats = await admin(base, '/admin/stats?bucket=day');
    assert.equal(stats.status, 400);
    assert.equal((stats.json['error'] as Json)['param'], 'bucket');
    const format = await admin(base, '/admin/requests/export?format=xml');
    assert.equal(format.status, 400);
    assert.equal((format.json['error'] as Json)['param'], 'format');
  });

  it('refuses a request without the admin token', async () => {
    for (const path of [
      '/admin/requests',
      '/admin/requests/synthetic-1',
      '/admin/requests/export',
      '/admin/requests/stream',
      '/admin/stats',
    ]) {
      const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TEST_KEY}` } });
      assert.equal(response.status, 401, path);
      await response.body?.cancel();
    }
  });

  it('exports NDJSON: every matching record, newest first, one per line', async () => {
    const response = await fetch(`${base}/admin/requests/export?format=ndjson&key=key-odd&from=${start}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    const lines = (await response.text()).split('\n');
    assert.equal(lines.pop(), '');
    const records = lines.map((line) => JSON.parse(line) as Json);
    assert.deepEqual(
      records.map((record) => record['request_id']),
      expected((r) => r.key_id === 'key-odd'),
    );
    assert.equal(typeof records[0]?.['id'], 'number');
  });

  it('exports CSV: a header line, RFC 4180 quoting, attempts as JSON, formulas neutralised', async () => {
    const log = running.gateway.context.requestLog;
    assert.ok(log !== null);
    await log.store.write([
      synthetic(900, start + 2 * 3_600_000 + 1, {
        request_id: 'csv-test',
        key_id: 'csv-key',
        user_agent: '=HYPERLINK("http://evil")',
        prompt: 'line one\nline "two", and three',
        model: '-2+3',
      }),
    ]);
    const response = await fetch(`${base}/admin/requests/export?format=csv&key=csv-key`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/csv/);
    const text = await response.text();
    const [header, ...rest] = text.split('\r\n');
    assert.equal(header, ['id', ...RECORD_COLUMNS].join(','));
    const row = rest.join('\r\n');
    assert.match(row, /,csv-test,csv-key,/);
    assert.match(row, /"'=HYPERLINK\(""http:\/\/evil""\)"/, 'a formula gets a quote and is quoted');
    assert.match(row, /,'-2\+3,/, 'a model that looks like a formula too');
    assert.match(row, /"line one\nline ""two"", and three"/, 'line breaks and quotes kept, quoted');
    assert.match(
      row,
      /"\[\{""backend"":""backend-other"",""model"":""upstream"",""outcome"":""ok"",""duration_ms"":900\}\]"/,
    );
    assert.ok(text.endsWith('\r\n'));
  });

  it('exports as the client reads: a slow reader holds the export, it does not buffer it all', async () => {
    const log = running.gateway.context.requestLog;
    assert.ok(log !== null);
    // 5,000 records with big prompts: about 20 MB of NDJSON, more than the sockets' buffers.
    const big = 'x'.repeat(4000);
    const many: RequestRecord[] = [];
    for (let index = 0; index < 5000; index++)
      many.push(synthetic(10_000 + index, start + 2 * 3_600_000 + index, { key_id: 'bulk', prompt: big }));
    await log.store.write(many);
    const response = await fetch(`${base}/admin/requests/export?key=bulk`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(response.status, 200);
    const reader = response.body?.getReader();
    assert.ok(reader !== undefined);
    const decoder = new TextDecoder();
    const count = (chunk: Uint8Array): number =>
      decoder.decode(chunk, { stream: true }).split('\n').length - 1;
    let lines = count((await reader.read()).value ?? new Uint8Array());
    const before = process.memoryUsage().heapUsed;
    // Not reading for a while: the gateway must not read the whole export into memory meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(process.memoryUsage().heapUsed - before < 15_000_000, 'the export waits for the reader');
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      lines += count(chunk.value);
    }
    assert.equal(lines, 5000);
  });

  it('stats per hour by model from the rollups, and per minute from the records', async () => {
    const from = start;
    const to = start + 2 * 3_600_000;
    const hourly = await admin(base, `/admin/stats?bucket=hour&group_by=model&from=${from}&to=${to}`);
    assert.equal(hourly.status, 200, hourly.text);
    assert.equal(hourly.json['source'], 'rollup');
    const rows = hourly.json['data'] as Json[];
    const inRange = all.filter((r) => r.time >= from && r.time < to);
    assert.equal(
      rows.reduce((sum, row) => sum + (row['requests'] as number), 0),
      inRange.length,
    );
    const fourInFirstHour = rows.find(
      (row) => row['group'] === 'model-four' && row['bucket_start'] === start,
    );
    assert.equal(
      fourInFirstHour?.['requests'],
      inRange.filter((r) => r.model === 'model-four' && r.time < start + 3_600_000).length,
    );
    const minutes = await admin(
      base,
      `/admin/stats?bucket=minute&status=5xx&from=${from}&to=${start + 3_600_000}`,
    );
    assert.equal(minutes.status, 200, minutes.text);
    assert.equal(minutes.json['source'], 'records');
    const errors = (minutes.json['data'] as Json[]).reduce((sum, row) => sum + (row['errors'] as number), 0);
    assert.equal(
      errors,
      all.filter((r) => r.status >= 500 && r.time >= from && r.time < start + 3_600_000).length,
    );
  });

  it('the live tail sees a matching request within a second, and not the others', async () => {
    const controller = new AbortController();
    const response = await fetch(`${base}/admin/requests/stream?model=stand-in-tail`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = response.body?.getReader();
    assert.ok(reader !== undefined);
    const decoder = new TextDecoder();
    let received = decoder.decode((await reader.read()).value);
    assert.match(received, /^: subscribed/);
    assert.equal(running.gateway.context.requestLog?.writer.subscriberCount, 1);
    await chat(base, { model: 'stand-in-other', ...message('not tailed') });
    const sentAt = Date.now();
    const sent = await chat(base, { model: 'stand-in-tail', ...message('tailed') });
    while (!/event: request\n[^]*?\n\n/.test(received)) {
      const chunk = await reader.read();
      assert.equal(chunk.done, false);
      received += decoder.decode(chunk.value, { stream: true });
    }
    assert.ok(Date.now() - sentAt < 1000, `seen after ${Date.now() - sentAt} ms`);
    const event = /event: request\nid: (.+)\ndata: (.+)\n\n/.exec(received);
    assert.ok(event !== null, received);
    assert.equal(event[1], sent.requestId);
    const record = JSON.parse(event[2] ?? '') as Json;
    assert.equal(record['model'], 'stand-in-tail');
    assert.equal(record['status'], 200);
    assert.doesNotMatch(received, /stand-in-other/);
    controller.abort();
    const deadline = Date.now() + 5000;
    while (subscribers(running) !== 0) {
      assert.ok(Date.now() < deadline, 'unsubscribed when the client left');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  it('the live tail answers 503 when the gateway has its maximum of live tails', async () => {
    const writer = running.gateway.context.requestLog?.writer;
    assert.ok(writer !== undefined);
    const unsubscribers: (() => void)[] = [];
    for (;;) {
      const unsubscribe = writer.subscribe({}, () => undefined);
      if (unsubscribe === null) break;
      unsubscribers.push(unsubscribe);
    }
    try {
      const full = await admin(base, '/admin/requests/stream');
      assert.equal(full.status, 503, full.text);
      assert.match(String(full.json['detail']), /live tails/);
    } finally {
      for (const unsubscribe of unsubscribers) unsubscribe();
    }
  });

  it('is in the OpenAPI document', async () => {
    const document = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Json> };
    for (const path of [
      '/admin/requests',
      '/admin/requests/{id}',
      '/admin/requests/export',
      '/admin/requests/stream',
      '/admin/stats',
    ])
      assert.ok(document.paths[path]?.['get'] !== undefined, path);
  });
});

describe('request log disabled', () => {
  let running: RunningGateway;
  before(async () => {
    running = await startGateway(
      testConfig({
        backends: [{ name: 'demo', type: 'demo' }],
        models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
        extra: { request_log: { enabled: false } },
      }),
      ADMIN_ENV,
    );
  });
  after(async () => {
    await running.stop();
  });

  it('answers 404 on every request-log route, saying that it is disabled', async () => {
    for (const path of [
      '/admin/requests',
      '/admin/requests/abc',
      '/admin/requests/export',
      '/admin/requests/stream',
      '/admin/stats',
    ]) {
      const answer = await admin(running.url, path);
      assert.equal(answer.status, 404, path);
      assert.match(String(answer.json['detail']), /request log is disabled/, path);
    }
  });
});

/** gateway_request_log_dropped_total from GET /metrics. */
async function droppedRecords(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = /^gateway_request_log_dropped_total (\d+(?:\.\d+)?)$/m.exec(text);
  assert.ok(line !== null, 'the metric is exposed');
  return Number(line[1]);
}

/** Sends `count` chat requests one after another; the slowest one's duration in ms. */
async function slowestOf(base: string, count: number, model: string): Promise<number> {
  let slowest = 0;
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    const sent = await chat(base, { model, ...message(`request ${index}`) });
    assert.equal(sent.status, 200, sent.text);
    slowest = Math.max(slowest, performance.now() - started);
  }
  return slowest;
}

describe(
  'request log on PostgreSQL: two instances, a stalled server, a server that is down',
  { skip: pgSkip },
  () => {
    const upstream = new StandInUpstream();
    let upstreamUrl: string;
    const databases: TestDatabase[] = [];
    const stops: (() => Promise<void>)[] = [];

    before(async () => {
      upstreamUrl = await upstream.start();
    });
    after(async () => {
      for (const stop of stops.reverse()) await stop();
      await upstream.stop();
      for (const database of databases) await database.drop();
    });

    async function gatewayOn(postgresUrl: string, batch: Json = {}): Promise<RunningGateway> {
      const running = await startGateway(
        gatewayConfig(upstreamUrl, await freePort(), {
          store: 'postgres',
          postgres_url: postgresUrl,
          batch: { interval_ms: 20, ...batch },
        }),
        ADMIN_ENV,
      );
      stops.push(() => running.stop());
      return running;
    }

    it('two instances write to one database; either one finds the requests of both', async () => {
      const database = await createTestDatabase();
      databases.push(database);
      // Started together: the migrations run once, under the advisory lock.
      const [first, second] = await Promise.all([gatewayOn(database.url), gatewayOn(database.url)]);
      await Promise.all([first.gateway.context.requestLog?.ready, second.gateway.context.requestLog?.ready]);
      const ids: string[] = [];
      for (let index = 0; index < 5; index++) {
        for (const running of [first, second]) {
          const sent = await chat(running.url, {
            model: 'stand-in-two',
            ...message(`two ${index} ${running.url}`),
          });
          assert.equal(sent.status, 200);
          ids.push(sent.requestId);
        }
      }
      for (const id of ids) await recordOf(first.url, id);
      const page = await admin(second.url, '/admin/requests?model=stand-in-two&limit=100');
      assert.deepEqual(
        new Set((page.json['data'] as Json[]).map((record) => record['request_id'])),
        new Set(ids),
      );
      const versions = await database.query('SELECT version FROM schema_migrations ORDER BY version');
      assert.equal(new Set(versions.map((row) => row['version'])).size, versions.length, 'each version once');
    });

    it('a stalled server: requests stay fast, the overflow is dropped and counted', async () => {
      const database = await createTestDatabase();
      databases.push(database);
      const proxy = new StallingProxy('127.0.0.1', 5432);
      const port = await proxy.start();
      const url = new URL(database.url);
      url.port = String(port);
      const running = await gatewayOn(url.toString(), { size: 2, max_buffered: 5 });
      stops.push(async () => {
        proxy.resume();
        await proxy.stop();
      });
      await running.gateway.context.requestLog?.ready;
      const baseline = await slowestOf(running.url, 5, 'stand-in-stall');
      proxy.stall();
      const stalled = await slowestOf(running.url, 30, 'stand-in-stall');
      assert.ok(
        stalled < Math.max(500, baseline * 5),
        `slowest request ${stalled} ms while stalled (before: ${baseline} ms)`,
      );
      // 30 records, 5 may wait and one batch of 2 may be in flight: at least 23 are dropped.
      assert.ok((await droppedRecords(running.url)) >= 23, `dropped ${await droppedRecords(running.url)}`);
      proxy.resume();
    });

    it('a server that is down: requests are unaffected, the overflow is counted', async () => {
      const running = await gatewayOn(`postgres://postgres@127.0.0.1:${await freePort()}/nowhere`, {
        max_buffered: 5,
      });
      const slowest = await slowestOf(running.url, 40, 'stand-in-down');
      assert.ok(slowest < 500, `slowest request ${slowest} ms`);
      // Batches taken from the buffer wait for their retries; past 5 waiting, the rest is dropped.
      assert.ok((await droppedRecords(running.url)) >= 20, `dropped ${await droppedRecords(running.url)}`);
      const answer = await admin(running.url, '/admin/requests');
      assert.equal(answer.status, 503, 'the admin API says the store is unavailable');
    });
  },
);

describe('ai-gateway logs against a running gateway', () => {
  const upstream = new StandInUpstream();
  let running: RunningGateway;
  let stateDir: string;
  const ids: string[] = [];

  before(async () => {
    const upstreamUrl = await upstream.start();
    stateDir = mkdtempSync(join(tmpdir(), 'gw-logs-cli-'));
    running = await startGateway(gatewayConfig(upstreamUrl, await freePort(), {}), ADMIN_ENV, { stateDir });
    for (const model of ['stand-in-cli', 'stand-in-cli', 'stand-in-else']) {
      const sent = await chat(running.url, { model, ...message(`cli ${ids.length}`) });
      ids.push(sent.requestId);
    }
    upstream.once({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    ids.push((await chat(running.url, { model: 'stand-in-cli', ...message('cli failing') })).requestId);
    for (const id of ids) await recordOf(running.url, id);
  });
  after(async () => {
    killStrayChildren();
    await running.stop();
    await upstream.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const remote = (): string[] => ['--url', running.url, '--admin-token', ADMIN_TOKEN];

  it('--json: one record per line, newest first, filtered', async () => {
    const result = await runCli(['logs', ...remote(), '--model', 'stand-in-cli', '--json'], {
      cwd: stateDir,
    });
    assert.equal(result.code, 0, result.stderr);
    const records = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Json);
    assert.deepEqual(
      records.map((record) => record['request_id']),
      [ids[3], ids[1], ids[0]],
    );
  });

  it('a table by default; --status 5xx narrows it to the failure, with its error code', async () => {
    const all = await runCli(['logs', ...remote(), '--since', '1h'], { env: {}, cwd: stateDir });
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      /^TIME\s+STATUS\s+KEY\s+MODEL\s+BACKEND\s+DURATION\s+TOKENS\s+COST\s+ERROR$/,
    );
    assert.equal(lines.length, 1 + ids.length);
    const failed = await runCli(['logs', ...remote(), '--status', '5xx'], { cwd: stateDir });
    assert.equal(failed.code, 0, failed.stderr);
    const rows = failed.stdout.trimEnd().split('\n').slice(1);
    assert.equal(rows.length, 1);
    assert.match(rows[0] ?? '', /502\s+test-key\s+stand-in-cli\s+vllm\s+\d+ ms\s+-\s+\S+\s+upstream_error$/);
  });

  it('reads the SQLite file of the config without --url', async () => {
    const config = join(stateDir, 'gateway.yaml');
    writeFileSync(
      config,
      stringify({
        server: { state_dir: stateDir },
        backends: [{ name: 'demo', type: 'demo' }],
        models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
        request_log: { enabled: true },
      }),
    );
    const result = await runCli(['logs', '--config', config, '--model', 'stand-in-else', '--json'], {
      cwd: stateDir,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout.trim()).request_id, ids[2]);
  });

  it('names the flag that is wrong; --follow without --url is refused', async () => {
    const bad = await runCli(['logs', ...remote(), '--status', '6xx'], { cwd: stateDir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--status: '6xx'/);
    const since = await runCli(['logs', ...remote(), '--since', 'last week'], { cwd: stateDir });
    assert.equal(since.code, 1);
    assert.match(since.stderr, /--since/);
    const follow = await runCli(['logs', '--follow'], { cwd: stateDir });
    assert.equal(follow.code, 1);
    assert.match(follow.stderr, /--follow needs --url/);
    const token = await runCli(['logs', '--url', running.url], { cwd: stateDir });
    assert.equal(token.code, 1);
    assert.match(token.stderr, /--admin-token/);
  });

  it('--follow prints each new matching request as it ends; SIGINT ends it', async () => {
    const child = spawn(
      process.execPath,
      [CLI, 'logs', ...remote(), '--follow', '--model', 'stand-in-follow'],
      {
        cwd: stateDir,
        env: childEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    const waitFor = (pattern: RegExp): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no ${String(pattern)} in ${stdout}`));
        }, 10_000);
        const check = (): void => {
          if (pattern.test(stdout)) {
            clearTimeout(timer);
            child.stdout.off('data', onData);
            resolve();
          }
        };
        const onData = (text: Buffer): void => {
          stdout += text.toString('utf8');
          check();
        };
        child.stdout.on('data', onData);
        check();
      });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(/^TIME\s+STATUS/m);
    // The header is printed once the gateway accepted the subscription.
    const deadline = Date.now() + 5000;
    while (subscribers(running) !== 1) {
      assert.ok(Date.now() < deadline, 'subscribed');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await chat(running.url, { model: 'stand-in-other', ...message('not followed') });
    await chat(running.url, { model: 'stand-in-follow', ...message('followed') });
    await waitFor(/stand-in-follow/);
    assert.doesNotMatch(stdout, /stand-in-other/);
    assert.match(stdout, /\n\S+Z\s+200\s+test-key\s+stand-in-follow\s+vllm/);
    child.kill('SIGINT');
    assert.notEqual(await exited, undefined);
  });
});

describe('request log live tail at shutdown', () => {
  it('ends the open live tails, so that they do not hold the shutdown until its grace period', async () => {
    const running = await startGateway(
      testConfig({
        backends: [{ name: 'demo', type: 'demo' }],
        models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
        server: { shutdown_grace_ms: 20_000 },
        extra: { request_log: { enabled: true } },
      }),
      ADMIN_ENV,
    );
    const response = await fetch(`${running.url}/admin/requests/stream`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(response.status, 200);
    const reader = response.body?.getReader();
    assert.ok(reader !== undefined);
    await reader.read();
    const started = performance.now();
    await running.stop();
    assert.ok(
      performance.now() - started < 5000,
      `shut down in ${Math.round(performance.now() - started)} ms`,
    );
    for (;;) {
      const chunk = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (chunk.done) break;
    }
  });
});
