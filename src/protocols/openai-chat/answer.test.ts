import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletion } from '../../api/schemas.js';
import { toAnswer } from './answer.js';

describe('toAnswer', () => {
  it('reads a choice an upstream sent without a message as an empty choice (it threw a TypeError: a 500)', () => {
    const completion = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, finish_reason: 'length' }],
    } as unknown as ChatCompletion;
    assert.deepEqual(toAnswer(completion).choices, [{ index: 0, parts: [], finishReason: 'length' }]);
  });

  it('reads reasoning under either name, the text, the calls, usage details and a stop sequence', () => {
    const completion = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Hi',
            reasoning: 'Think',
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          finish_reason: 'stop',
          stop_reason: 'END',
        },
      ],
      usage: {
        prompt_tokens: 3,
        completion_tokens: 4,
        total_tokens: 7,
        prompt_tokens_details: { cached_tokens: 2 },
        completion_tokens_details: { reasoning_tokens: 1 },
      },
    } as unknown as ChatCompletion;
    assert.deepEqual(toAnswer(completion), {
      id: 'chatcmpl-1',
      model: 'm',
      created: 1,
      choices: [
        {
          index: 0,
          parts: [
            { type: 'reasoning', text: 'Think' },
            { type: 'text', text: 'Hi' },
            { type: 'tool_call', id: 'c', name: 'f', arguments: '{}' },
          ],
          finishReason: 'stop',
          stopSequence: 'END',
        },
      ],
      usage: { inputTokens: 3, outputTokens: 4, cachedInputTokens: 2, reasoningTokens: 1 },
    });
  });
});

describe('toAnswer: reasoning_signature (the carrier extension for Anthropic signatures)', () => {
  it('puts the signature on the reasoning part', () => {
    const completion = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hi', reasoning_content: 'Hmm', reasoning_signature: 'sig' },
          finish_reason: 'stop',
        },
      ],
    } as unknown as ChatCompletion;
    assert.deepEqual(toAnswer(completion).choices[0]?.parts, [
      { type: 'reasoning', text: 'Hmm', signature: 'sig' },
      { type: 'text', text: 'Hi' },
    ]);
  });
});
