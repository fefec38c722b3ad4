import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletionRequest } from '../../api/schemas.js';
import { InvalidRequestError } from '../../errors/errors.js';
import { toChatRequest } from './from-conversation.js';
import { fromAnswer, fromChatRequest, splitDataUrl } from './to-conversation.js';

function request(body: Record<string, unknown>): ChatCompletionRequest {
  return { model: 'm', ...body } as ChatCompletionRequest;
}

describe('fromChatRequest', () => {
  it('keeps system and developer messages in their place, as system messages', () => {
    const conversation = fromChatRequest(
      request({
        messages: [
          { role: 'developer', content: 'Be brief' },
          { role: 'user', content: 'Hi' },
          {
            role: 'system',
            content: [
              { type: 'text', text: 'Now ' },
              { type: 'text', text: 'French' },
            ],
          },
        ],
      }),
    );
    assert.equal(conversation.system, undefined);
    assert.deepEqual(conversation.messages, [
      { role: 'system', parts: [{ type: 'text', text: 'Be brief' }] },
      { role: 'user', parts: [{ type: 'text', text: 'Hi' }] },
      { role: 'system', parts: [{ type: 'text', text: 'Now French' }] },
    ]);
  });

  it('splits base64 data URLs into data and media type, and keeps other URLs', () => {
    const conversation = fromChatRequest(
      request({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQ', detail: 'low' } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
              { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(conversation.messages[0]?.parts, [
      { type: 'text', text: 'What is this?' },
      { type: 'image', data: '/9j/4AAQ', mediaType: 'image/jpeg', detail: 'low' },
      { type: 'image', url: 'https://example.com/cat.png' },
      { type: 'audio', data: 'UklGRg==', format: 'wav' },
    ]);
    assert.equal(splitDataUrl('data:image/svg+xml,%3Csvg%2F%3E'), null);
    assert.equal(splitDataUrl('data:image/png;charset=x;base64,AAAA'), null);
  });

  it('reads an assistant turn as reasoning, text and calls, and tool messages as one tool message', () => {
    const conversation = fromChatRequest(
      request({
        messages: [
          { role: 'user', content: 'Weather in Paris and Tokyo?' },
          {
            role: 'assistant',
            content: null,
            reasoning_content: 'Two calls.',
            tool_calls: [
              { id: 'a', type: 'function', function: { name: 'w', arguments: '{"city":"Paris"}' } },
              { id: 'b', type: 'function', function: { name: 'w', arguments: '{"city":"Tokyo"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'a', content: 'sunny' },
          { role: 'tool', tool_call_id: 'b', content: [{ type: 'text', text: 'rain' }] },
        ],
      }),
    );
    assert.deepEqual(conversation.messages.slice(1), [
      {
        role: 'assistant',
        parts: [
          { type: 'reasoning', text: 'Two calls.' },
          { type: 'tool_call', id: 'a', name: 'w', arguments: '{"city":"Paris"}' },
          { type: 'tool_call', id: 'b', name: 'w', arguments: '{"city":"Tokyo"}' },
        ],
      },
      {
        role: 'tool',
        parts: [
          { type: 'tool_result', callId: 'a', content: [{ type: 'text', text: 'sunny' }] },
          { type: 'tool_result', callId: 'b', content: [{ type: 'text', text: 'rain' }] },
        ],
      },
    ]);
  });

  it('reads tools, tool_choice, response_format and options; keeps what it has no name for in extra', () => {
    const conversation = fromChatRequest(
      request({
        messages: [{ role: 'user', content: 'Hi' }],
        stream: true,
        stream_options: { include_usage: true },
        max_completion_tokens: 50,
        stop: 'END',
        reasoning_effort: 'high',
        tools: [{ type: 'function', function: { name: 'f' } }],
        tool_choice: { type: 'function', function: { name: 'f' } },
        response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object' } } },
        temperature: null,
        keep_alive: '5m',
      }),
    );
    assert.equal(conversation.stream, true);
    assert.deepEqual(conversation.options, {
      maxTokens: 50,
      stop: ['END'],
      reasoning: { effort: 'high' },
      responseFormat: { type: 'json_schema', name: 's', schema: { type: 'object' } },
    });
    assert.deepEqual(conversation.tools, [{ name: 'f', parameters: { type: 'object', properties: {} } }]);
    assert.deepEqual(conversation.toolChoice, { name: 'f' });
    assert.deepEqual(conversation.extra, { stream_options: { include_usage: true }, keep_alive: '5m' });
  });

  it('keeps a field the model can hold only in part whole in extra', () => {
    const tools = [
      { type: 'function', function: { name: 'f', parameters: {} } },
      { type: 'custom', custom: { name: 'grammar' } },
    ];
    const conversation = fromChatRequest(
      request({ messages: [{ role: 'user', content: 'Hi' }], tools, reasoning_effort: 'xhigh' }),
    );
    assert.equal(conversation.tools, undefined);
    assert.deepEqual(conversation.extra, { tools, reasoning_effort: 'xhigh' });
  });

  it('refuses a content part it has no type for with a 400 that names it', () => {
    assert.throws(
      () =>
        fromChatRequest(
          request({
            messages: [
              { role: 'user', content: 'Hi' },
              { role: 'user', content: [{ type: 'file', file: { file_id: 'f' } }] },
            ],
          }),
        ),
      (error: unknown) =>
        error instanceof InvalidRequestError &&
        error.status === 400 &&
        error.param === 'messages[1].content[0].type' &&
        error.message.includes("'file'"),
    );
    assert.throws(
      () => fromChatRequest(request({ messages: [{ role: 'tool', content: 'x' }] })),
      (error: unknown) => error instanceof InvalidRequestError && error.param === 'messages[0].tool_call_id',
    );
    assert.throws(
      () =>
        fromChatRequest(
          request({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }),
        ),
      (error: unknown) =>
        error instanceof InvalidRequestError && error.param === 'messages[0].content[0].image_url.url',
    );
  });
});

describe('fromAnswer', () => {
  it('writes a choice that only called tools with null content, and the usage details', () => {
    const completion = fromAnswer({
      id: 'x',
      model: 'm',
      created: 1,
      choices: [
        {
          index: 0,
          parts: [{ type: 'tool_call', id: 'c', name: 'f', arguments: '{}' }],
          finishReason: 'tool_calls',
        },
      ],
      usage: { inputTokens: 2, outputTokens: 3, cachedInputTokens: 1 },
    });
    assert.deepEqual(completion, {
      id: 'x',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 2,
        completion_tokens: 3,
        total_tokens: 5,
        prompt_tokens_details: { cached_tokens: 1 },
      },
    });
  });
});

describe('reasoning_signature (the carrier extension for Anthropic signatures)', () => {
  it('fromChatRequest and toChatRequest carry an assistant turn’s signature both ways', () => {
    const conversation = fromChatRequest(
      request({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello', reasoning_content: 'Hmm', reasoning_signature: 'sig' },
        ],
      }),
    );
    assert.deepEqual(conversation.messages[1]?.parts, [
      { type: 'reasoning', text: 'Hmm', signature: 'sig' },
      { type: 'text', text: 'Hello' },
    ]);
    const body = toChatRequest(conversation) as unknown as { messages: Record<string, unknown>[] };
    assert.equal(body.messages[1]?.['reasoning_signature'], 'sig');
  });

  it('fromAnswer writes the signature beside reasoning_content', () => {
    const completion = fromAnswer({
      id: 'a',
      model: 'm',
      created: 1,
      choices: [
        { index: 0, parts: [{ type: 'reasoning', text: 'Hmm', signature: 'sig' }], finishReason: 'stop' },
      ],
    });
    const message = completion.choices[0]?.message as unknown as Record<string, unknown>;
    assert.equal(message['reasoning_content'], 'Hmm');
    assert.equal(message['reasoning_signature'], 'sig');
  });
});
