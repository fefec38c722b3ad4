import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletionRequest } from '../../api/schemas.js';
import { InvalidRequestError } from '../../errors/errors.js';
import { fromChatRequest } from '../../protocols/openai-chat/to-conversation.js';
import { DEFAULT_MAX_TOKENS, toAnthropicRequest, type AnthropicTranslation } from './to-provider.js';

const POLICY = { backend: 'claude', dropUnsupported: false };

function translate(body: Record<string, unknown>, dropUnsupported = false): AnthropicTranslation {
  const request = fromChatRequest({ model: 'claude-sonnet-4-5', ...body } as ChatCompletionRequest);
  return toAnthropicRequest(request, { ...POLICY, dropUnsupported });
}

function refused(body: Record<string, unknown>, param: string): void {
  assert.throws(
    () => translate(body),
    (error: unknown) => error instanceof InvalidRequestError && error.status === 400 && error.param === param,
  );
}

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};

describe('toAnthropicRequest', () => {
  it('moves system messages to system, sends the default max_tokens, maps sampling and user', () => {
    const { request } = translate({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'developer', content: 'Answer in French.' },
      ],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      stop: ['END'],
      user: 'user-42',
    });
    assert.deepEqual(request, {
      model: 'claude-sonnet-4-5',
      max_tokens: DEFAULT_MAX_TOKENS,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      system: [
        { type: 'text', text: 'Be brief.' },
        { type: 'text', text: 'Answer in French.' },
      ],
      stop_sequences: ['END'],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      metadata: { user_id: 'user-42' },
    });
  });

  it('keeps the client max_tokens (max_completion_tokens too) and sets stream', () => {
    const request = fromChatRequest({
      model: 'm',
      messages: [{ role: 'user', content: 'Hi' }],
      max_completion_tokens: 77,
      stream: true,
    });
    const out = toAnthropicRequest(request, POLICY).request;
    assert.equal(out.max_tokens, 77);
    assert.equal(out.stream, true);
  });

  it('turns images, tool calls, tool results and signed reasoning into content blocks', () => {
    const { request } = translate({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          reasoning_content: 'Two cities.',
          reasoning_signature: 'sig-abc',
          tool_calls: [
            {
              id: 'toolu_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"location":"Paris"}' },
            },
            {
              id: 'toolu_2',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"location":"Tokyo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'toolu_2', content: 'rain' },
        { role: 'user', content: 'Thanks' },
      ],
      tools: [WEATHER],
    });
    assert.deepEqual(request.messages, [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Two cities.', signature: 'sig-abc' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { location: 'Tokyo' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'sunny' }] },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'rain' }] },
          { type: 'text', text: 'Thanks' },
        ],
      },
    ]);
    assert.deepEqual(request.tools, [
      { name: 'get_weather', description: 'The weather', input_schema: WEATHER.function.parameters },
    ]);
    assert.equal(request.tool_choice, undefined);
  });

  it('leaves out reasoning without a signature (another model wrote it)', () => {
    const { request } = translate({
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello', reasoning_content: 'unsigned' },
        { role: 'user', content: 'Again' },
      ],
    });
    assert.deepEqual(request.messages[1], { role: 'assistant', content: [{ type: 'text', text: 'Hello' }] });
  });

  it('maps tool_choice auto/required/named/none and parallel_tool_calls false', () => {
    const base = { messages: [{ role: 'user', content: 'Hi' }], tools: [WEATHER] };
    assert.deepEqual(translate({ ...base, tool_choice: 'required' }).request.tool_choice, { type: 'any' });
    assert.deepEqual(
      translate({ ...base, tool_choice: { type: 'function', function: { name: 'get_weather' } } }).request
        .tool_choice,
      { type: 'tool', name: 'get_weather' },
    );
    assert.deepEqual(translate({ ...base, tool_choice: 'none' }).request.tool_choice, { type: 'none' });
    assert.deepEqual(translate({ ...base, parallel_tool_calls: false }).request.tool_choice, {
      type: 'auto',
      disable_parallel_tool_use: true,
    });
    assert.deepEqual(
      translate({ ...base, tool_choice: 'required', parallel_tool_calls: false }).request.tool_choice,
      { type: 'any', disable_parallel_tool_use: true },
    );
  });

  it('maps reasoning effort to a thinking budget, max_tokens above it; none sends no thinking', () => {
    const base = { messages: [{ role: 'user', content: 'Hi' }] };
    const low = translate({ ...base, reasoning_effort: 'low' }).request;
    assert.deepEqual(low.thinking, { type: 'enabled', budget_tokens: 2048 });
    assert.equal(low.max_tokens, 2048 + DEFAULT_MAX_TOKENS);
    assert.deepEqual(translate({ ...base, reasoning_effort: 'high', max_tokens: 32000 }).request.thinking, {
      type: 'enabled',
      budget_tokens: 16384,
    });
    // A client limit under the budget: the budget shrinks to fit.
    assert.deepEqual(translate({ ...base, reasoning_effort: 'high', max_tokens: 5000 }).request.thinking, {
      type: 'enabled',
      budget_tokens: 4999,
    });
    refused({ ...base, reasoning_effort: 'medium', max_tokens: 1000 }, 'max_tokens');
    assert.equal(translate({ ...base, reasoning_effort: 'none' }).request.thinking, undefined);
  });

  it('asks for a JSON schema answer through a forced tool', () => {
    const schema = { type: 'object', properties: { answer: { type: 'integer' } }, required: ['answer'] };
    const translation = translate({
      messages: [{ role: 'user', content: 'Answer' }],
      response_format: { type: 'json_schema', json_schema: { name: 'the answer', schema } },
    });
    assert.equal(translation.structuredTool, 'the_answer');
    assert.deepEqual(translation.request.tools, [
      { name: 'the_answer', description: 'Give the answer as this tool’s input.', input_schema: schema },
    ]);
    assert.deepEqual(translation.request.tool_choice, {
      type: 'tool',
      name: 'the_answer',
      disable_parallel_tool_use: true,
    });
    refused(
      {
        messages: [{ role: 'user', content: 'x' }],
        response_format: { type: 'json_schema', json_schema: { name: 'a', schema: { type: 'array' } } },
      },
      'response_format.json_schema.schema',
    );
    refused(
      {
        messages: [{ role: 'user', content: 'x' }],
        tools: [WEATHER],
        response_format: { type: 'json_object' },
      },
      'response_format',
    );
  });

  it('refuses what Anthropic cannot honour by name, or drops and reports it with drop_unsupported', () => {
    const base = { messages: [{ role: 'user', content: 'Hi' }] };
    refused({ ...base, seed: 7 }, 'seed');
    refused({ ...base, n: 2 }, 'n');
    refused({ ...base, logit_bias: { '1': 2 } }, 'logit_bias');
    refused({ ...base, temperature: 1.5 }, 'temperature');
    refused(
      {
        messages: [
          { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AA', format: 'wav' } }] },
        ],
      },
      'messages[0].content[0]',
    );
    refused(
      {
        messages: [
          { role: 'user', content: 'Hi' },
          {
            role: 'assistant',
            tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '[1]' } }],
          },
        ],
      },
      'messages[1].content[0].arguments',
    );
    const dropped = translate({ ...base, seed: 7, logit_bias: { '1': 2 }, stream_options: {} }, true);
    assert.deepEqual([...dropped.dropped].sort(), ['logit_bias', 'seed']);
    assert.equal('seed' in dropped.request, false);
  });
});

describe('toAnthropicRequest: prompt caching', () => {
  const EPHEMERAL = { type: 'ephemeral' };
  const HOUR = { type: 'ephemeral', ttl: '1h' };

  it('sends cache_control on the system blocks, content blocks, tool results and tools that carried it', () => {
    const { request } = translate({
      messages: [
        {
          role: 'system',
          content: [
            { type: 'text', text: 'Be brief.', cache_control: HOUR },
            { type: 'text', text: 'Today is Monday.' },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
            { type: 'text', text: 'Weather?' },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'toolu_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"location":"Paris"}' },
              cache_control: EPHEMERAL,
            },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny', cache_control: EPHEMERAL },
      ],
      tools: [{ ...WEATHER, cache_control: HOUR }],
    });
    assert.deepEqual(request.system, [
      { type: 'text', text: 'Be brief.', cache_control: HOUR },
      { type: 'text', text: 'Today is Monday.' },
    ]);
    assert.deepEqual(request.messages, [
      {
        role: 'user',
        content: [
          {
            type: 'image',
            source: { type: 'url', url: 'https://example.com/a.png' },
          },
          { type: 'text', text: 'Weather?' },
        ],
      },
      {
        role: 'assistant',
        content: [
          {
            type: 'tool_use',
            id: 'toolu_1',
            name: 'get_weather',
            input: { location: 'Paris' },
            cache_control: EPHEMERAL,
          },
        ],
      },
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: 'toolu_1',
            content: [{ type: 'text', text: 'sunny' }],
            cache_control: EPHEMERAL,
          },
        ],
      },
    ]);
    assert.deepEqual(request.tools?.[0]?.cache_control, HOUR);
  });

  it('sends cache_control on an image block', () => {
    const { request } = translate({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' }, cache_control: EPHEMERAL },
          ],
        },
      ],
    });
    assert.deepEqual(request.messages[0]?.content[0], {
      type: 'image',
      source: { type: 'url', url: 'https://example.com/a.png' },
      cache_control: EPHEMERAL,
    });
  });

  it('sends none when the request has none', () => {
    const { request } = translate({ messages: [{ role: 'user', content: 'Hi' }], tools: [WEATHER] });
    assert.ok(!JSON.stringify(request).includes('cache_control'));
  });

  it('four breakpoints go out; a fifth is a 400 before the request is sent', () => {
    const marked = (text: string): Record<string, unknown> => ({
      type: 'text',
      text,
      cache_control: EPHEMERAL,
    });
    const four = {
      messages: [
        { role: 'system', content: [marked('a')] },
        { role: 'user', content: [marked('b'), marked('c')] },
      ],
      tools: [{ ...WEATHER, cache_control: EPHEMERAL }],
    };
    assert.equal(JSON.stringify(translate(four).request).split('cache_control').length - 1, 4);
    const five = { ...four, messages: [...four.messages, { role: 'assistant', content: [marked('d')] }] };
    assert.throws(
      () => translate(five),
      (error: unknown) =>
        error instanceof InvalidRequestError &&
        error.status === 400 &&
        error.param === 'cache_control' &&
        /5 blocks.*at most 4/.test(error.message),
    );
    // A breakpoint on an empty text block, which is not sent, does not count.
    const withEmpty = { ...four, messages: [...four.messages, { role: 'assistant', content: [marked('')] }] };
    assert.doesNotThrow(() => translate(withEmpty));
  });
});
