/**
 * Upstream chat answers without `id`, `object`, `created` or `choices[].index` (llama.cpp's server and
 * some proxies send them so) reach the client with those fields filled in (issue 18, item 4): strict
 * clients (the AI SDK's schemas) refuse an answer without them. Values the upstream did send are kept.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';

type Json = Record<string, unknown>;

/**
 * An OpenAI-compatible /v1/chat/completions that answers `answer` (non-streamed) or `chunks` (as
 * server-sent events ending in [DONE]) exactly as given.
 */
class BareUpstream {
  answer: Json = {};
  chunks: Json[] = [];
  private readonly server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      const parts: Buffer[] = [];
      request.on('data', (part: Buffer) => parts.push(part));
      request.on('end', () => {
        const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Json;
        if (body['stream'] !== true) {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify(this.answer));
          return;
        }
        response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (const chunk of this.chunks) response.write(`data: ${JSON.stringify(chunk)}\n\n`);
        response.end('data: [DONE]\n\n');
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const USAGE = { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 };

/** A non-streamed answer without id, object, created and the choices' index. */
function bareAnswer(): Json {
  return {
    model: 'llama',
    choices: [
      { message: { role: 'assistant', content: 'Hi!' }, finish_reason: 'stop' },
      { message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' },
    ],
    usage: USAGE,
  };
}

/** A stream's chunks without id, object, created and index. */
function bareChunks(): Json[] {
  return [
    { model: 'llama', choices: [{ delta: { role: 'assistant', content: '' }, finish_reason: null }] },
    { model: 'llama', choices: [{ delta: { content: 'Hi' }, finish_reason: null }] },
    { model: 'llama', choices: [{ delta: { content: '!' }, finish_reason: null }] },
    { model: 'llama', choices: [{ delta: {}, finish_reason: 'stop' }] },
    { model: 'llama', choices: [], usage: USAGE },
  ];
}

/** The data events of a server-sent event stream, [DONE] left out. */
function events(text: string): Json[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: ') && event !== 'data: [DONE]')
    .map((event) => JSON.parse(event.slice('data: '.length)) as Json);
}

describe('chat answers whose upstream left out id, object, created or index', () => {
  let upstream: BareUpstream;
  let running: RunningGateway;

  before(async () => {
    upstream = new BareUpstream();
    const url = await upstream.start();
    running = await startGateway(
      testConfig({
        backends: [{ name: 'llamacpp', type: 'openai', url: `${url}/v1` }],
        models: [{ name: 'llama', targets: [{ backend: 'llamacpp' }] }],
      }),
    );
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  async function post(body: Json): Promise<{ status: number; text: string }> {
    const response = await fetch(`${running.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: 'Hi' }], ...body }),
    });
    return { status: response.status, text: await response.text() };
  }

  function assertNow(created: unknown, before: number): void {
    assert.equal(typeof created, 'number');
    assert.ok(Number.isInteger(created), 'created is whole seconds');
    assert.ok((created as number) >= before && (created as number) <= Math.ceil(Date.now() / 1000));
  }

  it('fills them in on a non-streamed answer: chatcmpl- id, chat.completion, now, each index its position', async () => {
    upstream.answer = bareAnswer();
    const before = Math.floor(Date.now() / 1000);
    const answer = await post({ n: 2 });
    assert.equal(answer.status, 200, answer.text);
    const body = JSON.parse(answer.text) as Json;
    assert.match(String(body['id']), /^chatcmpl-[0-9a-f]{32}$/);
    assert.equal(body['object'], 'chat.completion');
    assertNow(body['created'], before);
    assert.deepEqual(
      (body['choices'] as Json[]).map((choice) => choice['index']),
      [0, 1],
    );
    // Through the openai SDK too.
    const completion = await running.client().chat.completions.create({
      model: 'llama',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(completion.choices[1]?.index, 1);
    assert.equal(completion.choices[0]?.message.content, 'Hi!');
  });

  it('fills them in on every chunk of a stream: one id and one created for the whole stream', async () => {
    upstream.chunks = bareChunks();
    const before = Math.floor(Date.now() / 1000);
    const answer = await post({ stream: true, stream_options: { include_usage: true } });
    assert.equal(answer.status, 200, answer.text);
    const chunks = events(answer.text);
    assert.equal(chunks.length, 5);
    const id = chunks[0]?.['id'];
    assert.match(String(id), /^chatcmpl-[0-9a-f]{32}$/);
    assertNow(chunks[0]?.['created'], before);
    for (const chunk of chunks) {
      assert.equal(chunk['id'], id);
      assert.equal(chunk['created'], chunks[0]?.['created']);
      assert.equal(chunk['object'], 'chat.completion.chunk');
      for (const choice of chunk['choices'] as Json[]) assert.equal(choice['index'], 0);
    }
    const stream = await running.client().chat.completions.create({
      model: 'llama',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(text, 'Hi!');
  });

  it('keeps the values the upstream sent; chunks without an id take the first chunk’s', async () => {
    upstream.answer = {
      ...bareAnswer(),
      id: 'cmpl-upstream',
      object: 'chat.completion',
      created: 1_700_000_000,
      choices: [{ index: 3, message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }],
    };
    const answer = JSON.parse((await post({})).text) as Json;
    assert.equal(answer['id'], 'cmpl-upstream');
    assert.equal(answer['created'], 1_700_000_000);
    assert.equal((answer['choices'] as Json[])[0]?.['index'], 3);

    const [first, ...rest] = bareChunks();
    upstream.chunks = [{ ...first, id: 'chatcmpl-upstream', created: 1_700_000_001 }, ...rest];
    const chunks = events((await post({ stream: true })).text);
    assert.ok(chunks.length >= 4);
    for (const chunk of chunks) {
      assert.equal(chunk['id'], 'chatcmpl-upstream');
      assert.equal(chunk['created'], 1_700_000_001);
    }
  });
});
