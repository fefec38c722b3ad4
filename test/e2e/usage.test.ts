/**
 * Usage accounting (issue 7; CONTRACT.md, GET /admin/usage) against real servers: two gateways on one
 * private redis-server and the stand-in upstream, known traffic through both (JSON, a stream with
 * include_usage, a cache miss then a hit, an upstream 502, a stream that fails midway, a 429 from a tiny
 * rate limit, embeddings), then GET /admin/usage on one gateway equals what the stand-in reported, per
 * key and model. Then the other groupings, CSV, filters, bad parameters, the CLI in both modes, the
 * embedded store, and a store that is down. `npm test` builds dist/ (for the CLI) first; run
 * `npm run build` before running this file on its own.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  standInConfig,
  startGateway,
  TEST_KEY,
  testConfig,
  type RunningGateway,
} from '../support/gateway-harness.js';
import { killStrayChildren, runCli } from '../support/cli-process.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { requireTool } from '../support/system-tool.js';
import type { Problem } from '../support/problem.js';
import type { UsageRow } from '../../src/usage/usage.js';
import { STAND_IN_USAGE, StandInUpstream } from '../support/stand-in-upstream.js';

/** Tests that start a private redis-server: skipped without one, except under CI=true. */
const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

const ADMIN_TOKEN = 'admin-token-for-the-usage-tests';
const ADMIN_ENV = { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN };
const HOUR_MS = 3_600_000;
/** How long a test waits for the other gateway to send its counters (it does every second). */
const FLUSH_WAIT_MS = 10_000;
/** A price for one model only: every other model's cost is null. */
const PRICED_MODEL = 'stand-in-json';
const PRICE = { prompt_per_million: 1000, completion_per_million: 2000 };

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

async function send(
  url: string,
  options: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, text, json };
}

function usage(base: string, query = '', headers: Record<string, string> = {}): Promise<Answer> {
  return send(`${base}/admin/usage${query === '' ? '' : `?${query}`}`, { token: ADMIN_TOKEN, headers });
}

async function usageRows(base: string, query = ''): Promise<UsageRow[]> {
  const answer = await usage(base, query);
  assert.equal(answer.status, 200, answer.text);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/json/);
  return (answer.json as { data: UsageRow[] }).data;
}

/** Asks `attempt` again every 50 ms until `done` holds or `timeoutMs` has passed; returns the last value. */
async function poll<T>(
  attempt: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (done(value) || Date.now() >= deadline) return value;
    await delay(50);
  }
}

function row(
  groups: Partial<Record<'key' | 'model' | 'day' | 'hour', string>>,
  counters: { requests: number; errors?: number; cached?: number; prompt?: number; completion?: number },
  cost: number | null = null,
): UsageRow {
  const prompt = counters.prompt ?? 0;
  const completion = counters.completion ?? 0;
  return {
    ...groups,
    requests: counters.requests,
    errors: counters.errors ?? 0,
    cached: counters.cached ?? 0,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cost,
  };
}

/** Sums of rows, without the grouping members. */
function total(rows: readonly UsageRow[]): Omit<UsageRow, 'key' | 'model' | 'day' | 'hour'> {
  const sum = (
    member: 'requests' | 'errors' | 'cached' | 'prompt_tokens' | 'completion_tokens' | 'total_tokens',
  ) => rows.reduce((accumulated, current) => accumulated + current[member], 0);
  const priced = rows.filter((current) => current.cost !== null);
  return {
    requests: sum('requests'),
    errors: sum('errors'),
    cached: sum('cached'),
    prompt_tokens: sum('prompt_tokens'),
    completion_tokens: sum('completion_tokens'),
    total_tokens: sum('total_tokens'),
    cost:
      priced.length === 0
        ? null
        : priced.reduce((accumulated, current) => accumulated + (current.cost ?? 0), 0),
  };
}

/** A minimal RFC 4180 reader for answers without quotes: lines of fields. */
function csvLines(text: string): string[][] {
  assert.ok(text.endsWith('\r\n'), 'CSV lines end with CRLF');
  return text
    .slice(0, -2)
    .split('\r\n')
    .map((line) => line.split(','));
}

function assertProblem(answer: Answer, status: number, param: string | null, detail: RegExp): void {
  assert.equal(answer.status, status, answer.text);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const problem = answer.json as Problem;
  assert.equal(problem.status, status);
  assert.equal(problem.error.param, param);
  assert.match(problem.detail, detail);
  assert.equal(problem.instance, '/admin/usage');
}

after(() => {
  killStrayChildren();
});

describe('usage across two gateways on one Redis', needsRedis, () => {
  let redis: PrivateRedis;
  let upstream: StandInUpstream;
  let a: RunningGateway;
  let b: RunningGateway;
  let limitedKey: { id: string; key: string };
  let directory: string;
  /** What the admin API must answer, grouped by key and model, once both gateways have flushed. */
  let expected: UsageRow[];
  /** The model whose stream failed midway: its tokens are whatever the gateway counted. */
  const BROKEN = 'stand-in-broken';

  before(async () => {
    redis = await startRedisServer();
    upstream = new StandInUpstream();
    const upstreamUrl = await upstream.start();
    const document = {
      ...standInConfig(upstreamUrl),
      redis: { url: redis.url },
      cache: { enabled: true },
      usage: { prices: [{ model: PRICED_MODEL, ...PRICE }] },
    };
    a = await startGateway(document, ADMIN_ENV);
    b = await startGateway(document, ADMIN_ENV);
    directory = mkdtempSync(join(tmpdir(), 'gw-usage-e2e-'));

    const created = await send(`${a.url}/admin/keys`, {
      token: ADMIN_TOKEN,
      body: { name: 'limited', rate_limit: { requests: '1/hour' } },
    });
    assert.equal(created.status, 201, created.text);
    limitedKey = created.json as { id: string; key: string };

    const chat = (
      gateway: RunningGateway,
      model: string,
      extra: Record<string, unknown> = {},
      key = TEST_KEY,
    ) =>
      send(`${gateway.url}/v1/chat/completions`, {
        token: key,
        body: { model, messages: [{ role: 'user', content: `usage test ${model}` }], ...extra },
      });

    // A plain JSON answer, through A.
    const json = await chat(a, PRICED_MODEL);
    assert.equal(json.status, 200, json.text);
    const jsonUsage = (json.json as { usage: typeof STAND_IN_USAGE }).usage;
    assert.deepEqual(jsonUsage, STAND_IN_USAGE);

    // A stream with include_usage, through B: its last chunk before [DONE] carries the usage.
    const stream = await chat(b, 'stand-in-stream', {
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(stream.status, 200, stream.text);
    const events = stream.text
      .split('\n')
      .filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]')
      .map((line) => JSON.parse(line.slice(6)) as { usage?: typeof STAND_IN_USAGE | null });
    assert.ok(stream.text.includes('data: [DONE]'));
    assert.deepEqual(events.at(-1)?.usage, STAND_IN_USAGE);

    // A miss, then a hit of the same request, through A; a hit uses no tokens.
    const miss = await chat(a, 'stand-in-cached');
    assert.equal(miss.headers.get('x-cache'), 'MISS');
    const hit = await chat(a, 'stand-in-cached');
    assert.equal(hit.headers.get('x-cache'), 'HIT', hit.text);

    // An upstream failure, through B: 502.
    upstream.once({ kind: 'status', status: 502, body: '{"error":"bad gateway"}' });
    const failed = await chat(b, 'stand-in-fail');
    assert.equal(failed.status, 502, failed.text);

    // A stream that fails after its first chunks, through A: an error event, no [DONE].
    upstream.once({ kind: 'stream-error-event-after', chunks: 2 });
    const broken = await chat(a, BROKEN, { stream: true });
    assert.equal(broken.status, 200);
    assert.ok(!broken.text.includes('[DONE]'), broken.text);

    // A key allowed one request an hour: one answer through A, then a 429 through B (another question,
    // so that the cache does not answer it before the limit refuses it).
    const allowed = await chat(a, 'stand-in-limited', {}, limitedKey.key);
    assert.equal(allowed.status, 200, allowed.text);
    const refused = await chat(
      b,
      'stand-in-limited',
      { messages: [{ role: 'user', content: 'another' }] },
      limitedKey.key,
    );
    assert.equal(refused.status, 429, refused.text);
    assert.notEqual(refused.headers.get('x-cache'), 'HIT');

    // Embeddings through B: the stand-in reports 2 prompt tokens per input.
    const embedded = await send(`${b.url}/v1/embeddings`, {
      token: TEST_KEY,
      body: { model: 'stand-in-embed', input: ['one', 'two', 'three'] },
    });
    assert.equal(embedded.status, 200, embedded.text);
    const embedTokens = (embedded.json as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
    assert.equal(embedTokens, 6);

    const reported = { prompt: STAND_IN_USAGE.prompt_tokens, completion: STAND_IN_USAGE.completion_tokens };
    const cost = (STAND_IN_USAGE.prompt_tokens * 1000 + STAND_IN_USAGE.completion_tokens * 2000) / 1e6;
    expected = [
      // A refusal or a failure for a name under a pattern route that no upstream answered (on that
      // request) counts under the pattern (issue 16, finding 5).
      row({ key: limitedKey.id, model: 'stand-in-*' }, { requests: 1, errors: 1 }),
      row({ key: limitedKey.id, model: 'stand-in-limited' }, { requests: 1, ...reported }),
      row({ key: 'test-key', model: BROKEN }, { requests: 1, errors: 1 }),
      row({ key: 'test-key', model: 'stand-in-cached' }, { requests: 2, cached: 1, ...reported }),
      row({ key: 'test-key', model: 'stand-in-embed' }, { requests: 1, prompt: embedTokens }),
      row({ key: 'test-key', model: 'stand-in-*' }, { requests: 1, errors: 1 }),
      row({ key: 'test-key', model: PRICED_MODEL }, { requests: 1, ...reported }, cost),
      row({ key: 'test-key', model: 'stand-in-stream' }, { requests: 1, ...reported }),
    ].sort((left, right) =>
      left.key === right.key
        ? (left.model ?? '') < (right.model ?? '')
          ? -1
          : 1
        : (left.key ?? '') < (right.key ?? '')
          ? -1
          : 1,
    );
  });

  after(async () => {
    await Promise.allSettled([a.stop(), b.stop()]);
    await upstream.stop();
    await redis.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  /** The rows per key and model with the broken stream's tokens (whatever the gateway counted) left as expected. */
  function comparable(rows: UsageRow[]): UsageRow[] {
    return rows.map((current) =>
      current.model === BROKEN
        ? { ...current, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }
        : current,
    );
  }

  it('GET /admin/usage on either gateway equals what the stand-in reported, per key and model', async () => {
    // A's own counters are sent before it answers; B's within a second.
    const fromA = await poll(
      () => usageRows(a.url),
      (rows) => total(rows).requests >= 9,
      FLUSH_WAIT_MS,
    );
    assert.deepEqual(comparable(fromA), expected);
    const brokenRow = fromA.find((current) => current.model === BROKEN);
    assert.equal(
      brokenRow?.total_tokens,
      (brokenRow?.prompt_tokens ?? 0) + (brokenRow?.completion_tokens ?? 0),
    );
    // The same on B, and nothing is counted twice however often the counters are read.
    assert.deepEqual(await usageRows(b.url), fromA);
    assert.deepEqual(await usageRows(a.url, 'group_by=key,model'), fromA);
  });

  it('groups by hour and by day (UTC), and in total', async () => {
    const byKeyModel = await usageRows(a.url);
    const totals = total(byKeyModel);
    assert.deepEqual(await usageRows(a.url, 'group_by='), [totals]);
    const hours = await usageRows(a.url, 'group_by=hour');
    assert.ok(hours.length >= 1 && hours.length <= 2, JSON.stringify(hours));
    for (const current of hours) {
      assert.match(current.hour ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/);
      assert.deepEqual(Object.keys(current)[0], 'hour');
    }
    assert.equal(hours.at(-1)?.hour, `${new Date().toISOString().slice(0, 13)}:00:00Z`);
    assert.deepEqual(total(hours), totals);
    const days = await usageRows(a.url, 'group_by=day');
    assert.ok(days.length >= 1 && days.length <= 2);
    assert.equal(days.at(-1)?.day, new Date().toISOString().slice(0, 10));
    assert.deepEqual(total(days), totals);
    const byModelAndHour = await usageRows(a.url, 'group_by=model,hour');
    assert.deepEqual(Object.keys(byModelAndHour[0] ?? {}).slice(0, 2), ['model', 'hour']);
    assert.deepEqual(total(byModelAndHour), totals);
  });

  it('filters by key and by model, and by time (hours that start in [from, to))', async () => {
    assert.deepEqual(await usageRows(a.url, `key=${encodeURIComponent(limitedKey.id)}&group_by=model`), [
      row({ model: 'stand-in-*' }, { requests: 1, errors: 1 }),
      row(
        { model: 'stand-in-limited' },
        {
          requests: 1,
          prompt: STAND_IN_USAGE.prompt_tokens,
          completion: STAND_IN_USAGE.completion_tokens,
        },
      ),
    ]);
    const cached = await usageRows(a.url, 'model=stand-in-cached&group_by=key');
    assert.deepEqual(cached, [
      row(
        { key: 'test-key' },
        {
          requests: 2,
          cached: 1,
          prompt: STAND_IN_USAGE.prompt_tokens,
          completion: STAND_IN_USAGE.completion_tokens,
        },
      ),
    ]);
    const all = total(await usageRows(a.url));
    assert.deepEqual(await usageRows(a.url, 'model=stand-in-*&group_by='), [all]);
    assert.deepEqual(await usageRows(a.url, 'key=nobody'), []);
    // Yesterday's span holds none of this traffic; the next hour neither.
    const now = Date.now();
    const future = new Date(Math.ceil(now / HOUR_MS) * HOUR_MS).toISOString();
    assert.deepEqual(
      await usageRows(a.url, `from=${future}&to=${new Date(now + 2 * HOUR_MS).toISOString()}`),
      [],
    );
    const day = new Date(now - 86_400_000).toISOString().slice(0, 10);
    const yesterday = await usageRows(
      a.url,
      `from=${day}&to=${new Date(Date.parse(day) + 86_400_000).toISOString().slice(0, 10)}&group_by=`,
    );
    // The traffic ran moments ago: it is in yesterday only if the test started before midnight UTC.
    assert.ok(yesterday[0]!.requests === 0 || new Date().getUTCHours() === 0);
    // The answer says which span it used.
    const answer = (await usage(a.url, 'from=2030-01-01T00:00:00Z&to=2030-01-02')).json as {
      from: string;
      to: string;
    };
    assert.deepEqual([answer.from, answer.to], ['2030-01-01T00:00:00.000Z', '2030-01-02T00:00:00.000Z']);
  });

  it('answers CSV with Accept: text/csv: a header line and the same rows', async () => {
    const json = await usageRows(a.url, 'group_by=key,model');
    const answer = await usage(a.url, 'group_by=key,model', { accept: 'text/csv' });
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.headers.get('content-type') ?? '', /^text\/csv/);
    const lines = csvLines(answer.text);
    const columns = [
      'key',
      'model',
      'requests',
      'errors',
      'cached',
      'prompt_tokens',
      'completion_tokens',
      'total_tokens',
      'cost',
    ];
    assert.deepEqual(lines[0], columns);
    assert.equal(lines.length, json.length + 1);
    json.forEach((current, index) => {
      const record = current as unknown as Record<string, string | number | null>;
      assert.deepEqual(
        lines[index + 1],
        columns.map((column) => String(record[column] ?? '')),
      );
    });
    const days = await usage(a.url, 'group_by=day', { accept: 'text/csv, */*;q=0.5' });
    assert.equal(csvLines(days.text)[0]?.[0], 'day');
    // JSON unless CSV is asked for.
    assert.match(
      (await usage(a.url, '', { accept: '*/*' })).headers.get('content-type') ?? '',
      /^application\/json/,
    );
  });

  it('refuses bad parameters with a 400 naming the parameter', async () => {
    const cases: [string, string, RegExp][] = [
      ['group_by=week', 'group_by', /group_by: 'week' is not a grouping; use key, model, day or hour/],
      ['group_by=key,key', 'group_by', /given twice/],
      ['from=yesterday', 'from', /from: 'yesterday' is not a time/],
      ['to=2030-02-30', 'to', /to: '2030-02-30' is not a time/],
      ['from=2030-01-02&to=2030-01-01', 'from', /must be before to/],
      ['from=2020-01-01&to=2030-01-01', 'from', /more than 400 days apart/],
      ['key=', 'key', /key/],
      ['bogus=1', 'bogus', /bogus: unknown field/],
    ];
    for (const [query, param, detail] of cases) {
      assertProblem(await usage(a.url, query), 400, param, detail);
    }
  });

  it('needs the admin token', async () => {
    const none = await send(`${a.url}/admin/usage`);
    assertProblem(none, 401, null, /admin token/);
    const wrong = await send(`${a.url}/admin/usage`, { token: TEST_KEY });
    assertProblem(wrong, 401, null, /admin token/);
  });

  it('the CLI shows the same, through the admin API (--url) and from the store of a config', async () => {
    const api = await usageRows(a.url, 'group_by=key,model');
    const remote = await runCli(['usage', '--url', a.url, '--json'], { cwd: directory, env: ADMIN_ENV });
    assert.equal(remote.code, 0, remote.stderr);
    assert.deepEqual((JSON.parse(remote.stdout) as { data: UsageRow[] }).data, api);

    const config = join(directory, 'gateway.yaml');
    writeFileSync(
      config,
      `redis:\n  url: ${redis.url}\nserver:\n  state_dir: ${JSON.stringify(join(directory, 'state'))}\n` +
        'backends:\n  - name: demo\n    type: demo\nmodels:\n  - name: demo\n    targets: [{ backend: demo }]\n',
    );
    const local = await runCli(['usage', '--config', config, '--json'], { cwd: directory });
    assert.equal(local.code, 0, local.stderr);
    assert.deepEqual((JSON.parse(local.stdout) as { data: UsageRow[] }).data, api);

    const table = await runCli(['usage', '--config', config, '--key', limitedKey.id], { cwd: directory });
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.split('\n');
    assert.match(
      lines[2] ?? '',
      /^KEY\s+MODEL\s+REQUESTS\s+ERRORS\s+CACHED\s+PROMPT_TOKENS\s+COMPLETION_TOKENS\s+TOTAL_TOKENS\s+COST$/,
    );
    assert.match(
      lines[3] ?? '',
      new RegExp(`^${limitedKey.id}\\s+stand-in-\\*\\s+1\\s+1\\s+0\\s+0\\s+0\\s+0\\s+-$`),
    );
    assert.match(
      lines[4] ?? '',
      new RegExp(`^${limitedKey.id}\\s+stand-in-limited\\s+1\\s+0\\s+0\\s+11\\s+6\\s+17\\s+-$`),
    );

    const csv = await runCli(
      ['usage', '--url', a.url, '--admin-token', ADMIN_TOKEN, '--csv', '--group-by', 'day'],
      {
        cwd: directory,
      },
    );
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(
      csvLines(csv.stdout)[0]?.join(','),
      'day,requests,errors,cached,prompt_tokens,completion_tokens,total_tokens,cost',
    );

    const bad = await runCli(['usage', '--url', a.url, '--group-by', 'week'], {
      cwd: directory,
      env: ADMIN_ENV,
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /GET \/admin\/usage\?group_by=week: 400 .*'week' is not a grouping/);
    const badLocal = await runCli(['usage', '--config', config, '--from', 'soon'], { cwd: directory });
    assert.equal(badLocal.code, 1);
    assert.match(badLocal.stderr, /^ai-gateway usage: --from: 'soon' is not a time/);
    const help = await runCli(['usage', '--help'], { cwd: directory });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: ai-gateway usage/);
  });
});

describe('usage on the embedded store (SQLite), and without an admin token', () => {
  let gateway: RunningGateway;
  let closed: RunningGateway;
  let directory: string;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'gw-usage-sqlite-'));
    const document = testConfig({
      backends: [{ name: 'demo', type: 'demo' }],
      models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
    });
    gateway = await startGateway(document, ADMIN_ENV, { stateDir: join(directory, 'state') });
    closed = await startGateway(document);
  });

  after(async () => {
    await Promise.allSettled([gateway.stop(), closed.stop()]);
    rmSync(directory, { recursive: true, force: true });
  });

  it('shows this instance’s traffic at once, and the CLI reads the same file', async () => {
    for (let index = 0; index < 3; index++) {
      const answer = await send(`${gateway.url}/v1/chat/completions`, {
        token: TEST_KEY,
        body: { model: 'demo', messages: [{ role: 'user', content: `hello ${index}` }] },
      });
      assert.equal(answer.status, 200, answer.text);
    }
    const missing = await send(`${gateway.url}/v1/chat/completions`, {
      token: TEST_KEY,
      body: { model: 'demo', messages: 'not a list' },
    });
    assert.equal(missing.status, 400);
    // No wait: the gateway sends its own counters before it answers.
    const rows = await usageRows(gateway.url, 'group_by=key');
    assert.equal(rows.length, 1, JSON.stringify(rows));
    const [only] = rows as [UsageRow];
    assert.equal(only.key, 'test-key');
    assert.ok(only.requests >= 3, JSON.stringify(rows));
    assert.ok(only.prompt_tokens > 0 && only.completion_tokens > 0);
    assert.equal(only.cost, null);

    const config = join(directory, 'gateway.yaml');
    writeFileSync(
      config,
      `server:\n  state_dir: ${JSON.stringify(join(directory, 'state'))}\n` +
        'backends:\n  - name: demo\n    type: demo\nmodels:\n  - name: demo\n    targets: [{ backend: demo }]\n',
    );
    const local = await runCli(['usage', '--config', config, '--json', '--group-by', 'key'], {
      cwd: directory,
    });
    assert.equal(local.code, 0, local.stderr);
    assert.deepEqual((JSON.parse(local.stdout) as { data: UsageRow[] }).data, rows);
  });

  it('answers 404 without an admin token, like every /admin route', async () => {
    const answer = await send(`${closed.url}/admin/usage`, { token: ADMIN_TOKEN });
    assert.equal(answer.status, 404);
    assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
  });
});

describe('usage when Redis is down', needsRedis, () => {
  let redis: PrivateRedis;
  let gateway: RunningGateway;

  before(async () => {
    redis = await startRedisServer();
    gateway = await startGateway(
      {
        ...testConfig({
          backends: [{ name: 'demo', type: 'demo' }],
          models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
        }),
        redis: { url: redis.url },
      },
      ADMIN_ENV,
    );
  });

  after(async () => {
    await gateway.stop();
    await redis.stop();
  });

  it('answers 503 problem+json, not 500', async () => {
    assert.equal((await usage(gateway.url)).status, 200);
    await redis.stop();
    const answer = await usage(gateway.url);
    assertProblem(answer, 503, null, /usage store is unavailable/);
    assert.equal(answer.headers.get('retry-after'), '1');
  });
});
