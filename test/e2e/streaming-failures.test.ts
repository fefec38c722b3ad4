/**
 * What a client sees when a stream (or a call) fails after it started: the upstream cuts it, sends an
 * error, goes silent; the client goes away; the gateway shuts down (in process, and the real process on
 * SIGTERM). RELIABILITY.md items 6, 8, 9, 11 and 19, against real servers: a gateway on loopback and
 * the stand-in upstream failing on demand.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { APIError } from 'openai';
import { stringify } from 'yaml';
import { sha256Hex } from '../../src/auth/api-key.js';
import { ServeProcess } from '../support/cli-process.js';
import { STAND_IN_TOKENS, StandInUpstream } from '../support/stand-in-upstream.js';
import { TEST_KEY, waitForLog, type RunningGateway } from '../support/gateway-harness.js';
import { freshServers } from '../support/fresh-servers.js';

const MESSAGES = [{ role: 'user', content: 'Tell me something' }];

/**
 * The two upstream kinds, and the text each chunk the client receives carries, in order: OpenAI's
 * stream opens with a role chunk of empty content; the Ollama translation puts the role on the first token.
 */
const BACKENDS = [
  { model: 'qwen', backend: 'vllm', chunkTexts: ['', ...STAND_IN_TOKENS] },
  { model: 'llama', backend: 'ollama', chunkTexts: [...STAND_IN_TOKENS] },
] as const;

interface ChunkEvent {
  object: string;
  choices: { delta: { content?: string } }[];
}

interface ErrorEvent {
  status: number;
  detail: string;
  request_id: string;
  error: { message: string; code: string; type: string };
}

/** Server-sent events read from a fetch response as they arrive; `next()` is null once the stream ended. */
class SseReader {
  readonly raw: string[] = [];
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();

  constructor(response: Response) {
    assert.ok(response.body !== null, 'the response has a body');
    this.reader = response.body.getReader();
  }

  /** The data of the next event, checking that every event is exactly one `data:` line. */
  async next(): Promise<string | null> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        this.raw.push(block);
        assert.match(block, /^data: [^\n]+$/, `an SSE event of one data line, not ${JSON.stringify(block)}`);
        return block.slice('data: '.length);
      }
      const { done, value } = await this.reader.read();
      if (done) {
        assert.equal(this.buffer, '', 'the stream ends on an event boundary');
        return null;
      }
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  /** Every remaining event, until the server ends the stream. */
  async rest(): Promise<string[]> {
    const events: string[] = [];
    for (let event = await this.next(); event !== null; event = await this.next()) events.push(event);
    return events;
  }
}

/** Splits what came after the chunks: the chunks, and the one error event that must close the stream. */
function chunksThenError(events: string[]): { chunks: ChunkEvent[]; error: ErrorEvent } {
  assert.ok(!events.includes('[DONE]'), `no [DONE] after a failure, got ${JSON.stringify(events)}`);
  assert.ok(events.length > 0, 'the stream carried at least the error event');
  const parsed = events.map((event) => JSON.parse(event) as Record<string, unknown>);
  const last = parsed.at(-1) as unknown as ErrorEvent;
  assert.ok('error' in last, `the last event is an error event, got ${JSON.stringify(last)}`);
  const chunks = parsed.slice(0, -1) as unknown as ChunkEvent[];
  for (const chunk of chunks) assert.equal(chunk.object, 'chat.completion.chunk');
  return { chunks, error: last };
}

function texts(chunks: ChunkEvent[]): string[] {
  return chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '<none>');
}

function postChat(
  running: RunningGateway,
  body: Record<string, unknown>,
  requestId: string,
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${running.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_KEY}`,
      'content-type': 'application/json',
      'x-request-id': requestId,
    },
    body: JSON.stringify({ messages: MESSAGES, ...body }),
    ...(signal === undefined ? {} : { signal }),
  });
}

function requestLog(running: RunningGateway, requestId: string): Promise<Record<string, unknown>> {
  return waitForLog(
    running,
    (line) => line['msg'] === 'request_complete' && line['request_id'] === requestId,
  );
}

describe('a stream the upstream breaks after it started', () => {
  const servers = freshServers();

  for (const { model, backend, chunkTexts } of BACKENDS) {
    it(`${model} (${backend}): a stream cut midway gives the first chunks, then an upstream_error event, and no [DONE]`, async () => {
      const { upstream, running } = servers;
      upstream.behaviour = { kind: 'stream-cut-after', chunks: 3 };
      const requestId = `cut-${model}`;
      const response = await postChat(running, { model, stream: true }, requestId);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const { chunks, error } = chunksThenError(await new SseReader(response).rest());
      assert.deepEqual(texts(chunks), chunkTexts.slice(0, 3));
      assert.equal(error.error.code, 'upstream_error');
      assert.equal(error.error.type, 'server_error');
      assert.equal(error.status, 502);
      assert.equal(error.request_id, requestId);
      assert.match(error.error.message, new RegExp(`Backend '${backend}' broke off its answer`));
      assert.equal(error.detail, error.error.message);
      const line = await requestLog(running, requestId);
      assert.equal(line['outcome'], 'stream_error');
      assert.equal(line['error_code'], 'upstream_error');
    });

    it(`${model} (${backend}): the official openai client raises an APIError naming the cut while iterating`, async () => {
      const { upstream, running } = servers;
      upstream.behaviour = { kind: 'stream-cut-after', chunks: 3 };
      const stream = await running
        .client()
        .chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'Hi' }] });
      const received: string[] = [];
      await assert.rejects(
        async () => {
          for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? '<none>');
        },
        (error: unknown) => {
          assert.ok(error instanceof APIError, `an APIError, not ${String(error)}`);
          assert.equal(error.code, 'upstream_error');
          assert.match(
            error.message,
            new RegExp(`Backend '${backend}' broke off its answer \\(connection closed`),
          );
          return true;
        },
      );
      assert.deepEqual(received, chunkTexts.slice(0, 3));
    });

    it(`${model} (${backend}): an error event from the upstream mid-stream becomes an upstream_error event, and no [DONE]`, async () => {
      const { upstream, running } = servers;
      upstream.behaviour = { kind: 'stream-error-event-after', chunks: 2 };
      const requestId = `error-event-${model}`;
      const response = await postChat(running, { model, stream: true }, requestId);
      assert.equal(response.status, 200);
      const { chunks, error } = chunksThenError(await new SseReader(response).rest());
      assert.deepEqual(texts(chunks), chunkTexts.slice(0, 2));
      assert.equal(error.error.code, 'upstream_error');
      assert.equal(error.status, 502);
      assert.equal(
        error.error.message,
        `Backend '${backend}' failed during the stream: stand-in model crashed`,
      );
      const line = await requestLog(running, requestId);
      assert.equal(line['error_code'], 'upstream_error');

      upstream.behaviour = { kind: 'stream-error-event-after', chunks: 2 };
      const stream = await running
        .client()
        .chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'Hi' }] });
      await assert.rejects(
        async () => {
          for await (const chunk of stream) assert.equal(chunk.object, 'chat.completion.chunk');
        },
        (thrown: unknown) =>
          thrown instanceof APIError &&
          thrown.code === 'upstream_error' &&
          /stand-in model crashed/.test(thrown.message),
      );
    });
  }
});

describe('a stream the upstream leaves silent (idle_timeout_ms: 300)', () => {
  const IDLE_MS = 300;
  const servers = freshServers({ idle_timeout_ms: IDLE_MS });

  for (const { model, backend, chunkTexts } of BACKENDS) {
    it(`${model} (${backend}): ends with an upstream_timeout event after about the idle time, and closes the upstream connection`, async () => {
      const { upstream, running } = servers;
      upstream.behaviour = { kind: 'stream-silent-after', chunks: 2 };
      const response = await postChat(running, { model, stream: true }, `silent-${model}`);
      assert.equal(response.status, 200);
      const reader = new SseReader(response);
      const early = [await reader.next(), await reader.next()];
      // The upstream has now said all it will say: the idle clock runs from about here.
      const silentSince = performance.now();
      const { chunks, error } = chunksThenError([...(early as string[]), ...(await reader.rest())]);
      const waited = performance.now() - silentSince;
      assert.deepEqual(texts(chunks), chunkTexts.slice(0, 2));
      assert.equal(error.error.code, 'upstream_timeout');
      assert.equal(error.status, 504);
      assert.match(
        error.error.message,
        new RegExp(`backend '${backend}' went silent for more than ${IDLE_MS} ms`, 'i'),
      );
      assert.ok(
        waited >= IDLE_MS * 0.8,
        `the stream was ended after ${Math.round(waited)} ms of silence, before the idle time`,
      );
      assert.ok(
        waited < IDLE_MS + 1000,
        `the stream was ended only after ${Math.round(waited)} ms of silence`,
      );
      await upstream.waitForAborts(1, 1000);
    });
  }
});

describe('a client that goes away: the upstream request is aborted within a second, and the log says 499', () => {
  const servers = freshServers();

  for (const { model, backend } of BACKENDS) {
    it(`${model} (${backend}): before the first token of a stream`, async () => {
      const { upstream, running } = servers;
      upstream.behaviour = { kind: 'stall' };
      const controller = new AbortController();
      const requestId = `gone-before-first-${model}`;
      const pending = postChat(running, { model, stream: true }, requestId, controller.signal);
      await upstream.waitForRequests(1);
      assert.equal(upstream.aborts, 0);
      controller.abort();
      await assert.rejects(pending, { name: 'AbortError' });
      await upstream.waitForAborts(1, 1000);
      const line = await requestLog(running, requestId);
      assert.equal(line['status'], 499);
      assert.equal(line['outcome'], 'client_closed');
    });

    it(`${model} (${backend}): mid-stream`, async () => {
      const { upstream, running } = servers;
      upstream.behaviour = { kind: 'slow-stream', delayMs: 50 };
      const controller = new AbortController();
      const requestId = `gone-mid-stream-${model}`;
      const response = await postChat(running, { model, stream: true }, requestId, controller.signal);
      assert.equal(response.status, 200);
      const first = await new SseReader(response).next();
      assert.equal((JSON.parse(first ?? 'null') as ChunkEvent).object, 'chat.completion.chunk');
      assert.equal(upstream.aborts, 0);
      controller.abort();
      await upstream.waitForAborts(1, 1000);
      const line = await requestLog(running, requestId);
      assert.equal(line['status'], 499);
      assert.equal(line['outcome'], 'client_closed');
      assert.equal(line['stream'], true);
    });

    it(`${model} (${backend}): during a non-streaming call`, async () => {
      const { upstream, running } = servers;
      upstream.behaviour = { kind: 'stall' };
      const controller = new AbortController();
      const requestId = `gone-non-stream-${model}`;
      const pending = postChat(running, { model }, requestId, controller.signal);
      await upstream.waitForRequests(1);
      assert.equal(upstream.aborts, 0);
      controller.abort();
      await assert.rejects(pending, { name: 'AbortError' });
      await upstream.waitForAborts(1, 1000);
      const line = await requestLog(running, requestId);
      assert.equal(line['status'], 499);
      assert.equal(line['outcome'], 'client_closed');
      assert.equal(line['stream'], undefined);
    });
  }
});

describe('shutdown with requests in flight (in process)', () => {
  const GRACE_MS = 5000;
  const servers = freshServers({}, { shutdown_grace_ms: GRACE_MS });

  for (const { model, backend } of BACKENDS) {
    it(`${model} (${backend}): an open stream ends with a service_unavailable event and no [DONE]; its upstream is aborted`, async () => {
      const { upstream, running } = servers;
      upstream.behaviour = { kind: 'slow-stream', delayMs: 100 };
      const requestId = `shutdown-stream-${model}`;
      const response = await postChat(running, { model, stream: true }, requestId);
      assert.equal(response.status, 200);
      const reader = new SseReader(response);
      const first = await reader.next();
      assert.equal((JSON.parse(first ?? 'null') as ChunkEvent).object, 'chat.completion.chunk');

      const started = performance.now();
      const shutdown = running.gateway.shutdown();
      // Not ready from the moment shutdown begins (the listener closes, so this is asked in process).
      assert.equal(running.gateway.context.lifecycle.shuttingDown, true);
      const checks = await running.gateway.context.checkReadiness();
      assert.deepEqual(checks['lifecycle'], { status: 'shutting_down' });

      const { chunks, error } = chunksThenError(await reader.rest());
      assert.ok(chunks.length < STAND_IN_TOKENS.length, 'the stream was ended before the upstream finished');
      assert.equal(error.error.code, 'service_unavailable');
      assert.equal(error.status, 503);
      assert.equal(error.request_id, requestId);
      await upstream.waitForAborts(1, 1000);
      await shutdown;
      const took = performance.now() - started;
      assert.ok(took < GRACE_MS, `shutdown took ${Math.round(took)} ms, the whole grace period`);
      assert.equal(
        running.logs.find((line) => line['msg'] === 'grace period over; aborting what is left'),
        undefined,
      );
      const line = running.logs.find(
        (entry) => entry['msg'] === 'request_complete' && entry['request_id'] === requestId,
      );
      assert.equal(line?.['error_code'], 'service_unavailable');
    });

    it(`${model} (${backend}): a non-streaming request in flight completes with 200 before shutdown resolves`, async () => {
      const { upstream, running } = servers;
      upstream.behaviour = { kind: 'slow-json', delayMs: 300 };
      const requestId = `shutdown-json-${model}`;
      const pending = postChat(running, { model }, requestId);
      await upstream.waitForRequests(1);

      const started = performance.now();
      const shutdown = running.gateway.shutdown();
      assert.equal(running.gateway.context.lifecycle.shuttingDown, true);
      // What the log holds at the moment shutdown resolves.
      const loggedWhenDone = shutdown.then(() => ({
        line: running.logs.find(
          (entry) => entry['msg'] === 'request_complete' && entry['request_id'] === requestId,
        ),
        took: performance.now() - started,
      }));

      const response = await pending;
      assert.equal(response.status, 200);
      const body = (await response.json()) as { choices: { message: { content: string } }[] };
      assert.equal(body.choices[0]?.message.content, STAND_IN_TOKENS.join(''));
      const { line, took } = await loggedWhenDone;
      assert.equal(line?.['status'], 200, 'the request was complete before shutdown resolved');
      assert.equal(upstream.aborts, 0);
      // Once the answer is out, its (keep-alive) connection does not hold the shutdown open.
      assert.ok(took < GRACE_MS, `shutdown took ${Math.round(took)} ms, the whole grace period`);
    });
  }
});

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`${what}: not within ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('the real process on SIGTERM (node dist/cli.js serve; needs npm run build)', () => {
  const GRACE_MS = 20_000;
  let upstream: StandInUpstream;
  let directory: string;
  let gateway: ServeProcess;
  let url: string;

  beforeEach(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    directory = mkdtempSync(join(tmpdir(), 'gw-process-'));
    const configPath = join(directory, 'gateway.yaml');
    writeFileSync(
      configPath,
      stringify({
        server: {
          host: '127.0.0.1',
          port: 0,
          state_dir: join(directory, 'state'),
          shutdown_grace_ms: GRACE_MS,
        },
        backends: [{ name: 'slow', type: 'openai', url: `${upstream.url}/v1` }],
        models: [{ name: 'qwen', targets: [{ backend: 'slow' }] }],
        auth: { keys: [{ id: 'only-key', sha256: sha256Hex(TEST_KEY) }] },
      }),
    );
    // The real CLI process, as an operator runs it: LOG_LEVEL=info (the test runner's silent would hide
    // the lines waited for), and none of the gateway's variables, which would override the config.
    gateway = new ServeProcess({ cwd: directory, args: ['--config', configPath] });
    url = await gateway.listening();
  });

  afterEach(async () => {
    if (gateway.running) {
      gateway.kill('SIGKILL');
      await gateway.exited;
    }
    await upstream.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('ends an open stream with an error event and no [DONE], aborts its upstream, and exits 0 well within the grace period', async () => {
    upstream.behaviour = { kind: 'slow-stream', delayMs: 100 };
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen', stream: true, messages: MESSAGES }),
    });
    assert.equal(response.status, 200);
    const reader = new SseReader(response);
    assert.equal((JSON.parse((await reader.next()) ?? 'null') as ChunkEvent).object, 'chat.completion.chunk');

    assert.ok(gateway.kill('SIGTERM'));
    const { chunks, error } = chunksThenError(await reader.rest());
    assert.ok(chunks.length < STAND_IN_TOKENS.length, 'the stream was ended before the upstream finished');
    assert.equal(error.error.code, 'service_unavailable');
    await upstream.waitForAborts(1, 1000);
    const { code, signal } = await within(gateway.exited, GRACE_MS / 2, 'exit after SIGTERM');
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    assert.ok(gateway.logs.some((line) => line['msg'] === 'shutdown complete'));
  });

  it('exits at once on a second signal while a request holds the shutdown open', async () => {
    upstream.behaviour = { kind: 'stall' };
    const pending = fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen', messages: MESSAGES }),
    }).then(
      (response) => response.status,
      (error: unknown) => error,
    );
    await upstream.waitForRequests(1);

    assert.ok(gateway.kill('SIGTERM'));
    await gateway.waitForLog("the 'shutting down' log line", (line) => line['msg'] === 'shutting down');
    // The non-streaming request is still waiting for its upstream, so the shutdown has not finished.
    assert.equal(gateway.running, true);
    assert.ok(gateway.kill('SIGINT'));
    const { code } = await within(gateway.exited, 2000, 'exit after a second signal');
    assert.notEqual(code, 0);
    assert.ok(gateway.logs.some((line) => line['msg'] === 'second signal: exiting at once'));
    assert.ok((await pending) instanceof TypeError, 'the client saw the connection close without an answer');
  });
});
