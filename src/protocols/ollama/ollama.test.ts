import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ChatCompletionChunk } from '../../api/schemas.js';
import type { Answer, StreamEvent } from '../../conversation/model.js';
import { InvalidRequestError, UpstreamError } from '../../errors/errors.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import { ChunkDecoder } from '../openai-chat/stream-events.js';
import { AnswerAccumulator } from '../../conversation/events.js';
import { ollamaErrorShape } from './errors.js';
import { chatAnswer, createdAt, generateAnswer, loadAnswer } from './from-conversation.js';
import { OllamaStreamEncoder } from './stream-events.js';
import {
  chatToConversation,
  generateToConversation,
  imageMediaType,
  splitOptions,
  toReasoning,
  toResponseFormat,
  unloads,
  wantsStream,
} from './to-conversation.js';

type Json = Record<string, unknown>;

const FIXTURES = new URL('./fixtures/', import.meta.url);

function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8');
}

function jsonFixture(name: string): Json {
  return JSON.parse(fixture(name)) as Json;
}

function ndjson(text: string): Json[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Json);
}

/** The chunks of an SSE transcript (`data: {...}` events; `[DONE]` ends it). */
function sseChunks(text: string): ChatCompletionChunk[] {
  return text
    .split('\n\n')
    .map((event) => event.trim())
    .filter((event) => event.startsWith('data: ') && event !== 'data: [DONE]')
    .map((event) => JSON.parse(event.slice('data: '.length)) as ChatCompletionChunk);
}

/**
 * A line with what differs between two runs replaced: timestamps, durations, call ids, the model name.
 * Key order is kept, so that JSON.stringify compares it too.
 */
function normalise(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => normalise(item));
  if (value !== null && typeof value === 'object') {
    const out: Json = {};
    for (const [name, item] of Object.entries(value)) out[name] = normalise(item, name);
    return out;
  }
  if (key === 'created_at') return 'T';
  if (key === 'model') return 'M';
  if (key === 'id' && typeof value === 'string') return 'ID';
  if (key.endsWith('_duration')) return 0;
  return value;
}

/** Feeds a carrier transcript through the decoder and an encoder, as the pipeline does. */
function encode(sse: string, endpoint: 'chat' | 'generate', clock?: () => bigint): string {
  const decoder = new ChunkDecoder();
  const encoder = new OllamaStreamEncoder(endpoint, 'qwen3', 0n, clock);
  const accumulator = new AnswerAccumulator();
  let out = '';
  const pass = (events: StreamEvent[]): void => {
    for (const event of events) accumulator.add(event);
    out += encoder.events(events);
  };
  for (const chunk of sseChunks(sse)) pass(decoder.decode(chunk));
  pass(decoder.end());
  return out + encoder.end(accumulator.result());
}

function refusal(fn: () => unknown, param: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InvalidRequestError);
    assert.equal(error.param, param);
    return true;
  });
}

describe('Ollama requests → the conversation model', () => {
  it("takes the API reference's chat-with-tools request", () => {
    const conversation = chatToConversation(jsonFixture('chat-request-tools.json') as never);
    assert.equal(conversation.model, 'llama3.2');
    assert.equal(conversation.stream, false);
    assert.deepEqual(conversation.messages, [
      { role: 'user', parts: [{ type: 'text', text: 'What is the weather today in Paris?' }] },
    ]);
    assert.equal(conversation.tools?.[0]?.name, 'get_current_weather');
    assert.deepEqual(conversation.tools?.[0]?.parameters['required'], ['location', 'format']);
  });

  it('ties tool results sent by name only to the calls they answer, in any order', () => {
    const conversation = chatToConversation(jsonFixture('chat-request-history.json') as never);
    const [system, user, , , assistant, time, weather] = conversation.messages;
    assert.deepEqual(system, {
      role: 'system',
      parts: [{ type: 'text', text: 'You are a weather assistant.' }],
    });
    assert.equal(user?.parts[1]?.type, 'image');
    assert.equal((user?.parts[1] as { mediaType: string }).mediaType, 'image/png');
    assert.deepEqual(assistant?.parts[0], { type: 'reasoning', text: 'I should call both tools.' });
    const calls = assistant.parts.filter((part) => part.type === 'tool_call');
    assert.deepEqual(
      calls.map((call) => [call.name, JSON.parse(call.arguments) as unknown]),
      [
        ['get_current_weather', { location: 'Paris, FR', format: 'celsius' }],
        ['get_time', { zone: 'Asia/Tokyo' }],
      ],
    );
    const timeResult = time?.parts[0] as { callId: string; name: string };
    const weatherResult = weather?.parts[0] as { callId: string; name: string };
    assert.equal(timeResult.callId, calls[1]?.id);
    assert.equal(weatherResult.callId, calls[0]?.id);
    assert.equal(timeResult.name, 'get_time');
    // Ollama's own options travel apart; the named ones are options of the model.
    assert.deepEqual(conversation.options.temperature, 0);
    assert.deepEqual(conversation.options.seed, 101);
    assert.deepEqual(conversation.options.reasoning, { effort: 'medium' });
    assert.deepEqual(conversation.extra, {
      options: { num_ctx: 8192, repeat_penalty: 1.1 },
      keep_alive: '5m',
    });
    assert.equal(conversation.stream, true, 'Ollama streams unless told not to');
    // The carrier: OpenAI messages with ids that tie each tool result to its call.
    const carrier = toChatRequest(conversation) as unknown as { messages: Json[] };
    const tools = carrier.messages.filter((message) => message['role'] === 'tool');
    assert.deepEqual(
      tools.map((message) => message['tool_call_id']),
      [calls[1]?.id, calls[0]?.id],
    );
  });

  it('generate: prompt as a user message, system apart, images with the prompt', () => {
    const conversation = generateToConversation({
      model: 'llava',
      prompt: 'What is in this picture?',
      system: 'Be brief.',
      images: ['/9j/4AAQSkZJRg=='],
      raw: true,
      stream: false,
    });
    assert.deepEqual(conversation.system, [{ type: 'text', text: 'Be brief.' }]);
    assert.deepEqual(conversation.messages, [
      {
        role: 'user',
        parts: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image', data: '/9j/4AAQSkZJRg==', mediaType: 'image/jpeg' },
        ],
      },
    ]);
  });

  it('refuses what it cannot map, naming the field', () => {
    refusal(() => generateToConversation({ model: 'm', prompt: 'def f(', suffix: '  return x' }), 'suffix');
    refusal(
      () => generateToConversation({ model: 'm', prompt: 'Hi', template: '{{ .Prompt }}' }),
      'template',
    );
    refusal(() => generateToConversation({ model: 'm', prompt: 'Hi', context: [1, 2] }), 'context');
    refusal(
      () => chatToConversation({ model: 'm', messages: [{ role: 'robot', content: 'x' }] }),
      'messages[0].role',
    );
    refusal(
      () => chatToConversation({ model: 'm', messages: [{ role: 'user', content: 'x', images: [42] }] }),
      'messages[0].images[0]',
    );
    refusal(
      () =>
        chatToConversation({
          model: 'm',
          messages: [
            { role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: '[1]' } }] },
          ],
        }),
      'messages[0].tool_calls[0].function.arguments',
    );
    refusal(
      () => chatToConversation({ model: 'm', messages: [], tools: [{ type: 'function' }] }),
      'tools[0]',
    );
    refusal(() => chatToConversation({ model: 'm', messages: [], stream: 'yes' }), 'stream');
    refusal(() => splitOptions({ num_predict: 1.5 }), 'options.num_predict');
    refusal(() => splitOptions({ stop: [1] }), 'options.stop');
    refusal(() => toResponseFormat('yaml'), 'format');
    refusal(() => toReasoning('max'), 'think');
  });

  it('maps options, format, think and keep_alive as documented', () => {
    assert.deepEqual(splitOptions({ num_predict: -1, stop: 'END', top_k: 4, mirostat: 2 }), {
      generation: { topK: 4, stop: ['END'] },
      ollamaOnly: { mirostat: 2 },
    });
    assert.deepEqual(splitOptions({ num_predict: 64 }).generation, { maxTokens: 64 });
    assert.deepEqual(toResponseFormat('json'), { type: 'json_object' });
    assert.equal(toResponseFormat(''), undefined);
    assert.deepEqual(toResponseFormat({ type: 'object' }), {
      type: 'json_schema',
      name: 'response',
      schema: { type: 'object' },
    });
    assert.deepEqual(toReasoning(false), { effort: 'none' });
    assert.deepEqual(toReasoning('high'), { effort: 'high' });
    assert.equal(wantsStream(undefined), true);
    assert.equal(wantsStream(false), false);
    assert.equal(unloads(0), true);
    assert.equal(unloads('0s'), true);
    assert.equal(unloads('5m'), false);
    assert.equal(unloads(undefined), false);
    assert.equal(imageMediaType('R0lGODlhAQABAAAAACw='), 'image/gif');
    assert.equal(imageMediaType('UklGRh4AAABXRUJQ'), 'image/webp');
  });
});

describe('think: false', () => {
  it("travels as Ollama's own think: false, not as reasoning effort none (which vLLM refuses)", () => {
    const conversation = chatToConversation({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      think: false,
    });
    assert.equal(conversation.options.reasoning, undefined);
    assert.deepEqual(conversation.extra, { think: false });
    const carrier = toChatRequest(conversation);
    assert.equal(carrier['reasoning_effort'], undefined);
    assert.equal(carrier['think'], false);
    const on = toChatRequest(
      chatToConversation({ model: 'm', messages: [{ role: 'user', content: 'hi' }], think: 'high' }),
    );
    assert.equal(on['reasoning_effort'], 'high');
  });
});

describe('answers → Ollama bodies', () => {
  const toolAnswer: Answer = {
    id: 'chatcmpl-1',
    model: 'upstream-name',
    created: 1,
    choices: [
      {
        index: 0,
        parts: [
          {
            type: 'tool_call',
            id: 'call_1',
            name: 'get_current_weather',
            arguments: '{"format":"celsius","location":"Paris, FR"}',
          },
        ],
        finishReason: 'tool_calls',
      },
    ],
    usage: { inputTokens: 122, outputTokens: 33 },
  };

  it("writes a chat answer as the API reference's, key for key and in order", () => {
    const body = chatAnswer(toolAnswer, 'llama3.2', { startedAt: 0n, firstTokenAt: null }, 885_095_291n);
    assert.equal(
      JSON.stringify(normalise(body)),
      JSON.stringify(normalise(jsonFixture('chat-answer-tools.json'))),
    );
    assert.equal(body['total_duration'], 885_095_291);
    assert.equal(body['prompt_eval_count'], 122);
    assert.equal(body['eval_count'], 33);
    assert.equal(body['model'], 'llama3.2', 'the name the client asked for, not the upstream one');
  });

  it('says length when the token limit cut the answer', () => {
    const cut: Answer = {
      ...toolAnswer,
      choices: [{ index: 0, parts: [{ type: 'text', text: 'The sky' }], finishReason: 'length' }],
    };
    const body = generateAnswer(cut, 'm', { startedAt: 0n, firstTokenAt: null }, 10n);
    assert.equal(body['response'], 'The sky');
    assert.equal(body['done_reason'], 'length');
    assert.equal(body['context'], undefined);
  });

  it('answers a load call as Ollama does', () => {
    const body = loadAnswer('generate', 'llama3.2', 'load', 5n);
    assert.equal(
      JSON.stringify(normalise(body)),
      JSON.stringify(normalise(jsonFixture('generate-load.json'))),
    );
  });

  it('a tool call whose arguments are not an object is a 502, not a broken body', () => {
    const broken: Answer = {
      ...toolAnswer,
      choices: [
        {
          index: 0,
          parts: [{ type: 'tool_call', id: 'c', name: 'f', arguments: '{"a":' }],
          finishReason: 'tool_calls',
        },
      ],
    };
    assert.throws(
      () => chatAnswer(broken, 'm', { startedAt: 0n, firstTokenAt: null }, 1n),
      (error: unknown) => error instanceof UpstreamError && error.status === 502,
    );
  });

  it('prints created_at as Go prints time.Time: UTC, up to nine digits, trailing zeros dropped', () => {
    const stamp = createdAt(process.hrtime.bigint());
    assert.match(stamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,8}[1-9])?Z$/);
    assert.ok(Math.abs(Date.parse(stamp) - Date.now()) < 1000);
  });

  it('writes errors as Ollama\'s {"error"} body', () => {
    const shape = ollamaErrorShape(new InvalidRequestError('bad'), '/api/chat', 'req-1');
    assert.equal(shape.body, '{"error":"bad"}');
    assert.match(shape.contentType, /^application\/json/);
  });
});

describe('stream events → Ollama NDJSON', () => {
  it('writes each tool call whole, on its own line, as Ollama streams them', () => {
    const lines = ndjson(encode(fixture('carrier-parallel-tools.sse'), 'chat'));
    const expected = ndjson(fixture('chat-stream-tools.ndjson'));
    assert.equal(lines.length, expected.length);
    assert.equal(
      JSON.stringify(lines.map((line) => normalise(line))),
      JSON.stringify(expected.map((line) => normalise(line))),
    );
    // The carrier's call ids are kept (a tool result refers to them).
    const ids = lines
      .flatMap((line) => ((line['message'] as Json)['tool_calls'] as Json[] | undefined) ?? [])
      .map((call) => call['id']);
    assert.deepEqual(ids, ['chatcmpl-tool-a1', 'chatcmpl-tool-b2']);
  });

  it('writes text deltas as content lines and the counts on the done line', () => {
    const sse = [
      'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"The"},"finish_reason":null}]}',
      'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" sky"},"finish_reason":null}]}',
      'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":26,"completion_tokens":282,"total_tokens":308}}',
      'data: [DONE]',
    ].join('\n\n');
    const lines = ndjson(encode(sse, 'chat'));
    const expected = ndjson(fixture('chat-stream.ndjson'));
    assert.equal(
      JSON.stringify(lines.map((line) => normalise(line))),
      JSON.stringify(expected.map((line) => normalise(line))),
    );
  });

  it('writes thinking and response lines for /api/generate, as Ollama streams gpt-oss', () => {
    const lines = ndjson(encode(fixture('carrier-reasoning.sse'), 'generate'));
    const expected = ndjson(fixture('generate-stream-thinking.ndjson'));
    assert.equal(
      JSON.stringify(lines.map((line) => normalise(line))),
      JSON.stringify(expected.map((line) => normalise(line))),
    );
  });

  it('measures the wait for the first token as prompt_eval_duration, the rest as eval_duration', () => {
    let now = 0n;
    const clock = (): bigint => (now += 1_000n);
    const lines = ndjson(encode(fixture('carrier-reasoning.sse'), 'generate', clock));
    const last = lines.at(-1)!;
    assert.equal(last['prompt_eval_duration'], 1_000);
    assert.equal(
      (last['prompt_eval_duration'] as number) + (last['eval_duration'] as number),
      last['total_duration'],
    );
    assert.equal(last['load_duration'], 0);
  });

  it('a call whose arguments are not an object ends the stream with an error line, and nothing after it', () => {
    const encoder = new OllamaStreamEncoder('chat', 'm', 0n);
    let out = encoder.events([
      { type: 'start', id: 'c', model: 'm', created: 1 },
      { type: 'tool_call_start', choice: 0, call: 0, id: 'c0', name: 'f' },
      { type: 'tool_call_delta', choice: 0, call: 0, arguments: '{"a":' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
    ]);
    out += encoder.end({ id: 'c', model: 'm', created: 1, choices: [] });
    out += encoder.error(new UpstreamError('late'));
    const lines = ndjson(out);
    assert.equal(lines.length, 1);
    assert.match(String(lines[0]?.['error']), /'f'/);
  });

  it('an error after the stream started is a last {"error"} line', () => {
    const encoder = new OllamaStreamEncoder('chat', 'm', 0n);
    assert.equal(encoder.error(new UpstreamError('Backend failed')), '{"error":"Backend failed"}\n');
    assert.equal(encoder.contentType, 'application/x-ndjson');
    assert.equal(encoder.comments, false);
  });

  it('carries logprobs on the line of the text they belong to', () => {
    const encoder = new OllamaStreamEncoder('chat', 'm', 0n);
    const lines = ndjson(
      encoder.events([
        { type: 'text', choice: 0, text: 'Hi' },
        { type: 'logprobs', choice: 0, content: [{ token: 'Hi', logprob: -0.5, top_logprobs: [] }] },
      ]),
    );
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0]?.['logprobs'], [{ token: 'Hi', logprob: -0.5, top_logprobs: [] }]);
  });
});
