/**
 * Round trips through Anthropic's Messages API as properties (fast-check). The protocol has no inverse
 * functions (no conversation → Messages request, no Message → Answer), so what is tested is what is
 * there:
 *
 * 1. request: a Messages request → conversation (toConversation) → the chat carrier (toChatRequest) →
 *    conversation (fromChatRequest) keeps every part, in order, up to what the carrier states it
 *    changes (normalise, below: thinking signatures and budgets, tool_result errors);
 * 2. answer: toMessage shows every part of an answer as Anthropic's clients read it: thinking with its
 *    signature, text, tool_use with its input object, the stop reason, the usage;
 * 3. stream: the events MessagesEventEncoder writes for a fragmented stream of an answer, read by
 *    Anthropic's own SDK (@anthropic-ai/sdk, messages.stream().finalMessage()), are the message
 *    toMessage writes for the whole answer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import fc from 'fast-check';
import { AnswerAccumulator } from '../../conversation/events.js';
import type { Answer } from '../../conversation/model.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import { fromChatRequest } from '../openai-chat/to-conversation.js';
import {
  answerArbitrary,
  carrierForm,
  anyText,
  fragmentedEvents,
  identifier,
  jsonObject,
  plain,
  streamable,
} from '../../../test/support/conversation-arbitraries.js';
import { toMessage, type AnthropicMessage } from './from-conversation.js';
import type { MessagesRequest } from './schema.js';
import { MessagesEventEncoder } from './stream-events.js';
import { toConversation } from './to-conversation.js';

type Json = Record<string, unknown>;

const RUNS = { numRuns: 200 };

// ---------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------

const textBlock = fc.record({ type: fc.constant('text'), text: anyText });
const imageBlock = fc.record({
  type: fc.constant('image'),
  source: fc.oneof(
    fc.record({
      type: fc.constant('base64'),
      media_type: fc.constantFrom('image/jpeg', 'image/png', 'image/gif', 'image/webp'),
      data: fc.base64String({ minLength: 4, maxLength: 24 }),
    }),
    fc.record({ type: fc.constant('url'), url: fc.webUrl({ validSchemes: ['https'] }) }),
  ),
});
const toolResultBlock = fc.record(
  {
    type: fc.constant('tool_result'),
    tool_use_id: identifier,
    content: fc.oneof(anyText, fc.array(fc.oneof(textBlock, textBlock, imageBlock), { maxLength: 3 })),
    is_error: fc.boolean(),
  },
  { requiredKeys: ['type', 'tool_use_id'] },
);
const userMessage = fc.record({
  role: fc.constant('user'),
  content: fc.oneof(
    anyText,
    fc.array(fc.oneof(textBlock, textBlock, imageBlock, toolResultBlock), { minLength: 1, maxLength: 4 }),
  ),
});
const assistantMessage = fc.record({
  role: fc.constant('assistant'),
  content: fc.oneof(
    anyText,
    fc.array(
      fc.oneof(
        textBlock,
        fc.record({
          type: fc.constant('thinking'),
          thinking: anyText,
          signature: fc.base64String({ maxLength: 24 }),
        }),
        fc.record({ type: fc.constant('redacted_thinking'), data: fc.base64String({ maxLength: 24 }) }),
        fc.record({ type: fc.constant('tool_use'), id: identifier, name: identifier, input: jsonObject }),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  ),
});

const tool = fc.record(
  { name: identifier, description: anyText, input_schema: jsonObject, strict: fc.boolean() },
  { requiredKeys: ['name', 'input_schema'] },
);

const messagesRequest: fc.Arbitrary<MessagesRequest> = fc
  .record(
    {
      model: identifier,
      max_tokens: fc.integer({ min: 2048, max: 64_000 }),
      system: fc.oneof(anyText, fc.array(textBlock, { maxLength: 3 })),
      messages: fc.array(fc.oneof(userMessage, assistantMessage), { minLength: 1, maxLength: 6 }),
      tools: fc.array(tool, { minLength: 1, maxLength: 3 }),
      tool_choice: fc.record(
        { type: fc.constantFrom('auto', 'any', 'none', 'tool'), disable_parallel_tool_use: fc.boolean() },
        { requiredKeys: ['type'] },
      ),
      thinking: fc.oneof(
        fc.integer({ min: 1024, max: 2047 }).map((budget) => ({ type: 'enabled', budget_tokens: budget })),
        fc.constantFrom({ type: 'disabled' }, { type: 'adaptive' }),
      ),
      output_config: fc.record(
        {
          effort: fc.constantFrom('low', 'medium', 'high', 'xhigh', 'max'),
          format: jsonObject.map((schema) => ({ type: 'json_schema', schema })),
        },
        { requiredKeys: [] },
      ),
      temperature: fc.double({ min: 0, max: 1, noNaN: true }),
      top_p: fc.double({ min: 0, max: 1, noNaN: true }),
      top_k: fc.integer({ min: 0, max: 100 }),
      stop_sequences: fc.array(anyText, { maxLength: 4 }),
      metadata: fc.record({ user_id: identifier }),
      stream: fc.boolean(),
    },
    { requiredKeys: ['model', 'max_tokens', 'messages'] },
  )
  .map((body) => {
    // tool_choice any and tool need tools; tool names one of them.
    const { tool_choice: choice, ...rest } = body;
    if (choice === undefined) return rest;
    if (choice.type === 'auto' || choice.type === 'none') return { ...rest, tool_choice: choice };
    const first = rest.tools?.[0];
    if (first === undefined) return rest;
    return { ...rest, tool_choice: choice.type === 'tool' ? { ...choice, name: first.name } : choice };
  })
  .map((body) => plain(body) as MessagesRequest);

/** The conversation through the carrier: its stated changes (test/support/conversation-arbitraries.ts). */
const normalise = carrierForm;

describe('Anthropic Messages request → conversation → chat carrier → conversation', () => {
  it('keeps every part, in order, up to the stated normalisations', () => {
    fc.assert(
      fc.property(messagesRequest, (body) => {
        const conversation = toConversation(body);
        assert.deepEqual(fromChatRequest(toChatRequest(conversation)), normalise(conversation));
      }),
      RUNS,
    );
  });

  it('an image reaches the carrier as a base64 data URL or its https URL', () => {
    const carrier = toChatRequest(
      toConversation({
        model: 'm',
        max_tokens: 100,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/gif', data: 'R0lGODlh' } },
              { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
              { type: 'text', text: 'Compare' },
            ],
          },
        ],
      } as unknown as MessagesRequest),
    ) as unknown as { messages: Json[] };
    assert.deepEqual(carrier.messages[0]?.['content'], [
      { type: 'image_url', image_url: { url: 'data:image/gif;base64,R0lGODlh' } },
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
      { type: 'text', text: 'Compare' },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------------

/** What Messages shows of an answer: one choice, arguments as objects, signatures (no log probs). */
const answer = answerArbitrary({ maxChoices: 1, objectArguments: true, signatures: true, logprobs: false });

const STOP: Readonly<Record<string, string>> = {
  stop: 'end_turn',
  error: 'end_turn',
  other: 'end_turn',
  length: 'max_tokens',
  content_filter: 'refusal',
  tool_calls: 'tool_use',
};

/** The blocks, stop reason and usage an Anthropic client should see for this answer. */
function expectedMessage(generated: Answer): Json {
  const choice = generated.choices[0];
  const parts = choice?.parts ?? [];
  const called = parts.some((part) => part.type === 'tool_call');
  const finish = choice?.finishReason ?? null;
  let stop = finish === null ? 'end_turn' : (STOP[finish] as string);
  if (called && finish !== 'length' && finish !== 'content_filter') stop = 'tool_use';
  const stopSequence = stop === 'end_turn' && finish === 'stop' ? choice?.stopSequence : undefined;
  const usage = generated.usage;
  const cached = usage?.cachedInputTokens ?? 0;
  return {
    content: parts.map((part) => {
      if (part.type === 'reasoning')
        return { type: 'thinking', thinking: part.text, signature: part.signature ?? '' };
      if (part.type === 'text') return { type: 'text', text: part.text, citations: null };
      const call = part as { id: string; name: string; arguments: string };
      return {
        type: 'tool_use',
        id: call.id,
        name: call.name,
        input: JSON.parse(call.arguments) as unknown,
        caller: { type: 'direct' },
      };
    }),
    stop_reason: stopSequence === undefined ? stop : 'stop_sequence',
    stop_sequence: stopSequence ?? null,
    input_tokens: Math.max(0, (usage?.inputTokens ?? 0) - cached),
    output_tokens: usage?.outputTokens ?? 0,
    cache_read_input_tokens: cached,
  };
}

function shown(message: AnthropicMessage | Anthropic.Message): Json {
  return {
    content: message.content,
    stop_reason: message.stop_reason,
    stop_sequence: message.stop_sequence,
    input_tokens: message.usage.input_tokens,
    output_tokens: message.usage.output_tokens,
    cache_read_input_tokens: message.usage.cache_read_input_tokens,
  };
}

describe('answer → Anthropic Message', () => {
  it('shows every part: thinking with its signature, text, tool_use input objects, stop reason, usage', () => {
    fc.assert(
      fc.property(answer, (generated) => {
        const message = JSON.parse(JSON.stringify(toMessage(generated, 'msg_1'))) as AnthropicMessage;
        assert.equal(message.type, 'message');
        assert.equal(message.role, 'assistant');
        assert.equal(message.model, generated.model);
        assert.deepEqual(shown(message), expectedMessage(generated));
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------------

/** The SSE an encoder writes for a fragmented stream of the answer, fed in batches. */
function encode(generated: Answer, g: fc.GeneratorValue): string {
  const encoder = new MessagesEventEncoder({ id: 'msg_1', inputTokens: () => 3 });
  // Parallel calls' argument fragments interleaved: each still lands in its call's block, by index.
  const events = fragmentedEvents(generated, g, { interleaveCalls: true });
  const accumulator = new AnswerAccumulator();
  let out = '';
  let at = 0;
  while (at < events.length) {
    const size = g(fc.integer, { min: 1, max: events.length - at });
    const batch = events.slice(at, at + size);
    for (const event of batch) accumulator.add(event);
    out += encoder.events(batch);
    at += size;
  }
  return out + encoder.end(accumulator.result());
}

/** The message Anthropic's SDK assembles from these events. */
async function readWithSdk(sse: string): Promise<Anthropic.Message> {
  const client = new Anthropic({
    apiKey: 'test',
    maxRetries: 0,
    fetch: () =>
      Promise.resolve(new Response(sse, { status: 200, headers: { 'content-type': 'text/event-stream' } })),
  });
  return client.messages.stream({ model: 'm', max_tokens: 1, messages: [] }).finalMessage();
}

describe('answer → stream events → Anthropic SSE', () => {
  const streamed = answer.filter(streamable);

  it("Anthropic's SDK reads from the events of a fragmented stream the message toMessage writes", async () => {
    await fc.assert(
      fc.asyncProperty(streamed, fc.gen(), async (generated, g) => {
        const message = await readWithSdk(encode(generated, g));
        assert.equal(message.id, 'msg_1');
        // With no usage from the backend, the stream keeps message_start's estimate of the prompt (3
        // here); the whole message, which has no start, says 0.
        const estimate = generated.usage === undefined ? { input_tokens: 3 } : {};
        assert.deepEqual(shown(message), { ...expectedMessage(generated), ...estimate });
        assert.deepEqual(shown(message), { ...shown(toMessage(generated, 'msg_1')), ...estimate });
      }),
      RUNS,
    );
  });
});
