/**
 * Issue 16, finding 1: one request must not freeze the event loop. The worst bodies that fit under the
 * body limit (every message invalid, arrays past their bounds, many unknown fields, an object with
 * 500,000 keys) are refused or answered quickly, and /health/live keeps answering meanwhile. Before the
 * fix, 30,000 messages with a wrongly typed `content` took ~34 s to refuse (quadratic error reporting
 * on top of Ajv's allErrors), and every other request waited.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256Hex } from '../../src/auth/api-key.js';
import { DEFAULT_BODY_LIMIT_BYTES } from '../../src/config/load.js';
import { MAX_OBJECT_MEMBERS } from '../../src/server/json-body.js';
import { killStrayChildren, ServeProcess } from '../support/cli-process.js';
import { TEST_KEY, testConfig } from '../support/gateway-harness.js';

const ADMIN_TOKEN = 'admin-token-for-validation-bounds';
/**
 * Far above what these bodies now take (tens to a few hundred milliseconds on a busy 2-core machine),
 * far below what they took before the fix (seconds to tens of seconds).
 */
const ANSWER_BOUND_MS = 2_000;
const LIVE_BOUND_MS = 1_000;

interface Outcome {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly elapsedMs: number;
  /** The longest any /health/live request waited while the body was being handled. */
  readonly slowestLiveMs: number;
  readonly liveAnswers: number;
}

/** Sends the body while /health/live is polled one request after another on other connections. */
async function sendWhilePolling(
  url: string,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<Outcome> {
  let done = false;
  let slowestLiveMs = 0;
  let liveAnswers = 0;
  const poll = (async () => {
    while (!done) {
      const started = performance.now();
      const response = await fetch(`${url}/health/live`);
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      slowestLiveMs = Math.max(slowestLiveMs, performance.now() - started);
      liveAnswers++;
    }
  })();
  const started = performance.now();
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const answer = (await response.json()) as Record<string, unknown>;
  const elapsedMs = performance.now() - started;
  done = true;
  await poll;
  return { status: response.status, body: answer, elapsedMs, slowestLiveMs, liveAnswers };
}

function repeatJoined(item: string, count: number): string {
  return new Array<string>(count).fill(item).join(',');
}

/** As many copies of `item` as fit in a chat body under the default body limit. */
function fillToLimit(prefix: string, item: string, suffix: string): string {
  const count = Math.floor(
    (DEFAULT_BODY_LIMIT_BYTES - prefix.length - suffix.length - 1024) / (item.length + 1),
  );
  return `${prefix}${repeatJoined(item, count)}${suffix}`;
}

function detailOf(body: Record<string, unknown>): string {
  return String(body['detail']);
}

/**
 * The gateway runs in a process of its own (as in production): what /health/live waits for is then its
 * event loop, not this test's building and sending of 10 MB bodies.
 */
describe('worst-case bodies under the body limit (issue 16, finding 1)', () => {
  let directory: string;
  let serve: ServeProcess;
  const running = { url: '' };
  const auth = { authorization: `Bearer ${TEST_KEY}` };

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'gw-validation-bounds-'));
    const config = testConfig({
      backends: [{ name: 'demo', type: 'demo' }],
      models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
      extra: {
        auth: {
          admin_token_sha256: sha256Hex(ADMIN_TOKEN),
          keys: [{ id: 'test-key', sha256: sha256Hex(TEST_KEY) }],
        },
      },
    });
    // The test config's port 0 and a state dir of its own; JSON is YAML.
    writeFileSync(
      join(directory, 'gateway.yaml'),
      JSON.stringify({ ...config, server: { port: 0, state_dir: join(directory, 'state') } }),
    );
    serve = new ServeProcess({ cwd: directory, args: ['--config', 'gateway.yaml'] });
    running.url = await serve.listening();
  });
  after(async () => {
    await serve.stop();
    killStrayChildren();
    rmSync(directory, { recursive: true, force: true });
  });

  function assertQuick(outcome: Outcome): void {
    assert.ok(outcome.elapsedMs < ANSWER_BOUND_MS, `answered in ${Math.round(outcome.elapsedMs)} ms`);
    assert.ok(outcome.liveAnswers > 0, '/health/live answered at least once meanwhile');
    assert.ok(
      outcome.slowestLiveMs < LIVE_BOUND_MS,
      `/health/live waited ${Math.round(outcome.slowestLiveMs)} ms`,
    );
  }

  it('refuses 30,000 messages whose content has the wrong type quickly, naming the field', async () => {
    const body = `{"model":"demo","messages":[${repeatJoined('{"role":"user","content":1}', 30_000)}]}`;
    const outcome = await sendWhilePolling(running.url, '/v1/chat/completions', body, auth);
    assert.equal(outcome.status, 400);
    assert.match(
      detailOf(outcome.body),
      /^Invalid request: messages\[0\]\.content: must be string or array or null/,
    );
    assertQuick(outcome);
  });

  it('refuses a body filled to the limit with invalid messages (past maxItems too) quickly', async () => {
    const body = fillToLimit('{"model":"demo","messages":[', '{"role":"user","content":1}', ']}');
    assert.ok(body.length > DEFAULT_BODY_LIMIT_BYTES - 2048 && body.length < DEFAULT_BODY_LIMIT_BYTES);
    const outcome = await sendWhilePolling(running.url, '/v1/chat/completions', body, auth);
    assert.equal(outcome.status, 400);
    assert.match(detailOf(outcome.body), /messages/);
    assertQuick(outcome);
  });

  it('lists every problem of a small body, and the first of a large one', async () => {
    const small = await sendWhilePolling(
      running.url,
      '/v1/chat/completions',
      '{"model":"demo","messages":[{"role":"user","content":1},{"role":"robot","content":"x"}],"temperature":"hot"}',
      auth,
    );
    assert.equal(small.status, 400);
    assert.match(
      detailOf(small.body),
      /messages\[0\]\.content: .*messages\[1\]\.role: .*temperature: must be number or null/,
    );
    const large = await sendWhilePolling(
      running.url,
      '/v1/chat/completions',
      `{"model":"demo","messages":[${repeatJoined('{"role":"user","content":1}', 5_000)}],"temperature":"hot"}`,
      auth,
    );
    assert.equal(large.status, 400);
    assert.equal(
      detailOf(large.body),
      'Invalid request: messages[0].content: must be string or array or null',
    );
  });

  it('refuses a body whose one object has 500,000 keys quickly, before parsing it', async () => {
    const keys = Array.from({ length: 500_000 }, (_, index) => `"k${index}":0`).join(',');
    const body = `{"model":"demo","messages":[{"role":"user","content":"hi"}],${keys}}`;
    assert.ok(body.length < DEFAULT_BODY_LIMIT_BYTES);
    const outcome = await sendWhilePolling(running.url, '/v1/chat/completions', body, auth);
    assert.equal(outcome.status, 400);
    assert.equal(
      detailOf(outcome.body),
      `The request body has an object with more than ${MAX_OBJECT_MEMBERS} members; send fewer fields`,
    );
    assertQuick(outcome);
  });

  it('answers a body with as many unknown fields as an object may have', async () => {
    const keys = Array.from({ length: MAX_OBJECT_MEMBERS - 2 }, (_, index) => `"k${index}":0`).join(',');
    const outcome = await sendWhilePolling(
      running.url,
      '/v1/chat/completions',
      `{"model":"demo","messages":[{"role":"user","content":"hi"}],${keys}}`,
      auth,
    );
    assert.equal(outcome.status, 200);
    assertQuick(outcome);
  });

  it('refuses unknown fields where the schema allows none (admin key creation), listing a bounded few', async () => {
    const keys = Array.from({ length: MAX_OBJECT_MEMBERS - 1 }, (_, index) => `"k${index}":0`).join(',');
    const outcome = await sendWhilePolling(running.url, '/admin/keys', `{"name":"bounds",${keys}}`, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
    });
    assert.equal(outcome.status, 400);
    assert.match(
      detailOf(outcome.body),
      /^Invalid request: k0: unknown field; k1: unknown field; .*; \.\.\. and 979 more$/,
    );
    assertQuick(outcome);
  });

  it('refuses a body filled to the limit with unknown fields of wrong-typed messages quickly', async () => {
    const body = fillToLimit(
      '{"model":"demo","messages":[',
      '{"role":1,"content":{},"name":2,"extra":[]}',
      ']}',
    );
    const outcome = await sendWhilePolling(running.url, '/v1/chat/completions', body, auth);
    assert.equal(outcome.status, 400);
    assertQuick(outcome);
  });

  it('refuses more tools than OpenAI accepts, naming the bound', async () => {
    const tools = repeatJoined('{"type":"function","function":{"name":"f"}}', 129);
    const outcome = await sendWhilePolling(
      running.url,
      '/v1/chat/completions',
      `{"model":"demo","messages":[{"role":"user","content":"hi"}],"tools":[${tools}]}`,
      auth,
    );
    assert.equal(outcome.status, 400);
    assert.match(detailOf(outcome.body), /tools: must NOT have more than 128 items/);
  });
});
