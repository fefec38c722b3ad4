/**
 * Routing against real servers: fallbacks when a backend refuses, stalls or fails (RELIABILITY.md 5, 6,
 * 7), no retry once bytes reached the client (8), the retry budget, circuit breakers with one probe at a
 * time, load shared by weight or by requests in flight, Retry-After from an upstream, active health
 * checks, backend discovery for GET /v1/models, and no SSRF through body fields or headers (10, 16).
 * Every gateway and stand-in upstream listens on loopback, port 0; each describe block tears its own down.
 */
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { freePort } from '../support/free-port.js';
import type { Problem } from '../support/problem.js';
import { STAND_IN_TOKENS, StandInUpstream } from '../support/stand-in-upstream.js';
import {
  RESTRICTED_KEY,
  TEST_KEY,
  startGateway,
  testConfig,
  waitForLog,
  type RunningGateway,
} from '../support/gateway-harness.js';

const CHAT = '/v1/chat/completions';
const EMBEDDINGS = '/v1/embeddings';
const MESSAGES = [{ role: 'user', content: 'Hi' }];
const ANSWER = STAND_IN_TOKENS.join('');

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

/**
 * The `routing:` section these tests start from: retries on, breakers on but out of the way (each
 * describe block turns on what it tests), a generous retry budget, short backoffs so the file stays fast.
 */
function routing(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    routing: {
      max_attempts: 3,
      backoff_base_ms: 5,
      backoff_max_ms: 50,
      retry_budget: { min_retries: 1000 },
      circuit_breaker: { enabled: true, failures: 1000 },
      ...overrides,
    },
  };
}

/** An `openai` backend on a stand-in (its OpenAI API lives under /v1). */
function openaiBackend(name: string, url: string, options: Record<string, unknown> = {}): unknown {
  return { name, type: 'openai', url: `${url}/v1`, ...options };
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Milliseconds from sending the request to having read the whole answer. */
  ms: number;
  requestId: string;
}

let sequence = 0;

/** POSTs JSON with the test key and a fresh X-Request-ID (to find its log line), timing the whole answer. */
async function post(
  running: RunningGateway,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const requestId = `routing-${++sequence}`;
  const started = performance.now();
  const response = await fetch(running.url + path, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_KEY}`,
      'content-type': 'application/json',
      'x-request-id': requestId,
      ...headers,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    ms: performance.now() - started,
    requestId,
  };
}

function chat(running: RunningGateway, model: string, extra: Record<string, unknown> = {}): Promise<Answer> {
  return post(running, CHAT, { model, messages: MESSAGES, ...extra });
}

/** A successful chat answer from the stand-in, and who answered after how many attempts. */
function assertAnswered(answer: Answer, backend: string, attempts: number): void {
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.headers.get('x-gateway-backend'), backend);
  assert.equal(answer.headers.get('x-gateway-attempts'), String(attempts));
}

/** A problem+json answer with this status and code; returns the problem. */
function assertProblem(answer: Answer, status: number, code: string): Problem {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  const problem = JSON.parse(answer.text) as Problem;
  assert.equal(problem.status, status);
  assert.equal(problem.error.code, code);
  assert.equal(problem.request_id, answer.requestId);
  return problem;
}

/**
 * Answers that waited for no upstream and no backoff. The contract aims at 5 ms in process; measured
 * from a client in the same process as the gateway and the stand-ins (and beside other test files), a
 * GC pause can delay any single answer, so: the median under 50 ms, and none over 250 ms.
 */
function assertFast(answers: readonly Answer[]): void {
  assert.ok(answers.length > 0);
  const times = answers.map((answer) => answer.ms).sort((x, y) => x - y);
  const median = times[Math.floor(times.length / 2)]!;
  const slowest = times.at(-1)!;
  assert.ok(median < 50, `median ${median.toFixed(1)} ms`);
  assert.ok(slowest < 250, `slowest ${slowest.toFixed(1)} ms`);
}

/** Requests to the stand-in on one path (health checks and discovery also reach it). */
function countOn(upstream: StandInUpstream, path: string): number {
  return upstream.requests.filter((request) => request.path === path).length;
}

interface AttemptLine {
  backend: string;
  outcome: string;
  error_code?: string;
}

/** The request_complete line of a request (waits for it: it is written when the response closes). */
async function logLine(running: RunningGateway, requestId: string): Promise<Record<string, unknown>> {
  return waitForLog(
    running,
    (line) => line['msg'] === 'request_complete' && line['request_id'] === requestId,
  );
}

/** The attempts of a log line, reduced to who, how, and why it failed. */
function attemptsOf(line: Record<string, unknown>): AttemptLine[] {
  const attempts = (line['attempts'] ?? []) as (AttemptLine & { model: string; duration_ms: number })[];
  for (const attempt of attempts) {
    assert.equal(typeof attempt.model, 'string');
    assert.equal(typeof attempt.duration_ms, 'number');
  }
  return attempts.map(({ backend, outcome, error_code }) =>
    error_code === undefined ? { backend, outcome } : { backend, outcome, error_code },
  );
}

interface Ready {
  status: string;
  checks: Record<string, { status: string; detail?: string }>;
}

/** The admin token of the gateways whose readiness details are read: details need it. */
const ADMIN_ENV = { GATEWAY_ADMIN_TOKEN: 'routing-tests-admin-token' };

async function readiness(running: RunningGateway): Promise<{ code: number; body: Ready }> {
  const response = await fetch(`${running.url}/health/ready`, {
    headers: { authorization: `Bearer ${ADMIN_ENV.GATEWAY_ADMIN_TOKEN}` },
  });
  return { code: response.status, body: (await response.json()) as Ready };
}

/**
 * Polls `probe` every 10 ms until `done` holds, for at most `timeoutMs`; returns the value that held.
 * Used to wait for a state of the system under test (a circuit's cooldown, a health check's verdict).
 */
async function until<T>(
  what: string,
  probe: () => Promise<T> | T,
  done: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(value)}`);
    await delay(10);
  }
}

/** Server-sent events of a whole answer: the data of each event, checking each is one `data:` line. */
function sseEvents(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      assert.match(block, /^data: [^\n]+$/, `one data line per event, not ${JSON.stringify(block)}`);
      return block.slice('data: '.length);
    });
}

/** Runs `count` tasks, at most `concurrency` at a time. */
async function inParallel<T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * One POST on a connection of its own, closed after the answer (node:http without an agent): full
 * control of the headers (fetch will not send a Host of our choosing), and a request that can be
 * cancelled without leaving a pooled client connection behind to hold the gateway's shutdown.
 */
function rawPost(
  url: string,
  path: string,
  headers: Record<string, string>,
  body: string,
): { answer: Promise<RawAnswer>; cancel(): void } {
  const target = new URL(path, url);
  let cancel = (): void => undefined;
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    const request = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent: false,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
    cancel = () => request.destroy();
  });
  return { answer, cancel };
}

/** Starts stand-ins on 127.0.0.1 (each a fresh server). */
async function standIns(count: number): Promise<StandInUpstream[]> {
  const upstreams = Array.from({ length: count }, () => new StandInUpstream());
  await Promise.all(upstreams.map((upstream) => upstream.start()));
  return upstreams;
}

// ---------------------------------------------------------------------------------------------------
// 1. Connection refused → fallback (JSON and stream, through the official client)
// ---------------------------------------------------------------------------------------------------

describe('a primary that refuses connections: the fallback tier answers', () => {
  let fallback: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    [fallback] = (await standIns(1)) as [StandInUpstream];
    // Nothing listens on this port: every connection is refused.
    const refused = `http://127.0.0.1:${await freePort()}`;
    running = await startGateway(
      testConfig({
        backends: [openaiBackend('primary', refused), openaiBackend('fallback', fallback.url)],
        models: [{ name: 'm', targets: [{ backend: 'primary' }, { backend: 'fallback' }] }],
        extra: routing(),
      }),
    );
  });
  after(async () => {
    await running.stop();
    await fallback.stop();
  });

  const expectedAttempts: AttemptLine[] = [
    { backend: 'primary', outcome: 'error', error_code: 'upstream_error' },
    { backend: 'fallback', outcome: 'ok' },
  ];

  it('answers a JSON completion from the fallback, after 2 attempts, both in the log line', async () => {
    const { data, response } = await running
      .client()
      .chat.completions.create(
        { model: 'm', messages: [{ role: 'user', content: 'Hi' }] },
        { headers: { 'x-request-id': 'refused-json' } },
      )
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.choices[0]?.message.content, ANSWER);
    assert.equal(response.headers.get('x-gateway-backend'), 'fallback');
    assert.equal(response.headers.get('x-gateway-attempts'), '2');
    const line = await logLine(running, 'refused-json');
    assert.equal(line['status'], 200);
    assert.equal(line['backend'], 'fallback');
    assert.deepEqual(attemptsOf(line), expectedAttempts);
    assert.equal(line['retry_stopped'], undefined);
    assert.equal(countOn(fallback, CHAT), 1);
  });

  it('streams the whole answer from the fallback, ending in [DONE]', async () => {
    const before = countOn(fallback, CHAT);
    const { data: stream, response } = await running
      .client()
      .chat.completions.create(
        { model: 'm', messages: [{ role: 'user', content: 'Hi' }], stream: true },
        { headers: { 'x-request-id': 'refused-stream' } },
      )
      .withResponse();
    assert.equal(response.headers.get('x-gateway-backend'), 'fallback');
    assert.equal(response.headers.get('x-gateway-attempts'), '2');
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, ANSWER);
    assert.equal(finish, 'stop');
    const line = await logLine(running, 'refused-stream');
    assert.equal(line['status'], 200);
    assert.equal(line['stream'], true);
    assert.equal(line['outcome'], undefined);
    assert.deepEqual(attemptsOf(line), expectedAttempts);
    assert.equal(countOn(fallback, CHAT), before + 1);
  });
});

// ---------------------------------------------------------------------------------------------------
// 2. Always 503: retry budget, circuit breaker, one probe after the cooldown
// ---------------------------------------------------------------------------------------------------

describe('a backend that always answers 503: the retry budget bounds the attempts', () => {
  let upstream: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    [upstream] = (await standIns(1)) as [StandInUpstream];
    upstream.behaviour = { kind: 'status', status: 503 };
    // Breaker off, so that only the retry budget (defaults: 20% of requests + 3) limits the retries.
    running = await startGateway(
      testConfig({
        backends: [openaiBackend('only', upstream.url)],
        models: [{ name: 'm', targets: [{ backend: 'only' }] }],
        extra: routing({ retry_budget: {}, circuit_breaker: { enabled: false } }),
      }),
    );
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  it('makes at most 120% + 3 upstream attempts for 50 requests, though max_attempts would allow 150', async () => {
    const answers: Answer[] = [];
    for (let index = 0; index < 50; index++) answers.push(await chat(running, 'm'));
    for (const answer of answers) {
      const problem = assertProblem(answer, 502, 'upstream_error');
      assert.match(problem.detail, /status 503/);
    }
    const upstreamCount = countOn(upstream, CHAT);
    assert.ok(upstreamCount <= 50 * 1.2 + 3, `${upstreamCount} upstream attempts for 50 requests`);
    assert.ok(upstreamCount > 50, `retries happened (${upstreamCount} attempts)`);
    // Each answer says how many attempts it took; together they are what the upstream saw.
    const reported = answers.reduce(
      (sum, answer) => sum + Number(answer.headers.get('x-gateway-attempts')),
      0,
    );
    assert.equal(reported, upstreamCount);
    // Some request was stopped by the budget, and its log line says so.
    const stopped = answers.find((answer) => answer.headers.get('x-gateway-attempts') !== '3');
    assert.ok(stopped !== undefined);
    const lines = await Promise.all(answers.map((answer) => logLine(running, answer.requestId)));
    assert.ok(lines.some((line) => line['retry_stopped'] === 'budget'));
    for (const line of lines) {
      assert.ok(attemptsOf(line).every((attempt) => attempt.error_code === 'upstream_error'));
    }
  });
});

describe('a backend that always answers 503: the circuit opens, fails fast, and lets one probe through', () => {
  const COOLDOWN_MS = 1500;
  let upstream: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    [upstream] = (await standIns(1)) as [StandInUpstream];
    upstream.behaviour = { kind: 'status', status: 503 };
    running = await startGateway(
      testConfig({
        backends: [openaiBackend('primary', upstream.url)],
        models: [{ name: 'm', targets: [{ backend: 'primary' }] }],
        extra: routing({
          max_attempts: 3,
          retry_budget: {},
          circuit_breaker: { enabled: true, failures: 5, cooldown_ms: COOLDOWN_MS },
        }),
      }),
      ADMIN_ENV,
    );
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  /**
   * The state /health/ready reports for the one target's circuit: "circuits: <target id> <state>" in
   * the backend's detail (the id's spelling is not the point), or 'closed' when none is listed.
   */
  async function circuitState(): Promise<string> {
    const ready = await readiness(running);
    const detail = ready.body.checks['backend:primary']?.detail ?? '';
    return /circuits: primary\/.+ (open|half_open)$/.exec(detail)?.[1] ?? 'closed';
  }

  it('opens after 5 failures: 50 requests make 5 upstream attempts, the rest fail fast with 503', async () => {
    const answers: Answer[] = [];
    for (let index = 0; index < 50; index++) answers.push(await chat(running, 'm'));
    // Budget bound first (the contract), then what the breaker makes of it: its 5th consecutive
    // failure opens the circuit, and nothing passes an open circuit.
    const upstreamCount = countOn(upstream, CHAT);
    assert.ok(upstreamCount <= 50 * 1.2 + 3);
    assert.equal(upstreamCount, 5);

    const failed = answers.filter((answer) => answer.status === 502);
    const fast = answers.filter((answer) => answer.status === 503);
    assert.equal(failed.length + fast.length, 50, 'every answer is 502 (tried) or 503 (circuit open)');
    assert.equal(failed.length, 2, '3 attempts, then 2 before the circuit opened');
    assert.deepEqual(
      answers.slice(0, 2).map((answer) => answer.status),
      [502, 502],
    );
    for (const answer of fast) {
      const problem = assertProblem(answer, 503, 'service_unavailable');
      assert.match(problem.detail, /circuit open/);
      const retryAfter = Number(answer.headers.get('retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${retryAfter}`);
      assert.ok(retryAfter <= Math.ceil(COOLDOWN_MS / 1000));
      assert.equal(answer.headers.get('x-gateway-attempts'), '0');
    }
    assertFast(fast);
    const line = await logLine(running, fast[0]!.requestId);
    assert.equal(line['status'], 503);
    assert.equal(line['error_code'], 'service_unavailable');
    assert.equal(line['attempts'], undefined);
  });

  it('reports the backend degraded (circuit open) in /health/ready, which stays 200', async () => {
    const ready = await readiness(running);
    assert.equal(ready.code, 200);
    assert.equal(ready.body.checks['backend:primary']?.status, 'degraded');
    assert.match(ready.body.checks['backend:primary']?.detail ?? '', /circuits: primary\/.+ open$/);
    assert.equal(await circuitState(), 'open');
    assert.equal(ready.body.checks['backends']?.status, 'ok');
  });

  it('after the cooldown lets exactly one of several concurrent requests through as a probe', async () => {
    assert.equal(await circuitState(), 'open');
    await until('the cooldown to end (circuit half-open)', circuitState, (state) => state === 'half_open');
    const before = countOn(upstream, CHAT);
    const burst = await Promise.all(Array.from({ length: 6 }, () => chat(running, 'm')));
    assert.equal(countOn(upstream, CHAT), before + 1, 'one probe reached the upstream');
    const statuses = burst.map((answer) => answer.status).sort();
    assert.deepEqual(statuses, [502, 503, 503, 503, 503, 503]);
    for (const answer of burst.filter((a) => a.status === 503)) {
      assertProblem(answer, 503, 'service_unavailable');
      assert.ok(Number(answer.headers.get('retry-after')) >= 1);
      assert.equal(answer.headers.get('x-gateway-attempts'), '0');
    }
    // The probe failed: open again for another cooldown.
    assert.equal(await circuitState(), 'open');
    assertProblem(await chat(running, 'm'), 503, 'service_unavailable');
    assert.equal(countOn(upstream, CHAT), before + 1);
  });

  it('closes the circuit when the probe succeeds, and requests pass again', async () => {
    upstream.behaviour = { kind: 'normal' };
    await until('the cooldown to end (circuit half-open)', circuitState, (state) => state === 'half_open');
    const before = countOn(upstream, CHAT);
    assertAnswered(await chat(running, 'm'), 'primary', 1);
    const ready = await readiness(running);
    assert.equal(ready.body.checks['backend:primary']?.status, 'ok');
    assert.doesNotMatch(ready.body.checks['backend:primary']?.detail ?? '', /circuits/);
    for (let index = 0; index < 5; index++) assertAnswered(await chat(running, 'm'), 'primary', 1);
    assert.equal(countOn(upstream, CHAT), before + 6);
  });
});

describe('a circuit breaker that is switched off', () => {
  let upstream: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    [upstream] = (await standIns(1)) as [StandInUpstream];
    running = await startGateway(
      testConfig({
        backends: [openaiBackend('primary', upstream.url)],
        models: [{ name: 'm', targets: [{ backend: 'primary' }] }],
        extra: routing({ max_attempts: 1, circuit_breaker: { enabled: false } }),
      }),
      ADMIN_ENV,
    );
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  it('lets every request through however often the upstream fails', async () => {
    upstream.behaviour = { kind: 'status', status: 503 };
    for (let index = 0; index < 8; index++) assertProblem(await chat(running, 'm'), 502, 'upstream_error');
    assert.equal(countOn(upstream, CHAT), 8);
    upstream.behaviour = { kind: 'normal' };
    assertAnswered(await chat(running, 'm'), 'primary', 1);
  });

  // KNOWN BUG (left failing on purpose; see the routing tests' report): CircuitBreaker.onFailure
  // (src/routing/circuit-breaker.ts:77-94) counts failures and opens the circuit even when
  // `circuit_breaker.enabled` is false. Routing ignores it (canAttempt/tryAcquire return early), but
  // backendChecks (src/server/app.ts:288-297) reads `breaker.state` and reports the backend
  // 'degraded' with "circuits: primary/… open"; and since onSuccess ignores non-probe successes while
  // not closed (circuit-breaker.ts:72) and no probe is ever taken, it stays 'half_open' forever, even
  // after the backend has recovered and answers every request.
  it('never reports a circuit in /health/ready', async () => {
    const ready = await readiness(running);
    assert.equal(ready.body.checks['backend:primary']?.status, 'ok', JSON.stringify(ready.body));
    assert.doesNotMatch(ready.body.checks['backend:primary']?.detail ?? '', /circuits/);
  });
});

// ---------------------------------------------------------------------------------------------------
// 3. A stall before the first byte → the fallback, within the deadline
// ---------------------------------------------------------------------------------------------------

describe('a primary that stalls before the first byte', () => {
  let stalling: StandInUpstream;
  let fallback: StandInUpstream;
  let alsoStalling: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    [stalling, fallback, alsoStalling] = (await standIns(3)) as [
      StandInUpstream,
      StandInUpstream,
      StandInUpstream,
    ];
    stalling.behaviour = { kind: 'stall' };
    alsoStalling.behaviour = { kind: 'stall' };
    running = await startGateway(
      testConfig({
        backends: [
          openaiBackend('primary', stalling.url, { timeout_ms: 300 }),
          openaiBackend('fallback', fallback.url),
          openaiBackend('slow-fallback', alsoStalling.url, { timeout_ms: 5000 }),
        ],
        models: [
          { name: 'm', targets: [{ backend: 'primary' }, { backend: 'fallback' }] },
          { name: 'both-stall', targets: [{ backend: 'primary' }, { backend: 'slow-fallback' }] },
        ],
        extra: routing({ deadline_ms: 700 }),
      }),
    );
  });
  after(async () => {
    await running.stop();
    await Promise.all([stalling.stop(), fallback.stop(), alsoStalling.stop()]);
  });

  it('gives up on it after timeout_ms (300 ms), aborts its connection, and answers from the fallback', async () => {
    const abortsBefore = stalling.aborts;
    const answer = await chat(running, 'm');
    assertAnswered(answer, 'fallback', 2);
    assert.equal(
      (JSON.parse(answer.text) as { choices: { message: { content: string } }[] }).choices[0]?.message
        .content,
      ANSWER,
    );
    assert.ok(answer.ms >= 300, `answered after ${answer.ms.toFixed(0)} ms, before the primary's timeout`);
    assert.ok(answer.ms < 2000, `answered after ${answer.ms.toFixed(0)} ms`);
    await stalling.waitForAborts(abortsBefore + 1);
    const line = await logLine(running, answer.requestId);
    assert.deepEqual(attemptsOf(line), [
      { backend: 'primary', outcome: 'error', error_code: 'upstream_timeout' },
      { backend: 'fallback', outcome: 'ok' },
    ]);
  });

  it('ends the request at routing.deadline_ms (700 ms) with 504 when the fallback stalls too', async () => {
    const abortsBefore = alsoStalling.aborts;
    const answer = await chat(running, 'both-stall');
    assertProblem(answer, 504, 'upstream_timeout');
    assert.equal(answer.headers.get('x-gateway-attempts'), '2');
    assert.ok(answer.ms >= 700, `answered after ${answer.ms.toFixed(0)} ms, before the deadline`);
    // The deadline's 10% (RELIABILITY.md 6) plus slack for a loaded machine.
    assert.ok(answer.ms < 1000, `answered after ${answer.ms.toFixed(0)} ms, well after the deadline`);
    await alsoStalling.waitForAborts(abortsBefore + 1);
    const line = await logLine(running, answer.requestId);
    assert.deepEqual(attemptsOf(line), [
      { backend: 'primary', outcome: 'error', error_code: 'upstream_timeout' },
      { backend: 'slow-fallback', outcome: 'error', error_code: 'upstream_timeout' },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------
// 4. A failure after the first streamed chunk is never retried
// ---------------------------------------------------------------------------------------------------

describe('a stream that fails after its first chunks', () => {
  let primary: StandInUpstream;
  let fallback: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    [primary, fallback] = (await standIns(2)) as [StandInUpstream, StandInUpstream];
    running = await startGateway(
      testConfig({
        backends: [openaiBackend('primary', primary.url), openaiBackend('fallback', fallback.url)],
        models: [{ name: 'm', targets: [{ backend: 'primary' }, { backend: 'fallback' }] }],
        extra: routing(),
      }),
    );
  });
  after(async () => {
    await running.stop();
    await Promise.all([primary.stop(), fallback.stop()]);
  });

  for (const kind of ['stream-cut-after', 'stream-error-event-after'] as const) {
    it(`${kind} 2: the client gets 2 chunks then an error event, no [DONE], and the fallback is not asked`, async () => {
      primary.behaviour = { kind, chunks: 2 };
      const primaryBefore = countOn(primary, CHAT);
      try {
        const answer = await chat(running, 'm', { stream: true });
        assertAnswered(answer, 'primary', 1);
        assert.match(answer.headers.get('content-type') ?? '', /^text\/event-stream/);
        const events = sseEvents(answer.text);
        assert.ok(!events.includes('[DONE]'), 'no [DONE] after an error');
        assert.equal(events.length, 3, answer.text);
        const chunks = events
          .slice(0, 2)
          .map((data) => JSON.parse(data) as { object: string; choices: { delta: { content?: string } }[] });
        assert.deepEqual(
          chunks.map((chunk) => chunk.choices[0]?.delta.content),
          ['', STAND_IN_TOKENS[0]],
        );
        const last = JSON.parse(events[2]!) as Problem;
        assert.equal(last.error.code, 'upstream_error');
        assert.equal(last.status, 502);
        assert.equal(last.request_id, answer.requestId);

        assert.equal(countOn(primary, CHAT), primaryBefore + 1);
        assert.equal(countOn(fallback, CHAT), 0, 'no retry once bytes reached the client');
        const line = await logLine(running, answer.requestId);
        assert.equal(line['outcome'], 'stream_error');
        assert.deepEqual(attemptsOf(line), [
          { backend: 'primary', outcome: 'error', error_code: 'upstream_error' },
        ]);
      } finally {
        primary.behaviour = { kind: 'normal' };
      }
    });
  }

  it('the official client shows the chunks, then raises the error event as an APIError', async () => {
    primary.behaviour = { kind: 'stream-error-event-after', chunks: 2 };
    try {
      const { data: stream, response } = await running
        .client()
        .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Hi' }], stream: true })
        .withResponse();
      assert.equal(response.headers.get('x-gateway-attempts'), '1');
      const pieces: string[] = [];
      let caught: unknown = null;
      try {
        for await (const chunk of stream) pieces.push(chunk.choices[0]?.delta.content ?? '');
      } catch (error) {
        caught = error;
      }
      assert.deepEqual(pieces, ['', STAND_IN_TOKENS[0]]);
      assert.ok(caught instanceof OpenAI.APIError, `expected an APIError, got ${String(caught)}`);
      assert.match(caught.message, /stand-in model crashed/);
      assert.equal(countOn(fallback, CHAT), 0);
    } finally {
      primary.behaviour = { kind: 'normal' };
    }
  });

  it('a cut before the first chunk is still retried: the fallback streams the whole answer', async () => {
    primary.behaviour = { kind: 'stream-cut-after', chunks: 0 };
    try {
      const answer = await chat(running, 'm', { stream: true });
      assertAnswered(answer, 'fallback', 2);
      const events = sseEvents(answer.text);
      assert.equal(events.at(-1), '[DONE]');
      const text = events
        .slice(0, -1)
        .map(
          (data) =>
            (JSON.parse(data) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ??
            '',
        )
        .join('');
      assert.equal(text, ANSWER);
      assert.equal(countOn(fallback, CHAT), 1);
    } finally {
      primary.behaviour = { kind: 'normal' };
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// 5. Load sharing in one tier: weights, and least outstanding requests
// ---------------------------------------------------------------------------------------------------

describe('targets of one tier share load', () => {
  let a: StandInUpstream;
  let b: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    [a, b] = (await standIns(2)) as [StandInUpstream, StandInUpstream];
    running = await startGateway(
      testConfig({
        backends: [openaiBackend('a', a.url), openaiBackend('b', b.url)],
        models: [
          {
            name: 'weighted',
            targets: [
              { backend: 'a', weight: 3 },
              { backend: 'b', weight: 1 },
            ],
          },
          {
            name: 'least',
            strategy: 'least_outstanding',
            targets: [
              { backend: 'a', model: 'least-a', weight: 1 },
              { backend: 'b', model: 'least-b', weight: 1 },
            ],
          },
        ],
        extra: routing(),
      }),
    );
  });
  after(async () => {
    await running.stop();
    await Promise.all([a.stop(), b.stop()]);
  });

  it('by weight 3:1: of 1,000 requests, 75% ± 5% go to a', async () => {
    const aBefore = countOn(a, CHAT);
    const bBefore = countOn(b, CHAT);
    const answers = await inParallel(1000, 20, () => chat(running, 'weighted'));
    const byBackend = new Map<string, number>();
    for (const answer of answers) {
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.headers.get('x-gateway-attempts'), '1');
      const backend = answer.headers.get('x-gateway-backend') ?? 'none';
      byBackend.set(backend, (byBackend.get(backend) ?? 0) + 1);
    }
    const toA = byBackend.get('a') ?? 0;
    assert.equal(toA + (byBackend.get('b') ?? 0), 1000);
    assert.ok(toA >= 700 && toA <= 800, `${toA} of 1000 went to a`);
    // The stand-ins agree with the headers.
    assert.equal(countOn(a, CHAT) - aBefore, toA);
    assert.equal(countOn(b, CHAT) - bBefore, 1000 - toA);
  });

  it('by least outstanding: while a has a request stuck in flight, every request goes to b', async () => {
    a.behaviour = { kind: 'slow-json', delayMs: 3000 };
    const headers = { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' };
    const body = JSON.stringify({ model: 'least', messages: MESSAGES });
    let stuck: { cancel(): void } | null = null;
    const abortsBefore = a.aborts;
    try {
      // Send requests one at a time until one lands on a (those that land on b are answered at once).
      for (let tries = 0; tries < 40 && stuck === null; tries++) {
        const aBefore = countOn(a, CHAT);
        const sent = rawPost(running.url, CHAT, headers, body);
        let settled = false;
        const answer = sent.answer.finally(() => {
          settled = true;
        });
        answer.catch(() => undefined);
        await until(
          'the request to reach a or be answered by b',
          () => settled || countOn(a, CHAT) > aBefore,
          (done) => done,
        );
        if (settled) assert.equal((await answer).headers['x-gateway-backend'], 'b');
        else stuck = sent;
      }
      assert.ok(stuck !== null, 'a request landed on a');
      const aCount = countOn(a, CHAT);
      const bCount = countOn(b, CHAT);
      for (let index = 0; index < 20; index++) {
        const answer = await rawPost(running.url, CHAT, headers, body).answer;
        assert.equal(answer.status, 200, answer.text);
        assert.equal(answer.headers['x-gateway-backend'], 'b');
        assert.equal(answer.headers['x-gateway-attempts'], '1');
      }
      assert.equal(countOn(a, CHAT), aCount, 'a got nothing more while busy');
      assert.equal(countOn(b, CHAT), bCount + 20);
      assert.equal(b.requests.at(-1)?.body?.['model'], 'least-b');
    } finally {
      a.behaviour = { kind: 'normal' };
      if (stuck !== null) {
        stuck.cancel();
        // The client went away: the gateway cancels the upstream request at once.
        await a.waitForAborts(abortsBefore + 1);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// 6. SSRF: upstream URLs come from the config only; the client's credentials never go upstream
// ---------------------------------------------------------------------------------------------------

describe('SSRF: only configured URLs are ever contacted', () => {
  const UPSTREAM_KEY = 'configured-upstream-key';
  let upstream: StandInUpstream;
  /** A server on another loopback address that nothing should ever reach. */
  let evil: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    [upstream] = (await standIns(1)) as [StandInUpstream];
    evil = new StandInUpstream();
    await evil.start('127.0.0.2');
    running = await startGateway(
      testConfig({
        backends: [
          openaiBackend('configured', upstream.url, { api_key: UPSTREAM_KEY }),
          openaiBackend('keyless', upstream.url),
        ],
        models: [
          { name: 'keyless', targets: [{ backend: 'keyless', model: 'keyless-model' }] },
          { name: '*', targets: [{ backend: 'configured' }] },
        ],
        extra: routing({ max_attempts: 1 }),
      }),
    );
  });
  after(async () => {
    await running.stop();
    await Promise.all([upstream.stop(), evil.stop()]);
  });

  function evilUrl(): string {
    return `${evil.url}/v1`;
  }

  it('ignores api_base, base_url, api_url, url and friends in the body', async () => {
    for (const field of ['api_base', 'base_url', 'api_url', 'url', 'endpoint', 'host']) {
      const answer = await chat(running, 'ssrf-model', { [field]: evilUrl() });
      assertAnswered(answer, 'configured', 1);
      const embedded = await post(running, EMBEDDINGS, {
        model: 'ssrf-model',
        input: 'x',
        [field]: evilUrl(),
      });
      assertAnswered(embedded, 'configured', 1);
    }
    const streamed = await chat(running, 'ssrf-model', { stream: true, api_base: evilUrl() });
    assertAnswered(streamed, 'configured', 1);
    assert.equal(sseEvents(streamed.text).at(-1), '[DONE]');
    assert.equal(evil.connections, 0);
    assert.equal(evil.requests.length, 0);
  });

  it('ignores a model name that is a URL: it is only a name sent to the configured backend', async () => {
    const answer = await chat(running, evilUrl());
    assertAnswered(answer, 'configured', 1);
    assert.equal(upstream.requests.at(-1)?.body?.['model'], evilUrl());
    assert.equal(evil.connections, 0);
  });

  it('ignores Host, X-Forwarded-Host, X-Upstream-Url, X-Backend-Url and Forwarded naming another server', async () => {
    const evilHost = new URL(evil.url).host;
    const headerSets: Record<string, string>[] = [
      { host: evilHost },
      { 'x-forwarded-host': evilHost, 'x-forwarded-proto': 'http' },
      { 'x-upstream-url': evilUrl() },
      { 'x-backend-url': evilUrl() },
      { 'x-api-base': evilUrl(), 'x-base-url': evilUrl() },
      { forwarded: `for=127.0.0.1;host=${evilHost};proto=http` },
    ];
    const body = JSON.stringify({ model: 'ssrf-model', messages: MESSAGES });
    for (const headers of headerSets) {
      const answer = await rawPost(
        running.url,
        CHAT,
        { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json', ...headers },
        body,
      ).answer;
      assert.equal(answer.status, 200, `${JSON.stringify(headers)}: ${answer.text}`);
      assert.equal(answer.headers['x-gateway-backend'], 'configured');
      const sent = upstream.requests.at(-1)!;
      assert.ok(!JSON.stringify(sent.headers).includes('127.0.0.2'), JSON.stringify(sent.headers));
    }
    assert.equal(evil.connections, 0);
  });

  it('never follows a redirect, even to a loopback address', async () => {
    upstream.once({ kind: 'redirect', location: `${evil.url}/v1/chat/completions` });
    const answer = await chat(running, 'ssrf-model');
    const problem = assertProblem(answer, 502, 'upstream_error');
    assert.match(problem.detail, /redirect/);
    assert.ok(!answer.text.includes('127.0.0.2'), 'the redirect target is not echoed');
    assert.equal(evil.connections, 0);
  });

  it("never sends the client's Authorization, x-api-key, Cookie or Proxy-Authorization upstream", async () => {
    const secrets = {
      cookie: 'session=client-cookie-secret',
      'proxy-authorization': 'Basic Y2xpZW50OnByb3h5LXNlY3JldA==',
    };
    const from = upstream.requests.length;
    await chat(running, 'ssrf-model');
    await post(running, CHAT, { model: 'ssrf-model', messages: MESSAGES, stream: true }, secrets);
    await post(running, CHAT, { model: 'ssrf-model', messages: MESSAGES }, secrets);
    await post(running, EMBEDDINGS, { model: 'ssrf-model', input: 'x' }, secrets);
    // x-api-key instead of Authorization.
    const viaApiKey = await rawPost(
      running.url,
      CHAT,
      { 'x-api-key': TEST_KEY, 'content-type': 'application/json', ...secrets },
      JSON.stringify({ model: 'ssrf-model', messages: MESSAGES }),
    ).answer;
    assert.equal(viaApiKey.status, 200, viaApiKey.text);
    const keyless = await post(running, CHAT, { model: 'keyless', messages: MESSAGES }, secrets);
    assertAnswered(keyless, 'keyless', 1);

    const sent = upstream.requests.slice(from);
    assert.equal(sent.length, 6);
    for (const request of sent) {
      const text = JSON.stringify(request.headers);
      for (const secret of [TEST_KEY, 'client-cookie-secret', 'Y2xpZW50OnByb3h5LXNlY3JldA==']) {
        assert.ok(!text.includes(secret), `a client secret went upstream: ${text}`);
      }
      assert.equal(request.headers.cookie, undefined);
      assert.equal(request.headers['proxy-authorization'], undefined);
      assert.equal(request.headers['x-api-key'], undefined);
    }
    // Only the backend's own key, and none for a backend without one.
    for (const request of sent.slice(0, 5))
      assert.equal(request.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    assert.equal(sent[5]?.body?.['model'], 'keyless-model');
    assert.equal(sent[5]?.headers.authorization, undefined);
  });
});

// ---------------------------------------------------------------------------------------------------
// 7. Every target's circuit open: a fast 503 that reaches nobody
// ---------------------------------------------------------------------------------------------------

describe('every target of a model with its circuit open', () => {
  let a: StandInUpstream;
  let b: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    [a, b] = (await standIns(2)) as [StandInUpstream, StandInUpstream];
    a.behaviour = { kind: 'status', status: 500 };
    b.behaviour = { kind: 'status', status: 503 };
    running = await startGateway(
      testConfig({
        backends: [openaiBackend('a', a.url), openaiBackend('b', b.url)],
        models: [{ name: 'm', targets: [{ backend: 'a' }, { backend: 'b' }] }],
        extra: routing({ max_attempts: 2, circuit_breaker: { failures: 1, cooldown_ms: 60_000 } }),
      }),
    );
  });
  after(async () => {
    await running.stop();
    await Promise.all([a.stop(), b.stop()]);
  });

  it('the first request tries both and opens both circuits', async () => {
    const answer = await chat(running, 'm');
    assertProblem(answer, 502, 'upstream_error');
    assert.equal(answer.headers.get('x-gateway-attempts'), '2');
    assert.equal(answer.headers.get('x-gateway-backend'), 'b', 'the last one tried');
    assert.equal(countOn(a, CHAT), 1);
    assert.equal(countOn(b, CHAT), 1);
  });

  it('then answers 503 service_unavailable with Retry-After and X-Gateway-Attempts: 0, reaching no upstream', async () => {
    const answers = [
      await chat(running, 'm'),
      await chat(running, 'm', { stream: true }),
      await post(running, EMBEDDINGS, { model: 'm', input: 'x' }),
    ];
    for (const answer of answers) {
      const problem = assertProblem(answer, 503, 'service_unavailable');
      assert.match(problem.detail, /'m'/);
      assert.equal(problem.type.endsWith('/service-unavailable'), true);
      const retryAfter = Number(answer.headers.get('retry-after'));
      assert.ok(
        Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60,
        `Retry-After ${retryAfter}`,
      );
      assert.equal(answer.headers.get('x-gateway-attempts'), '0');
    }
    assertFast(answers);
    assert.equal(a.requests.length, 1);
    assert.equal(b.requests.length, 1);
    const ready = await readiness(running);
    assert.equal(ready.body.checks['backend:a']?.status, 'degraded');
    assert.equal(ready.body.checks['backend:b']?.status, 'degraded');
  });

  it('the official client sees the 503 as an InternalServerError with the code', async () => {
    let caught: unknown = null;
    try {
      await running
        .client()
        .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof OpenAI.InternalServerError, String(caught));
    assert.equal(caught.status, 503);
    assert.equal(caught.code, 'service_unavailable');
    assert.equal(a.requests.length + b.requests.length, 2);
  });
});

// ---------------------------------------------------------------------------------------------------
// 8. An upstream 429 with Retry-After
// ---------------------------------------------------------------------------------------------------

describe("an upstream 429's Retry-After", () => {
  let upstream: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    [upstream] = (await standIns(1)) as [StandInUpstream];
    running = await startGateway(
      testConfig({
        backends: [openaiBackend('only', upstream.url)],
        models: [{ name: 'm', targets: [{ backend: 'only' }] }],
        extra: routing({ max_attempts: 2, backoff_base_ms: 100, backoff_max_ms: 2000 }),
      }),
    );
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  it('Retry-After: 1 is waited for, then the request is retried once and answered', async () => {
    const from = upstream.requests.length;
    upstream.once({ kind: 'status', status: 429, headers: { 'retry-after': '1' } });
    const answer = await chat(running, 'm');
    assertAnswered(answer, 'only', 2);
    const sent = upstream.requests.slice(from);
    assert.equal(sent.length, 2);
    const gap = sent[1]!.receivedAt - sent[0]!.receivedAt;
    assert.ok(gap >= 950, `retried after ${gap.toFixed(0)} ms, before the upstream's Retry-After`);
    assert.ok(gap < 2000, `retried after ${gap.toFixed(0)} ms`);
    const line = await logLine(running, answer.requestId);
    assert.deepEqual(attemptsOf(line), [
      { backend: 'only', outcome: 'error', error_code: 'rate_limit_exceeded' },
      { backend: 'only', outcome: 'ok' },
    ]);
  });

  it('Retry-After: 30 (beyond backoff_max_ms) is not waited for: the client gets the 429 and its Retry-After', async () => {
    const from = upstream.requests.length;
    upstream.once({ kind: 'status', status: 429, headers: { 'retry-after': '30' } });
    const answer = await chat(running, 'm');
    assertProblem(answer, 429, 'rate_limit_exceeded');
    assert.equal(answer.headers.get('retry-after'), '30');
    assert.equal(answer.headers.get('x-gateway-attempts'), '1');
    assert.ok(answer.ms < 1000, `took ${answer.ms.toFixed(0)} ms`);
    assert.equal(upstream.requests.length - from, 1);
  });
});

// ---------------------------------------------------------------------------------------------------
// 9. Active health checks
// ---------------------------------------------------------------------------------------------------

describe('active health checks', () => {
  let sick: StandInUpstream;
  let well: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    [sick, well] = (await standIns(2)) as [StandInUpstream, StandInUpstream];
    running = await startGateway(
      testConfig({
        backends: [
          openaiBackend('sick', sick.url, { health_check: { interval_ms: 200, unhealthy_after: 2 } }),
          openaiBackend('well', well.url),
        ],
        models: [{ name: 'm', targets: [{ backend: 'sick' }, { backend: 'well' }] }],
        extra: routing(),
      }),
      ADMIN_ENV,
    );
  });
  after(async () => {
    await running.stop();
    await Promise.all([sick.stop(), well.stop()]);
  });

  function backendCheck(name: string) {
    return async () => (await readiness(running)).body.checks[`backend:${name}`];
  }

  it('checks the backend (GET /v1/models) and reports it healthy', async () => {
    await until('a first passed check', backendCheck('sick'), (check) =>
      (check?.detail ?? '').includes('health check: healthy'),
    );
    assert.ok(countOn(sick, '/v1/models') >= 1);
    assert.equal(countOn(well, '/v1/models'), 0, 'no check configured on well');
    assertAnswered(await chat(running, 'm'), 'sick', 1);
  });

  it('takes a failing backend out of rotation: unhealthy in readiness, its traffic goes to the fallback', async () => {
    sick.behaviour = { kind: 'status', status: 500 };
    const check = await until(
      'backend:sick to be unhealthy',
      backendCheck('sick'),
      (value) => value?.status === 'unhealthy',
    );
    assert.match(check?.detail ?? '', /500/);
    const ready = await readiness(running);
    assert.equal(ready.code, 200, 'one backend down does not make the gateway unready');
    assert.equal(ready.body.status, 'healthy');
    assert.equal(ready.body.checks['backends']?.status, 'ok');
    assert.equal(ready.body.checks['backend:well']?.status, 'ok');

    const sickChats = countOn(sick, CHAT);
    for (let index = 0; index < 5; index++) assertAnswered(await chat(running, 'm'), 'well', 1);
    assert.equal(countOn(sick, CHAT), sickChats, 'the unhealthy backend is never tried');
  });

  it('puts it back once its check passes again', async () => {
    sick.behaviour = { kind: 'normal' };
    await until('backend:sick to be ok', backendCheck('sick'), (value) => value?.status === 'ok');
    assertAnswered(await chat(running, 'm'), 'sick', 1);
  });
});

describe('readiness when no backend can take requests', () => {
  let upstream: StandInUpstream;
  let running: RunningGateway;
  let empty: RunningGateway;

  before(async () => {
    [upstream] = (await standIns(1)) as [StandInUpstream];
    upstream.behaviour = { kind: 'status', status: 500 };
    running = await startGateway(
      testConfig({
        backends: [
          openaiBackend('only', upstream.url, { health_check: { interval_ms: 200, unhealthy_after: 1 } }),
        ],
        models: [{ name: 'm', targets: [{ backend: 'only' }] }],
        extra: routing(),
      }),
    );
    empty = await startGateway(testConfig({ backends: [], models: [], extra: routing() }));
  });
  after(async () => {
    await Promise.all([running.stop(), empty.stop()]);
    await upstream.stop();
  });

  it('is not ready when its only backend fails its health check, and answers 503 without trying it', async () => {
    const ready = await until(
      'readiness 503',
      () => readiness(running),
      (value) => value.code === 503,
    );
    assert.equal(ready.body.status, 'unhealthy');
    assert.equal(ready.body.checks['backends']?.status, 'error');
    assert.equal(ready.body.checks['backend:only']?.status, 'unhealthy');
    const answer = await chat(running, 'm');
    assertProblem(answer, 503, 'service_unavailable');
    assert.equal(answer.headers.get('retry-after'), '1', 'the check interval, rounded up to seconds');
    assert.equal(answer.headers.get('x-gateway-attempts'), '0');
    assert.equal(countOn(upstream, CHAT), 0);
  });

  it('is not ready with backends: []', async () => {
    const ready = await readiness(empty);
    assert.equal(ready.code, 503);
    assert.equal(ready.body.checks['backends']?.status, 'error');
  });
});

// ---------------------------------------------------------------------------------------------------
// 10. Discovery: GET /v1/models lists what pattern routes' backends report
// ---------------------------------------------------------------------------------------------------

describe('backend discovery for GET /v1/models', () => {
  let openaiUpstream: StandInUpstream;
  let ollamaUpstream: StandInUpstream;
  let discovering: RunningGateway;
  let notDiscovering: RunningGateway;
  let unreachable: RunningGateway;

  function document(discovery: Record<string, unknown>, openaiUrl: string): Record<string, unknown> {
    return testConfig({
      backends: [openaiBackend('oa', openaiUrl), { name: 'ol', type: 'ollama', url: ollamaUpstream.url }],
      models: [
        { name: 'exact-one', targets: [{ backend: 'oa', model: 'upstream-exact' }] },
        { name: 'llama*', targets: [{ backend: 'ol' }] },
        { name: '*', targets: [{ backend: 'oa' }] },
      ],
      extra: routing({ discovery }),
    });
  }

  before(async () => {
    [openaiUpstream, ollamaUpstream] = (await standIns(2)) as [StandInUpstream, StandInUpstream];
    openaiUpstream.openAiModels = ['m-one', 'm-two', 'stand-in-visible'];
    // qwen2.5 would route to oa through '*', not to ol: it must not be listed.
    ollamaUpstream.ollamaModels = ['llama3.2:1b', 'qwen2.5:0.5b'];
    discovering = await startGateway(document({ enabled: true }, openaiUpstream.url));
    notDiscovering = await startGateway(document({ enabled: false }, openaiUpstream.url));
    unreachable = await startGateway(
      document({ enabled: true, timeout_ms: 500 }, `http://127.0.0.1:${await freePort()}`),
    );
  });
  after(async () => {
    await Promise.all([discovering.stop(), notDiscovering.stop(), unreachable.stop()]);
    await Promise.all([openaiUpstream.stop(), ollamaUpstream.stop()]);
  });

  async function listed(running: RunningGateway, apiKey = TEST_KEY): Promise<string[]> {
    const page = await running.client({ apiKey }).models.list();
    return page.data.map((model) => model.id).sort();
  }

  it('lists the configured exact names plus what openai (/v1/models) and ollama (/api/tags) backends report', async () => {
    assert.deepEqual(await listed(discovering), [
      'exact-one',
      'llama3.2:1b',
      'm-one',
      'm-two',
      'stand-in-visible',
    ]);
    assert.ok(countOn(openaiUpstream, '/v1/models') >= 1);
    assert.ok(countOn(ollamaUpstream, '/api/tags') >= 1);
    // A discovered name is usable, and goes to the backend that reported it.
    assertAnswered(await chat(discovering, 'llama3.2:1b'), 'ol', 1);
    assertAnswered(await chat(discovering, 'm-two'), 'oa', 1);
  });

  it('filters discovered names by the key allow-list', async () => {
    // RESTRICTED_KEY may use demo and stand-in-* only.
    assert.deepEqual(await listed(discovering, RESTRICTED_KEY), ['stand-in-visible']);
  });

  it('lists only the configured names when discovery is off', async () => {
    const before = countOn(openaiUpstream, '/v1/models') + countOn(ollamaUpstream, '/api/tags');
    assert.deepEqual(await listed(notDiscovering), ['exact-one']);
    assert.equal(countOn(openaiUpstream, '/v1/models') + countOn(ollamaUpstream, '/api/tags'), before);
  });

  it('a backend that cannot be asked contributes nothing, and the list still answers', async () => {
    assert.deepEqual(await listed(unreachable), ['exact-one', 'llama3.2:1b']);
  });
});

// ---------------------------------------------------------------------------------------------------
// 11. Embeddings fail over too
// ---------------------------------------------------------------------------------------------------

describe('embeddings fail over', () => {
  let primary: StandInUpstream;
  let fallback: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    [primary, fallback] = (await standIns(2)) as [StandInUpstream, StandInUpstream];
    primary.behaviour = { kind: 'status', status: 503 };
    running = await startGateway(
      testConfig({
        backends: [
          openaiBackend('primary', primary.url),
          { name: 'fallback', type: 'ollama', url: fallback.url },
        ],
        models: [{ name: 'e', targets: [{ backend: 'primary' }, { backend: 'fallback', model: 'nomic' }] }],
        extra: routing(),
      }),
    );
  });
  after(async () => {
    await running.stop();
    await Promise.all([primary.stop(), fallback.stop()]);
  });

  it('a 503 from the primary: the fallback (another backend type) answers', async () => {
    const { data, response } = await running
      .client()
      .embeddings.create(
        { model: 'e', input: ['one', 'three'], encoding_format: 'float' },
        { headers: { 'x-request-id': 'embed-failover' } },
      )
      .withResponse();
    assert.equal(data.data.length, 2);
    assert.deepEqual(data.data[1]?.embedding, [5, 0.5, -0.25]);
    assert.equal(response.headers.get('x-gateway-backend'), 'fallback');
    assert.equal(response.headers.get('x-gateway-attempts'), '2');
    assert.equal(countOn(primary, '/v1/embeddings'), 1);
    assert.equal(countOn(fallback, '/api/embed'), 1);
    assert.equal(fallback.requests.at(-1)?.body?.['model'], 'nomic');
    const line = await logLine(running, 'embed-failover');
    assert.deepEqual(attemptsOf(line), [
      { backend: 'primary', outcome: 'error', error_code: 'upstream_error' },
      { backend: 'fallback', outcome: 'ok' },
    ]);
  });
});
