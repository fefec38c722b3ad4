/**
 * The TypeScript client (issue 9) against a real gateway: the `demo` backend and the stand-in upstream
 * (for failures on demand), started by the test on loopback. Chat completions (JSON and streamed),
 * embeddings, models; the response metadata (request id, cache, backend, attempts, rate limits);
 * errors as GatewayError (a 401, an error event mid-stream, a broken stream); retries (a 429 whose
 * Retry-After is honoured, 502s, connection errors) and their bounds; timeouts and aborts. Each test
 * sends prompts of its own, so that no cache entry of one test is read by another.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  GatewayClient,
  GatewayConnectionError,
  GatewayError,
  GatewayTimeoutError,
  type ChatCompletionChunk,
  type FetchLike,
  type ResponseMeta,
} from '../src/index.js';
import { freePort } from '../../../test/support/free-port.js';
import {
  standInConfig,
  startGateway,
  TEST_KEY,
  type RunningGateway,
} from '../../../test/support/gateway-harness.js';
import { STAND_IN_TOKENS, StandInUpstream } from '../../../test/support/stand-in-upstream.js';

const ADMIN_TOKEN = 'admin-token-for-the-client-tests';
const DEMO_ANSWER = /^Hello! I am the demo model of ai-gateway\. You said: "(.*)"\./;

let upstream: StandInUpstream;
let running: RunningGateway;
let prompts = 0;

/** A prompt no other request of this file sends. */
function prompt(label: string): { role: 'user'; content: string }[] {
  prompts += 1;
  return [{ role: 'user', content: `${label} #${prompts}` }];
}

/** A fetch that counts the requests the client sends. */
function countingFetch(): { fetch: FetchLike; calls: () => number } {
  let calls = 0;
  return {
    fetch: (url, init) => {
      calls += 1;
      return fetch(url, init);
    },
    calls: () => calls,
  };
}

function client(options: Partial<ConstructorParameters<typeof GatewayClient>[0]> = {}): GatewayClient {
  return new GatewayClient({ baseUrl: running.url, apiKey: TEST_KEY, adminToken: ADMIN_TOKEN, ...options });
}

/** Asserts that `promise` rejects with a GatewayError, and returns it. */
async function gatewayError(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof GatewayError, `a GatewayError, not ${String(error)}`);
    return error;
  }
  assert.fail('expected a GatewayError');
}

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function text(chunks: ChatCompletionChunk[]): string {
  return chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
}

before(async () => {
  upstream = new StandInUpstream();
  await upstream.start();
  running = await startGateway(
    { ...standInConfig(upstream.url), cache: { enabled: true } },
    { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
  );
});

after(async () => {
  await running.stop();
  await upstream.stop();
});

describe('the client: chat completions, embeddings, models', () => {
  it('chat.completions.create answers with the completion and the response metadata', async () => {
    const gateway = client();
    const seen: ResponseMeta[] = [];
    const completion = await gateway.chat.completions.create(
      { model: 'demo', messages: prompt('create') },
      { requestId: 'client-create-1', onResponse: (meta) => seen.push(meta) },
    );
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'demo');
    assert.match(completion.choices[0]?.message.content ?? '', DEMO_ANSWER);
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    assert.ok((completion.usage?.total_tokens ?? 0) > 0);
    const meta = gateway.lastResponse;
    assert.ok(meta !== undefined);
    assert.deepEqual(seen, [meta]);
    assert.equal(meta.status, 200);
    assert.equal(meta.requestId, 'client-create-1');
    assert.equal(meta.cache, 'MISS');
    assert.equal(meta.backend, 'demo');
    assert.equal(meta.gatewayAttempts, 1);
    assert.equal(meta.attempts, 1);
  });

  it('passes fields the gateway does not know through to an OpenAI-compatible backend', async () => {
    const completion = await client().chat.completions.create({
      model: 'stand-in-extra',
      messages: prompt('extra fields'),
      top_k: 5,
    });
    assert.equal(completion.choices[0]?.message.content, STAND_IN_TOKENS.join(''));
    assert.equal(upstream.requests.at(-1)?.body?.['top_k'], 5);
  });

  it('chat.completions.stream gives the chunks as an async iterator, ending at [DONE]', async () => {
    const gateway = client();
    const stream = await gateway.chat.completions.stream({
      model: 'demo',
      messages: prompt('stream'),
      stream_options: { include_usage: true },
    });
    assert.equal(stream.response.status, 200);
    assert.equal(stream.response.cache, 'MISS');
    assert.equal(stream.response.backend, 'demo');
    assert.ok(stream.requestId !== null && stream.requestId !== '');
    assert.equal(gateway.lastResponse, stream.response);
    const chunks = await collect(stream);
    assert.ok(chunks.length > 3, `several chunks, got ${chunks.length}`);
    for (const chunk of chunks) assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
    assert.match(text(chunks), DEMO_ANSWER);
    assert.ok((chunks.at(-1)?.usage?.total_tokens ?? 0) > 0, 'the usage chunk comes last');
    await assert.rejects(collect(stream), /only once/);
  });

  it('a stream through the stand-in upstream (an OpenAI-compatible backend) is read whole', async () => {
    const stream = await client().chat.completions.stream({
      model: 'stand-in-stream',
      messages: prompt('stand-in stream'),
    });
    assert.equal(stream.response.backend, 'vllm');
    assert.equal(text(await collect(stream)), STAND_IN_TOKENS.join(''));
  });

  it('embeddings.create answers with the vectors', async () => {
    const gateway = client();
    const answer = await gateway.embeddings.create({ model: 'demo', input: ['one', 'two'] });
    assert.equal(answer.object, 'list');
    assert.equal(answer.data.length, 2);
    const first = answer.data[0]?.embedding;
    assert.ok(Array.isArray(first) && first.length === 16);
    assert.equal(gateway.lastResponse?.backend, 'demo');
  });

  it('models.list lists the models the key may use', async () => {
    const list = await client().models.list();
    assert.equal(list.object, 'list');
    const ids = list.data.map((model) => model.id);
    assert.ok(ids.includes('demo'), `demo in ${ids.join(', ')}`);
  });

  it('a repeated request is a cache HIT, JSON and streamed', async () => {
    const gateway = client();
    const body = { model: 'demo', messages: prompt('cache') };
    const first = await gateway.chat.completions.create(body);
    assert.equal(gateway.lastResponse?.cache, 'MISS');
    assert.equal(first.cached, undefined);
    const second = await gateway.chat.completions.create(body);
    assert.equal(gateway.lastResponse?.cache, 'HIT');
    assert.equal(gateway.lastResponse?.gatewayAttempts, 0);
    assert.equal(second.cached, true);
    assert.equal(second.choices[0]?.message.content, first.choices[0]?.message.content);
    const stream = await gateway.chat.completions.stream(body);
    assert.equal(stream.response.cache, 'HIT');
    assert.equal(text(await collect(stream)), first.choices[0]?.message.content);
  });
});

describe('the client: errors', () => {
  it('a wrong key is a GatewayError 401 invalid_api_key with the request id, not retried', async () => {
    const counter = countingFetch();
    const gateway = client({ apiKey: 'sk-gw-not-a-key', fetch: counter.fetch });
    const error = await gatewayError(
      gateway.chat.completions.create({ model: 'demo', messages: prompt('401') }),
    );
    assert.equal(error.status, 401);
    assert.equal(error.code, 'invalid_api_key');
    assert.equal(error.errorType, 'authentication_error');
    assert.match(error.type ?? '', /\/problems\/invalid-api-key$/);
    assert.equal(error.title, 'Unauthorized');
    assert.equal(error.message, error.detail);
    assert.ok(error.requestId !== null && error.requestId !== '');
    assert.equal(error.requestId, gateway.lastResponse?.requestId);
    assert.equal(error.response, gateway.lastResponse);
    assert.equal(counter.calls(), 1);
  });

  it('a 401 on a stream rejects before any chunk', async () => {
    const error = await gatewayError(
      client({ apiKey: 'sk-gw-not-a-key' }).chat.completions.stream({
        model: 'demo',
        messages: prompt('401 stream'),
      }),
    );
    assert.equal(error.status, 401);
    assert.equal(error.code, 'invalid_api_key');
  });

  it('a bad request is a GatewayError 400 naming the field', async () => {
    const error = await gatewayError(
      client().chat.completions.create({ model: 'demo', messages: prompt('400'), temperature: 7 }),
    );
    assert.equal(error.status, 400);
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.param, 'temperature');
    assert.match(error.message, /temperature/);
  });

  it('an error event mid-stream is thrown as a GatewayError, after the chunks before it, and not retried', async () => {
    const requestsBefore = upstream.requests.length;
    upstream.once({ kind: 'stream-error-event-after', chunks: 3 });
    const stream = await client().chat.completions.stream(
      { model: 'stand-in-broken', messages: prompt('error event') },
      { requestId: 'client-stream-error' },
    );
    const received: ChatCompletionChunk[] = [];
    const error = await gatewayError(
      (async () => {
        for await (const chunk of stream) received.push(chunk);
      })(),
    );
    assert.equal(text(received), STAND_IN_TOKENS.slice(0, 2).join(''));
    assert.equal(error.status, 502);
    assert.equal(error.code, 'upstream_error');
    assert.equal(error.requestId, 'client-stream-error');
    assert.equal(upstream.requests.length, requestsBefore + 1);
  });

  it('a stream that ends without [DONE] is a GatewayConnectionError, not a silent end', async () => {
    // A gateway's stream cut by something in between (a proxy): a fetch double answers the first event only.
    const chunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'demo', choices: [] };
    const gateway = client({
      fetch: () =>
        Promise.resolve(
          new Response(`data: ${JSON.stringify(chunk)}\n\n`, {
            headers: { 'content-type': 'text/event-stream', 'x-request-id': 'cut-short' },
          }),
        ),
    });
    const stream = await gateway.chat.completions.stream({ model: 'demo', messages: prompt('cut') });
    const received: ChatCompletionChunk[] = [];
    const error = await gatewayError(
      (async () => {
        for await (const item of stream) received.push(item);
      })(),
    );
    assert.deepEqual(received, [chunk]);
    assert.ok(error instanceof GatewayConnectionError, String(error));
    assert.equal(error.code, 'stream_incomplete');
    assert.equal(error.requestId, 'cut-short');
  });
});

describe('the client: retries', () => {
  it('a 429 is retried after Retry-After, and the call succeeds', async () => {
    const admin = client();
    const created = await admin.admin.keys.create({
      name: 'client-429',
      rate_limit: { requests: '1/second' },
    });
    const gateway = client({ apiKey: created.key });
    await gateway.chat.completions.create({ model: 'demo', messages: prompt('429 first') });
    const limited = gateway.lastResponse?.rateLimit;
    assert.ok(limited !== null && limited !== undefined, 'the rate-limit headers were read');
    assert.deepEqual(limited.limits[0], {
      name: 'requests',
      quota: 1,
      windowSeconds: 1,
      remaining: 0,
      resetSeconds: 1,
    });
    assert.equal(limited.requests?.limit, 1);
    assert.equal(limited.requests?.remaining, 0);
    assert.ok((limited.requests?.resetMs ?? 0) > 0);

    const seen: ResponseMeta[] = [];
    const started = performance.now();
    const completion = await gateway.chat.completions.create(
      { model: 'demo', messages: prompt('429 second') },
      { onResponse: (meta) => seen.push(meta) },
    );
    const elapsed = performance.now() - started;
    assert.match(completion.choices[0]?.message.content ?? '', DEMO_ANSWER);
    assert.equal(gateway.lastResponse?.attempts, 2, 'one 429, then the retry');
    assert.equal(seen.length, 1, 'onResponse sees the final response only');
    assert.ok(elapsed >= 900, `waited for Retry-After: ${Math.round(elapsed)} ms`);
    assert.ok(elapsed < 5000, `not much longer: ${Math.round(elapsed)} ms`);
  });

  it('a 429 whose Retry-After is past the retry time budget is thrown at once, with retryAfterMs', async () => {
    const admin = client();
    const created = await admin.admin.keys.create({
      name: 'client-429-budget',
      rate_limit: { requests: '1/minute' },
    });
    const gateway = client({ apiKey: created.key, maxRetryTimeMs: 5000 });
    await gateway.chat.completions.create({ model: 'demo', messages: prompt('budget first') });
    const started = performance.now();
    const error = await gatewayError(
      gateway.chat.completions.create({ model: 'demo', messages: prompt('budget second') }),
    );
    assert.equal(error.status, 429);
    assert.equal(error.code, 'rate_limit_exceeded');
    assert.ok((error.retryAfterMs ?? 0) > 50_000, `retryAfterMs ${error.retryAfterMs}`);
    assert.equal(error.response?.attempts, 1);
    assert.ok(performance.now() - started < 1000);
  });

  it('a stream refused with 429 before it started is retried, then read', async () => {
    const created = await client().admin.keys.create({
      name: 'client-429-stream',
      rate_limit: { requests: '1/second' },
    });
    const gateway = client({ apiKey: created.key });
    await gateway.chat.completions.create({ model: 'demo', messages: prompt('429 stream first') });
    const stream = await gateway.chat.completions.stream({
      model: 'demo',
      messages: prompt('429 stream second'),
    });
    assert.equal(stream.response.attempts, 2);
    assert.match(text(await collect(stream)), DEMO_ANSWER);
  });

  it('a 502 is retried with backoff, and the call succeeds', async () => {
    const requestsBefore = upstream.requests.length;
    upstream.once({ kind: 'status', status: 500 });
    const gateway = client();
    const completion = await gateway.chat.completions.create({
      model: 'stand-in-retry',
      messages: prompt('502 once'),
    });
    assert.equal(completion.choices[0]?.message.content, STAND_IN_TOKENS.join(''));
    assert.equal(gateway.lastResponse?.attempts, 2);
    assert.equal(upstream.requests.length, requestsBefore + 2);
  });

  it('retries stop after maxRetries: the last error is thrown', async () => {
    const requestsBefore = upstream.requests.length;
    upstream.once({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    const error = await gatewayError(
      client({ maxRetries: 1 }).chat.completions.create({
        model: 'stand-in-retry',
        messages: prompt('502 always'),
      }),
    );
    assert.equal(error.status, 502);
    assert.equal(error.code, 'upstream_error');
    assert.equal(error.response?.attempts, 2);
    assert.equal(upstream.requests.length, requestsBefore + 2);
  });

  it('a 500 is not retried', async () => {
    let calls = 0;
    // A gateway that answers 500 to everything: a fetch double.
    const gateway = client({
      fetch: () => {
        calls += 1;
        return Promise.resolve(
          new Response(JSON.stringify({ status: 500, title: 'Internal Server Error' }), {
            status: 500,
            headers: { 'content-type': 'application/problem+json', 'x-request-id': 'five-hundred' },
          }),
        );
      },
    });
    const error = await gatewayError(gateway.models.list());
    assert.equal(error.status, 500);
    assert.equal(error.code, 'internal_error');
    assert.equal(error.message, 'Internal Server Error');
    assert.equal(error.requestId, 'five-hundred');
    assert.equal(calls, 1);
  });

  it('connection errors are retried, then thrown as a GatewayConnectionError', async () => {
    const port = await freePort();
    const counter = countingFetch();
    const gateway = new GatewayClient({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: TEST_KEY,
      maxRetries: 2,
      fetch: counter.fetch,
    });
    const error = await gatewayError(gateway.models.list());
    assert.ok(error instanceof GatewayConnectionError);
    assert.equal(error.code, 'connection_error');
    assert.equal(error.status, undefined);
    assert.equal(counter.calls(), 3);
  });
});

describe('the client: timeouts and aborts', () => {
  it('a call with no answer within timeoutMs is a GatewayTimeoutError, and the gateway cancels upstream', async () => {
    const abortsBefore = upstream.aborts;
    upstream.once({ kind: 'stall' });
    const started = performance.now();
    const error = await gatewayError(
      client({ timeoutMs: 300, maxRetries: 0 }).chat.completions.create({
        model: 'stand-in-stall',
        messages: prompt('stall'),
      }),
    );
    assert.ok(error instanceof GatewayTimeoutError, String(error));
    assert.equal(error.code, 'timeout');
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 3000, `timed out after ${Math.round(elapsed)} ms`);
    await upstream.waitForAborts(abortsBefore + 1);
  });

  it('an aborted call rejects with the signal reason and is not retried', async () => {
    const requestsBefore = upstream.requests.length;
    const abortsBefore = upstream.aborts;
    upstream.once({ kind: 'stall' });
    const controller = new AbortController();
    const call = client().chat.completions.create(
      { model: 'stand-in-abort', messages: prompt('abort') },
      { signal: controller.signal },
    );
    await upstream.waitForRequests(requestsBefore + 1);
    controller.abort();
    await assert.rejects(call, (error: unknown) => {
      assert.ok(!(error instanceof GatewayError), 'the abort reason, not a GatewayError');
      assert.equal((error as Error).name, 'AbortError');
      return true;
    });
    await upstream.waitForAborts(abortsBefore + 1);
    assert.equal(upstream.requests.length, requestsBefore + 1);
  });

  it('a signal already aborted sends nothing', async () => {
    const counter = countingFetch();
    const reason = new Error('not wanted any more');
    await assert.rejects(
      client({ fetch: counter.fetch }).models.list({ signal: AbortSignal.abort(reason) }),
      (error: unknown) => error === reason,
    );
    assert.equal(counter.calls(), 0);
  });

  it('aborting a stream midway ends the iteration with the reason, and the gateway cancels upstream', async () => {
    const abortsBefore = upstream.aborts;
    upstream.once({ kind: 'slow-stream', delayMs: 200 });
    const controller = new AbortController();
    const stream = await client().chat.completions.stream(
      { model: 'stand-in-slow', messages: prompt('abort stream') },
      { signal: controller.signal },
    );
    const received: ChatCompletionChunk[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          received.push(chunk);
          controller.abort();
        }
      })(),
      (error: unknown) => (error as Error).name === 'AbortError',
    );
    assert.equal(received.length, 1);
    await upstream.waitForAborts(abortsBefore + 1);
  });

  it('breaking out of a stream closes it, and the gateway cancels upstream', async () => {
    const abortsBefore = upstream.aborts;
    upstream.once({ kind: 'slow-stream', delayMs: 200 });
    const stream = await client().chat.completions.stream({
      model: 'stand-in-slow',
      messages: prompt('break stream'),
    });
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      break;
    }
    await upstream.waitForAborts(abortsBefore + 1);
  });

  it('stream.abort() ends the iteration with an AbortError, and the gateway cancels upstream', async () => {
    const abortsBefore = upstream.aborts;
    upstream.once({ kind: 'slow-stream', delayMs: 200 });
    const stream = await client().chat.completions.stream({
      model: 'stand-in-slow',
      messages: prompt('stream.abort'),
    });
    const received: ChatCompletionChunk[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          received.push(chunk);
          stream.abort();
        }
      })(),
      (error: unknown) => (error as Error).name === 'AbortError',
    );
    assert.equal(received.length, 1);
    await upstream.waitForAborts(abortsBefore + 1);
  });

  it('the timeout covers a stream until its headers only, not the reading', async () => {
    upstream.once({ kind: 'slow-stream', delayMs: 150 });
    const stream = await client({ timeoutMs: 400 }).chat.completions.stream({
      model: 'stand-in-slow',
      messages: prompt('slow stream'),
    });
    assert.equal(text(await collect(stream)), STAND_IN_TOKENS.join(''));
  });
});
