import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { AnswerAccumulator } from '../../conversation/events.js';
import type { StreamEvent } from '../../conversation/model.js';
import { GatewayError } from '../../errors/errors.js';
import { fromAnswer } from '../../protocols/openai-chat/to-conversation.js';
import { fromGeminiResponse, GeminiStreamDecoder, toFinishReason, toUsage } from './from-provider.js';
import type { GeminiResponse } from './wire.js';

const META = { id: 'chatcmpl-test', created: 1_700_000_000, model: 'gemini-requested', backend: 'gem' };

function fixture(name: string): GeminiResponse {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as GeminiResponse;
}

/** The `data:` payloads of a recorded SSE stream, parsed. */
function sseFixture(name: string): GeminiResponse[] {
  const text = readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
  return text
    .split(/\r?\n\r?\n/)
    .filter((event) => event.startsWith('data: '))
    .map((event) => JSON.parse(event.slice('data: '.length)) as GeminiResponse);
}

function decodeAll(events: GeminiResponse[]): { events: StreamEvent[]; decoder: GeminiStreamDecoder } {
  const decoder = new GeminiStreamDecoder(META);
  const out = events.flatMap((event) => decoder.decode(event));
  out.push(...decoder.finish());
  return { events: out, decoder };
}

describe('fromGeminiResponse', () => {
  it('reads a text answer with its usage and the model version', () => {
    const answer = fromGeminiResponse(fixture('text-response.json'), META);
    assert.deepEqual(answer, {
      id: 'chatcmpl-test',
      model: 'gemini-2.5-flash',
      created: 1_700_000_000,
      choices: [
        {
          index: 0,
          parts: [{ type: 'text', text: 'Hello! How can I help you today?' }],
          finishReason: 'stop',
        },
      ],
      usage: { inputTokens: 5, outputTokens: 9 },
    });
  });

  it('reads parallel function calls as tool calls with made-up unique ids, finishing with tool_calls', () => {
    const answer = fromGeminiResponse(fixture('function-calls-response.json'), META);
    const choice = answer.choices[0];
    assert.equal(choice?.finishReason, 'tool_calls');
    const calls = choice?.parts.filter((part) => part.type === 'tool_call') ?? [];
    assert.equal(calls.length, 2);
    assert.deepEqual(
      calls.map((call) => [call.name, JSON.parse(call.arguments) as unknown]),
      [
        ['get_weather', { city: 'Paris' }],
        ['get_weather', { city: 'Tokyo' }],
      ],
    );
    const ids = calls.map((call) => call.id);
    assert.ok(ids.every((id) => /^call_[0-9a-f]{24}$/.test(id)));
    assert.notEqual(ids[0], ids[1]);
    // Thinking tokens are billed as output.
    assert.deepEqual(answer.usage, { inputTokens: 61, outputTokens: 102, reasoningTokens: 72 });
    const completion = fromAnswer(answer);
    assert.equal(completion.choices[0]?.message.content, null);
    assert.equal(completion.choices[0]?.finish_reason, 'tool_calls');
  });

  it("keeps Google's own call id when it gives one", () => {
    const answer = fromGeminiResponse(
      {
        candidates: [
          {
            content: { role: 'model', parts: [{ functionCall: { id: 'fc-1a', name: 'f', args: {} } }] },
            finishReason: 'STOP',
          },
        ],
      },
      META,
    );
    assert.deepEqual(answer.choices[0]?.parts, [
      { type: 'tool_call', id: 'fc-1a', name: 'f', arguments: '{}' },
    ]);
  });

  it('drops thought signatures (the carrier cannot tell whose they are)', () => {
    const answer = fromGeminiResponse(
      {
        candidates: [
          {
            content: {
              role: 'model',
              parts: [
                { text: 'Plan.', thought: true, thoughtSignature: 'c2ln' },
                { text: 'Done.', thoughtSignature: 'c2lnMg==' },
              ],
            },
            finishReason: 'STOP',
          },
        ],
      },
      META,
    );
    assert.deepEqual(answer.choices[0]?.parts, [
      { type: 'reasoning', text: 'Plan.' },
      { type: 'text', text: 'Done.' },
    ]);
    const message = fromAnswer(answer).choices[0]?.message as unknown as Record<string, unknown>;
    assert.equal(message['reasoning_signature'], undefined);
  });

  it('reads thought parts as reasoning, with reasoning and cached tokens in the usage', () => {
    const answer = fromGeminiResponse(fixture('thinking-response.json'), META);
    assert.deepEqual(answer.choices[0]?.parts, [
      { type: 'reasoning', text: "**Counting the letters**\n\nThe word has three r's." },
      { type: 'text', text: 'There are 3 r\'s in "strawberry".' },
    ]);
    assert.deepEqual(answer.usage, {
      inputTokens: 12,
      outputTokens: 408,
      cachedInputTokens: 4,
      reasoningTokens: 397,
    });
    const usage = fromAnswer(answer).usage as unknown as Record<string, unknown>;
    assert.deepEqual(usage['completion_tokens_details'], { reasoning_tokens: 397 });
    assert.deepEqual(usage['prompt_tokens_details'], { cached_tokens: 4 });
    assert.equal(usage['total_tokens'], 420);
  });

  it('maps finish reasons: SAFETY → content_filter, MAX_TOKENS → length, others kept in lower case', () => {
    assert.equal(
      fromGeminiResponse(fixture('safety-finish-response.json'), META).choices[0]?.finishReason,
      'content_filter',
    );
    const answer = fromGeminiResponse(fixture('two-candidates-response.json'), META);
    assert.deepEqual(
      answer.choices.map((choice) => [choice.index, choice.finishReason, choice.rawFinishReason]),
      [
        [0, 'stop', undefined],
        [1, 'length', undefined],
        [2, 'other', 'malformed_function_call'],
      ],
    );
    assert.deepEqual(
      fromAnswer(answer).choices.map((choice) => choice.finish_reason),
      ['stop', 'length', 'malformed_function_call'],
    );
    for (const reason of ['RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII'])
      assert.equal(toFinishReason(reason, false)?.reason, 'content_filter');
    assert.equal(toFinishReason('FINISH_REASON_UNSPECIFIED', false), null);
  });

  it('throws a 400 saying the prompt was blocked when Google answers without candidates for safety', () => {
    assert.throws(
      () => fromGeminiResponse(fixture('prompt-blocked-response.json'), META),
      (error: unknown) =>
        error instanceof GatewayError &&
        error.status === 400 &&
        error.code === 'invalid_request' &&
        !error.retryable &&
        /blocked the prompt \(blockReason SAFETY\)/.test(error.message),
    );
  });

  it('reads log probabilities: the chosen token with the top candidates of its step', () => {
    const answer = fromGeminiResponse(
      {
        candidates: [
          {
            content: { role: 'model', parts: [{ text: 'Hi' }] },
            finishReason: 'STOP',
            logprobsResult: {
              chosenCandidates: [{ token: 'Hi', tokenId: 1, logProbability: -0.1 }],
              topCandidates: [
                {
                  candidates: [
                    { token: 'Hi', tokenId: 1, logProbability: -0.1 },
                    { token: 'Hello', tokenId: 2, logProbability: -2.5 },
                  ],
                },
              ],
            },
          },
        ],
      },
      META,
    );
    assert.deepEqual(answer.choices[0]?.logprobs, [
      {
        token: 'Hi',
        logprob: -0.1,
        bytes: [72, 105],
        top_logprobs: [
          { token: 'Hi', logprob: -0.1, bytes: [72, 105] },
          { token: 'Hello', logprob: -2.5, bytes: [72, 101, 108, 108, 111] },
        ],
      },
    ]);
  });

  it('tolerates a broken answer: parts that are not objects, args that are not an object', () => {
    const answer = fromGeminiResponse(
      {
        candidates: [
          { content: { parts: [null, 7, { functionCall: { name: 'f', args: 'x' } }, { text: 'ok' }] } },
          'nonsense',
        ],
      },
      META,
    );
    assert.equal(answer.choices.length, 1);
    assert.deepEqual(
      answer.choices[0]?.parts.map((part) => part.type),
      ['tool_call', 'text'],
    );
    assert.equal(answer.choices[0]?.finishReason, 'tool_calls');
  });
});

describe('GeminiStreamDecoder', () => {
  it('streams text in pieces, finishes the choice, and reports usage once at the end', () => {
    const { events, decoder } = decodeAll(sseFixture('stream-text.sse'));
    assert.deepEqual(events, [
      { type: 'start', id: 'chatcmpl-test', model: 'gemini-2.5-flash', created: 1_700_000_000 },
      { type: 'text', choice: 0, text: 'Hello' },
      { type: 'text', choice: 0, text: ' there! How can I' },
      { type: 'text', choice: 0, text: ' help you today?' },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'usage', usage: { inputTokens: 5, outputTokens: 9 } },
    ]);
    assert.equal(decoder.complete, true);
  });

  it('streams thoughts as reasoning and each parallel call whole, numbered from 0', () => {
    const { events } = decodeAll(sseFixture('stream-function-calls.sse'));
    const kinds = events.map((event) => event.type);
    assert.deepEqual(kinds, [
      'start',
      'reasoning',
      'tool_call_start',
      'tool_call_delta',
      'tool_call_start',
      'tool_call_delta',
      'finish',
      'usage',
    ]);
    const accumulator = new AnswerAccumulator();
    events.forEach((event) => accumulator.add(event));
    const answer = accumulator.result();
    assert.equal(answer.choices[0]?.finishReason, 'tool_calls');
    const calls = answer.choices[0]?.parts.flatMap((part) => (part.type === 'tool_call' ? [part] : [])) ?? [];
    assert.deepEqual(
      calls.map((call) => JSON.parse(call.arguments) as unknown),
      [{ city: 'Paris' }, { city: 'Tokyo', unit: 'celsius' }],
    );
    assert.deepEqual(
      events.flatMap((event) => (event.type === 'tool_call_start' ? [event.call] : [])),
      [0, 1],
    );
    assert.deepEqual(events.at(-1), {
      type: 'usage',
      usage: { inputTokens: 61, outputTokens: 70, reasoningTokens: 40 },
    });
  });

  it('is not complete when the stream ends before a finish reason', () => {
    const [first] = sseFixture('stream-text.sse');
    const decoder = new GeminiStreamDecoder(META);
    decoder.decode(first as GeminiResponse);
    assert.equal(decoder.complete, false);
  });

  it('throws the prompt-blocked 400 on a first event without candidates', () => {
    const [blocked] = sseFixture('stream-prompt-blocked.sse');
    assert.throws(
      () => new GeminiStreamDecoder(META).decode(blocked as GeminiResponse),
      (error: unknown) =>
        error instanceof GatewayError && error.status === 400 && /PROHIBITED_CONTENT/.test(error.message),
    );
  });

  it('keeps the candidates of a multi-candidate stream apart', () => {
    const decoder = new GeminiStreamDecoder(META);
    const events = [
      ...decoder.decode({
        candidates: [
          { index: 0, content: { parts: [{ text: 'A' }] } },
          { index: 1, content: { parts: [{ functionCall: { name: 'f', args: { x: 1 } } }] } },
        ],
      }),
      ...decoder.decode({
        candidates: [
          { index: 0, content: { parts: [{ text: 'B' }] }, finishReason: 'STOP' },
          { index: 1, content: { parts: [] }, finishReason: 'STOP' },
        ],
      }),
    ];
    assert.equal(decoder.complete, true);
    assert.deepEqual(
      events.filter((event) => event.type === 'finish'),
      [
        { type: 'finish', choice: 0, reason: 'stop' },
        { type: 'finish', choice: 1, reason: 'tool_calls' },
      ],
    );
  });
});

describe('toUsage', () => {
  it('counts tool-use prompt tokens as input and leaves out what is absent', () => {
    assert.deepEqual(toUsage({ promptTokenCount: 10, toolUsePromptTokenCount: 5, candidatesTokenCount: 2 }), {
      inputTokens: 15,
      outputTokens: 2,
    });
    assert.equal(toUsage(undefined), undefined);
    assert.deepEqual(toUsage({ promptTokenCount: -3, candidatesTokenCount: 'x' }), {
      inputTokens: 0,
      outputTokens: 0,
    });
  });
});
