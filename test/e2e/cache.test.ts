/**
 * The response cache (issue 5; CONTRACT.md "Headers": X-Cache, "cached": true; "Admin API": DELETE
 * /admin/cache) against real servers: gateways on loopback in front of the stand-in upstream, every
 * case run with both stores, the in-process LRU and Redis (a private redis-server), and a redis-server
 * killed mid-run. Each test sends prompts of its own (a counter in the message), so that no entry of one
 * test is ever read by another.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../../src/api/schemas.js';
import { sha256Hex } from '../../src/auth/api-key.js';
import { cacheKey } from '../../src/cache/cache-key.js';
import { storageKey } from '../../src/cache/cache-store.js';
import { estimateChatTokens } from '../../src/rate-limit/token-estimate.js';
import {
  RESTRICTED_KEY,
  TEST_KEY,
  startGateway,
  testConfig,
  waitForLog,
  type RunningGateway,
} from '../support/gateway-harness.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { requireTool } from '../support/system-tool.js';
import { STAND_IN_TOKENS, STAND_IN_USAGE, StandInUpstream } from '../support/stand-in-upstream.js';

/** Tests that start a private redis-server: skipped without one, except under CI=true. */
const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

const ADMIN_TOKEN = 'admin-token-for-cache-tests';
const ADMIN_ENV = { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN };
const TOKEN_KEY = 'sk-gw-tokenkeyCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC';
const ANSWER = STAND_IN_TOKENS.join('');
const STORE_KINDS = ['memory', 'redis'] as const;

type Completion = ChatCompletion & { cached?: boolean };

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
  ms: number;
}

interface SendOptions {
  key?: string;
  headers?: Record<string, string>;
  requestId?: string;
}

/** One request, read whole; `body` is sent as it is when it is a string (raw JSON), else stringified. */
async function post(
  running: RunningGateway,
  path: string,
  body: unknown,
  options: SendOptions = {},
): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${running.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${options.key ?? TEST_KEY}`,
      'content-type': 'application/json',
      ...(options.requestId === undefined ? {} : { 'x-request-id': options.requestId }),
      ...options.headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, text, json, ms: performance.now() - started };
}

function chat(running: RunningGateway, body: unknown, options: SendOptions = {}): Promise<Answer> {
  return post(running, '/v1/chat/completions', body, options);
}

function embed(running: RunningGateway, body: unknown, options: SendOptions = {}): Promise<Answer> {
  return post(running, '/v1/embeddings', body, options);
}

function xCache(answer: Answer): string | null {
  return answer.headers.get('x-cache');
}

/** Asserts a 200 JSON completion with this X-Cache; returns it. */
function completion(answer: Answer, cache: 'HIT' | 'MISS' | 'BYPASS'): Completion {
  assert.equal(answer.status, 200, answer.text);
  assert.equal(xCache(answer), cache, `X-Cache of ${answer.text}`);
  const body = answer.json as Completion;
  if (cache === 'HIT') assert.equal(body.cached, true);
  else assert.equal(body.cached, undefined);
  return body;
}

function contentOf(body: Completion): string | null | undefined {
  return body.choices[0]?.message.content;
}

/** The data of every server-sent event of a raw stream, in order. */
function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length));
}

/** The chunks of a raw stream that ended in [DONE]. */
function sseChunks(text: string): ChatCompletionChunk[] {
  const data = sseData(text);
  assert.equal(data.at(-1), '[DONE]', `the stream did not end in [DONE]: ${text}`);
  assert.ok(text.endsWith('data: [DONE]\n\n'));
  return data.slice(0, -1).map((item) => JSON.parse(item) as ChatCompletionChunk);
}

let counter = 0;
/** A prompt no other request of this file sends. */
function prompt(label: string): string {
  counter += 1;
  return `${label} #${counter}`;
}

function chatBody(label: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'qwen', messages: [{ role: 'user', content: prompt(label) }], ...extra };
}

/** Calls `attempt` every `intervalMs` until `done` holds or `timeoutMs` has passed; returns the last value. */
async function poll<T>(
  attempt: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (done(value) || Date.now() >= deadline) return value;
    await delay(intervalMs);
  }
}

let upstream: StandInUpstream;
before(async () => {
  upstream = new StandInUpstream();
  await upstream.start();
});
after(async () => {
  await upstream.stop();
});

/** How many requests the stand-in upstream has received so far. */
function upstreamCalls(): number {
  return upstream.requests.length;
}

/** The config document: two backends on the stand-in, routes for the cases, the cache on. */
function cacheDocument(
  redisUrl: string | null,
  cache: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const document = testConfig({
    backends: [
      { name: 'vllm', type: 'openai', url: `${upstream.url}/v1` },
      { name: 'ollama', type: 'ollama', url: upstream.url },
    ],
    models: [
      { name: 'qwen', targets: [{ backend: 'vllm', model: 'Qwen/Qwen2.5-0.5B' }] },
      // Another name for the same backend and upstream model.
      { name: 'qwen-alias', targets: [{ backend: 'vllm', model: 'Qwen/Qwen2.5-0.5B' }] },
      // The same upstream model name on two backends.
      { name: 'same-openai', targets: [{ backend: 'vllm', model: 'shared-model' }] },
      { name: 'same-ollama', targets: [{ backend: 'ollama', model: 'shared-model' }] },
      { name: 'short-ttl', targets: [{ backend: 'vllm', model: 'short' }], cache: { ttl_seconds: 1 } },
      { name: 'long-ttl', targets: [{ backend: 'vllm', model: 'long' }], cache: { ttl_seconds: 3600 } },
      { name: 'uncached', targets: [{ backend: 'vllm', model: 'uncached' }], cache: { enabled: false } },
      { name: 'stand-in-*', targets: [{ backend: 'vllm' }] },
    ],
    extra: {
      cache: { enabled: true, ...cache },
      ...(redisUrl === null ? {} : { redis: { url: redisUrl } }),
      ...extra,
    },
  });
  (document['auth'] as { keys: unknown[] }).keys.push({
    id: 'token-key',
    sha256: sha256Hex(TOKEN_KEY),
    rate_limit: { requests: '1000/minute', tokens: '1000/day' },
  });
  return document;
}

/** Starts a gateway and waits until it is ready (with Redis, until it is connected). */
async function startReady(document: Record<string, unknown>): Promise<RunningGateway> {
  const running = await startGateway(document, ADMIN_ENV);
  try {
    const ready = await poll(
      () => fetch(`${running.url}/health/ready`).then((response) => response.status),
      (status) => status === 200,
      5000,
      25,
    );
    assert.equal(ready, 200, 'the gateway did not become ready');
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

function purge(running: RunningGateway, query = '', token = ADMIN_TOKEN): Promise<Answer> {
  return fetch(`${running.url}/admin/cache${query}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${token}` },
  }).then(async (response) => {
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: JSON.parse(text), ms: 0 };
  });
}

for (const kind of STORE_KINDS) {
  describe(`the response cache, ${kind} store`, kind === 'redis' ? needsRedis : {}, () => {
    let redis: PrivateRedis | null = null;
    let running: RunningGateway;
    const extraGateways: RunningGateway[] = [];

    /** A further gateway on the same store (the same redis-server), stopped after the suite. */
    async function gateway(
      cache: Record<string, unknown>,
      extra: Record<string, unknown> = {},
    ): Promise<RunningGateway> {
      const started = await startReady(cacheDocument(redis?.url ?? null, cache, extra));
      extraGateways.push(started);
      return started;
    }

    before(async () => {
      if (kind === 'redis') redis = await startRedisServer();
      running = await startReady(cacheDocument(redis?.url ?? null));
    });
    after(async () => {
      for (const started of extraGateways) await started.stop();
      await running.stop();
      await redis?.stop();
    });

    describe('hits and misses', () => {
      it('answers the same request twice with one upstream call: MISS, then HIT with "cached": true, a fresh id and created', async () => {
        const body = chatBody('twice', { temperature: 0 });
        const calls = upstreamCalls();
        const first = completion(await chat(running, body, { requestId: `twice-1-${kind}` }), 'MISS');
        const second = completion(await chat(running, body, { requestId: `twice-2-${kind}` }), 'HIT');
        assert.equal(upstreamCalls(), calls + 1);
        assert.equal(contentOf(first), ANSWER);
        assert.equal(contentOf(second), ANSWER);
        assert.deepEqual(second.usage, STAND_IN_USAGE);
        assert.deepEqual(second.choices, first.choices);
        assert.equal(second.model, first.model);
        assert.equal(second.object, 'chat.completion');
        assert.equal((second as Record<string, unknown>)['system_fingerprint'], 'fp_standin');
        // The stand-in answers with id chatcmpl-standin, created 1700000000: the hit has its own.
        assert.equal(first.id, 'chatcmpl-standin');
        assert.equal(first.created, 1700000000);
        assert.notEqual(second.id, first.id);
        assert.match(second.id, /^chatcmpl-/);
        assert.ok(Math.abs(second.created - Date.now() / 1000) < 5, `created ${second.created}`);
        const third = completion(await chat(running, body), 'HIT');
        assert.notEqual(third.id, second.id);
        assert.equal(upstreamCalls(), calls + 1);
        assert.equal(second.choices[0]?.finish_reason, 'stop');
        // The request log says so too.
        const missLine = await waitForLog(running, (line) => line['request_id'] === `twice-1-${kind}`);
        const hitLine = await waitForLog(running, (line) => line['request_id'] === `twice-2-${kind}`);
        assert.equal(missLine['cache'], 'MISS');
        assert.equal(hitLine['cache'], 'HIT');
        assert.equal(hitLine['status'], 200);
      });

      it('answers the same embeddings request twice with one upstream call', async () => {
        const body = { model: 'stand-in-embed', input: [prompt('embed'), 'second input'] };
        const calls = upstreamCalls();
        const first = await embed(running, body);
        const second = await embed(running, body);
        assert.equal(first.status, 200, first.text);
        assert.equal(second.status, 200, second.text);
        assert.equal(xCache(first), 'MISS');
        assert.equal(xCache(second), 'HIT');
        assert.equal(upstreamCalls(), calls + 1);
        const firstJson = first.json as Record<string, unknown>;
        const secondJson = second.json as Record<string, unknown>;
        assert.equal(firstJson['cached'], undefined);
        assert.equal(secondJson['cached'], true);
        assert.deepEqual(secondJson['data'], firstJson['data']);
        assert.deepEqual(secondJson['usage'], firstJson['usage']);
        // A changed input, or encoding, is another entry.
        const other = await embed(running, { ...body, input: [prompt('embed other')] });
        assert.equal(xCache(other), 'MISS');
        const base64 = await embed(running, { ...body, encoding_format: 'base64' });
        assert.equal(xCache(base64), 'MISS');
        assert.equal(upstreamCalls(), calls + 3);
        // The official client gets the hit too.
        const sdk = await running
          .client()
          .embeddings.create({ model: 'stand-in-embed', input: body.input, encoding_format: 'float' })
          .withResponse();
        assert.equal(sdk.response.headers.get('x-cache'), 'MISS');
        const again = await running
          .client()
          .embeddings.create({ model: 'stand-in-embed', input: body.input, encoding_format: 'float' })
          .withResponse();
        assert.equal(again.response.headers.get('x-cache'), 'HIT');
        assert.deepEqual(again.data.data, sdk.data.data);
      });

      it('scope key: two keys sending the same request make two upstream calls, and each then hits its own', async () => {
        const body = chatBody('two keys', { model: 'stand-in-shared' });
        const calls = upstreamCalls();
        completion(await chat(running, body, { key: TEST_KEY }), 'MISS');
        completion(await chat(running, body, { key: RESTRICTED_KEY }), 'MISS');
        assert.equal(upstreamCalls(), calls + 2);
        completion(await chat(running, body, { key: TEST_KEY }), 'HIT');
        completion(await chat(running, body, { key: RESTRICTED_KEY }), 'HIT');
        assert.equal(upstreamCalls(), calls + 2);
      });

      it("scope global: the second key gets the first key's answer, one upstream call", async () => {
        const global = await gateway({ scope: 'global' });
        const body = chatBody('global', { model: 'stand-in-shared' });
        const calls = upstreamCalls();
        const first = completion(await chat(global, body, { key: TEST_KEY }), 'MISS');
        const second = completion(await chat(global, body, { key: RESTRICTED_KEY }), 'HIT');
        assert.equal(upstreamCalls(), calls + 1);
        assert.deepEqual(second.choices, first.choices);
        // A key-scoped gateway on the same store does not read the global entry.
        completion(await chat(running, body, { key: TEST_KEY }), 'MISS');
        assert.equal(upstreamCalls(), calls + 2);
      });
    });

    describe('what the key is made of', () => {
      /** name, the field(s) of the first request, and the changed one. */
      const changes: [string, Record<string, unknown>, Record<string, unknown>][] = [
        ['temperature', { temperature: 0.2 }, { temperature: 0.3 }],
        ['top_p', { top_p: 0.5 }, { top_p: 0.6 }],
        ['max_tokens', { max_tokens: 50 }, { max_tokens: 51 }],
        ['max_completion_tokens', { max_completion_tokens: 50 }, { max_completion_tokens: 51 }],
        ['stop', { stop: ['END'] }, { stop: ['STOP'] }],
        ['stop (string or list)', { stop: 'END' }, { stop: ['END'] }],
        ['seed', { seed: 1 }, { seed: 2 }],
        ['presence_penalty', { presence_penalty: 0 }, { presence_penalty: 0.5 }],
        ['frequency_penalty', { frequency_penalty: 0 }, { frequency_penalty: 0.5 }],
        [
          'tools',
          {
            tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
          },
          { tools: [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object' } } }] },
        ],
        [
          'tool_choice',
          { tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'auto' },
          { tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'none' },
        ],
        [
          'response_format',
          { response_format: { type: 'text' } },
          { response_format: { type: 'json_object' } },
        ],
        ['n', { n: 1 }, { n: 2 }],
        ['user', { user: 'alice' }, { user: 'bob' }],
        ['an unknown field (top_k)', { top_k: 5 }, { top_k: 6 }],
        ['an unknown field, absent then present', {}, { guided_choice: ['a', 'b'] }],
        ['a parameter set to null', {}, { temperature: null }],
        [
          'messages (content)',
          { messages: [{ role: 'user', content: 'M1' }] },
          { messages: [{ role: 'user', content: 'M2' }] },
        ],
        [
          'messages (role)',
          { messages: [{ role: 'user', content: 'R' }] },
          { messages: [{ role: 'system', content: 'R' }] },
        ],
        [
          'messages (one more)',
          { messages: [{ role: 'user', content: 'X' }] },
          {
            messages: [
              { role: 'system', content: 'Be brief' },
              { role: 'user', content: 'X' },
            ],
          },
        ],
        ['the model name (another upstream model)', { model: 'stand-in-a' }, { model: 'stand-in-b' }],
        [
          'the route (the same upstream model on another backend)',
          { model: 'same-openai' },
          { model: 'same-ollama' },
        ],
      ];
      for (const [name, first, changed] of changes) {
        it(`a changed ${name} is a MISS that reaches the upstream`, async () => {
          // The messages of each test are its own; a case that changes the messages makes them its own too.
          const own = prompt(name);
          const withOwn = (fields: Record<string, unknown>): Record<string, unknown> => {
            const messages = (fields['messages'] as { role: string; content: string }[] | undefined) ?? [
              { role: 'user', content: 'Hi' },
            ];
            return {
              model: 'qwen',
              ...fields,
              messages: messages.map((message) => ({ ...message, content: `${message.content} ${own}` })),
            };
          };
          const firstBody = withOwn(first);
          const changedBody = withOwn(changed);
          const calls = upstreamCalls();
          completion(await chat(running, firstBody), 'MISS');
          completion(await chat(running, firstBody), 'HIT');
          assert.equal(upstreamCalls(), calls + 1);
          completion(await chat(running, changedBody), 'MISS');
          assert.equal(upstreamCalls(), calls + 2, 'the changed request did not reach the upstream');
          const sent = upstream.requests.at(-1)!;
          for (const [field, value] of Object.entries(changed)) {
            if (field === 'model' || field === 'messages') continue;
            assert.deepEqual(sent.body?.[field], value, `${field} sent upstream`);
          }
          // Both are stored, apart.
          completion(await chat(running, changedBody), 'HIT');
          completion(await chat(running, firstBody), 'HIT');
          assert.equal(upstreamCalls(), calls + 2);
        });
      }

      it('field order and whitespace in the JSON do not change the key', async () => {
        const text = prompt('order');
        const compact = `{"model":"qwen","messages":[{"role":"user","content":"${text}"}],"temperature":0,"stop":["a","b"],"response_format":{"type":"json_object"},"top_k":3}`;
        const reordered = `{\n  "top_k" : 3 ,\n  "response_format" : { "type" : "json_object" },\n\t"stop": [ "a", "b" ],\n  "temperature": 0,\n  "messages": [ { "content": "${text}", "role": "user" } ],\n  "model": "qwen"\n}\n`;
        const calls = upstreamCalls();
        completion(await chat(running, compact), 'MISS');
        completion(await chat(running, reordered), 'HIT');
        completion(await chat(running, compact.replaceAll(',', ' , ')), 'HIT');
        assert.equal(upstreamCalls(), calls + 1);
        // The order of list items does matter.
        completion(await chat(running, compact.replace('["a","b"]', '["b","a"]')), 'MISS');
        assert.equal(upstreamCalls(), calls + 2);
      });

      it('two route names for the same backend and upstream model share their entries', async () => {
        const body = chatBody('alias');
        const calls = upstreamCalls();
        completion(await chat(running, body), 'MISS');
        completion(await chat(running, { ...body, model: 'qwen-alias' }), 'HIT');
        assert.equal(upstreamCalls(), calls + 1);
      });
    });

    describe('streams', () => {
      it('a stream, then the same request without stream: one upstream call', async () => {
        const body = chatBody('stream first');
        const calls = upstreamCalls();
        const streamed = await chat(running, { ...body, stream: true });
        assert.equal(streamed.status, 200);
        assert.equal(xCache(streamed), 'MISS');
        const chunks = sseChunks(streamed.text);
        assert.equal(chunks.map((item) => item.choices[0]?.delta.content ?? '').join(''), ANSWER);
        const json = completion(await chat(running, body), 'HIT');
        assert.equal(upstreamCalls(), calls + 1);
        assert.equal(contentOf(json), ANSWER);
        assert.equal(json.choices[0]?.finish_reason, 'stop');
        // The gateway asked the upstream for usage: the stored answer has it.
        assert.deepEqual(json.usage, STAND_IN_USAGE);
        assert.equal(json.object, 'chat.completion');
        // And a stream with include_usage hits the same entry.
        const again = await chat(running, { ...body, stream: true, stream_options: { include_usage: true } });
        assert.equal(xCache(again), 'HIT');
        assert.equal(upstreamCalls(), calls + 1);
      });

      it('a JSON answer, then the same request streamed: replayed chunks that the official client reads', async () => {
        const body = chatBody('json first');
        const calls = upstreamCalls();
        const json = completion(await chat(running, body), 'MISS');
        const client = running.client();
        const { data: stream, response } = await client.chat.completions
          .create({
            model: 'qwen',
            messages: body['messages'] as { role: 'user'; content: string }[],
            stream: true,
            stream_options: { include_usage: true },
          })
          .withResponse();
        assert.equal(response.headers.get('x-cache'), 'HIT');
        assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
        let text = '';
        let role: string | undefined;
        let finish: string | null = null;
        let usage: unknown = null;
        const ids = new Set<string>();
        for await (const chunk of stream) {
          assert.equal(chunk.object, 'chat.completion.chunk');
          ids.add(chunk.id);
          role ??= chunk.choices[0]?.delta.role;
          text += chunk.choices[0]?.delta.content ?? '';
          finish = chunk.choices[0]?.finish_reason ?? finish;
          if (chunk.usage) usage = chunk.usage;
        }
        assert.equal(upstreamCalls(), calls + 1);
        assert.equal(text, contentOf(json));
        assert.equal(role, 'assistant');
        assert.equal(finish, 'stop');
        assert.deepEqual(usage, STAND_IN_USAGE);
        assert.equal(ids.size, 1);
        assert.ok(!ids.has(json.id), 'the replayed stream has a fresh id');

        // The raw events: chunk JSON, one id throughout, usage only when asked, ending in [DONE].
        const raw = await chat(running, { ...body, stream: true });
        assert.equal(xCache(raw), 'HIT');
        assert.equal(raw.headers.get('content-type'), 'text/event-stream; charset=utf-8');
        const chunks = sseChunks(raw.text);
        assert.ok(chunks.length >= 3);
        assert.equal(new Set(chunks.map((item) => item.id)).size, 1);
        assert.notEqual(chunks[0]?.id, json.id);
        assert.ok(chunks.every((item) => item.object === 'chat.completion.chunk' && item.usage == null));
        assert.equal(chunks.map((item) => item.choices[0]?.delta.content ?? '').join(''), ANSWER);
        assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, 'stop');
        assert.ok(!raw.text.includes('"usage"'));
        assert.equal(upstreamCalls(), calls + 1);
      });
    });

    describe('what is never stored', () => {
      it('a stream the upstream cut, or ended with an error event', async () => {
        for (const behaviour of [
          { kind: 'stream-cut-after', chunks: 3 },
          // Cut after the finish_reason chunk (the stand-in's events: role, 6 tokens, finish, usage, [DONE]).
          { kind: 'stream-cut-after', chunks: 8 },
          // Cut after the usage chunk, before [DONE].
          { kind: 'stream-cut-after', chunks: 9 },
          { kind: 'stream-error-event-after', chunks: 3 },
          { kind: 'stream-error-event-after', chunks: 8 },
        ] as const) {
          const body = chatBody(`${behaviour.kind} ${behaviour.chunks}`);
          upstream.behaviour = behaviour;
          try {
            const broken = await chat(running, { ...body, stream: true });
            assert.equal(broken.status, 200);
            assert.equal(xCache(broken), 'MISS');
            const last = sseData(broken.text).at(-1) ?? '';
            assert.ok(last.includes('"error"'), `the stream did not end with an error event: ${broken.text}`);
            assert.ok(!broken.text.includes('[DONE]'));
          } finally {
            upstream.behaviour = { kind: 'normal' };
          }
          const calls = upstreamCalls();
          completion(await chat(running, body), 'MISS');
          assert.equal(upstreamCalls(), calls + 1, `${behaviour.kind} ${behaviour.chunks}`);
          // That answer is stored: the stream is now a replay.
          const replayed = await chat(running, { ...body, stream: true });
          assert.equal(xCache(replayed), 'HIT');
          assert.equal(sseChunks(replayed.text).length > 0, true);
        }
      });

      it('an upstream error', async () => {
        const body = chatBody('upstream error');
        upstream.behaviour = { kind: 'status', status: 500 };
        try {
          const failed = await chat(running, body);
          assert.equal(failed.status, 502, failed.text);
          const failedStream = await chat(running, { ...body, stream: true });
          assert.equal(failedStream.status, 502, failedStream.text);
        } finally {
          upstream.behaviour = { kind: 'normal' };
        }
        const calls = upstreamCalls();
        completion(await chat(running, body), 'MISS');
        assert.equal(upstreamCalls(), calls + 1);
        // Embeddings neither.
        const input = prompt('embed error');
        upstream.behaviour = { kind: 'status', status: 503 };
        try {
          const failed = await embed(running, { model: 'stand-in-embed', input });
          assert.ok(failed.status >= 500, failed.text);
        } finally {
          upstream.behaviour = { kind: 'normal' };
        }
        const embedded = await embed(running, { model: 'stand-in-embed', input });
        assert.equal(embedded.status, 200);
        assert.equal(xCache(embedded), 'MISS');
      });

      for (const point of ['after its first chunk', 'after its finish_reason, before [DONE]'] as const) {
        it(`a stream the client cancelled ${point}`, async () => {
          const body = chatBody(`cancelled ${point}`);
          const requestId = `cancelled-${kind}-${counter}`;
          const aborts = upstream.aborts;
          upstream.behaviour = { kind: 'slow-stream', delayMs: 150 };
          try {
            const controller = new AbortController();
            const response = await fetch(`${running.url}/v1/chat/completions`, {
              method: 'POST',
              headers: {
                authorization: `Bearer ${TEST_KEY}`,
                'content-type': 'application/json',
                'x-request-id': requestId,
              },
              body: JSON.stringify({ ...body, stream: true }),
              signal: controller.signal,
            });
            assert.equal(response.headers.get('x-cache'), 'MISS');
            const reader = response.body!.getReader();
            const decoder = new TextDecoder();
            let received = '';
            for (;;) {
              const { value, done } = await reader.read();
              assert.ok(!done, `the stream ended before the client cancelled it: ${received}`);
              received += decoder.decode(value, { stream: true });
              if (point === 'after its first chunk' || received.includes('"finish_reason":"stop"')) break;
            }
            assert.ok(!received.includes('[DONE]'));
            controller.abort();
            await reader.read().catch(() => undefined);
            await upstream.waitForAborts(aborts + 1);
            const line = await waitForLog(running, (entry) => entry['request_id'] === requestId);
            // 499: the client closed the connection.
            assert.equal(line['status'], 499);
          } finally {
            upstream.behaviour = { kind: 'normal' };
          }
          const calls = upstreamCalls();
          completion(await chat(running, body), 'MISS');
          assert.equal(upstreamCalls(), calls + 1);
        });
      }

      it('an answer whose finish_reason shows a failure (content_filter)', async () => {
        const body = chatBody('filtered');
        upstream.behaviour = {
          kind: 'status',
          status: 200,
          body: JSON.stringify({
            id: 'chatcmpl-filtered',
            object: 'chat.completion',
            created: 1700000000,
            model: 'Qwen/Qwen2.5-0.5B',
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: 'I cannot' },
                finish_reason: 'content_filter',
              },
            ],
            usage: STAND_IN_USAGE,
          }),
        };
        try {
          const calls = upstreamCalls();
          const first = completion(await chat(running, body), 'MISS');
          assert.equal(first.choices[0]?.finish_reason, 'content_filter');
          assert.equal(contentOf(first), 'I cannot');
          const second = completion(await chat(running, body), 'MISS');
          assert.equal(second.choices[0]?.finish_reason, 'content_filter');
          assert.equal(upstreamCalls(), calls + 2);
        } finally {
          upstream.behaviour = { kind: 'normal' };
        }
        const calls = upstreamCalls();
        completion(await chat(running, body), 'MISS');
        assert.equal(upstreamCalls(), calls + 1);
      });
    });

    it('50 concurrent identical misses make one upstream call and all get its answer', async () => {
      const body = chatBody('stampede');
      const calls = upstreamCalls();
      upstream.behaviour = { kind: 'slow-json', delayMs: 200 };
      let answers: Answer[];
      try {
        answers = await Promise.all(Array.from({ length: 50 }, () => chat(running, body)));
      } finally {
        upstream.behaviour = { kind: 'normal' };
      }
      assert.equal(upstreamCalls(), calls + 1);
      assert.equal(answers.length, 50);
      for (const answer of answers) {
        assert.equal(answer.status, 200, answer.text);
        assert.equal(contentOf(answer.json as Completion), ANSWER);
      }
      const statuses = answers.map(xCache);
      assert.equal(statuses.filter((status) => status === 'MISS').length, 1, statuses.join(','));
      assert.equal(statuses.filter((status) => status === 'HIT').length, 49, statuses.join(','));
      // Each shared answer has an id of its own, and the entry is stored.
      const ids = new Set(answers.map((answer) => (answer.json as Completion).id));
      assert.equal(ids.size, 50);
      completion(await chat(running, body), 'HIT');
      assert.equal(upstreamCalls(), calls + 1);
    });

    it('concurrent identical misses, streamed and not, share one upstream call', async () => {
      const body = chatBody('stampede mixed');
      const calls = upstreamCalls();
      upstream.behaviour = { kind: 'slow-json', delayMs: 200 };
      let answers: Answer[];
      try {
        answers = await Promise.all(
          Array.from({ length: 10 }, (_, index) =>
            chat(running, index % 2 === 0 ? { ...body, stream: true } : body),
          ),
        );
      } finally {
        upstream.behaviour = { kind: 'normal' };
      }
      assert.equal(upstreamCalls(), calls + 1);
      answers.forEach((answer, index) => {
        assert.equal(answer.status, 200, answer.text);
        if (index % 2 === 0) {
          const chunks = sseChunks(answer.text);
          assert.equal(chunks.map((item) => item.choices[0]?.delta.content ?? '').join(''), ANSWER);
        } else {
          assert.equal(contentOf(answer.json as Completion), ANSWER);
        }
      });
      assert.deepEqual(
        answers.map(xCache).filter((status) => status === 'MISS'),
        ['MISS'],
      );
    });

    describe('Cache-Control', () => {
      it('no-cache: BYPASS, reaches the upstream, and still stores', async () => {
        const body = chatBody('no-cache');
        const calls = upstreamCalls();
        completion(await chat(running, body, { headers: { 'cache-control': 'no-cache' } }), 'BYPASS');
        assert.equal(upstreamCalls(), calls + 1);
        completion(await chat(running, body), 'HIT');
        // With an entry there, no-cache still goes upstream (and refreshes it).
        completion(await chat(running, body, { headers: { 'cache-control': 'no-cache' } }), 'BYPASS');
        assert.equal(upstreamCalls(), calls + 2);
        completion(await chat(running, body), 'HIT');
        assert.equal(upstreamCalls(), calls + 2);
      });

      it('no-store: BYPASS, reaches the upstream, nothing stored', async () => {
        const body = chatBody('no-store');
        const calls = upstreamCalls();
        completion(await chat(running, body, { headers: { 'cache-control': 'no-store' } }), 'BYPASS');
        const streamed = await chat(
          running,
          { ...body, stream: true },
          { headers: { 'cache-control': 'no-store' } },
        );
        assert.equal(xCache(streamed), 'BYPASS');
        assert.equal(upstreamCalls(), calls + 2);
        completion(await chat(running, body), 'MISS');
        assert.equal(upstreamCalls(), calls + 3);
        // An entry there is not read either.
        completion(await chat(running, body, { headers: { 'cache-control': 'no-store' } }), 'BYPASS');
        assert.equal(upstreamCalls(), calls + 4);
        const input = prompt('embed no-store');
        const embedded = await embed(
          running,
          { model: 'stand-in-embed', input },
          { headers: { 'cache-control': 'no-store' } },
        );
        assert.equal(xCache(embedded), 'BYPASS');
        assert.equal(xCache(await embed(running, { model: 'stand-in-embed', input })), 'MISS');
      });

      it('max-age=N accepts only entries younger than N seconds', async () => {
        const body = chatBody('max-age');
        const calls = upstreamCalls();
        completion(await chat(running, body), 'MISS');
        await delay(30);
        completion(await chat(running, body, { headers: { 'cache-control': 'max-age=3600' } }), 'HIT');
        assert.equal(upstreamCalls(), calls + 1);
        const stale = completion(
          await chat(running, body, { headers: { 'cache-control': 'max-age=0' } }),
          'MISS',
        );
        assert.equal(upstreamCalls(), calls + 2);
        assert.equal(contentOf(stale), ANSWER);
        // That answer replaced the entry: a plain request hits it.
        completion(await chat(running, body), 'HIT');
        assert.equal(upstreamCalls(), calls + 2);
      });
    });

    describe('config', () => {
      it('ttl_seconds: 1 — an entry expires after about a second', async () => {
        const short = await gateway({ ttl_seconds: 1 });
        const body = chatBody('ttl');
        const stored = Date.now();
        completion(await chat(short, body), 'MISS');
        completion(await chat(short, body), 'HIT');
        const last = await poll(
          () => chat(short, body),
          (answer) => xCache(answer) === 'MISS',
          5000,
        );
        const age = Date.now() - stored;
        assert.equal(xCache(last), 'MISS', 'the entry did not expire within 5 s');
        assert.ok(age >= 900, `expired after ${age} ms`);
      });

      it('models[].cache.ttl_seconds overrides the TTL for that route', async () => {
        const shortBody = { ...chatBody('route ttl'), model: 'short-ttl' };
        const longBody = { ...chatBody('route ttl'), model: 'long-ttl' };
        const stored = Date.now();
        completion(await chat(running, shortBody), 'MISS');
        completion(await chat(running, longBody), 'MISS');
        completion(await chat(running, shortBody), 'HIT');
        const last = await poll(
          () => chat(running, shortBody),
          (answer) => xCache(answer) === 'MISS',
          5000,
        );
        assert.equal(xCache(last), 'MISS', 'the short-ttl entry did not expire within 5 s');
        assert.ok(Date.now() - stored >= 900);
        // The other route's entry, stored at the same time, is still there.
        completion(await chat(running, longBody), 'HIT');
        if (redis !== null) {
          // In Redis, each entry carries its route's TTL.
          const client = new Redis(redis.port, '127.0.0.1');
          const keyOf = (body: Record<string, unknown>, upstreamModel: string): string =>
            storageKey(
              'test-key',
              cacheKey({ endpoint: 'chat', backend: 'vllm', upstreamModel, body, scope: 'test-key' }),
            );
          try {
            const shortTtl = await client.pttl(keyOf(shortBody, 'short'));
            const longTtl = await client.pttl(keyOf(longBody, 'long'));
            assert.ok(shortTtl > 0 && shortTtl <= 1000, `short-ttl entry: pttl ${shortTtl}`);
            assert.ok(longTtl > 3_590_000 && longTtl <= 3_600_000, `long-ttl entry: pttl ${longTtl}`);
          } finally {
            client.disconnect();
          }
        }
      });

      it('models[].cache.enabled: false makes that route BYPASS', async () => {
        const body = { ...chatBody('uncached'), model: 'uncached' };
        const calls = upstreamCalls();
        completion(await chat(running, body), 'BYPASS');
        completion(await chat(running, body), 'BYPASS');
        assert.equal(upstreamCalls(), calls + 2);
      });

      it('cache.enabled: false: BYPASS everywhere', async () => {
        const off = await gateway({ enabled: false });
        const body = chatBody('off');
        const calls = upstreamCalls();
        completion(await chat(off, body), 'BYPASS');
        completion(await chat(off, body), 'BYPASS');
        const embedded = await embed(off, { model: 'stand-in-embed', input: 'x' });
        assert.equal(xCache(embedded), 'BYPASS');
        assert.equal(upstreamCalls(), calls + 3);
      });

      it('an answer over max_entry_bytes is not stored', async () => {
        const small = await gateway({ max_entry_bytes: 100 });
        const body = chatBody('too large');
        const calls = upstreamCalls();
        completion(await chat(small, body), 'MISS');
        completion(await chat(small, body), 'MISS');
        assert.equal(upstreamCalls(), calls + 2);
      });

      it('only_deterministic: temperature 0 or a seed is cached; anything else is BYPASS', async () => {
        const deterministic = await gateway({ only_deterministic: true });
        const calls = upstreamCalls();
        const random = chatBody('random', { temperature: 0.7 });
        completion(await chat(deterministic, random), 'BYPASS');
        completion(await chat(deterministic, random), 'BYPASS');
        const noTemperature = chatBody('no temperature');
        completion(await chat(deterministic, noTemperature), 'BYPASS');
        assert.equal(upstreamCalls(), calls + 3);
        const zero = chatBody('zero', { temperature: 0 });
        completion(await chat(deterministic, zero), 'MISS');
        completion(await chat(deterministic, zero), 'HIT');
        const seeded = chatBody('seeded', { temperature: 0.7, seed: 42 });
        completion(await chat(deterministic, seeded), 'MISS');
        completion(await chat(deterministic, seeded), 'HIT');
        assert.equal(upstreamCalls(), calls + 5);
        // Embeddings have no temperature: they are cached.
        const input = prompt('deterministic embed');
        assert.equal(xCache(await embed(deterministic, { model: 'stand-in-embed', input })), 'MISS');
        assert.equal(xCache(await embed(deterministic, { model: 'stand-in-embed', input })), 'HIT');
      });
    });

    describe('rate limits', () => {
      it('a hit counts against the request limit', async () => {
        const limited = await gateway({}, { rate_limit: { default: { requests: '3/minute' } } });
        const body = chatBody('limited');
        const calls = upstreamCalls();
        const first = await chat(limited, body);
        completion(first, 'MISS');
        assert.equal(first.headers.get('x-ratelimit-remaining-requests'), '2');
        const second = await chat(limited, body);
        completion(second, 'HIT');
        assert.equal(second.headers.get('x-ratelimit-remaining-requests'), '1');
        const third = await chat(limited, body);
        completion(third, 'HIT');
        assert.equal(third.headers.get('x-ratelimit-remaining-requests'), '0');
        const refused = await chat(limited, body);
        assert.equal(refused.status, 429, refused.text);
        assert.equal((refused.json as { error: { code: string } }).error.code, 'rate_limit_exceeded');
        assert.ok(Number(refused.headers.get('retry-after')) >= 1);
        assert.equal(upstreamCalls(), calls + 1);
      });

      it('a hit consumes no tokens', async () => {
        // token-key: 1000 tokens a day, so that nothing measurable comes back during the test.
        const limits = await gateway({});
        const [a, b, c] = ['A', 'B', 'C'].map((letter) =>
          chatBody(`tokens ${letter}`, { max_tokens: 20 }),
        ) as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
        const estimate = (body: Record<string, unknown>): number =>
          estimateChatTokens(body as ChatCompletionRequest, 1024);
        const used = STAND_IN_USAGE.total_tokens;
        const remainingTokens = (answer: Answer): number => {
          const value = answer.headers.get('x-ratelimit-remaining-tokens');
          assert.ok(value !== null, 'no x-ratelimit-remaining-tokens');
          return Number(value);
        };

        const first = await chat(limits, a, { key: TOKEN_KEY });
        completion(first, 'MISS');
        assert.equal(remainingTokens(first), 1000 - estimate(a));
        // Settlement to the usage reported (batched every 50 ms with Redis).
        await delay(250);
        const second = await chat(limits, b, { key: TOKEN_KEY });
        completion(second, 'MISS');
        assert.equal(remainingTokens(second), 1000 - used - estimate(b));
        await delay(250);
        for (let index = 0; index < 3; index++) {
          const hit = await chat(limits, a, { key: TOKEN_KEY });
          completion(hit, 'HIT');
          // A hit reserves no tokens: only its request limit is reported.
          assert.equal(hit.headers.get('x-ratelimit-remaining-tokens'), null);
          assert.ok(hit.headers.get('x-ratelimit-remaining-requests') !== null);
        }
        await delay(250);
        const third = await chat(limits, c, { key: TOKEN_KEY });
        completion(third, 'MISS');
        // Only a and b were charged (their reported usage): the hits left the budget as it was.
        assert.equal(remainingTokens(third), 1000 - 2 * used - estimate(c));
      });
    });

    describe('admin purge', () => {
      it("DELETE /admin/cache purges everything; ?key=ID only that key's scope", async () => {
        assert.equal((await purge(running)).status, 200);
        const mine = chatBody('purge mine', { model: 'stand-in-purge' });
        const mineToo = { model: 'stand-in-embed', input: prompt('purge mine too') };
        const theirs = chatBody('purge theirs', { model: 'stand-in-purge' });
        completion(await chat(running, mine), 'MISS');
        assert.equal(xCache(await embed(running, mineToo)), 'MISS');
        completion(await chat(running, theirs, { key: RESTRICTED_KEY }), 'MISS');
        completion(await chat(running, mine), 'HIT');
        completion(await chat(running, theirs, { key: RESTRICTED_KEY }), 'HIT');

        const one = await purge(running, '?key=test-key');
        assert.equal(one.status, 200, one.text);
        assert.deepEqual(one.json, { deleted: 2 });
        assert.equal(one.headers.get('content-type'), 'application/json; charset=utf-8');
        completion(await chat(running, theirs, { key: RESTRICTED_KEY }), 'HIT');
        const calls = upstreamCalls();
        completion(await chat(running, mine), 'MISS');
        assert.equal(xCache(await embed(running, mineToo)), 'MISS');
        assert.equal(upstreamCalls(), calls + 2);
        assert.deepEqual((await purge(running, '?key=nobody')).json, { deleted: 0 });

        const all = await purge(running);
        assert.deepEqual(all.json, { deleted: 3 });
        completion(await chat(running, theirs, { key: RESTRICTED_KEY }), 'MISS');
        completion(await chat(running, mine), 'MISS');
        assert.equal(upstreamCalls(), calls + 4);
        assert.deepEqual((await purge(running)).json, { deleted: 2 });
        assert.deepEqual((await purge(running)).json, { deleted: 0 });
      });

      it('refuses without the admin token', async () => {
        const refused = await purge(running, '', 'wrong-token');
        assert.equal(refused.status, 401, refused.text);
        const asClient = await purge(running, '', TEST_KEY);
        assert.equal(asClient.status, 401, asClient.text);
      });
    });
  });
}

describe('the response cache when Redis stops', needsRedis, () => {
  let redis: PrivateRedis;
  let running: RunningGateway;

  before(async () => {
    redis = await startRedisServer();
    running = await startReady(cacheDocument(redis.url));
  });
  after(async () => {
    await running.stop();
    await redis.stop();
  });

  it('serves every request as BYPASS, promptly, and logs a warning', async () => {
    const body = chatBody('redis down');
    completion(await chat(running, body), 'MISS');
    completion(await chat(running, body), 'HIT');
    await redis.stop();
    const calls = upstreamCalls();
    for (let index = 0; index < 3; index++) {
      const answer = await chat(running, body);
      assert.equal(contentOf(completion(answer, 'BYPASS')), ANSWER);
      assert.ok(answer.ms < 2500, `answered after ${Math.round(answer.ms)} ms`);
    }
    const streamed = await chat(running, { ...body, stream: true });
    assert.equal(streamed.status, 200);
    assert.equal(xCache(streamed), 'BYPASS');
    sseChunks(streamed.text);
    const embedded = await embed(running, { model: 'stand-in-embed', input: 'x' });
    assert.equal(embedded.status, 200, embedded.text);
    assert.equal(xCache(embedded), 'BYPASS');
    assert.equal(upstreamCalls(), calls + 5);
    const warning = running.logs.find(
      (line) => line['level'] === 40 && String(line['msg']).startsWith('cache store unavailable'),
    );
    assert.ok(warning !== undefined, 'no warning about the cache store was logged');
    // Purging cannot work: 503, retry later.
    const refused = await purge(running);
    assert.equal(refused.status, 503, refused.text);
  });
});
