/**
 * Issue 17, item 4 and the third point of item 6: a drain a load balancer can see, and an answer for the
 * request the grace period cuts off.
 *
 * - server.shutdown_delay_ms: on SIGTERM readiness answers 503 at once while everything else is served
 *   as before, for that long; only then does the gateway drain (before, the listener closed at once and a
 *   probe met a refused connection, never the 503).
 * - When server.shutdown_grace_ms ends, a non-streaming request still waiting on its upstream is answered
 *   503 service_unavailable with Retry-After (before: a socket error, although the log said 503).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { sha256Hex } from '../../src/auth/api-key.js';
import { killStrayChildren, ServeProcess } from '../support/cli-process.js';
import { TEST_KEY, waitForLog } from '../support/gateway-harness.js';
import type { Problem } from '../support/problem.js';
import { freshServers } from '../support/fresh-servers.js';

const MESSAGES = [{ role: 'user' as const, content: 'Hello' }];

function chat(url: string, model: string, requestId: string): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_KEY}`,
      'content-type': 'application/json',
      'x-request-id': requestId,
    },
    body: JSON.stringify({ model, messages: MESSAGES }),
  });
}

async function ready(url: string): Promise<{ status: number; lifecycle: string | undefined }> {
  const response = await fetch(`${url}/health/ready`);
  const body = (await response.json()) as { checks: Record<string, { status: string }> };
  return { status: response.status, lifecycle: body.checks['lifecycle']?.status };
}

describe('server.shutdown_delay_ms: readiness 503 while serving, then the drain (in process)', () => {
  const DELAY_MS = 1_500;
  const servers = freshServers({}, { shutdown_delay_ms: DELAY_MS });

  it('answers readiness 503 at once and every other request as usual until the delay ends, then drains', async () => {
    const { running } = servers;
    assert.deepEqual(await ready(running.url), { status: 200, lifecycle: undefined });

    const started = performance.now();
    const shutdown = running.gateway.shutdown();
    // A load balancer's probe, on a new connection: the listener is still open and says 503.
    assert.deepEqual(await ready(running.url), { status: 503, lifecycle: 'shutting_down' });
    const live = await fetch(`${running.url}/health/live`);
    assert.equal(live.status, 200);
    await live.body?.cancel();
    // Requests the balancer still sends are served, from the demo backend and through an upstream.
    for (const model of ['demo', 'qwen']) {
      const response = await chat(running.url, model, `during-delay-${model}`);
      assert.equal(response.status, 200);
      // Keep-alive connections are handed back, so that clients reconnect through the balancer.
      assert.equal(response.headers.get('connection'), 'close');
      const body = (await response.json()) as { object: string };
      assert.equal(body.object, 'chat.completion');
    }
    const sdk = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: TEST_KEY, maxRetries: 0 });
    const completion = await sdk.chat.completions.create({ model: 'qwen', messages: MESSAGES });
    assert.equal(completion.object, 'chat.completion');

    const draining = await waitForLog(running, (line) => line['msg'] === 'shutting down', DELAY_MS * 4);
    const drainedAfter = performance.now() - started;
    assert.ok(
      drainedAfter >= DELAY_MS * 0.9,
      `the drain began ${Math.round(drainedAfter)} ms after the shutdown, not after ${DELAY_MS} ms`,
    );
    assert.equal(draining['open_streams'], 0);
    await shutdown;
    assert.ok(
      running.logs.some((line) => line['msg'] === 'not ready: serving until server.shutdown_delay_ms ends'),
    );
  });
});

describe('the end of server.shutdown_grace_ms with a non-streaming request still running (in process)', () => {
  const GRACE_MS = 500;
  const servers = freshServers({}, { shutdown_grace_ms: GRACE_MS });

  for (const model of ['qwen', 'llama']) {
    it(`${model}: the client gets 503 service_unavailable with Retry-After, not a socket error`, async () => {
      const { upstream, running } = servers;
      upstream.behaviour = { kind: 'stall' };
      const requestId = `cut-by-grace-${model}`;
      const pending = chat(running.url, model, requestId).then(
        async (response) => ({
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          contentType: response.headers.get('content-type'),
          problem: (await response.json()) as Problem,
        }),
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      );
      await upstream.waitForRequests(1);

      await running.gateway.shutdown();
      const answer = await pending;
      if (answer instanceof Error) assert.fail(`the client saw ${answer.message} instead of an answer`);
      assert.equal(answer.status, 503);
      assert.equal(answer.retryAfter, '1');
      assert.match(answer.contentType ?? '', /^application\/problem\+json/);
      assert.equal(answer.problem.error.code, 'service_unavailable');
      assert.equal(answer.problem.request_id, requestId);
      await upstream.waitForAborts(1, 1_000);
      const line = await waitForLog(
        running,
        (entry) => entry['msg'] === 'request_complete' && entry['request_id'] === requestId,
      );
      assert.equal(line['status'], 503);
    });
  }

  it('the official openai client (maxRetries 0) gets APIError 503', async () => {
    const { upstream, running } = servers;
    upstream.behaviour = { kind: 'stall' };
    const sdk = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: TEST_KEY, maxRetries: 0 });
    const pending = sdk.chat.completions.create({ model: 'qwen', messages: MESSAGES }).then(
      () => null,
      (error: unknown) => error,
    );
    await upstream.waitForRequests(1);
    await running.gateway.shutdown();
    const error = await pending;
    assert.ok(error instanceof OpenAI.APIError, `expected an APIError, got ${String(error)}`);
    assert.equal(error.status, 503, error.message);
    assert.equal(error.headers.get('retry-after'), '1');
  });
});

describe('the real process on SIGTERM with server.shutdown_delay_ms (node dist/cli.js serve; needs npm run build)', () => {
  const DELAY_MS = 2_000;
  let directory: string;
  let gateway: ServeProcess;
  let url: string;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'gw-drain-'));
    writeFileSync(
      join(directory, 'gateway.yaml'),
      stringify({
        server: { port: 0, state_dir: join(directory, 'state'), shutdown_delay_ms: DELAY_MS },
        backends: [{ name: 'demo', type: 'demo' }],
        models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
        auth: { keys: [{ id: 'only-key', sha256: sha256Hex(TEST_KEY) }] },
      }),
    );
    gateway = new ServeProcess({ cwd: directory, args: ['--config', 'gateway.yaml'] });
    url = await gateway.listening();
  });
  after(() => {
    killStrayChildren();
    rmSync(directory, { recursive: true, force: true });
  });

  it('a probe sees readiness 503 while requests are still served, and the process exits 0 after the delay', async () => {
    assert.equal((await ready(url)).status, 200);
    const started = performance.now();
    assert.ok(gateway.kill('SIGTERM'));
    await gateway.waitForLog(
      'the signal log line',
      (line) => line['msg'] === 'signal received: shutting down',
    );
    assert.deepEqual(await ready(url), { status: 503, lifecycle: 'shutting_down' });
    const response = await chat(url, 'demo', 'after-sigterm');
    assert.equal(response.status, 200);
    await response.body?.cancel();

    const { code, signal } = await gateway.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    const took = performance.now() - started;
    assert.ok(took >= DELAY_MS * 0.9, `exited ${Math.round(took)} ms after SIGTERM, before the delay ended`);
    assert.ok(gateway.logs.some((line) => line['msg'] === 'shutdown complete'));
  });
});
