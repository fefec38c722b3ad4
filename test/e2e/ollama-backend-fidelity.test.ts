/**
 * The Ollama translation as real clients see it (issue 18): parallel tool calls streamed one per line,
 * their finish reason, reasoning (think / thinking), logprobs, tool results named by tool_call_id, Ollama's
 * own parameters, and fields Ollama cannot honour (400, or dropped with drop_unsupported). A gateway on
 * loopback in front of a small Ollama stand-in that speaks /api/chat's exact wire format: NDJSON lines
 * `{"model","created_at","message":{...},"done":false}` ending in a done line with the counts and durations
 * (docs/api.md and api/types.go of ollama/ollama).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import type { UpstreamCall } from '../../src/backends/adapter.js';
import { OllamaAdapter } from '../../src/backends/ollama/ollama-adapter.js';
import { validateConfig } from '../../src/config/load.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';

const CREATED_AT = '2026-03-02T10:15:42.123456789Z';

/** A message line of Ollama's answer (the model and time are filled in from the request). */
type Line = Record<string, unknown>;

function messageLine(message: Record<string, unknown>, extra: Record<string, unknown> = {}): Line {
  return { message: { role: 'assistant', content: '', ...message }, done: false, ...extra };
}

/** The last line: no calls, no content, the counts and the durations in nanoseconds. */
function doneLine(extra: Record<string, unknown> = {}): Line {
  return {
    message: { role: 'assistant', content: '' },
    done: true,
    done_reason: 'stop',
    total_duration: 1_843_512_000,
    load_duration: 21_004_000,
    prompt_eval_count: 42,
    prompt_eval_duration: 120_331_000,
    eval_count: 17,
    eval_duration: 1_702_177_000,
    ...extra,
  };
}

/** The whole answer of a `stream: false` call: one object, the message whole, the done line's fields. */
function wholeAnswer(message: Record<string, unknown>, extra: Record<string, unknown> = {}): Line {
  return { ...doneLine(extra), message: { role: 'assistant', content: '', ...message } };
}

/**
 * An Ollama stand-in: /api/chat answers each request with the next scripted reply, as NDJSON lines
 * (`stream` absent or true, Ollama's default) or as one JSON object (`stream: false`).
 */
class OllamaWire {
  readonly requests: Record<string, unknown>[] = [];
  private readonly replies: Line[][] = [];
  private readonly server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      void this.handle(request, response);
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

  /** The next request's reply: its lines when streamed; when not, the one object (a single line). */
  reply(...lines: Line[]): void {
    this.replies.push(lines);
  }

  last(): Record<string, unknown> {
    const body = this.requests.at(-1);
    assert.ok(body !== undefined, 'the stand-in received no request');
    return body;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.url !== '/api/chat' || request.method !== 'POST') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    this.requests.push(body);
    const lines = this.replies.shift();
    if (lines === undefined) {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'no scripted reply' }));
      return;
    }
    const stamp = (line: Line): string =>
      JSON.stringify({ model: body['model'], created_at: CREATED_AT, ...line });
    if (body['stream'] === false) {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      response.end(stamp(lines[0] ?? {}));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (const line of lines) {
      await new Promise<void>((resolve) => response.write(`${stamp(line)}\n`, () => resolve()));
    }
    response.end();
  }
}

const WEATHER_TOOL: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

const ASK_WEATHER: ChatCompletionMessageParam[] = [
  { role: 'user', content: 'What is the weather in Paris and in Tokyo?' },
];

/** Request fields the openai SDK does not type: Ollama's own, or ones Ollama cannot honour. */
function streaming(fields: Record<string, unknown>): ChatCompletionCreateParamsStreaming {
  return { ...fields, stream: true } as unknown as ChatCompletionCreateParamsStreaming;
}

function whole(fields: Record<string, unknown>): ChatCompletionCreateParamsNonStreaming {
  return fields as unknown as ChatCompletionCreateParamsNonStreaming;
}

/** What the gateway sends beside the OpenAI fields the SDK types. */
interface Extras {
  reasoning_content?: string;
  logprobs?: {
    content: { token: string; logprob: number; bytes: number[] | null; top_logprobs: unknown[] }[];
  };
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

describe('Ollama backend fidelity (issue 18)', () => {
  let ollama: OllamaWire;
  let running: RunningGateway;
  let client: OpenAI;

  before(async () => {
    ollama = new OllamaWire();
    const url = await ollama.start();
    running = await startGateway(
      testConfig({
        backends: [
          { name: 'gpu-box', type: 'ollama', url },
          { name: 'gpu-box-lenient', type: 'ollama', url, drop_unsupported: true },
        ],
        models: [
          { name: 'qwen3', targets: [{ backend: 'gpu-box', model: 'qwen3:8b' }] },
          { name: 'gpt-oss', targets: [{ backend: 'gpu-box', model: 'gpt-oss:20b' }] },
          { name: 'lenient', targets: [{ backend: 'gpu-box-lenient', model: 'qwen3:8b' }] },
        ],
      }),
    );
    client = running.client();
  });
  after(async () => {
    await running.stop();
    await ollama.stop();
  });
  beforeEach(() => {
    ollama.requests.length = 0;
  });

  const FORMATS = [
    {
      name: 'Ollama 0.12 and later: an id and function.index on each call',
      call: (index: number, city: string) => ({
        id: `call_${index === 0 ? 'p4r1s0aa' : 't0ky0bbb'}`,
        function: { index, name: 'get_weather', arguments: { city } },
      }),
    },
    {
      name: 'older Ollama: neither',
      call: (_index: number, city: string) => ({ function: { name: 'get_weather', arguments: { city } } }),
    },
  ];

  for (const format of FORMATS) {
    it(`streams two parallel tool calls sent one per line as two calls (${format.name})`, async () => {
      ollama.reply(
        messageLine({ tool_calls: [format.call(0, 'Paris')] }),
        messageLine({ tool_calls: [format.call(1, 'Tokyo')] }),
        doneLine(),
      );
      const runner = client.chat.completions.stream({
        model: 'qwen3',
        messages: ASK_WEATHER,
        tools: [WEATHER_TOOL],
      });
      const chunks = await collect(runner);
      const final = await runner.finalChatCompletion();

      const choice = final.choices[0];
      assert.equal(choice?.finish_reason, 'tool_calls');
      const calls = (choice?.message.tool_calls ?? []).map((call) => {
        assert.equal(call.type, 'function');
        return call;
      });
      assert.deepEqual(
        calls.map((call) => [call.function.name, JSON.parse(call.function.arguments)]),
        [
          ['get_weather', { city: 'Paris' }],
          ['get_weather', { city: 'Tokyo' }],
        ],
      );
      assert.ok(calls.every((call) => /^call_\w+$/.test(call.id)));
      assert.notEqual(calls[0]?.id, calls[1]?.id);

      // On the wire: each call whole in one delta (its arguments parse alone), numbered 0 then 1.
      const deltas = chunks.flatMap((chunk) => chunk.choices.flatMap((c) => c.delta.tool_calls ?? []));
      assert.deepEqual(
        deltas.map((delta) => [delta.index, JSON.parse(delta.function?.arguments ?? '')]),
        [
          [0, { city: 'Paris' }],
          [1, { city: 'Tokyo' }],
        ],
      );
      const sent = ollama.last();
      assert.equal(sent['stream'], true);
      assert.deepEqual(sent['tools'], [WEATHER_TOOL]);
    });
  }

  it('sends tool results answered by tool_call_id alone with the name of the call they answer', async () => {
    ollama.reply(wholeAnswer({ content: 'Sunny in Paris, rain in Tokyo.' }));
    const completion = await client.chat.completions.create({
      model: 'qwen3',
      messages: [
        ...ASK_WEATHER,
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_a1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'call_b2', type: 'function', function: { name: 'get_time', arguments: '{"zone":"JST"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_b2', content: '09:00' },
        { role: 'tool', tool_call_id: 'call_a1', content: 'sunny' },
      ],
      tools: [WEATHER_TOOL],
    });
    assert.equal(completion.choices[0]?.message.content, 'Sunny in Paris, rain in Tokyo.');
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
    const messages = ollama.last()['messages'] as Record<string, unknown>[];
    assert.deepEqual(messages[1]?.['tool_calls'], [
      { id: 'call_a1', function: { name: 'get_weather', arguments: { city: 'Paris' } } },
      { id: 'call_b2', function: { name: 'get_time', arguments: { zone: 'JST' } } },
    ]);
    assert.deepEqual(messages.slice(2), [
      { role: 'tool', content: '09:00', tool_name: 'get_time', tool_call_id: 'call_b2' },
      { role: 'tool', content: 'sunny', tool_name: 'get_weather', tool_call_id: 'call_a1' },
    ]);
  });

  it('streams thinking as delta.reasoning_content, asking gpt-oss to think at the requested level', async () => {
    ollama.reply(
      messageLine({ thinking: 'The user' }),
      messageLine({ thinking: ' greets me.' }),
      messageLine({ content: 'Hello' }),
      messageLine({ content: ' there' }),
      doneLine(),
    );
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'gpt-oss',
        messages: [{ role: 'user', content: 'Hi' }],
        reasoning_effort: 'high',
        stream: true,
      }),
    );
    const deltas = chunks.flatMap((chunk) =>
      chunk.choices.map((choice) => choice.delta as Extras & typeof choice.delta),
    );
    assert.equal(deltas.map((delta) => delta.reasoning_content ?? '').join(''), 'The user greets me.');
    assert.equal(deltas.map((delta) => delta.content ?? '').join(''), 'Hello there');
    assert.deepEqual(
      chunks
        .flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason))
        .filter((r) => r !== null),
      ['stop'],
    );
    const sent = ollama.last();
    assert.equal(sent['model'], 'gpt-oss:20b');
    assert.equal(sent['think'], 'high');
  });

  it('answers reasoning_content and logprobs when not streaming, and sends the reasoning back as thinking', async () => {
    const logprobs = [
      {
        token: 'Hi',
        logprob: -0.0123,
        bytes: [72, 105],
        top_logprobs: [
          { token: 'Hi', logprob: -0.0123, bytes: [72, 105] },
          { token: 'Hello', logprob: -4.5, bytes: [72, 101, 108, 108, 111] },
        ],
      },
    ];
    ollama.reply(wholeAnswer({ content: 'Hi', thinking: 'A greeting.' }, { logprobs }));
    const completion = await client.chat.completions.create(
      whole({
        model: 'qwen3',
        messages: [
          { role: 'user', content: 'Say hi' },
          { role: 'assistant', content: 'Hi', reasoning_content: 'Earlier thoughts.' },
          { role: 'user', content: 'Again' },
        ],
        reasoning_effort: 'low',
        logprobs: true,
        top_logprobs: 2,
      }),
    );
    const choice = completion.choices[0] as (typeof completion.choices)[number] & Extras;
    assert.equal((choice.message as typeof choice.message & Extras).reasoning_content, 'A greeting.');
    assert.deepEqual(choice.logprobs, { content: logprobs, refusal: null });
    const sent = ollama.last();
    assert.equal(sent['think'], true, 'a model that takes no levels is asked to think, not at a level');
    assert.equal(sent['logprobs'], true);
    assert.equal(sent['top_logprobs'], 2);
    assert.equal((sent['messages'] as Record<string, unknown>[])[1]?.['thinking'], 'Earlier thoughts.');
  });

  it("streams each line's logprobs on its chunk", async () => {
    ollama.reply(
      messageLine({ content: 'Hi' }, { logprobs: [{ token: 'Hi', logprob: -0.5, bytes: [72, 105] }] }),
      messageLine({ content: '!' }, { logprobs: [{ token: '!', logprob: -0.25, bytes: [33] }] }),
      doneLine(),
    );
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'qwen3',
        messages: [{ role: 'user', content: 'Hi' }],
        logprobs: true,
        stream: true,
      }),
    );
    const tokens = chunks.flatMap((chunk) =>
      chunk.choices.flatMap((choice) =>
        (choice.logprobs?.content ?? []).map((item) => [item.token, item.logprob]),
      ),
    );
    assert.deepEqual(tokens, [
      ['Hi', -0.5],
      ['!', -0.25],
    ]);
    assert.equal(ollama.last()['logprobs'], true);
  });

  it("passes Ollama's own parameters (keep_alive, options, top_k, think) and sends no tools for tool_choice none", async () => {
    ollama.reply(doneLine());
    await collect(
      await client.chat.completions.create(
        streaming({
          model: 'qwen3',
          messages: [{ role: 'user', content: 'Hi' }],
          temperature: 0.2,
          tools: [WEATHER_TOOL],
          tool_choice: 'none',
          keep_alive: '30m',
          top_k: 20,
          num_ctx: 4096,
          options: { num_ctx: 32768, temperature: 0.7 },
          think: false,
          reasoning_effort: 'high',
          user: 'user-123',
          metadata: { team: 'a' },
        }),
      ),
    );
    const sent = ollama.last();
    assert.equal('tools' in sent, false);
    assert.equal(sent['keep_alive'], '30m');
    assert.equal(sent['think'], false);
    assert.deepEqual(sent['options'], { temperature: 0.7, top_k: 20, num_ctx: 32768 });
  });

  it('refuses a field Ollama cannot honour with a 400 naming it, before anything reaches Ollama', async () => {
    for (const stream of [false, true]) {
      const error = await client.chat.completions
        .create(
          whole({
            model: 'qwen3',
            messages: [{ role: 'user', content: 'Hi' }],
            logit_bias: { '1734': -100 },
            stream,
          }),
        )
        .then(
          () => assert.fail('expected a 400'),
          (caught: unknown) => caught,
        );
      assert.ok(error instanceof OpenAI.BadRequestError, String(error));
      assert.equal(error.status, 400);
      assert.equal(error.param, 'logit_bias');
      assert.equal(error.code, 'invalid_request');
      assert.match(error.message, /Backend 'gpu-box' cannot honour 'logit_bias'/);
      assert.match(error.message, /set drop_unsupported: true on backend 'gpu-box'/);
    }
    const required = await client.chat.completions
      .create({ model: 'qwen3', messages: ASK_WEATHER, tools: [WEATHER_TOOL], tool_choice: 'required' })
      .catch((caught: unknown) => caught);
    assert.ok(required instanceof OpenAI.BadRequestError);
    assert.equal(required.param, 'tool_choice');
    assert.equal(ollama.requests.length, 0);
  });

  it('drops what Ollama cannot honour on a backend with drop_unsupported, and answers', async () => {
    ollama.reply(messageLine({ content: 'Hello' }), doneLine());
    const chunks = await collect(
      await client.chat.completions.create(
        streaming({
          model: 'lenient',
          messages: ASK_WEATHER,
          tools: [WEATHER_TOOL],
          tool_choice: 'required',
          logit_bias: { '1734': -100 },
          parallel_tool_calls: false,
        }),
      ),
    );
    assert.equal(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join(''), 'Hello');
    const sent = ollama.last();
    for (const field of ['tool_choice', 'logit_bias', 'parallel_tool_calls'])
      assert.equal(field in sent, false);
    assert.deepEqual(sent['tools'], [WEATHER_TOOL]);
  });
});

describe('OllamaAdapter reports what it dropped (issue 18)', () => {
  let ollama: OllamaWire;
  let url: string;

  before(async () => {
    ollama = new OllamaWire();
    url = await ollama.start();
  });
  after(async () => {
    await ollama.stop();
  });

  function adapter(dropUnsupported: boolean): OllamaAdapter {
    const config = validateConfig(
      { backends: [{ name: 'gpu-box', type: 'ollama', url, drop_unsupported: dropUnsupported }] },
      {},
    );
    return new OllamaAdapter(config.backends[0]!);
  }

  function call(told: (readonly string[])[]): UpstreamCall {
    const controller = new AbortController();
    return {
      signal: controller.signal,
      requestId: 'req-1',
      abort: (reason) => controller.abort(reason),
      onDropped: (fields) => told.push(fields),
    };
  }

  const REQUEST = {
    model: 'qwen3:8b',
    messages: [{ role: 'user' as const, content: 'Hi' }],
    logit_bias: { '1734': -100 },
    seed: 1,
    n: 2,
  };

  it('tells UpstreamCall.onDropped the fields it left out, once, for a call and for a stream', async () => {
    const lenient = adapter(true);
    try {
      const told: (readonly string[])[] = [];
      ollama.reply(wholeAnswer({ content: 'Hi' }));
      const completion = await lenient.chat(REQUEST, call(told));
      assert.equal(completion.choices[0]?.message.content, 'Hi');
      ollama.reply(messageLine({ content: 'Hi' }), doneLine());
      await collect(await lenient.chatStream(REQUEST, call(told)));
      assert.deepEqual(told, [
        ['logit_bias', 'n'],
        ['logit_bias', 'n'],
      ]);
      assert.deepEqual(
        ollama.requests.map((body) => [
          body['logit_bias'],
          (body['options'] as Record<string, unknown>)['seed'],
        ]),
        [
          [undefined, 1],
          [undefined, 1],
        ],
      );
    } finally {
      await lenient.close();
    }
  });

  it('tells nothing when nothing was dropped, and refuses without drop_unsupported', async () => {
    const strict = adapter(false);
    try {
      const told: (readonly string[])[] = [];
      ollama.reply(wholeAnswer({ content: 'Hi' }));
      await strict.chat({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'Hi' }] }, call(told));
      await assert.rejects(strict.chat(REQUEST, call(told)), {
        code: 'invalid_request',
        param: 'logit_bias',
      });
      assert.deepEqual(told, []);
    } finally {
      await strict.close();
    }
  });
});
