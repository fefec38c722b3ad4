import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletionRequest } from '../../api/schemas.js';
import { GatewayError } from '../../errors/errors.js';
import { fromChatRequest } from '../../protocols/openai-chat/to-conversation.js';
import {
  cohereEmbeddingBody,
  conversePath,
  embeddingFamily,
  invokePath,
  isAnthropicModel,
  titanEmbeddingBody,
  toConverseRequest,
  type ConverseTranslation,
} from './to-provider.js';

const CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const POLICY = { backend: 'aws', dropUnsupported: false };

function translate(body: Record<string, unknown>, dropUnsupported = false): ConverseTranslation {
  const request = { model: CLAUDE, ...body } as unknown as ChatCompletionRequest;
  return toConverseRequest(fromChatRequest(request), { backend: 'aws', dropUnsupported });
}

function refusal(body: Record<string, unknown>): GatewayError {
  try {
    translate(body);
  } catch (error) {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.status, 400);
    return error;
  }
  assert.fail('expected a 400');
}

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('Bedrock paths', () => {
  it('percent-encodes the model id as one path segment (inference profiles, ARNs)', () => {
    assert.equal(
      conversePath(CLAUDE, false),
      '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse',
    );
    assert.equal(
      conversePath(
        'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-3-70b-instruct-v1:0',
        true,
      ),
      '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.meta.llama3-3-70b-instruct-v1%3A0/converse-stream',
    );
    assert.equal(invokePath('amazon.titan-embed-text-v2:0'), '/model/amazon.titan-embed-text-v2%3A0/invoke');
  });

  it('knows Anthropic models by id, profile and ARN', () => {
    assert.ok(isAnthropicModel('anthropic.claude-3-7-sonnet-20250219-v1:0'));
    assert.ok(isAnthropicModel(CLAUDE));
    assert.ok(
      isAnthropicModel(
        'arn:aws:bedrock:us-east-1:1:inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0',
      ),
    );
    assert.ok(!isAnthropicModel('amazon.nova-pro-v1:0'));
    assert.ok(!isAnthropicModel('meta.llama3-3-70b-instruct-v1:0'));
  });
});

describe('toConverseRequest', () => {
  it('puts system text apart and maps the sampling options to inferenceConfig', () => {
    const { request, dropped } = translate({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Capital of France?' },
      ],
      max_tokens: 200,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['\n\n', 'END'],
      top_k: 40,
      user: 'someone',
      stream_options: { include_usage: true },
    });
    assert.deepEqual(dropped, []);
    assert.deepEqual(request, {
      system: [{ text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ text: 'Capital of France?' }] }],
      inferenceConfig: { maxTokens: 200, temperature: 0.2, topP: 0.9, stopSequences: ['\n\n', 'END'] },
      additionalModelRequestFields: { top_k: 40 },
    });
  });

  it('sends images inline with their format, and refuses images by URL with a 400 naming the part', () => {
    const { request } = translate({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
          ],
        },
      ],
    });
    assert.deepEqual(request.messages[0]?.content, [
      { text: 'What is this?' },
      { image: { format: 'png', source: { bytes: PNG } } },
    ]);
    const error = refusal({
      messages: [
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] },
      ],
    });
    assert.equal(error.param, 'messages[0].content[0]');
    assert.match(error.message, /inline only/);
    assert.match(
      refusal({
        messages: [
          {
            role: 'user',
            content: [{ type: 'image_url', image_url: { url: 'data:image/tiff;base64,AAAA' } }],
          },
        ],
      }).message,
      /image\/png, image\/jpeg, image\/gif and image\/webp/,
    );
  });

  it('maps tools, tool calls and tool results (parallel, errors), merging results and user text into one turn', () => {
    const { request } = translate({
      messages: [
        { role: 'user', content: 'Weather in Paris and Tokyo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'tooluse_a',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'tooluse_b',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'tooluse_a', content: '18°C and sunny' },
        { role: 'tool', tool_call_id: 'tooluse_b', content: '' },
        { role: 'user', content: 'Thanks!' },
      ],
      tools: [WEATHER],
      tool_choice: 'required',
    });
    assert.deepEqual(request.messages, [
      { role: 'user', content: [{ text: 'Weather in Paris and Tokyo?' }] },
      {
        role: 'assistant',
        content: [
          { toolUse: { toolUseId: 'tooluse_a', name: 'get_weather', input: { city: 'Paris' } } },
          { toolUse: { toolUseId: 'tooluse_b', name: 'get_weather', input: { city: 'Tokyo' } } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'tooluse_a', content: [{ text: '18°C and sunny' }] } },
          { toolResult: { toolUseId: 'tooluse_b', content: [] } },
          { text: 'Thanks!' },
        ],
      },
    ]);
    assert.deepEqual(request.toolConfig, {
      tools: [
        {
          toolSpec: {
            name: 'get_weather',
            description: 'The weather in a city',
            inputSchema: { json: WEATHER.function.parameters },
          },
        },
      ],
      toolChoice: { any: {} },
    });
  });

  it('maps tool_choice auto and a named function, and leaves the tools out for none', () => {
    const messages = [{ role: 'user', content: 'hi' }];
    assert.deepEqual(
      translate({ messages, tools: [WEATHER], tool_choice: 'auto' }).request.toolConfig?.toolChoice,
      {
        auto: {},
      },
    );
    assert.deepEqual(
      translate({
        messages,
        tools: [WEATHER],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
      }).request.toolConfig?.toolChoice,
      { tool: { name: 'get_weather' } },
    );
    assert.equal(
      translate({ messages, tools: [WEATHER], tool_choice: 'none' }).request.toolConfig,
      undefined,
    );
    assert.equal(translate({ messages, tools: [WEATHER] }).request.toolConfig?.toolChoice, undefined);
    assert.equal(
      refusal({ messages, tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'other' } } })
        .param,
      'tool_choice.function.name',
    );
  });

  it('refuses tool call arguments that are not JSON, naming them', () => {
    const error = refusal({
      messages: [
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{"city":' } }],
        },
      ],
    });
    assert.equal(error.param, 'messages[1].tool_calls[0].function.arguments');
  });

  it('sends signed reasoning back, and leaves unsigned reasoning out', () => {
    // As the model holds it (the chat carrier's reasoning_signature reads into the same part).
    const signed = toConverseRequest(
      {
        model: CLAUDE,
        messages: [
          { role: 'user', parts: [{ type: 'text', text: 'hi' }] },
          {
            role: 'assistant',
            parts: [
              { type: 'reasoning', text: 'greet', signature: 'sig-1' },
              { type: 'text', text: 'Hello' },
            ],
          },
          { role: 'user', parts: [{ type: 'text', text: 'again' }] },
        ],
        options: {},
        stream: false,
      },
      POLICY,
    ).request.messages[1];
    assert.deepEqual(signed, {
      role: 'assistant',
      content: [
        { reasoningContent: { reasoningText: { text: 'greet', signature: 'sig-1' } } },
        { text: 'Hello' },
      ],
    });
    const unsigned = translate({
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'Hello', reasoning_content: 'greet' },
      ],
    }).request.messages[1];
    assert.deepEqual(unsigned, { role: 'assistant', content: [{ text: 'Hello' }] });
  });

  it('turns reasoning effort into an Anthropic thinking budget, with room for the answer', () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const high = translate({ messages, reasoning_effort: 'high' }).request;
    assert.deepEqual(high.additionalModelRequestFields, {
      thinking: { type: 'enabled', budget_tokens: 16384 },
    });
    assert.equal(high.inferenceConfig?.maxTokens, 16384 + 4096);
    const low = translate({ messages, reasoning_effort: 'low', max_tokens: 10000 }).request;
    assert.deepEqual(low.additionalModelRequestFields, {
      thinking: { type: 'enabled', budget_tokens: 2048 },
    });
    assert.equal(low.inferenceConfig?.maxTokens, 10000);
    assert.equal(
      translate({ messages, reasoning_effort: 'none' }).request.additionalModelRequestFields,
      undefined,
    );
    assert.throws(
      () =>
        toConverseRequest(
          fromChatRequest({
            model: 'amazon.nova-pro-v1:0',
            messages,
            reasoning_effort: 'low',
          }),
          POLICY,
        ),
      (error: unknown) => error instanceof GatewayError && error.param === 'reasoning_effort',
    );
  });

  it("passes the client's own additionalModelRequestFields on", () => {
    const { request } = translate({
      messages: [{ role: 'user', content: 'hi' }],
      additionalModelRequestFields: { anthropic_beta: ['context-1m-2025-08-07'] },
      top_k: 5,
    });
    assert.deepEqual(request.additionalModelRequestFields, {
      anthropic_beta: ['context-1m-2025-08-07'],
      top_k: 5,
    });
    assert.equal(
      refusal({ messages: [{ role: 'user', content: 'hi' }], additionalModelRequestFields: [1] }).param,
      'additionalModelRequestFields',
    );
  });

  it('refuses what Converse cannot honour by name, or drops and reports it with drop_unsupported', () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const schema = { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } };
    assert.equal(refusal({ messages, response_format: schema }).param, 'response_format');
    assert.match(
      refusal({ messages, response_format: { type: 'json_object' } }).message,
      /no response format/,
    );
    assert.equal(refusal({ messages, n: 2 }).param, 'n');
    assert.equal(refusal({ messages, seed: 7 }).param, 'seed');
    assert.equal(refusal({ messages, logprobs: true }).param, 'logprobs');
    assert.equal(refusal({ messages, logit_bias: { '1': 2 } }).param, 'logit_bias');
    assert.equal(refusal({ messages, frequency_penalty: 0.5 }).param, 'frequency_penalty');
    assert.equal(refusal({ messages, whatever: 1 }).param, 'whatever');
    const { request, dropped } = translate(
      { messages, response_format: schema, seed: 7, n: 2, whatever: 1, temperature: 0.5 },
      true,
    );
    assert.deepEqual([...dropped].sort(), ['n', 'response_format', 'seed', 'whatever']);
    assert.deepEqual(request, {
      messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      inferenceConfig: { temperature: 0.5 },
    });
  });

  it('refuses audio with a 400 naming the part', () => {
    const error = refusal({
      messages: [
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] },
      ],
    });
    assert.equal(error.param, 'messages[0].content[0]');
  });
});

describe('embedding bodies', () => {
  it('knows the families by id prefix', () => {
    assert.equal(embeddingFamily('amazon.titan-embed-text-v2:0'), 'titan');
    assert.equal(embeddingFamily('cohere.embed-multilingual-v3'), 'cohere');
    assert.equal(embeddingFamily('amazon.nova-pro-v1:0'), null);
  });

  it('writes Titan and Cohere bodies', () => {
    assert.deepEqual(titanEmbeddingBody('hello', 512), {
      inputText: 'hello',
      dimensions: 512,
      normalize: true,
    });
    assert.throws(() => titanEmbeddingBody('hello', 300), /256, 512 or 1024/);
    assert.deepEqual(cohereEmbeddingBody(['a', 'b'], undefined), {
      texts: ['a', 'b'],
      input_type: 'search_document',
    });
  });
});

describe('toConverseRequest: prompt caching (cachePoint)', () => {
  const EPHEMERAL = { type: 'ephemeral' };
  const HOUR = { type: 'ephemeral', ttl: '1h' };

  it('puts a cachePoint right after each system block, content block, tool result and tool spec that carried cache_control', () => {
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
            {
              type: 'image_url',
              image_url: { url: `data:image/png;base64,${PNG}` },
              cache_control: EPHEMERAL,
            },
            { type: 'text', text: 'Weather?' },
          ],
        },
        {
          role: 'assistant',
          content: [{ type: 'text', text: 'Checking.', cache_control: EPHEMERAL }],
          tool_calls: [
            {
              id: 't1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{}' },
              cache_control: EPHEMERAL,
            },
          ],
        },
        { role: 'tool', tool_call_id: 't1', content: 'sunny', cache_control: EPHEMERAL },
      ],
      tools: [{ ...WEATHER, cache_control: HOUR }],
    });
    assert.deepEqual(request.system, [
      { text: 'Be brief.' },
      { cachePoint: { type: 'default', ttl: '1h' } },
      { text: 'Today is Monday.' },
    ]);
    assert.deepEqual(request.messages, [
      {
        role: 'user',
        content: [
          { image: { format: 'png', source: { bytes: PNG } } },
          { cachePoint: { type: 'default' } },
          { text: 'Weather?' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { text: 'Checking.' },
          { cachePoint: { type: 'default' } },
          { toolUse: { toolUseId: 't1', name: 'get_weather', input: {} } },
          { cachePoint: { type: 'default' } },
        ],
      },
      {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 't1', content: [{ text: 'sunny' }] } },
          { cachePoint: { type: 'default' } },
        ],
      },
    ]);
    assert.deepEqual(request.toolConfig?.tools.at(-1), { cachePoint: { type: 'default', ttl: '1h' } });
    assert.equal(request.toolConfig?.tools.length, 2);
  });

  it('sends no cachePoint without cache_control', () => {
    const { request } = translate({ messages: [{ role: 'user', content: 'Hi' }], tools: [WEATHER] });
    assert.ok(!JSON.stringify(request).includes('cachePoint'));
  });
});
