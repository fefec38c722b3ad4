/**
 * Round trips through OpenAI's Responses API as properties (fast-check). The protocol has no
 * conversation → Responses request function, but it has a true inverse of its own: a response's output
 * items are input items of the next turn (what a client sends back, or what previous_response_id
 * stores). So:
 *
 * 1. request: a Responses request → conversation (toConversation) → the chat carrier (toChatRequest) →
 *    conversation (fromChatRequest) keeps every part, up to the carrier's stated changes;
 * 2. answer: an answer → the response (toResponse) → its output items as the next request's input →
 *    conversation gives back the answer's parts, in order: reasoning, text, function calls with their
 *    call ids and arguments; status and usage say what the answer says;
 * 3. stream: the events ResponsesEventEncoder writes for a fragmented stream of an answer, read by
 *    OpenAI's own SDK (openai, responses.stream().finalResponse()), are the response toResponse writes
 *    for the whole answer, and their deltas add up to it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import OpenAI from 'openai';
import { AnswerAccumulator } from '../../conversation/events.js';
import type { Answer, Message } from '../../conversation/model.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import { fromChatRequest } from '../openai-chat/to-conversation.js';
import {
  answerArbitrary,
  anyText,
  carrierForm,
  fragmentedEvents,
  identifier,
  jsonObject,
  plain,
  streamable,
} from '../../../test/support/conversation-arbitraries.js';
import { echoOf, toResponse } from './from-conversation.js';
import type { ResponsesRequest } from './schema.js';
import { ResponsesEventEncoder } from './stream-events.js';
import { inputItems, toConversation, toMessages, type Item } from './to-conversation.js';

type Json = Record<string, unknown>;

const RUNS = { numRuns: 200 };
/**
 * The stream property compares whole response objects: node:assert's diff of two of them takes about a
 * second, so a failure is reported as found rather than shrunk through hundreds of such diffs.
 */
const STREAM_RUNS = { ...RUNS, endOnFailure: true };

// ---------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------

const base64 = fc.base64String({ minLength: 4, maxLength: 24 });
const inputText = fc.record({ type: fc.constant('input_text'), text: anyText });
const inputImage = fc.record(
  {
    type: fc.constant('input_image'),
    image_url: fc.oneof(
      fc
        .tuple(fc.constantFrom('image/png', 'image/jpeg', 'image/webp'), base64)
        .map(([mediaType, data]) => `data:${mediaType};base64,${data}`),
      fc.webUrl({ validSchemes: ['https'] }),
    ),
    detail: fc.constantFrom('auto', 'low', 'high', 'original'),
  },
  { requiredKeys: ['type', 'image_url'] },
);
const inputAudio = fc.record({
  type: fc.constant('input_audio'),
  input_audio: fc.record({ data: base64, format: fc.constantFrom('wav', 'mp3') }),
});

const userItem = fc.record({
  type: fc.constant('message'),
  role: fc.constant('user'),
  content: fc.oneof(
    anyText,
    fc.array(fc.oneof(inputText, inputText, inputImage, inputAudio), { minLength: 1, maxLength: 4 }),
  ),
});
const systemItem = fc.record({
  type: fc.constant('message'),
  role: fc.constantFrom('system', 'developer'),
  content: fc.oneof(anyText, fc.array(inputText, { minLength: 1, maxLength: 3 })),
});
const assistantItem = fc.record({
  type: fc.constant('message'),
  role: fc.constant('assistant'),
  content: fc.oneof(
    anyText,
    fc.array(
      fc.oneof(
        fc.record({ type: fc.constant('output_text'), text: anyText }),
        fc.record({ type: fc.constant('refusal'), refusal: anyText }),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  ),
});
const functionCall = fc.record({
  type: fc.constant('function_call'),
  call_id: identifier,
  name: identifier,
  arguments: fc.oneof(fc.json({ maxDepth: 2 }), anyText),
});
const functionCallOutput = fc.record({
  type: fc.constant('function_call_output'),
  call_id: identifier,
  output: fc.oneof(
    anyText,
    fc.array(fc.oneof(inputText, inputText, inputImage), { minLength: 1, maxLength: 3 }),
  ),
});
const reasoningItem = fc.record(
  {
    type: fc.constant('reasoning'),
    summary: fc.array(fc.record({ type: fc.constant('summary_text'), text: anyText }), { maxLength: 2 }),
    content: fc.array(fc.record({ type: fc.constant('reasoning_text'), text: anyText }), { maxLength: 2 }),
    encrypted_content: base64,
  },
  { requiredKeys: ['type', 'summary'] },
);

const functionTool = fc.record(
  {
    type: fc.constant('function'),
    name: identifier,
    description: anyText,
    parameters: jsonObject,
    strict: fc.boolean(),
  },
  { requiredKeys: ['type', 'name'] },
);

const responsesRequest: fc.Arbitrary<ResponsesRequest> = fc
  .record(
    {
      model: identifier,
      input: fc.oneof(
        anyText,
        fc.array(
          fc.oneof(
            userItem,
            userItem,
            systemItem,
            assistantItem,
            functionCall,
            functionCallOutput,
            reasoningItem,
          ),
          { minLength: 1, maxLength: 6 },
        ),
      ),
      instructions: anyText,
      tools: fc.uniqueArray(functionTool, { minLength: 1, maxLength: 3, selector: (tool) => tool.name }),
      tool_choice: fc.oneof(
        fc.constantFrom('auto', 'none', 'required'),
        fc.constant({ type: 'function', name: '' }),
      ),
      parallel_tool_calls: fc.boolean(),
      max_output_tokens: fc.integer({ min: 1, max: 100_000 }),
      temperature: fc.double({ min: 0, max: 2, noNaN: true }),
      top_p: fc.double({ min: 0, max: 1, noNaN: true }),
      top_logprobs: fc.integer({ min: 0, max: 20 }),
      text: fc.record({
        format: fc.oneof(
          fc.constantFrom({ type: 'text' }, { type: 'json_object' }),
          fc.record(
            {
              type: fc.constant('json_schema'),
              name: identifier,
              schema: jsonObject,
              strict: fc.boolean(),
              description: anyText,
            },
            { requiredKeys: ['type', 'name', 'schema'] },
          ),
        ),
      }),
      reasoning: fc.record({ effort: fc.constantFrom('none', 'minimal', 'low', 'medium', 'high', 'xhigh') }),
      user: identifier,
      stream: fc.boolean(),
    },
    { requiredKeys: ['model', 'input'] },
  )
  .map((body) => {
    // A named tool_choice names one of the tools; without tools only auto and none are taken.
    const { tool_choice: choice, ...rest } = body;
    if (choice === undefined) return rest;
    const first = rest.tools?.[0];
    if (typeof choice === 'object')
      return first === undefined ? rest : { ...rest, tool_choice: { ...choice, name: first.name } };
    return first === undefined && choice === 'required' ? rest : { ...rest, tool_choice: choice };
  })
  .map((body) => plain(body) as unknown as ResponsesRequest);

function conversationOf(request: ResponsesRequest) {
  return toConversation(request, inputItems(request.input), { historyLength: 0 });
}

describe('Responses request → conversation → chat carrier → conversation', () => {
  it('keeps every part, in order, up to the carrier’s stated changes', () => {
    fc.assert(
      fc.property(responsesRequest, (request) => {
        const conversation = conversationOf(request);
        assert.deepEqual(fromChatRequest(toChatRequest(conversation)), carrierForm(conversation));
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------------

/**
 * What a response shows of an answer: one choice, no signatures, no log probabilities here (they ride
 * on a chunk's text; the unit tests cover them), no finish reason of its own (status says it).
 */
const answer = answerArbitrary({ maxChoices: 1, logprobs: false, rawFinish: false });

const REQUEST = { model: 'm', input: 'hi' } as ResponsesRequest;
const ECHO = echoOf(REQUEST, 'resp_1', 1_700_000_000);

/** What the response should say of the answer, besides its items. */
function expectedStatus(generated: Answer): Json {
  const finish = generated.choices[0]?.finishReason ?? null;
  const incomplete = finish === 'length' || finish === 'content_filter';
  const usage = generated.usage;
  return {
    status: incomplete ? 'incomplete' : 'completed',
    incomplete_details: incomplete
      ? { reason: finish === 'length' ? 'max_output_tokens' : 'content_filter' }
      : null,
    usage:
      usage === undefined
        ? null
        : {
            input_tokens: usage.inputTokens,
            input_tokens_details: { cached_tokens: usage.cachedInputTokens ?? 0 },
            output_tokens: usage.outputTokens,
            output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
            total_tokens: usage.inputTokens + usage.outputTokens,
          },
  };
}

function statusOf(response: Json): Json {
  return {
    status: response['status'],
    incomplete_details: response['incomplete_details'],
    usage: response['usage'],
  };
}

/** The next turn's conversation when the response's output is sent back as input, after a question. */
function nextTurn(output: readonly Json[]): Message[] {
  return toMessages([{ type: 'message', role: 'user', content: 'Go on.' }, ...(output as Item[])], {
    historyLength: 0,
  });
}

describe('answer → response → its output as the next input → conversation', () => {
  it('gives back the answer’s parts in order, with call ids and arguments', () => {
    fc.assert(
      fc.property(answer, (generated) => {
        const response = JSON.parse(JSON.stringify(toResponse(generated, ECHO, 'm'))) as Json;
        assert.equal(response['object'], 'response');
        assert.deepEqual(statusOf(response), expectedStatus(generated));
        const parts = generated.choices[0]?.parts ?? [];
        const messages = nextTurn(response['output'] as Json[]);
        assert.deepEqual(messages.slice(1), parts.length === 0 ? [] : [{ role: 'assistant', parts }]);
        // And on through the carrier, as the backend will see it.
        const carried = fromChatRequest(
          toChatRequest({ model: 'm', messages, options: {}, stream: false }),
        ).messages.slice(1);
        assert.deepEqual(carried, parts.length === 0 ? [] : [{ role: 'assistant', parts }]);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------------

/** The SSE an encoder writes for a fragmented stream of the answer, fed in batches. */
async function encode(generated: Answer, g: fc.GeneratorValue): Promise<string> {
  const encoder = new ResponsesEventEncoder(ECHO, 'm', () => Promise.resolve());
  // Each call's fragments before the next call starts, as OpenAI and vLLM stream them: the builder
  // closes a call when the next one starts.
  const events = fragmentedEvents(generated, g);
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
  return out + (await encoder.end(accumulator.result()));
}

interface Read {
  readonly events: Json[];
  readonly final: Json;
}

/** The events and the final response as OpenAI's SDK reads them. */
async function readWithSdk(sse: string): Promise<Read> {
  const client = new OpenAI({
    apiKey: 'test',
    maxRetries: 0,
    fetch: () =>
      Promise.resolve(new Response(sse, { status: 200, headers: { 'content-type': 'text/event-stream' } })),
  });
  const stream = client.responses.stream({ model: 'm', input: 'hi' });
  const events: Json[] = [];
  for await (const event of stream) events.push(event as unknown as Json);
  return { events, final: (await stream.finalResponse()) as unknown as Json };
}

/** What the deltas say, by output index. */
function fromDeltas(events: readonly Json[]): Json[] {
  const items = new Map<number, Json>();
  for (const event of events) {
    const index = event['output_index'] as number;
    switch (event['type']) {
      case 'response.output_item.added': {
        const item = event['item'] as Json;
        items.set(index, { type: item['type'], text: '', call_id: item['call_id'], name: item['name'] });
        break;
      }
      case 'response.output_text.delta':
      case 'response.reasoning_text.delta':
      case 'response.function_call_arguments.delta': {
        const item = items.get(index);
        assert.ok(item !== undefined, `a delta for output ${index}, which was added`);
        item['text'] = (item['text'] as string) + (event['delta'] as string);
        break;
      }
    }
  }
  return [...items.entries()].sort(([a], [b]) => a - b).map(([, item]) => item);
}

function itemsSaid(output: readonly Json[]): Json[] {
  return output.map((item) => {
    if (item['type'] === 'function_call')
      return { type: 'function_call', text: item['arguments'], call_id: item['call_id'], name: item['name'] };
    const content = (item['content'] as Json[] | undefined) ?? [];
    return {
      type: item['type'],
      text: content.map((part) => part['text'] as string).join(''),
      call_id: undefined,
      name: undefined,
    };
  });
}

/**
 * A response without the time it completed (the stream's and the whole one's can differ by a second)
 * and without what the SDK adds to what it read (output_text, output_parsed, each call's
 * parsed_arguments, each text part's parsed).
 */
function timeless(response: Json): Json {
  const { completed_at: _completed, output_text: _text, output_parsed: _parsed, ...rest } = response;
  const output = (rest['output'] as Json[]).map((item) => {
    const { parsed_arguments: _arguments, ...fields } = item;
    const content = fields['content'] as Json[] | undefined;
    if (content === undefined) return fields;
    return { ...fields, content: content.map(({ parsed: _value, ...part }) => part) };
  });
  return { ...rest, output };
}

describe('answer → stream events → Responses SSE', () => {
  const streamed = answer.filter(streamable);

  it("OpenAI's SDK reads from the events of a fragmented stream the response toResponse writes", async () => {
    await fc.assert(
      fc.asyncProperty(streamed, fc.gen(), async (generated, g) => {
        const { events, final } = await readWithSdk(await encode(generated, g));
        const whole = JSON.parse(JSON.stringify(toResponse(generated, ECHO, 'm'))) as Json;
        assert.deepEqual(timeless(final), timeless(whole));
        assert.deepEqual(
          events.map((event) => event['sequence_number']),
          events.map((_event, index) => index),
          'sequence numbers count the events from 0',
        );
        assert.deepEqual(fromDeltas(events), itemsSaid(whole['output'] as Json[]), 'the deltas add up');
        assert.deepEqual(statusOf(final), expectedStatus(generated));
        const parts = generated.choices[0]?.parts ?? [];
        assert.deepEqual(
          nextTurn(final['output'] as Json[]).slice(1),
          parts.length === 0 ? [] : [{ role: 'assistant', parts }],
        );
      }),
      STREAM_RUNS,
    );
  });
});
