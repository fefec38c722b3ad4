import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ChatCompletionChunk } from '../../api/schemas.js';
import { AnswerAccumulator } from '../../conversation/events.js';
import type { Answer, StreamEvent } from '../../conversation/model.js';
import { InvalidRequestError, UpstreamError } from '../../errors/errors.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import { ChunkDecoder } from '../openai-chat/stream-events.js';
import { completionBody, completionIdOf, legacyLogprobs } from './from-conversation.js';
import { CompletionChunkEncoder } from './stream-events.js';
import { completionsToConversation, includesUsage, promptOf } from './to-conversation.js';

type Json = Record<string, unknown>;

const FIXTURES = new URL('./fixtures/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const jsonFixture = (name: string): Json => JSON.parse(fixture(name)) as Json;

function sseData(text: string): Json[] {
  return text
    .split('\n\n')
    .map((event) => event.trim())
    .filter((event) => event.startsWith('data: ') && event !== 'data: [DONE]')
    .map((event) => JSON.parse(event.slice('data: '.length)) as Json);
}

function refusal(fn: () => unknown, param: string): void {
  assert.throws(fn, (error: unknown) => error instanceof InvalidRequestError && error.param === param);
}

describe('legacy completion requests → the conversation model', () => {
  it("takes the API reference's request: the prompt as one user message", () => {
    const conversation = completionsToConversation(jsonFixture('completion-request.json'));
    assert.deepEqual(conversation.messages, [
      { role: 'user', parts: [{ type: 'text', text: 'Say this is a test' }] },
    ]);
    assert.deepEqual(conversation.options, {
      maxTokens: 7,
      temperature: 0,
      stop: ['\n'],
      logprobs: true,
      topLogprobs: 2,
    });
    assert.equal(conversation.user, 'user-1234');
    assert.equal(conversation.stream, false);
    const carrier = toChatRequest(conversation) as unknown as Json;
    assert.equal(carrier['logprobs'], true);
    assert.equal(carrier['top_logprobs'], 2);
    assert.equal(carrier['max_tokens'], 7);
  });

  it('max_tokens is 16 when not given, as OpenAI; unknown fields go on to backends', () => {
    const conversation = completionsToConversation({ model: 'm', prompt: 'Hi', top_k: 5, logprobs: 0 });
    assert.equal(conversation.options.maxTokens, 16);
    assert.equal(conversation.options.logprobs, true);
    assert.equal(conversation.options.topLogprobs, undefined);
    assert.deepEqual(conversation.extra, { top_k: 5 });
  });

  it('takes an array of one prompt, refuses several, token ids, suffix, echo and best_of', () => {
    assert.equal(promptOf(['only']), 'only');
    refusal(() => promptOf(['a', 'b']), 'prompt');
    refusal(() => promptOf([1, 2]), 'prompt');
    refusal(() => promptOf([[1, 2]]), 'prompt');
    refusal(() => promptOf([]), 'prompt');
    refusal(() => completionsToConversation({ model: 'm', prompt: 'a', suffix: 'b' }), 'suffix');
    refusal(() => completionsToConversation({ model: 'm', prompt: 'a', echo: true }), 'echo');
    refusal(() => completionsToConversation({ model: 'm', prompt: 'a', best_of: 2 }), 'best_of');
    refusal(() => completionsToConversation({ model: 'm', prompt: 'a', max_tokens: 0 }), 'max_tokens');
    assert.equal(completionsToConversation({ model: 'm', prompt: 'a', best_of: 1, echo: false }).model, 'm');
    assert.equal(includesUsage({ stream_options: { include_usage: true } }), true);
    assert.equal(includesUsage({}), false);
  });
});

describe('answers → legacy completions', () => {
  const expected = jsonFixture('completion.json');
  const choice = (expected['choices'] as Json[])[0] as Json;
  const legacy = choice['logprobs'] as {
    tokens: string[];
    token_logprobs: number[];
    top_logprobs: Record<string, number>[];
  };
  const answer: Answer = {
    id: 'chatcmpl-uqkvlQyYK7bGYrRHQ0eXlWi7',
    model: 'gpt-3.5-turbo-instruct',
    created: 1589478378,
    choices: [
      {
        index: 0,
        parts: [
          { type: 'reasoning', text: 'hidden' },
          { type: 'text', text: 'This is indeed a test' },
        ],
        finishReason: 'length',
        logprobs: legacy.tokens.map((token, at) => ({
          token,
          logprob: legacy.token_logprobs[at] as number,
          top_logprobs: Object.entries(legacy.top_logprobs[at] as Record<string, number>).map(
            ([alternative, logprob]) => ({ token: alternative, logprob }),
          ),
        })),
      },
    ],
    usage: { inputTokens: 5, outputTokens: 7 },
  };

  it("writes the API reference's completion, logprobs in the legacy shape, key for key", () => {
    assert.deepEqual(completionBody(answer, false), expected);
    assert.equal(JSON.stringify(completionBody(answer, false)), JSON.stringify(expected), 'key order');
    assert.equal(completionBody(answer, true)['cached'], true);
  });

  it('makes cmpl- ids', () => {
    assert.equal(completionIdOf('chatcmpl-abc'), 'cmpl-abc');
    assert.match(completionIdOf('msg_1'), /^cmpl-[0-9a-f]{32}$/);
    assert.equal(legacyLogprobs([]).top_logprobs, null);
  });
});

describe('stream events → legacy completion chunks', () => {
  function encode(includeUsage: boolean): string {
    const decoder = new ChunkDecoder();
    const encoder = new CompletionChunkEncoder(includeUsage);
    const accumulator = new AnswerAccumulator();
    let out = '';
    const pass = (events: StreamEvent[]): void => {
      for (const event of events) accumulator.add(event);
      out += encoder.events(events);
    };
    for (const chunk of sseData(fixture('carrier-stream.sse')))
      pass(decoder.decode(chunk as ChatCompletionChunk));
    pass(decoder.end());
    return out + encoder.end();
  }

  it("writes the API reference's stream: text chunks, the finish, usage when asked, [DONE]", () => {
    const out = encode(true);
    assert.equal(JSON.stringify(sseData(out)), JSON.stringify(sseData(fixture('completion-stream.sse'))));
    assert.ok(out.endsWith('data: [DONE]\n\n'));
    assert.equal(sseData(encode(false)).length, 3, 'no usage chunk unless asked for');
  });

  it('carries logprobs with their text offsets across chunks', () => {
    const encoder = new CompletionChunkEncoder(false);
    const out = encoder.events([
      { type: 'start', id: 'chatcmpl-1', model: 'm', created: 1 },
      { type: 'text', choice: 0, text: 'Hi' },
      { type: 'logprobs', choice: 0, content: [{ token: 'Hi', logprob: -0.1 }] },
      { type: 'text', choice: 0, text: ' you' },
      { type: 'logprobs', choice: 0, content: [{ token: ' you', logprob: -0.2 }] },
    ]);
    const chunks = sseData(out);
    assert.deepEqual(
      chunks.map((chunk) => ((chunk['choices'] as Json[])[0]?.['logprobs'] as Json)['text_offset']),
      [[0], [2]],
    );
  });

  it('an error after the stream started is a last problem event', () => {
    const frame = new CompletionChunkEncoder(false).error(new UpstreamError('boom'), '/v1/completions', 'r1');
    const problem = JSON.parse(frame.slice('data: '.length)) as {
      status: number;
      error: { message: string };
    };
    assert.equal(problem.status, 502);
    assert.equal(problem.error.message, 'boom');
  });
});
