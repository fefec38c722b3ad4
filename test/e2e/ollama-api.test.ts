/**
 * Ollama's API on the gateway, through the real `ollama` npm client (ollama-js) pointed at the gateway as
 * its host with a gateway key, against scripted upstreams behind an `openai` backend and an `ollama`
 * backend: the same client calls must give the same answers whichever backend serves them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ollama } from 'ollama';
import {
  SCRIPTED_CALLS,
  SCRIPTED_JSON,
  SCRIPTED_REASONED_ANSWER,
  SCRIPTED_REASONING,
  SCRIPTED_TEXT,
  SCRIPTED_USAGE,
  ScriptedUpstream,
  imagesSeen,
  toolSaid,
} from '../support/scripted-upstream.js';
import { StandInUpstream } from '../support/stand-in-upstream.js';
import {
  RESTRICTED_KEY,
  TEST_KEY,
  startGateway,
  testConfig,
  type RunningGateway,
} from '../support/gateway-harness.js';

/** A 1x1 PNG, base64: what an Ollama client sends in `images`. */
const PIXEL =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

const WEATHER_TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      description: 'The time in a zone',
      parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
    },
  },
];

/** RFC 3339 in UTC with up to nine fractional digits, as Go prints time.Time. */
const CREATED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

function client(url: string, key = TEST_KEY): Ollama {
  return new Ollama({ host: url, headers: { Authorization: `Bearer ${key}` } });
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const part of stream) out.push(part);
  return out;
}

for (const backend of ['openai', 'ollama'] as const) {
  describe(`Ollama's API through ollama-js, ${backend} backend`, () => {
    let upstream: ScriptedUpstream;
    let running: RunningGateway;
    let ollama: Ollama;
    const model = 'scripted';

    before(async () => {
      upstream = await ScriptedUpstream.start();
      running = await startGateway(
        testConfig({
          backends: [
            {
              name: 'up',
              type: backend,
              url: backend === 'openai' ? upstream.openAiUrl : upstream.ollamaUrl,
            },
          ],
          models: [
            { name: model, targets: [{ backend: 'up', model: 'upstream-model' }] },
            { name: 'embedder', targets: [{ backend: 'up', model: 'upstream-embedder' }] },
          ],
        }),
        {},
        { logLevel: 'silent' },
      );
      ollama = client(running.url);
    });
    after(async () => {
      await running.stop();
      await upstream.close();
    });

    it('streams a chat with parallel tools: two separate calls, arguments as objects', async () => {
      const parts = await collect(
        await ollama.chat({
          model,
          stream: true,
          messages: [{ role: 'user', content: 'Weather and time? scenario:parallel_tools' }],
          tools: WEATHER_TOOLS,
        }),
      );
      const withCalls = parts.filter((part) => (part.message.tool_calls ?? []).length > 0);
      assert.equal(withCalls.length, 2, 'each call on a line of its own');
      const calls = withCalls.map((part) => part.message.tool_calls?.[0]);
      assert.deepEqual(
        calls.map((call) => ({ name: call?.function.name, arguments: call?.function.arguments })),
        SCRIPTED_CALLS.parallel_tools.map((call) => ({ name: call.name, arguments: call.arguments })),
      );
      for (const call of calls) assert.equal(typeof call?.function.arguments, 'object');
      const last = parts.at(-1)!;
      assert.equal(last.done, true);
      assert.equal(last.done_reason, 'stop');
      assert.equal(last.prompt_eval_count, SCRIPTED_USAGE.prompt_tokens);
      assert.equal(last.eval_count, SCRIPTED_USAGE.completion_tokens);
      assert.ok(last.total_duration > 0);
      for (const part of parts) {
        assert.equal(part.model, model, 'the name the client asked for, on every line');
        assert.match(String(part.created_at), CREATED_AT);
      }
      const sent = upstream.requests.at(-1)!;
      assert.deepEqual(
        (sent.body['tools'] as { function: { name: string } }[]).map((tool) => tool.function.name),
        ['get_weather', 'get_time'],
      );
    });

    it('answers a tool result sent back without ids (Ollama clients send tool_name only)', async () => {
      const answer = await ollama.chat({
        model,
        messages: [
          { role: 'user', content: 'Weather? scenario:tools' },
          {
            role: 'assistant',
            content: '',
            tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }],
          },
          { role: 'tool', content: 'Sunny, 21 C', tool_name: 'get_weather' },
        ],
        tools: WEATHER_TOOLS,
      });
      assert.equal(answer.message.content, toolSaid('Sunny, 21 C'));
      const sent = upstream.requests.at(-1)!.body['messages'] as Record<string, unknown>[];
      const assistant = sent.find((message) => message['role'] === 'assistant')!;
      const tool = sent.find((message) => message['role'] === 'tool')!;
      if (backend === 'openai') {
        const callId = (assistant['tool_calls'] as { id: string }[])[0]?.id;
        assert.ok(typeof callId === 'string' && callId !== '');
        assert.equal(tool['tool_call_id'], callId, 'the result is tied to the call it answers');
      } else {
        assert.equal(tool['tool_name'], 'get_weather');
        assert.deepEqual((assistant['tool_calls'] as { function: unknown }[])[0]?.function, {
          name: 'get_weather',
          arguments: { city: 'Paris' },
        });
      }
    });

    it('carries images (base64) to the backend', async () => {
      const answer = await ollama.chat({
        model,
        messages: [{ role: 'user', content: 'What is this? scenario:image', images: [PIXEL, PIXEL] }],
      });
      assert.equal(answer.message.content, imagesSeen(2));
      assert.equal(answer.done, true);
    });

    it('think: the reasoning comes back as thinking, streamed and not', async () => {
      const answer = await ollama.chat({
        model,
        think: true,
        messages: [{ role: 'user', content: 'Why? scenario:reasoning' }],
      });
      assert.equal(answer.message.thinking, SCRIPTED_REASONING);
      assert.equal(answer.message.content, SCRIPTED_REASONED_ANSWER);
      const sent = upstream.requests.at(-1)!.body;
      if (backend === 'openai') assert.equal(sent['reasoning_effort'], 'medium');
      else assert.equal(sent['think'], true);

      const parts = await collect(
        await ollama.chat({
          model,
          think: true,
          stream: true,
          messages: [{ role: 'user', content: 'Why? scenario:reasoning' }],
        }),
      );
      assert.equal(parts.map((part) => part.message.thinking ?? '').join(''), SCRIPTED_REASONING);
      assert.equal(parts.map((part) => part.message.content).join(''), SCRIPTED_REASONED_ANSWER);
      const firstText = parts.findIndex((part) => part.message.content !== '');
      const lastThinking = parts.findLastIndex((part) => (part.message.thinking ?? '') !== '');
      assert.ok(lastThinking < firstText, 'thinking comes before the answer');
    });

    it('format as a JSON schema reaches the backend as a schema', async () => {
      const schema = {
        type: 'object',
        properties: { answer: { type: 'integer' } },
        required: ['answer'],
      };
      const answer = await ollama.chat({
        model,
        format: schema,
        messages: [{ role: 'user', content: 'The answer? scenario:json' }],
      });
      assert.deepEqual(JSON.parse(answer.message.content), JSON.parse(SCRIPTED_JSON));
      const sent = upstream.requests.at(-1)!.body;
      if (backend === 'openai')
        assert.deepEqual(
          (sent['response_format'] as { json_schema: { schema: unknown } }).json_schema.schema,
          schema,
        );
      else assert.deepEqual(sent['format'], schema);
    });

    it('options: named ones mapped, Ollama-only ones passed on in options', async () => {
      await ollama.chat({
        model,
        messages: [{ role: 'user', content: 'Hi' }],
        options: { temperature: 0.3, num_predict: 42, top_k: 5, stop: ['\n\n'], num_ctx: 8192 },
        keep_alive: '10m',
      });
      const sent = upstream.requests.at(-1)!.body;
      if (backend === 'openai') {
        assert.equal(sent['temperature'], 0.3);
        assert.equal(sent['max_tokens'], 42);
        assert.equal(sent['top_k'], 5);
        assert.deepEqual(sent['stop'], ['\n\n']);
        assert.deepEqual(sent['options'], { num_ctx: 8192 });
      } else {
        assert.deepEqual(sent['options'], {
          temperature: 0.3,
          num_predict: 42,
          top_k: 5,
          stop: ['\n\n'],
          num_ctx: 8192,
        });
      }
      assert.equal(sent['keep_alive'], '10m');
    });

    it('generate, streamed and not: the prompt as a user message, system as the system message', async () => {
      const whole = await ollama.generate({ model, prompt: 'Say hello', system: 'Be brief.' });
      assert.equal(whole.response, SCRIPTED_TEXT);
      assert.equal(whole.done, true);
      assert.equal(whole.done_reason, 'stop');
      assert.equal(whole.prompt_eval_count, SCRIPTED_USAGE.prompt_tokens);
      assert.equal(whole.context, undefined, 'no context: the gateway has no tokens to give');
      const sent = upstream.requests.at(-1)!.body['messages'] as { role: string; content: unknown }[];
      assert.deepEqual(
        sent.map((message) => [message.role, message.content]),
        [
          ['system', 'Be brief.'],
          ['user', 'Say hello'],
        ],
      );

      const parts = await collect(await ollama.generate({ model, prompt: 'Say hello', stream: true }));
      assert.ok(parts.length > 2);
      assert.equal(parts.map((part) => part.response).join(''), SCRIPTED_TEXT);
      assert.equal(parts.at(-1)?.done, true);
      assert.equal(parts.at(-1)?.eval_count, SCRIPTED_USAGE.completion_tokens);
    });

    it('generate with an empty prompt loads the model: done at once, nothing sent upstream', async () => {
      const before = upstream.requests.length;
      const answer = await ollama.generate({ model, prompt: '' });
      assert.equal(answer.done, true);
      assert.equal(answer.done_reason, 'load');
      assert.equal(answer.response, '');
      const chat = await ollama.chat({ model, messages: [] });
      assert.equal(chat.done_reason, 'load');
      assert.equal(upstream.requests.length, before);
    });

    it('embed and the older embeddings go through the embeddings pipeline', async () => {
      const embed = await ollama.embed({ model: 'embedder', input: ['one', 'two'] });
      assert.equal(embed.model, 'embedder');
      assert.deepEqual(embed.embeddings, [
        [0.5, -0.25, 0.125],
        [1.5, -0.25, 0.125],
      ]);
      assert.equal(embed.prompt_eval_count, 6);
      const sent = upstream.requests.at(-1)!;
      assert.equal(sent.path, backend === 'openai' ? '/v1/embeddings' : '/api/embed');
      assert.equal(sent.body['model'], 'upstream-embedder');

      const single = await ollama.embeddings({ model: 'embedder', prompt: 'one' });
      assert.deepEqual(single.embedding, [0.5, -0.25, 0.125]);
    });

    it('list, show, ps and version', async () => {
      const list = await ollama.list();
      assert.deepEqual(
        list.models.map((entry) => entry.name),
        [model, 'embedder'],
      );
      const first = list.models[0]!;
      assert.equal(first.model, model);
      assert.match(first.digest, /^[0-9a-f]{64}$/);
      assert.match(String(first.modified_at), CREATED_AT);
      assert.equal(typeof first.details.family, 'string');

      const show = await ollama.show({ model });
      assert.ok(show.capabilities.includes('completion'));
      assert.ok(show.capabilities.includes('tools'));
      assert.equal(typeof show.model_info, 'object');

      assert.deepEqual(await ollama.ps(), { models: [] });
      const { version } = await ollama.version();
      assert.match(version, /^0\.12\.\d+$/);
    });

    it('errors: a bad key throws with the message; an unknown model is a 404', async () => {
      await assert.rejects(
        client(running.url, 'sk-gw-wrongCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC').chat({
          model,
          messages: [{ role: 'user', content: 'Hi' }],
        }),
        (error: Error & { status_code?: number }) => {
          assert.equal(error.status_code, 401);
          assert.match(error.message, /key/i);
          return true;
        },
      );
      await assert.rejects(
        ollama.chat({ model: 'no-such-model', messages: [{ role: 'user', content: 'Hi' }] }),
        (error: Error & { status_code?: number }) => {
          assert.equal(error.status_code, 404);
          assert.equal(error.message, "model 'no-such-model' not found");
          return true;
        },
      );
      await assert.rejects(
        ollama.show({ model: 'no-such-model' }),
        (error: Error & { status_code?: number }) => {
          assert.equal(error.status_code, 404);
          return true;
        },
      );
    });
  });
}

describe("Ollama's API: probes, refusals and failures", () => {
  let upstream: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    running = await startGateway(
      testConfig({
        backends: [{ name: 'vllm', type: 'openai', url: `${upstream.url}/v1` }],
        models: [
          { name: 'stand-in-a', targets: [{ backend: 'vllm' }] },
          { name: 'other', targets: [{ backend: 'vllm' }] },
        ],
      }),
      {},
      { logLevel: 'silent' },
    );
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  it('answers "Ollama is running" on GET and HEAD /, with no key', async () => {
    const get = await fetch(`${running.url}/`);
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'Ollama is running');
    const head = await fetch(`${running.url}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const version = await fetch(`${running.url}/api/version`);
    assert.equal(version.status, 200);
  });

  it('keeps the key required on the routes that use or list models', async () => {
    for (const [method, path] of [
      ['GET', '/api/tags'],
      ['GET', '/api/ps'],
      ['POST', '/api/show'],
      ['POST', '/api/chat'],
    ] as const) {
      const response = await fetch(`${running.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: JSON.stringify({ model: 'stand-in-a' }) } : {}),
      });
      assert.equal(response.status, 401, path);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      const body = (await response.json()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), ['error'], `${path}: Ollama's error body`);
    }
  });

  it('lists only the models the key may use; show says 404 for the others', async () => {
    const restricted = client(running.url, RESTRICTED_KEY);
    const list = await restricted.list();
    assert.deepEqual(
      list.models.map((entry) => entry.name),
      ['stand-in-a'],
    );
    await assert.rejects(restricted.show({ model: 'other' }), (error: Error & { status_code?: number }) => {
      assert.equal(error.status_code, 404);
      assert.equal(error.message, "model 'other' not found");
      return true;
    });
  });

  it('refuses what it cannot map with a 400 naming the field', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['/api/generate', { model: 'stand-in-a', prompt: 'def f(', suffix: 'return x' }, /suffix/],
      ['/api/generate', { model: 'stand-in-a', prompt: 'Hi', context: [1, 2, 3] }, /context/],
      [
        '/api/chat',
        { model: 'stand-in-a', messages: [{ role: 'user', content: 'Hi' }], think: 'max' },
        /think/,
      ],
      [
        '/api/chat',
        { model: 'stand-in-a', messages: [{ role: 'wizard', content: 'Hi' }] },
        /messages\[0\]\.role/,
      ],
      [
        '/api/chat',
        {
          model: 'stand-in-a',
          messages: [{ role: 'user', content: 'Hi', images: ['data:image/png;base64,AAAA'] }],
        },
        /messages\[0\]\.images\[0\]/,
      ],
      [
        '/api/chat',
        { model: 'stand-in-a', messages: [{ role: 'user', content: 'Hi' }], options: { temperature: 'hot' } },
        /options\.temperature/,
      ],
    ];
    for (const [path, body, message] of cases) {
      const response = await fetch(`${running.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 400, JSON.stringify(body));
      const answer = (await response.json()) as { error: string };
      assert.match(answer.error, message);
    }
  });

  it('an upstream failure after the stream started is a last {"error"} line, which ollama-js throws', async () => {
    upstream.once({ kind: 'stream-cut-after', chunks: 2 });
    const stream = await client(running.url).chat({
      model: 'stand-in-a',
      stream: true,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const part of stream) seen.push(part.message.content);
      })(),
      (error: Error) => {
        assert.ok(error.message.length > 0);
        return true;
      },
    );
    assert.ok(seen.join('').length > 0, 'the lines before the failure arrived');
  });

  it('an upstream failure before the stream started is the status and {"error"}', async () => {
    upstream.once({ kind: 'status', status: 500, body: '{"error":{"message":"boom"}}' });
    const response = await fetch(`${running.url}/api/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stand-in-a', messages: [{ role: 'user', content: 'Hi' }] }),
    });
    assert.equal(response.status, 502);
    assert.ok(response.headers.get('x-request-id'));
    const body = (await response.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['error']);
  });
});
