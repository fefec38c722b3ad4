/**
 * Round trips between OpenAI chat completions and the conversation model, as properties over generated
 * requests, answers and streams (fast-check):
 *
 * 1. request: toChatRequest(fromChatRequest(x)) deep-equals normalise(x) for every chat request within
 *    what chat completions and the model both express (normalise's rules below, each with its why);
 * 2. answer: toAnswer(fromAnswer(a)) deep-equals a for every answer chat completions can express;
 * 3. stream: the answer's events, cut into fragments (text, reasoning, tool call arguments), with
 *    parallel tool calls and choices interleaved, encoded as chunks (ChunkEncoder), sent as JSON,
 *    decoded (ChunkDecoder) and accumulated (AnswerAccumulator) give the answer back; and answerEvents
 *    survives the chunks unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../api/schemas.js';
import { AnswerAccumulator, answerEvents } from '../../conversation/events.js';
import type { Answer, StreamEvent } from '../../conversation/model.js';
import {
  answerArbitrary,
  anyText,
  fragmentedEvents,
  identifier,
  jsonObject,
  plain,
  streamable,
} from '../../../test/support/conversation-arbitraries.js';
import { toAnswer } from './answer.js';
import { ChunkEncoder, answerChunks } from './chunk-encoder.js';
import { toChatRequest } from './from-conversation.js';
import { ChunkDecoder } from './stream-events.js';
import { fromAnswer, fromChatRequest } from './to-conversation.js';

type Json = Record<string, unknown>;

const RUNS = { numRuns: 300 };

const text = anyText;
const base64 = fc.base64String({ minLength: 4, maxLength: 24 });

const textPart = fc.record({ type: fc.constant('text'), text });
const imagePart = fc.record(
  {
    type: fc.constant('image_url'),
    image_url: fc.record(
      {
        url: fc.oneof(
          fc
            .tuple(fc.constantFrom('image/png', 'image/jpeg', 'image/webp'), base64)
            .map(([mediaType, data]) => `data:${mediaType};base64,${data}`),
          fc.webUrl(),
          // Data URLs the model cannot split (no base64, parameters): they stay URLs, unchanged.
          fc.constantFrom('data:image/svg+xml,%3Csvg%2F%3E', 'data:image/png;charset=x;base64,AAAA'),
        ),
        detail: fc.constantFrom('auto', 'low', 'high'),
      },
      { requiredKeys: ['url'] },
    ),
  },
  { noNullPrototype: true },
);
const audioPart = fc.record({
  type: fc.constant('input_audio'),
  input_audio: fc.record({ data: base64, format: fc.constantFrom('wav', 'mp3') }),
});
const optionalName = fc.option(identifier, { nil: undefined });

function withName<T extends Json>(message: T, name: string | undefined): T {
  return name === undefined ? message : { ...message, name };
}

const systemMessage = fc
  .tuple(
    fc.constantFrom('system', 'developer'),
    fc.oneof(text, fc.array(textPart, { maxLength: 3 })),
    optionalName,
  )
  .map(([role, content, name]) => withName({ role, content }, name));

const userMessage = fc
  .tuple(
    fc.oneof(text, fc.array(fc.oneof(textPart, textPart, imagePart, audioPart), { maxLength: 4 })),
    optionalName,
  )
  .map(([content, name]) => withName({ role: 'user', content }, name));

const toolCall = fc.record({
  id: identifier,
  type: fc.constant('function'),
  function: fc.record({ name: identifier, arguments: fc.oneof(text, fc.json({ maxDepth: 2 })) }),
});

const assistantMessage = fc
  .record(
    {
      content: fc.oneof(text, fc.constant(null), fc.array(textPart, { maxLength: 2 })),
      tool_calls: fc.array(toolCall, { maxLength: 3 }),
      reasoning_content: text,
      name: identifier,
    },
    { requiredKeys: ['content'] },
  )
  .map((message) => ({ role: 'assistant', ...message }));

const toolMessage = fc
  .record(
    {
      tool_call_id: identifier,
      content: fc.oneof(text, fc.array(textPart, { maxLength: 2 })),
      name: identifier,
    },
    { requiredKeys: ['tool_call_id', 'content'] },
  )
  .map((message) => ({ role: 'tool', ...message }));

const functionTool = fc.record({
  type: fc.constant('function'),
  function: fc.record(
    { name: identifier, description: text, parameters: jsonObject, strict: fc.boolean() },
    { requiredKeys: ['name'] },
  ),
});
/** A tool the model has no shape for: the whole list then travels in extra. */
const customTool = fc.record({
  type: fc.constant('custom'),
  custom: fc.record({ name: identifier }),
});

const responseFormat = fc.oneof(
  fc.constantFrom({ type: 'text' }, { type: 'json_object' }),
  fc.record({
    type: fc.constant('json_schema'),
    json_schema: fc.record(
      { name: identifier, schema: jsonObject, strict: fc.boolean(), description: text },
      { requiredKeys: ['name', 'schema'] },
    ),
  }),
  // No schema: OpenAI allows it, the model does not; kept whole in extra.
  fc.record({ type: fc.constant('json_schema'), json_schema: fc.record({ name: identifier }) }),
);

const toolChoice = fc.oneof(
  fc.constantFrom('auto', 'none', 'required'),
  identifier.map((name) => ({ type: 'function', function: { name } })),
  // Another shape (allowed_tools): kept whole in extra.
  fc.constant({ type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [] } }),
);

function nullable<T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.option(arbitrary, { nil: null, freq: 4 });
}

const options = fc.record(
  {
    stream: fc.boolean(),
    max_tokens: nullable(fc.integer({ min: 1, max: 100_000 })),
    max_completion_tokens: fc.integer({ min: 1, max: 100_000 }),
    temperature: nullable(fc.double({ min: 0, max: 2, noNaN: true })),
    top_p: nullable(fc.double({ min: 0, max: 1, noNaN: true })),
    top_k: fc.integer({ min: 0, max: 100 }),
    stop: nullable(fc.oneof(text, fc.array(text, { maxLength: 4 }))),
    seed: nullable(fc.integer()),
    n: nullable(fc.integer({ min: 1, max: 8 })),
    presence_penalty: nullable(fc.double({ min: -2, max: 2, noNaN: true })),
    frequency_penalty: nullable(fc.double({ min: -2, max: 2, noNaN: true })),
    logprobs: nullable(fc.boolean()),
    top_logprobs: fc.integer({ min: 0, max: 20 }),
    parallel_tool_calls: fc.boolean(),
    response_format: responseFormat,
    reasoning_effort: fc.constantFrom('none', 'minimal', 'low', 'medium', 'high', 'xhigh'),
    tools: fc.oneof(
      fc.array(functionTool, { maxLength: 3 }),
      fc.tuple(functionTool, customTool).map((tools) => [...tools]),
    ),
    tool_choice: toolChoice,
    user: identifier,
    // Fields the model has no name for: passed through in extra.
    stream_options: fc.record({ include_usage: fc.boolean() }),
    x_vendor: fc.jsonValue({ maxDepth: 2 }),
    guided_choice: fc.array(identifier, { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

const chatRequest: fc.Arbitrary<Json> = fc
  .tuple(
    identifier,
    fc.array(fc.oneof(systemMessage, userMessage, assistantMessage, toolMessage), {
      minLength: 1,
      maxLength: 6,
    }),
    options,
  )
  .map(([model, messages, rest]) => plain({ model, messages, ...rest }));

/** The fields fromChatRequest reads into the model's own. */
const KNOWN = new Set([
  'stream',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'stop',
  'seed',
  'n',
  'presence_penalty',
  'frequency_penalty',
  'logprobs',
]);

function joinedText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as { text?: string }[]).map((part) => part.text ?? '').join('');
}

/**
 * What a chat request looks like after a trip through the model: the same request, written the one way
 * toChatRequest writes each thing. Each rule, and why it loses nothing a backend acts on:
 */
function normalise(request: Json): Json {
  const out: Json = {};
  for (const [field, value] of Object.entries(request)) {
    // null is OpenAI's "not given" for the fields the model reads, and stream: false the default: both
    // are left out. A field the model has no name for is passed on as it came, null or not.
    if ((value === null && KNOWN.has(field)) || (field === 'stream' && value === false)) continue;
    out[field] = value;
  }
  // max_completion_tokens is the model's maxTokens, written back as max_tokens (what every
  // OpenAI-compatible server and the Ollama adapter read), unless max_tokens was given too.
  if (out['max_completion_tokens'] !== undefined) {
    out['max_tokens'] ??= out['max_completion_tokens'];
    delete out['max_completion_tokens'];
  }
  // A single stop string is a list of one; an empty list is no stop.
  if (typeof out['stop'] === 'string') out['stop'] = [out['stop']];
  if (Array.isArray(out['stop']) && out['stop'].length === 0) delete out['stop'];
  const tools = out['tools'] as { type: string; function?: Json }[] | undefined;
  if (tools !== undefined && tools.every((tool) => tool.type === 'function')) {
    // An empty tool list is no tools; a function without a schema takes no arguments, written as the
    // empty object schema (what OpenAI means by an omitted one; Anthropic and Ollama require one).
    if (tools.length === 0) delete out['tools'];
    else
      out['tools'] = tools.map((tool) => ({
        ...tool,
        function: { parameters: { type: 'object', properties: {} }, ...tool.function },
      }));
  }
  out['messages'] = (out['messages'] as Json[]).map(normaliseMessage);
  return out;
}

function normaliseMessage(message: Json): Json {
  const out = { ...message };
  switch (message['role']) {
    case 'developer':
    case 'system':
      // developer is OpenAI's newer name for system; the backends behind the gateway take system.
      out['role'] = 'system';
      out['content'] = joinedText(message['content']);
      break;
    case 'user':
      // Content of text parts only is one string (what every server takes); with an image or audio
      // part it stays a list of parts.
      if (
        Array.isArray(message['content']) &&
        (message['content'] as Json[]).every((part) => part['type'] === 'text')
      )
        out['content'] = joinedText(message['content']);
      break;
    case 'assistant': {
      // An assistant's text is one string; null when it only called tools, '' when it said nothing.
      const calls = (message['tool_calls'] as unknown[] | undefined) ?? [];
      const said = joinedText(message['content']);
      out['content'] = said === '' && calls.length > 0 ? null : said;
      if (calls.length === 0) delete out['tool_calls'];
      break;
    }
    case 'tool':
      // A tool's result is text: its parts joined.
      out['content'] = joinedText(message['content']);
      break;
  }
  return out;
}

describe('chat request → conversation → chat request', () => {
  it('gives back every request chat completions can express, normalised', () => {
    fc.assert(
      fc.property(chatRequest, (request) => {
        const conversation = fromChatRequest(request as ChatCompletionRequest);
        assert.deepEqual(toChatRequest(conversation), normalise(request));
      }),
      RUNS,
    );
  });

  it('normalising is idempotent and reaches a fixed point (the normalised form round-trips exactly)', () => {
    fc.assert(
      fc.property(chatRequest, (request) => {
        const once = normalise(request);
        assert.deepEqual(normalise(once), once);
        assert.deepEqual(toChatRequest(fromChatRequest(once as ChatCompletionRequest)), once);
      }),
      RUNS,
    );
  });

  it('the conversation of a request survives the chat carrier: fromChatRequest ∘ toChatRequest is the identity on it', () => {
    fc.assert(
      fc.property(chatRequest, (request) => {
        const conversation = fromChatRequest(request as ChatCompletionRequest);
        assert.deepEqual(fromChatRequest(toChatRequest(conversation)), conversation);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------------

const answer = answerArbitrary();

describe('answer → chat completion → answer', () => {
  it('gives back every answer chat completions can express', () => {
    fc.assert(
      fc.property(answer, (generated) => {
        assert.deepEqual(toAnswer(fromAnswer(generated)), generated);
      }),
      RUNS,
    );
  });

  it('survives JSON (the chat completion is what the cache stores)', () => {
    fc.assert(
      fc.property(answer, (generated) => {
        const stored = JSON.parse(JSON.stringify(fromAnswer(generated))) as ReturnType<typeof fromAnswer>;
        assert.deepEqual(toAnswer(stored), generated);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------------

/** Chunks as they cross the wire (JSON text), decoded into events. */
function decode(chunks: readonly ChatCompletionChunk[]): StreamEvent[] {
  const decoder = new ChunkDecoder();
  const events = chunks.flatMap((chunk) =>
    decoder.decode(JSON.parse(JSON.stringify(chunk)) as ChatCompletionChunk),
  );
  return [...events, ...decoder.end()];
}

function accumulate(events: readonly StreamEvent[]): Answer {
  const accumulator = new AnswerAccumulator();
  for (const event of events) accumulator.add(event);
  return accumulator.result();
}

describe('answer → stream events → chunks → stream events → answer', () => {
  const streamed = answer.filter(streamable);

  it('answerEvents accumulates back to the answer', () => {
    fc.assert(
      fc.property(streamed, (generated) => {
        assert.deepEqual(accumulate(answerEvents(generated)), generated);
      }),
      RUNS,
    );
  });

  it('answerEvents survives the chunks exactly (ChunkEncoder then ChunkDecoder)', () => {
    fc.assert(
      fc.property(streamed, (generated) => {
        assert.deepEqual(decode(answerChunks(generated)), answerEvents(generated));
      }),
      RUNS,
    );
  });

  it('a fragmented stream (parallel tool calls with interleaved argument fragments, choices interleaved) accumulates to the answer', () => {
    fc.assert(
      fc.property(streamed, fc.gen(), (generated, g) => {
        const encoder = new ChunkEncoder();
        const chunks = fragmentedEvents(generated, g, {
          interleaveCalls: true,
          interleaveChoices: true,
        }).flatMap((event) => encoder.encode(event));
        assert.deepEqual(accumulate(decode(chunks)), generated);
      }),
      RUNS,
    );
  });

  it('the chunks of parallel tool calls are shaped as vLLM streams them', () => {
    const encoder = new ChunkEncoder();
    const events: StreamEvent[] = [
      { type: 'start', id: 'chatcmpl-1', model: 'm', created: 7 },
      { type: 'tool_call_start', choice: 0, call: 0, id: 'call_a', name: 'get_weather' },
      { type: 'tool_call_start', choice: 0, call: 1, id: 'call_b', name: 'get_time' },
      { type: 'tool_call_delta', choice: 0, call: 1, arguments: '{"zone":' },
      { type: 'tool_call_delta', choice: 0, call: 0, arguments: '{"city":"Paris"}' },
      { type: 'tool_call_delta', choice: 0, call: 1, arguments: '"UTC"}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: { inputTokens: 3, outputTokens: 4 } },
    ];
    const chunks = events.flatMap((event) => encoder.encode(event)) as unknown as Json[];
    const deltas = chunks.map((chunk) => (chunk['choices'] as Json[])[0]?.['delta']);
    assert.deepEqual(deltas, [
      { role: 'assistant', content: '' },
      {
        tool_calls: [
          { index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } },
        ],
      },
      {
        tool_calls: [
          { index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } },
        ],
      },
      { tool_calls: [{ index: 1, function: { arguments: '{"zone":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '"UTC"}' } }] },
      {},
      undefined,
    ]);
    assert.equal((chunks.at(-2)?.['choices'] as Json[])[0]?.['finish_reason'], 'tool_calls');
    assert.deepEqual(chunks.at(-1), {
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 7,
      model: 'm',
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    });
    const answered = accumulate(decode(chunks as unknown as ChatCompletionChunk[]));
    assert.deepEqual(answered.choices[0]?.parts, [
      { type: 'tool_call', id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { type: 'tool_call', id: 'call_b', name: 'get_time', arguments: '{"zone":"UTC"}' },
    ]);
  });
});
