import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { AnswerAccumulator } from '../../conversation/events.js';
import type { StreamEvent } from '../../conversation/model.js';
import { UpstreamClientError, UpstreamError } from '../../errors/errors.js';
import {
  ConverseStreamTranslator,
  finishReasonOf,
  fromCohereEmbeddings,
  fromConverseResponse,
  fromTitanEmbedding,
  httpError,
  streamExceptionError,
} from './from-provider.js';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as unknown;
}

const IDENTITY = {
  id: 'chatcmpl-1',
  created: 1_700_000_000,
  model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
};

function streamEvents(name: string): StreamEvent[] {
  const translator = new ConverseStreamTranslator(IDENTITY);
  const events = (fixture(name) as { type: string; payload: unknown }[]).flatMap((event) =>
    translator.event(event.type, event.payload),
  );
  assert.ok(translator.complete);
  return events;
}

describe('fromConverseResponse', () => {
  it('reads text, the finish reason and usage', () => {
    assert.deepEqual(fromConverseResponse(fixture('converse-text.json'), IDENTITY), {
      ...IDENTITY,
      choices: [
        {
          index: 0,
          parts: [{ type: 'text', text: 'Paris is the capital of France.' }],
          finishReason: 'stop',
        },
      ],
      usage: { inputTokens: 21, outputTokens: 9, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    });
  });

  it('reads parallel tool calls with their ids and JSON arguments', () => {
    const answer = fromConverseResponse(fixture('converse-tools.json'), IDENTITY);
    assert.deepEqual(answer?.choices[0]?.parts, [
      { type: 'text', text: "I'll look up both cities." },
      {
        type: 'tool_call',
        id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
      },
      {
        type: 'tool_call',
        id: 'tooluse_3fQw9yXhTSGm1c2bEoP0xA',
        name: 'get_weather',
        arguments: '{"city":"Tokyo"}',
      },
    ]);
    assert.equal(answer?.choices[0]?.finishReason, 'tool_calls');
  });

  it('reads reasoning with its signature, and counts cached input in the input', () => {
    const answer = fromConverseResponse(fixture('converse-reasoning.json'), IDENTITY);
    assert.deepEqual(answer?.choices[0]?.parts[0], {
      type: 'reasoning',
      text: 'The user asks for 17 * 23. 17 * 20 = 340, 17 * 3 = 51, so 391.',
      signature: 'ErcBCkgIBRABGAIiQFfn9vU1yVbXWcQ5o8Xn2xM4g7aH3yT0t8X0G6kq0mTz',
    });
    assert.deepEqual(answer?.usage, {
      inputTokens: 1240,
      outputTokens: 96,
      cachedInputTokens: 1200,
      cacheWriteInputTokens: 0,
    });
  });

  it('says content_filter when a guardrail intervened', () => {
    assert.equal(
      fromConverseResponse(fixture('converse-guardrail.json'), IDENTITY)?.choices[0]?.finishReason,
      'content_filter',
    );
  });

  it('is null for a body that is not a Converse answer', () => {
    assert.equal(fromConverseResponse({ message: 'nope' }, IDENTITY), null);
    assert.equal(fromConverseResponse('x', IDENTITY), null);
  });
});

describe('finishReasonOf', () => {
  it('maps every stop reason of the API reference', () => {
    assert.deepEqual(
      [
        'end_turn',
        'stop_sequence',
        'max_tokens',
        'model_context_window_exceeded',
        'tool_use',
        'guardrail_intervened',
        'content_filtered',
      ].map((reason) => finishReasonOf(reason).reason),
      ['stop', 'stop', 'length', 'length', 'tool_calls', 'content_filter', 'content_filter'],
    );
    assert.deepEqual(finishReasonOf('malformed_tool_use'), { reason: 'other', raw: 'malformed_tool_use' });
  });
});

describe('ConverseStreamTranslator', () => {
  it('numbers parallel tool calls from 0, streams their input, and ends with the finish then usage', () => {
    const events = streamEvents('stream-tools.json');
    assert.deepEqual(events, [
      { type: 'start', ...IDENTITY },
      { type: 'text', choice: 0, text: 'Checking' },
      { type: 'text', choice: 0, text: ' both.' },
      {
        type: 'tool_call_start',
        choice: 0,
        call: 0,
        id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q',
        name: 'get_weather',
      },
      { type: 'tool_call_delta', choice: 0, call: 0, arguments: '{"city": ' },
      { type: 'tool_call_delta', choice: 0, call: 0, arguments: '"Paris"}' },
      {
        type: 'tool_call_start',
        choice: 0,
        call: 1,
        id: 'tooluse_3fQw9yXhTSGm1c2bEoP0xA',
        name: 'get_weather',
      },
      { type: 'tool_call_delta', choice: 0, call: 1, arguments: '{"city": "Tokyo"}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: { inputTokens: 403, outputTokens: 112 } },
    ]);
  });

  it('accumulates to what the whole answer says', () => {
    const accumulator = new AnswerAccumulator();
    for (const event of streamEvents('stream-reasoning.json')) accumulator.add(event);
    const whole = fromConverseResponse(fixture('converse-reasoning.json'), IDENTITY);
    const streamed = accumulator.result();
    assert.deepEqual(streamed.usage, whole?.usage);
    assert.equal(streamed.choices[0]?.finishReason, 'stop');
    assert.deepEqual(streamed.choices[0]?.parts, [
      {
        type: 'reasoning',
        text: '17 * 20 = 340, 17 * 3 = 51.',
        signature: 'ErcBCkgIBRABGAIiQFfn9vU1yVbXWcQ5o8Xn2xM4g7aH3yT0t8X0G6kq0mTz',
      },
      { type: 'text', text: '17 × 23 = 391.' },
    ]);
  });
});

describe('errors', () => {
  it('maps stream exceptions: throttling to a retryable 429, validation to 400, the model failing to 502', () => {
    const throttled = streamExceptionError('aws', 'throttlingException', 'Too many requests, please wait.');
    assert.ok(throttled instanceof UpstreamClientError);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.retryable, true);
    assert.equal(throttled.headers['retry-after'], '1');
    assert.match(throttled.message, /Too many requests/);
    assert.equal(streamExceptionError('aws', 'validationException', 'bad').status, 400);
    const unavailable = streamExceptionError('aws', 'serviceUnavailableException', null);
    assert.equal(unavailable.status, 502);
    assert.equal(unavailable.retryable, true);
    const model = streamExceptionError('aws', 'modelStreamErrorException', 'The model failed');
    assert.ok(model instanceof UpstreamError);
    assert.equal(model.retryable, false);
  });

  it('maps HTTP errors by x-amzn-errortype and status, never quoting a credential refusal', () => {
    const throttled = httpError(
      'aws',
      429,
      'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/',
      'Too many requests',
      null,
    );
    assert.equal(throttled.status, 429);
    assert.equal(throttled.retryable, true);
    assert.equal(throttled.headers['retry-after'], '1');
    assert.match(throttled.message, /ThrottlingException/);
    const invalid = httpError(
      'aws',
      400,
      'ValidationException',
      'The provided model identifier is invalid.',
      null,
    );
    assert.equal(invalid.status, 400);
    assert.match(invalid.message, /The provided model identifier is invalid\./);
    const refused = httpError('aws', 403, 'UnrecognizedClientException', null, null);
    assert.equal(refused.status, 502);
    assert.equal(refused.retryable, false);
    assert.match(
      refused.message,
      /refused the gateway's AWS credentials \(403 UnrecognizedClientException\)/,
    );
    const unavailable = httpError(
      'aws',
      503,
      'ServiceUnavailableException',
      'Bedrock is unable to process your request.',
      2000,
    );
    assert.equal(unavailable.status, 502);
    assert.equal(unavailable.retryable, true);
    assert.equal(unavailable.retryAfterMs, 2000);
    assert.equal(httpError('aws', 500, 'InternalServerException', null, null).retryable, true);
    assert.equal(httpError('aws', 404, 'ResourceNotFoundException', 'Model not found', null).status, 404);
    assert.equal(httpError('aws', 424, 'ModelErrorException', 'boom', null).status, 502);
  });
});

describe('embedding answers', () => {
  it('reads Titan and Cohere answers', () => {
    assert.deepEqual(fromTitanEmbedding({ embedding: [0.1, -0.2], inputTextTokenCount: 3 }), {
      vector: [0.1, -0.2],
      tokens: 3,
    });
    assert.equal(fromTitanEmbedding({ embeddings: [] }), null);
    assert.deepEqual(
      fromCohereEmbeddings(
        { id: 'x', embeddings: [[1], [2]], response_type: 'embeddings_floats', texts: ['a', 'b'] },
        2,
      ),
      [[1], [2]],
    );
    assert.equal(fromCohereEmbeddings({ embeddings: [[1]] }, 2), null);
  });
});
