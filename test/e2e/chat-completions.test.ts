import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { STAND_IN_TOKENS, STAND_IN_USAGE, StandInUpstream } from '../support/stand-in-upstream.js';
import {
  TEST_KEY,
  standInConfig,
  startGateway,
  waitForLog,
  type RunningGateway,
} from '../support/gateway-harness.js';

describe('POST /v1/chat/completions through the official openai client', () => {
  let upstream: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    running = await startGateway(standInConfig(upstream.url));
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  it('answers from an openai backend, keeping fields the upstream added', async () => {
    const { data, response } = await running
      .client()
      .chat.completions.create({
        model: 'qwen',
        messages: [{ role: 'user', content: 'Hi' }],
        temperature: 0.2,
      })
      .withResponse();
    assert.equal(data.choices[0]?.message.content, STAND_IN_TOKENS.join(''));
    assert.deepEqual(data.usage, STAND_IN_USAGE);
    assert.equal((data as unknown as Record<string, unknown>)['system_fingerprint'], 'fp_standin');
    assert.equal(response.headers.get('x-gateway-backend'), 'vllm');
    const sent = upstream.requests.at(-1)!;
    assert.equal(sent.path, '/v1/chat/completions');
    assert.equal(sent.body?.['model'], 'Qwen/Qwen2.5-0.5B');
    assert.equal(sent.body?.['temperature'], 0.2);
  });

  it('passes unknown request fields through to openai backends', async () => {
    await running.client().chat.completions.create({
      model: 'stand-in-7b',
      messages: [{ role: 'user', content: 'Hi' }],
      // @ts-expect-error: a vLLM extension the SDK does not know
      top_k: 7,
      guided_choice: ['a', 'b'],
    });
    const sent = upstream.requests.at(-1)!;
    assert.equal(sent.body?.['model'], 'stand-in-7b');
    assert.equal(sent.body?.['top_k'], 7);
    assert.deepEqual(sent.body?.['guided_choice'], ['a', 'b']);
  });

  it('never sends the client key upstream, only the backend key, and forwards the request id', async () => {
    await running
      .client()
      .chat.completions.create(
        { model: 'qwen', messages: [{ role: 'user', content: 'Hi' }] },
        { headers: { 'x-request-id': 'trace-123', cookie: 'session=abc' } },
      );
    const sent = upstream.requests.at(-1)!;
    assert.equal(sent.headers.authorization, 'Bearer upstream-secret-key');
    assert.equal(sent.headers['x-request-id'], 'trace-123');
    assert.equal(sent.headers.cookie, undefined);
    assert.ok(!JSON.stringify(sent.headers).includes(TEST_KEY));
  });

  it('translates a request to Ollama and its answer back', async () => {
    const completion = await running.client().chat.completions.create({
      model: 'llama',
      messages: [
        { role: 'system', content: 'Be brief' },
        { role: 'user', content: 'Hi' },
      ],
      temperature: 0.3,
      top_p: 0.9,
      max_tokens: 50,
      stop: ['END'],
      seed: 42,
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.choices[0]?.message.content, STAND_IN_TOKENS.join(''));
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    assert.deepEqual(completion.usage, STAND_IN_USAGE);
    const sent = upstream.requests.at(-1)!;
    assert.equal(sent.path, '/api/chat');
    assert.equal(sent.body?.['model'], 'llama3.2:1b');
    assert.equal(sent.body?.['stream'], false);
    assert.deepEqual(sent.body?.['options'], {
      temperature: 0.3,
      top_p: 0.9,
      seed: 42,
      num_predict: 50,
      stop: ['END'],
    });
    assert.equal(sent.headers.authorization, undefined);
  });

  for (const model of ['qwen', 'llama', 'demo']) {
    it(`streams chunks from the ${model} route, with usage when asked, ending in [DONE]`, async () => {
      const stream = await running.client().chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Stream please' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let usage: unknown = null;
      let finish: string | null = null;
      for await (const chunk of stream) {
        assert.equal(chunk.object, 'chat.completion.chunk');
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(finish, 'stop');
      if (model === 'demo') {
        assert.match(text, /demo model/);
        assert.ok(usage !== null);
      } else {
        assert.equal(text, STAND_IN_TOKENS.join(''));
        assert.deepEqual(usage, STAND_IN_USAGE);
      }
    });
  }

  it('omits the usage chunk when the client did not ask for it, yet logs the tokens', async () => {
    const response = await fetch(`${running.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TEST_KEY}`,
        'content-type': 'application/json',
        'x-request-id': 'no-usage-1',
      },
      body: JSON.stringify({ model: 'llama', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(response.headers.get('x-accel-buffering'), 'no');
    assert.equal(response.headers.get('content-encoding'), null);
    const text = await response.text();
    assert.ok(text.endsWith('data: [DONE]\n\n'));
    assert.ok(!text.includes('"usage"'));
    const line = await waitForLog(running, (entry) => entry['request_id'] === 'no-usage-1');
    assert.equal(line['prompt_tokens'], STAND_IN_USAGE.prompt_tokens);
    assert.equal(line['completion_tokens'], STAND_IN_USAGE.completion_tokens);
    assert.equal(line['stream'], true);
  });

  it('translates Ollama NDJSON as it arrives, before the upstream has finished', async () => {
    upstream.behaviour = { kind: 'stream-silent-after', chunks: 2 };
    try {
      const stream = await running.client().chat.completions.create({
        model: 'llama',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: true,
      });
      const iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      const second = await iterator.next();
      // The upstream has sent two lines and is now silent: both arrived translated, nothing waited for the end.
      assert.equal(first.value?.choices[0]?.delta.content, STAND_IN_TOKENS[0]);
      assert.equal(second.value?.choices[0]?.delta.content, STAND_IN_TOKENS[1]);
      stream.controller.abort();
    } finally {
      upstream.behaviour = { kind: 'normal' };
    }
  });

  it('creates embeddings through both backends, float and base64 (the SDK default)', async () => {
    for (const model of ['qwen', 'llama', 'demo']) {
      const defaultEncoding = await running.client().embeddings.create({ model, input: ['one', 'three'] });
      assert.equal(defaultEncoding.data.length, 2);
      assert.ok(Array.isArray(defaultEncoding.data[0]?.embedding));
      const floats = await running
        .client()
        .embeddings.create({ model, input: 'one', encoding_format: 'float' });
      assert.equal(floats.data.length, 1);
      assert.ok(typeof floats.data[0]?.embedding[0] === 'number');
      if (model !== 'demo') assert.deepEqual(floats.data[0]?.embedding, [3, 0.5, -0.25]);
    }
  });

  it('lists the models a key may use', async () => {
    const page = await running.client().models.list();
    assert.deepEqual(
      page.data.map((model) => model.id),
      ['demo', 'llama', 'qwen'],
    );
  });
});
