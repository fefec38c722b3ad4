/**
 * Round trips through OpenAI's legacy completions as properties (fast-check). The protocol has no
 * inverse functions (no conversation → completions request, no completion → Answer), so what is
 * tested is what is there:
 *
 * 1. request: a completions request → conversation (completionsToConversation) → the chat carrier
 *    (toChatRequest) → conversation (fromChatRequest) keeps the prompt, every option and every field
 *    passed on to the backend;
 * 2. answer: completionBody shows each choice's text, finish reason, log probabilities (legacy shape,
 *    text offsets into the text) and the usage;
 * 3. stream: the chunks CompletionChunkEncoder writes for a fragmented stream, choices interleaved, say
 *    what completionBody says of the whole answer: text, finish reasons, log probabilities with the
 *    same text offsets, usage only when asked for, then [DONE].
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Answer, Choice, ConversationRequest, Part, StreamEvent } from '../../conversation/model.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import { fromChatRequest } from '../openai-chat/to-conversation.js';
import {
  answerArbitrary,
  anyText,
  fragments,
  identifier,
  interleave,
  plain,
  tokenLogprob,
} from '../../../test/support/conversation-arbitraries.js';
import { completionBody } from './from-conversation.js';
import { CompletionChunkEncoder } from './stream-events.js';
import { completionsToConversation } from './to-conversation.js';

type Json = Record<string, unknown>;

const RUNS = { numRuns: 300 };

// ---------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------

const completionsRequest = fc
  .record(
    {
      model: identifier,
      prompt: fc.oneof(
        anyText,
        anyText.map((prompt) => [prompt]),
      ),
      max_tokens: fc.integer({ min: 1, max: 4096 }),
      temperature: fc.double({ min: 0, max: 2, noNaN: true }),
      top_p: fc.double({ min: 0, max: 1, noNaN: true }),
      n: fc.integer({ min: 1, max: 8 }),
      stream: fc.boolean(),
      stream_options: fc.record({ include_usage: fc.boolean() }),
      logprobs: fc.integer({ min: 0, max: 5 }),
      echo: fc.constant(false),
      stop: fc.oneof(anyText, fc.array(anyText, { maxLength: 4 })),
      presence_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
      frequency_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
      best_of: fc.constant(1),
      logit_bias: fc.dictionary(fc.nat(50_000).map(String), fc.integer({ min: -100, max: 100 }), {
        maxKeys: 2,
        noNullPrototype: true,
      }),
      user: identifier,
      seed: fc.integer(),
      // vLLM's: passed on to OpenAI-compatible backends.
      top_k: fc.integer({ min: 0, max: 100 }),
      min_p: fc.double({ min: 0, max: 1, noNaN: true }),
      repetition_penalty: fc.double({ min: 0.5, max: 2, noNaN: true }),
    },
    { requiredKeys: ['model', 'prompt'] },
  )
  .map(plain);

/**
 * The conversation as it comes back from the carrier. What changes, and why nothing is lost:
 * - an empty prompt is a user message with no parts: chat writes "" and an absent text alike;
 * - vLLM's top_k, which the completions protocol passes on untouched in extra, is a field the chat
 *   carrier has a name for (topK): same field, same value, same wire name to the backend.
 */
function normalise(conversation: ConversationRequest): ConversationRequest {
  const messages = conversation.messages.map((message) => ({
    ...message,
    parts: message.parts.filter((part) => !(part.type === 'text' && part.text === '')),
  }));
  const { extra: given, ...rest } = conversation;
  const { top_k: topK, ...extra } = given ?? {};
  return {
    ...rest,
    messages,
    ...(typeof topK === 'number' ? { options: { ...conversation.options, topK } } : {}),
    ...(Object.keys(extra).length === 0 ? {} : { extra }),
  };
}

describe('completions request → conversation → chat carrier → conversation', () => {
  it('keeps the prompt, every option and every field passed on to the backend', () => {
    fc.assert(
      fc.property(completionsRequest, (body) => {
        const conversation = completionsToConversation(body);
        assert.deepEqual(fromChatRequest(toChatRequest(conversation)), normalise(conversation));
      }),
      RUNS,
    );
  });

  it('sends the prompt as the one user message, and the default max_tokens of 16', () => {
    const carrier = toChatRequest(completionsToConversation({ model: 'm', prompt: ['Once upon a time'] }));
    assert.deepEqual(carrier.messages, [{ role: 'user', content: 'Once upon a time' }]);
    assert.equal(carrier.max_tokens, 16);
  });
});

// ---------------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------------

const LEGACY_FINISH: Readonly<Record<string, string>> = {
  stop: 'stop',
  tool_calls: 'stop',
  error: 'stop',
  length: 'length',
  content_filter: 'content_filter',
};

function legacyFinish(choice: Choice): string | null {
  if (choice.finishReason === null) return null;
  if (choice.finishReason === 'other') return choice.rawFinishReason ?? 'stop';
  return LEGACY_FINISH[choice.finishReason] ?? null;
}

function textOf(parts: readonly Part[]): string {
  return parts.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

/**
 * Answers whose log probabilities are those of the text's tokens (as a model reports them: the tokens
 * make up the text), so that text offsets can be checked; reasoning and tool calls, which a legacy
 * completion cannot show, come along to be left out.
 */
const tokenisedAnswer: fc.Arbitrary<Answer> = fc
  .tuple(
    answerArbitrary({ maxChoices: 3 }),
    fc.array(fc.option(fc.array(tokenLogprob, { minLength: 1, maxLength: 5 }), { nil: undefined }), {
      minLength: 3,
      maxLength: 3,
    }),
  )
  .map(([answer, tokensPerChoice]) =>
    plain({
      ...answer,
      choices: answer.choices.map((choice, index): Choice => {
        const tokens = tokensPerChoice[index];
        const { logprobs: _logprobs, ...rest } = choice;
        if (tokens === undefined) return rest;
        const text = tokens.map((token) => token.token).join('');
        const parts: Part[] = choice.parts.filter((part) => part.type !== 'text');
        const at = parts.findIndex((part) => part.type === 'tool_call');
        if (text !== '') parts.splice(at < 0 ? parts.length : at, 0, { type: 'text', text });
        return { ...rest, parts, logprobs: tokens };
      }),
    }),
  );

/** Legacy text offsets: where each token starts in the choice's text. */
function offsetsOf(choice: Choice): number[] {
  const offsets: number[] = [];
  let at = 0;
  for (const token of choice.logprobs ?? []) {
    offsets.push(at);
    at += token.token.length;
  }
  return offsets;
}

describe('answer → legacy completion', () => {
  it("shows each choice's text, finish reason, log probabilities and the usage", () => {
    fc.assert(
      fc.property(tokenisedAnswer, fc.boolean(), (answer, cached) => {
        const body = JSON.parse(JSON.stringify(completionBody(answer, cached))) as Json;
        assert.equal(body['object'], 'text_completion');
        assert.ok((body['id'] as string).startsWith('cmpl-'));
        assert.equal(body['cached'], cached ? true : undefined);
        const choices = body['choices'] as Json[];
        assert.equal(choices.length, answer.choices.length);
        answer.choices.forEach((choice, position) => {
          const shown = choices[position] as Json;
          assert.equal(shown['index'], choice.index);
          assert.equal(shown['text'], textOf(choice.parts));
          assert.equal(shown['finish_reason'], legacyFinish(choice));
          const logprobs = shown['logprobs'] as Json | null;
          if (choice.logprobs === undefined) assert.equal(logprobs, null);
          else {
            assert.deepEqual(
              logprobs?.['tokens'],
              choice.logprobs.map((token) => token.token),
            );
            assert.deepEqual(
              logprobs?.['token_logprobs'],
              choice.logprobs.map((token) => token.logprob),
            );
            assert.deepEqual(logprobs?.['text_offset'], offsetsOf(choice));
          }
        });
        const usage = answer.usage;
        assert.deepEqual(
          body['usage'],
          usage === undefined
            ? undefined
            : {
                prompt_tokens: usage.inputTokens,
                completion_tokens: usage.outputTokens,
                total_tokens: usage.inputTokens + usage.outputTokens,
              },
        );
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------------

/**
 * A stream of the answer as the carrier's chunks decode: per choice its reasoning and text in
 * fragments, each piece of text with the log probabilities of its tokens in the same batch (a chunk's
 * content and logprobs arrive together), its tool calls, its finish; choices interleaved; usage last.
 */
function streamBatches(answer: Answer, g: fc.GeneratorValue): StreamEvent[][] {
  const perChoice = answer.choices.map((choice) => {
    const batches: StreamEvent[][] = [];
    const index = choice.index;
    let call = 0;
    for (const part of choice.parts) {
      if (part.type === 'reasoning')
        for (const piece of fragments(part.text, g))
          batches.push([{ type: 'reasoning', choice: index, text: piece }]);
      else if (part.type === 'tool_call') {
        batches.push([
          { type: 'tool_call_start', choice: index, call, id: part.id, name: part.name },
          { type: 'tool_call_delta', choice: index, call, arguments: part.arguments },
        ]);
        call++;
      } else if (part.type === 'text' && choice.logprobs === undefined)
        for (const piece of fragments(part.text, g))
          batches.push([{ type: 'text', choice: index, text: piece }]);
    }
    // The text of a choice with log probabilities: its tokens in groups, each group's text with them.
    const tokens = choice.logprobs ?? [];
    let at = 0;
    while (at < tokens.length) {
      const size = g(fc.integer, { min: 1, max: tokens.length - at });
      const group = tokens.slice(at, at + size);
      const text = group.map((token) => token.token).join('');
      batches.push([
        ...(text === '' ? [] : [{ type: 'text' as const, choice: index, text }]),
        { type: 'logprobs', choice: index, content: group },
      ]);
      at += size;
    }
    if (choice.finishReason !== null)
      batches.push([
        {
          type: 'finish',
          choice: index,
          reason: choice.finishReason,
          ...(choice.rawFinishReason === undefined ? {} : { rawReason: choice.rawFinishReason }),
        },
      ]);
    return batches;
  });
  return [
    [{ type: 'start', id: answer.id, model: answer.model, created: answer.created }],
    ...interleave(perChoice, g),
    ...(answer.usage === undefined ? [] : [[{ type: 'usage' as const, usage: answer.usage }]]),
  ];
}

interface Seen {
  text: string;
  finish: string | null;
  tokens: string[];
  offsets: number[];
}

function readStream(sse: string): { choices: Map<number, Seen>; usage: unknown; ids: Set<unknown> } {
  const frames = sse.split('\n\n');
  assert.equal(frames.pop(), '', 'every event ends with a blank line');
  assert.equal(frames.pop(), 'data: [DONE]', 'the stream ends with data: [DONE]');
  const choices = new Map<number, Seen>();
  const ids = new Set<unknown>();
  let usage: unknown = undefined;
  for (const frame of frames) {
    assert.ok(frame.startsWith('data: '), frame);
    const chunk = JSON.parse(frame.slice('data: '.length)) as Json;
    assert.equal(chunk['object'], 'text_completion');
    ids.add(chunk['id']);
    if (chunk['usage'] !== undefined) usage = chunk['usage'];
    for (const choice of chunk['choices'] as Json[]) {
      const index = choice['index'] as number;
      const seen = choices.get(index) ?? { text: '', finish: null, tokens: [], offsets: [] };
      seen.text += choice['text'] as string;
      if (choice['finish_reason'] !== null) seen.finish = choice['finish_reason'] as string;
      const logprobs = choice['logprobs'] as Json | null;
      if (logprobs !== null) {
        seen.tokens.push(...(logprobs['tokens'] as string[]));
        seen.offsets.push(...(logprobs['text_offset'] as number[]));
      }
      choices.set(index, seen);
    }
  }
  return { choices, usage, ids };
}

describe('answer → stream events → legacy completion chunks', () => {
  it('say what the whole completion says, text offsets included; usage only when asked for', () => {
    fc.assert(
      fc.property(tokenisedAnswer, fc.boolean(), fc.gen(), (generated, includeUsage, g) => {
        // As the carrier names answers.
        const answer = { ...generated, id: `chatcmpl-${generated.id}` };
        const encoder = new CompletionChunkEncoder(includeUsage);
        let sse = '';
        for (const batch of streamBatches(answer, g)) sse += encoder.events(batch);
        sse += encoder.end();
        const { choices, usage, ids } = readStream(sse);
        const whole = JSON.parse(JSON.stringify(completionBody(answer, false))) as Json;
        if (ids.size > 0) assert.deepEqual([...ids], [whole['id']], 'one id, the whole answer’s');
        for (const shown of whole['choices'] as Json[]) {
          const seen = choices.get(shown['index'] as number) ?? {
            text: '',
            finish: null,
            tokens: [],
            offsets: [],
          };
          assert.equal(seen.text, shown['text']);
          assert.equal(seen.finish, shown['finish_reason']);
          const logprobs = shown['logprobs'] as Json | null;
          assert.deepEqual(seen.tokens, logprobs === null ? [] : logprobs['tokens']);
          assert.deepEqual(seen.offsets, logprobs === null ? [] : logprobs['text_offset']);
        }
        assert.deepEqual(usage, includeUsage ? whole['usage'] : undefined);
      }),
      RUNS,
    );
  });
});
