/**
 * A cached answer that crosses between streamed and non-streamed keeps every field (issue 18, item 1):
 * reasoning_content, refusal, logprobs, system_fingerprint, service_tier and fields the gateway does not
 * know. The stand-in answers as OpenAI (and vLLM's reasoning parser) do, streamed or not.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CompletionAssembler } from '../../src/cache/assemble.js';
import type { ChatCompletionChunk } from '../../src/api/schemas.js';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';

type Json = Record<string, unknown>;

const USAGE = {
  prompt_tokens: 9,
  completion_tokens: 12,
  total_tokens: 21,
  completion_tokens_details: { reasoning_tokens: 8 },
};

function logprob(token: string, value: number): Json {
  return { token, logprob: value, bytes: [...Buffer.from(token)], top_logprobs: [] };
}

/** The non-streamed answer, and the same answer as chunks. */
function answerFor(model: string): { json: Json; chunks: Json[] } {
  const top = {
    id: 'chatcmpl-fidelity',
    created: 1_700_000_000,
    model,
    service_tier: 'default',
    system_fingerprint: 'fp_fidelity',
  };
  const json = {
    ...top,
    object: 'chat.completion',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'Paris.',
          refusal: null,
          reasoning_content: 'France: capital Paris.',
          annotations: [],
        },
        logprobs: { content: [logprob('Paris', -0.01), logprob('.', -0.2)], refusal: null },
        finish_reason: 'stop',
        stop_reason: null,
      },
    ],
    usage: USAGE,
    kv_transfer_params: null,
  };
  const chunk = (choice: Json): Json => ({
    ...top,
    object: 'chat.completion.chunk',
    obfuscation: 'pad',
    choices: [{ index: 0, logprobs: null, finish_reason: null, ...choice }],
  });
  const chunks = [
    chunk({ delta: { role: 'assistant', content: '', refusal: null, annotations: [] } }),
    chunk({ delta: { reasoning_content: 'France: ' } }),
    chunk({ delta: { reasoning_content: 'capital Paris.' } }),
    chunk({
      delta: { content: 'Paris' },
      logprobs: { content: [logprob('Paris', -0.01)], refusal: null },
    }),
    chunk({ delta: { content: '.' }, logprobs: { content: [logprob('.', -0.2)], refusal: null } }),
    chunk({ delta: {}, finish_reason: 'stop', stop_reason: null }),
    { ...top, object: 'chat.completion.chunk', choices: [], usage: USAGE, kv_transfer_params: null },
  ];
  return { json, chunks };
}

/** The data events of a server-sent event stream, [DONE] left out. */
function events(text: string): Json[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: ') && event !== 'data: [DONE]')
    .map((event) => JSON.parse(event.slice('data: '.length)) as Json);
}

function assemble(chunks: Json[]): Json | null {
  const assembler = new CompletionAssembler();
  for (const chunk of chunks) assembler.add(chunk as unknown as ChatCompletionChunk);
  return assembler.result();
}

/** An answer without the fields each response sets anew. */
function stable(answer: Json | null): Json {
  assert.ok(answer !== null);
  const { id: _id, created: _created, cached: _cached, ...rest } = answer;
  return rest;
}

describe('the cache keeps every field between streamed and non-streamed answers', () => {
  let server: Server;
  let running: RunningGateway;
  let calls = 0;

  before(async () => {
    server = createServer((request, response) => {
      const parts: Buffer[] = [];
      request.on('data', (part: Buffer) => parts.push(part));
      request.on('end', () => {
        calls++;
        const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Json;
        const { json, chunks } = answerFor(String(body['model']));
        if (body['stream'] !== true) {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify(json));
          return;
        }
        response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (const chunk of chunks) response.write(`data: ${JSON.stringify(chunk)}\n\n`);
        response.end('data: [DONE]\n\n');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    running = await startGateway(
      testConfig({
        backends: [{ name: 'vllm', type: 'openai', url: `${url}/v1` }],
        models: [{ name: 'r1-*', targets: [{ backend: 'vllm' }] }],
        extra: { cache: { enabled: true } },
      }),
    );
  });
  after(async () => {
    await running.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function post(model: string, stream: boolean): Promise<{ cache: string | null; text: string }> {
    const response = await fetch(`${running.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model,
        messages: [{ role: 'user', content: 'Capital of France?' }],
        logprobs: true,
        ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      }),
    });
    assert.equal(response.status, 200);
    return { cache: response.headers.get('x-cache'), text: await response.text() };
  }

  it('a non-streamed answer replayed as a stream: reasoning first, logprobs on the content, every field back', async () => {
    const { json } = answerFor('r1-a');
    const miss = await post('r1-a', false);
    assert.equal(miss.cache, 'MISS');
    assert.deepEqual(stable(JSON.parse(miss.text) as Json), stable(json));
    const before = calls;
    const hit = await post('r1-a', true);
    assert.equal(hit.cache, 'HIT');
    assert.equal(calls, before, 'the hit did not reach the upstream');
    const chunks = events(hit.text);
    for (const chunk of chunks) {
      assert.equal(chunk['system_fingerprint'], 'fp_fidelity');
      assert.equal(chunk['service_tier'], 'default');
    }
    const deltas = chunks
      .flatMap((chunk) => chunk['choices'] as Json[])
      .map((choice) => choice['delta'] as Json);
    const reasoningAt = deltas.findIndex((delta) => typeof delta['reasoning_content'] === 'string');
    const contentAt = deltas.findIndex((delta) => delta['content'] === 'Paris.');
    assert.ok(
      reasoningAt >= 0 && reasoningAt < contentAt,
      `reasoning at ${reasoningAt}, content at ${contentAt}`,
    );
    assert.deepEqual(stable(assemble(chunks)), stable(json));
  });

  it('a streamed answer served as JSON: what the non-streamed answer would have been', async () => {
    const { json } = answerFor('r1-b');
    const miss = await post('r1-b', true);
    assert.equal(miss.cache, 'MISS');
    const hit = await post('r1-b', false);
    assert.equal(hit.cache, 'HIT');
    const answer = JSON.parse(hit.text) as Json;
    assert.equal(answer['cached'], true);
    assert.deepEqual(stable(answer), stable(json));
  });
});
