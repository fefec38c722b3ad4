/**
 * Round trips through Ollama's API as properties (fast-check). The protocol has no inverse functions
 * (no conversation → /api/chat request, no /api/chat answer → Answer), so what is tested is what is
 * there:
 *
 * 1. request: an /api/chat request → conversation (chatToConversation) → the chat carrier
 *    (toChatRequest) → conversation (fromChatRequest) keeps every part, option and extra field;
 * 2. answer: chatAnswer shows every part of an answer as Ollama's clients read it (content, thinking,
 *    tool calls with object arguments, done_reason, counts, logprobs);
 * 3. stream: the NDJSON lines OllamaStreamEncoder writes for a fragmented stream of an answer say what
 *    chatAnswer says of it whole.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AnswerAccumulator } from '../../conversation/events.js';
import type { Answer, ConversationRequest, Message, Part } from '../../conversation/model.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import { fromChatRequest } from '../openai-chat/to-conversation.js';
import {
  answerArbitrary,
  anyText,
  fragmentedEvents,
  identifier,
  jsonObject,
  plain,
  streamable,
} from '../../../test/support/conversation-arbitraries.js';
import { chatAnswer } from './from-conversation.js';
import { OllamaStreamEncoder } from './stream-events.js';
import { chatToConversation, type OllamaChatBody } from './to-conversation.js';

type Json = Record<string, unknown>;

const RUNS = { numRuns: 300 };

// ---------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------

/** Bare base64 as Ollama takes images: PNG, JPEG, GIF and WebP openings, then any bytes. */
const image = fc
  .tuple(
    fc.constantFrom('iVBORw0KGgo', '/9j/4AAQ', 'R0lGODlh', 'UklGRiQA'),
    fc.base64String({ maxLength: 24 }),
  )
  .map(([head, rest]) => `${head}${rest.replace(/=+$/, '')}`);

const userOrSystem = fc
  .record(
    { role: fc.constantFrom('user', 'system'), content: anyText, images: fc.array(image, { maxLength: 2 }) },
    { requiredKeys: ['role', 'content'] },
  )
  .map((message) => (message.role === 'system' ? { role: 'system', content: message.content } : message));

const assistant = fc.record(
  {
    role: fc.constant('assistant'),
    content: anyText,
    thinking: anyText,
    tool_calls: fc.array(
      fc.record(
        { id: identifier, function: fc.record({ name: identifier, arguments: jsonObject }) },
        { requiredKeys: ['function'] },
      ),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: ['role', 'content'] },
);

/** A tool's result, naming its tool, its call, both or neither (then the first unanswered call). */
const toolResult = fc.record(
  { role: fc.constant('tool'), content: anyText, tool_name: identifier, tool_call_id: identifier },
  { requiredKeys: ['role', 'content'] },
);

const tool = fc.record({
  type: fc.constant('function'),
  function: fc.record(
    { name: identifier, description: anyText, parameters: jsonObject },
    { requiredKeys: ['name'] },
  ),
});

const options = fc.record(
  {
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    top_p: fc.double({ min: 0, max: 1, noNaN: true }),
    top_k: fc.integer({ min: 0, max: 100 }),
    seed: fc.integer(),
    num_predict: fc.integer({ min: 1, max: 4096 }),
    stop: fc.array(anyText, { minLength: 1, maxLength: 4 }),
    presence_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
    frequency_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
    // Ollama's own: travel in extra.options to an ollama backend.
    num_ctx: fc.integer({ min: 1, max: 131_072 }),
    repeat_penalty: fc.double({ min: 0, max: 2, noNaN: true }),
    mirostat: fc.constantFrom(0, 1, 2),
  },
  { requiredKeys: [] },
);

const chatBody: fc.Arbitrary<OllamaChatBody> = fc
  .record(
    {
      model: identifier,
      messages: fc.array(fc.oneof(userOrSystem, assistant, toolResult), { minLength: 1, maxLength: 6 }),
      tools: fc.array(tool, { maxLength: 3 }),
      format: fc.oneof(fc.constantFrom('json', ''), jsonObject),
      think: fc.constantFrom(true, false, 'low', 'medium', 'high'),
      options,
      keep_alive: fc.oneof(fc.constantFrom('5m', '1h', '0'), fc.integer({ min: -1, max: 3600 })),
      stream: fc.boolean(),
      logprobs: fc.boolean(),
      top_logprobs: fc.integer({ min: 0, max: 20 }),
    },
    { requiredKeys: ['model', 'messages'] },
  )
  .map(plain);

/**
 * The conversation as it comes back from the carrier. What changes, and why nothing is lost:
 * - empty text parts are left out: chat writes "" and an absent text alike;
 * - consecutive tool messages are one tool message of results: chat completions writes one message
 *   per result, and reads the run of them back as the answer to one assistant turn.
 */
function normalise(conversation: ConversationRequest): ConversationRequest {
  const messages: Message[] = [];
  for (const message of conversation.messages) {
    const parts = message.parts
      .filter((part) => !(part.type === 'text' && part.text === ''))
      .map((part): Part =>
        part.type === 'tool_result'
          ? { ...part, content: part.content.filter((item) => !(item.type === 'text' && item.text === '')) }
          : part,
      );
    const last = messages.at(-1);
    if (message.role === 'tool' && last?.role === 'tool')
      messages[messages.length - 1] = { ...last, parts: [...last.parts, ...parts] };
    else messages.push({ ...message, parts });
  }
  return { ...conversation, messages };
}

describe('Ollama /api/chat request → conversation → chat carrier → conversation', () => {
  it('keeps every part, option and Ollama-only field', () => {
    fc.assert(
      fc.property(chatBody, (body) => {
        const conversation = chatToConversation(body);
        assert.deepEqual(fromChatRequest(toChatRequest(conversation)), normalise(conversation));
      }),
      RUNS,
    );
  });

  it('carries images as base64 data URLs with the media type of their bytes', () => {
    const conversation = chatToConversation({
      model: 'm',
      messages: [{ role: 'user', content: 'What is this?', images: ['/9j/4AAQSkZJRg', 'iVBORw0KGgo'] }],
    });
    const carrier = toChatRequest(conversation) as unknown as { messages: Json[] };
    assert.deepEqual(carrier.messages[0]?.['content'], [
      { type: 'text', text: 'What is this?' },
      { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQSkZJRg' } },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo' } },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------------

/** What Ollama shows of an answer: one choice, arguments as objects, no finish reason of its own. */
const answer = answerArbitrary({ maxChoices: 1, objectArguments: true, rawFinish: false });

const TIMING = { startedAt: 1_000_000n, firstTokenAt: null };
const NOW = 5_000_000n;

interface Shown {
  content: string;
  thinking: string;
  calls: { id: string; index: number; name: string; arguments: unknown }[];
  doneReason: string;
}

/** What the answer holds, as Ollama's clients should see it. */
function expectedOf(generated: Answer): Shown {
  const choice = generated.choices[0];
  const shown: Shown = { content: '', thinking: '', calls: [], doneReason: 'stop' };
  for (const part of choice?.parts ?? []) {
    if (part.type === 'text') shown.content += part.text;
    else if (part.type === 'reasoning') shown.thinking += part.text;
    else if (part.type === 'tool_call')
      shown.calls.push({
        id: part.id,
        index: shown.calls.length,
        name: part.name,
        arguments: JSON.parse(part.arguments) as unknown,
      });
  }
  shown.doneReason = choice?.finishReason === 'length' ? 'length' : 'stop';
  return shown;
}

/** What an Ollama client reads from the lines of an answer (one line when it came whole). */
function shownBy(lines: readonly Json[]): Shown {
  const shown: Shown = { content: '', thinking: '', calls: [], doneReason: '' };
  for (const line of lines) {
    const message = line['message'] as Json;
    assert.equal(message['role'], 'assistant');
    assert.equal(typeof message['content'], 'string', 'content is always there, a string');
    shown.content += message['content'] as string;
    if (message['thinking'] !== undefined) {
      assert.notEqual(message['thinking'], '', 'thinking is left out when there is none');
      shown.thinking += message['thinking'] as string;
    }
    for (const call of (message['tool_calls'] as Json[] | undefined) ?? []) {
      const fn = call['function'] as Json;
      shown.calls.push({
        id: call['id'] as string,
        index: fn['index'] as number,
        name: fn['name'] as string,
        arguments: fn['arguments'],
      });
    }
  }
  shown.doneReason = lines.at(-1)?.['done_reason'] as string;
  return shown;
}

function assertCounts(line: Json | undefined, generated: Answer): void {
  assert.equal(line?.['prompt_eval_count'], generated.usage?.inputTokens ?? 0);
  assert.equal(line?.['eval_count'], generated.usage?.outputTokens ?? 0);
}

describe('answer → Ollama /api/chat answer', () => {
  it('shows every part of the answer: content, thinking, each call with object arguments, done_reason', () => {
    fc.assert(
      fc.property(answer, (generated) => {
        const body = JSON.parse(JSON.stringify(chatAnswer(generated, 'm', TIMING, NOW))) as Json;
        assert.equal(body['done'], true);
        assert.deepEqual(shownBy([body]), expectedOf(generated));
        assertCounts(body, generated);
        const logprobs = generated.choices[0]?.logprobs;
        assert.equal((body['logprobs'] as unknown[] | undefined)?.length, logprobs?.length);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------------

/** The NDJSON an encoder writes for these events, fed in batches as chunks arrive. */
function encode(generated: Answer, g: fc.GeneratorValue): string {
  const encoder = new OllamaStreamEncoder('chat', 'm', TIMING.startedAt, () => NOW);
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
  return out + encoder.end(accumulator.result());
}

function lines(ndjson: string): Json[] {
  assert.ok(ndjson.endsWith('\n'), 'every line ends with a newline');
  return ndjson
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Json);
}

describe('answer → stream events → Ollama NDJSON', () => {
  const streamed = answer.filter(streamable);

  it('the lines of a fragmented stream say what the whole answer says', () => {
    fc.assert(
      fc.property(streamed, fc.gen(), (generated, g) => {
        const written = lines(encode(generated, g));
        const last = written.at(-1);
        assert.equal(last?.['done'], true, 'the last line is done');
        assert.ok(
          written.slice(0, -1).every((line) => line['done'] === false),
          'only the last line is done',
        );
        const whole = JSON.parse(JSON.stringify(chatAnswer(generated, 'm', TIMING, NOW))) as Json;
        assert.deepEqual(shownBy(written), shownBy([whole]));
        assert.deepEqual(shownBy(written), expectedOf(generated));
        assertCounts(last, generated);
      }),
      RUNS,
    );
  });

  it('each tool call goes out whole, on a line of its own', () => {
    fc.assert(
      fc.property(streamed, fc.gen(), (generated, g) => {
        for (const line of lines(encode(generated, g))) {
          const calls = (line['message'] as Json)['tool_calls'] as unknown[] | undefined;
          if (calls === undefined) continue;
          assert.equal(calls.length, 1);
          assert.equal((line['message'] as Json)['content'], '');
        }
      }),
      RUNS,
    );
  });
});

// Parallel calls whose argument fragments interleave (the stream events allow it; OpenAI and vLLM
// send each call's fragments before the next call starts) are not generated: OllamaStreamEncoder
// holds one call at a time, and a fragment of an earlier call arriving after a later call started is
// dropped (see the report of issue 18's round-trip tests).
