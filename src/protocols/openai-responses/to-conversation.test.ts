/**
 * Responses requests (fixtures/ in the shapes of OpenAI's API reference, and of what Codex sends) → the
 * conversation model, and on to the chat completions the pipeline carries; what cannot be served is a
 * 400 naming the field.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GatewayError } from '../../errors/errors.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import type { ResponsesRequest } from './schema.js';
import { inputItems, itemReferences, toConversation } from './to-conversation.js';

function fixture(name: string): ResponsesRequest {
  return JSON.parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8')) as ResponsesRequest;
}

function convert(request: ResponsesRequest) {
  return toConversation(request, inputItems(request.input), { historyLength: 0 });
}

/** The 400 a request gets: its param and message. */
function refusal(request: Record<string, unknown>): { param: string | null; message: string } {
  try {
    convert({ model: 'm', input: 'hi', ...request });
  } catch (error) {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.status, 400);
    return { param: error.param, message: error.message };
  }
  assert.fail('the request was accepted');
}

describe('Responses request → conversation', () => {
  it('a string input is one user message', () => {
    const conversation = convert(fixture('request-text.json'));
    assert.deepEqual(conversation.messages, [
      {
        role: 'user',
        parts: [{ type: 'text', text: 'Tell me a three sentence bedtime story about a unicorn.' }],
      },
    ]);
    assert.equal(conversation.system, undefined);
    assert.equal(conversation.stream, false);
    assert.deepEqual(conversation.options, {});
  });

  it('items: instructions, developer, images, a turn of reasoning and a call, its output, an answer', () => {
    const conversation = convert(fixture('request-items.json'));
    assert.deepEqual(conversation.system, [{ type: 'text', text: 'You are a helpful weather assistant.' }]);
    assert.deepEqual(
      conversation.messages.map((message) => [message.role, message.parts.map((part) => part.type)]),
      [
        ['system', ['text']],
        ['user', ['text', 'image', 'image']],
        ['assistant', ['reasoning', 'tool_call']],
        ['tool', ['tool_result']],
        ['assistant', ['text']],
        ['user', ['text']],
      ],
    );
    const [, user, assistant, tool] = conversation.messages;
    assert.deepEqual(user?.parts[1], {
      type: 'image',
      mediaType: 'image/png',
      data: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
      detail: 'low',
    });
    assert.deepEqual(user?.parts[2], { type: 'image', url: 'https://example.com/paris.jpg', detail: 'auto' });
    // OpenAI's reasoning: its summary is the text, its encrypted content kept opaque.
    assert.deepEqual(assistant?.parts, [
      { type: 'reasoning', text: '**Checking the weather**', redacted: 'gAAAAABoISQ24OyVRYbkYfukG' },
      {
        type: 'tool_call',
        id: 'call_12345xyz',
        name: 'get_weather',
        arguments: '{"location":"Paris, France"}',
      },
    ]);
    // The tool's name comes from its call, for backends that need it (Ollama).
    assert.deepEqual(tool?.parts, [
      {
        type: 'tool_result',
        callId: 'call_12345xyz',
        content: [{ type: 'text', text: '{"temperature": 14, "sky": "cloudy"}' }],
        name: 'get_weather',
      },
    ]);
    assert.deepEqual(conversation.tools, [
      {
        name: 'get_weather',
        description: 'Get current temperature for a given location.',
        parameters: (fixture('request-items.json').tools?.[0] as Record<string, unknown>)['parameters'],
        strict: true,
      },
    ]);
    assert.deepEqual(conversation.toolChoice, { name: 'get_weather' });
    assert.deepEqual(conversation.options, {
      maxTokens: 256,
      temperature: 0.2,
      topP: 0.9,
      responseFormat: {
        type: 'json_schema',
        name: 'weather',
        schema: {
          type: 'object',
          properties: { summary: { type: 'string' } },
          required: ['summary'],
          additionalProperties: false,
        },
        strict: true,
      },
      reasoning: { effort: 'low' },
      parallelToolCalls: false,
    });
    assert.equal(conversation.user, 'user-1234');
  });

  it('the items reach the backend as the chat completion the pipeline carries', () => {
    const chat = toChatRequest(convert(fixture('request-items.json')));
    const messages = chat.messages as Record<string, unknown>[];
    assert.deepEqual(
      messages.map((message) => message['role']),
      ['system', 'system', 'user', 'assistant', 'tool', 'assistant', 'user'],
    );
    assert.equal(messages[0]?.['content'], 'You are a helpful weather assistant.');
    assert.deepEqual(messages[3]?.['tool_calls'], [
      {
        id: 'call_12345xyz',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"location":"Paris, France"}' },
      },
    ]);
    assert.equal(messages[4]?.['tool_call_id'], 'call_12345xyz');
    assert.equal(chat.max_tokens, 256);
    assert.equal(chat['reasoning_effort'], 'low');
    assert.deepEqual(chat.tool_choice, { type: 'function', function: { name: 'get_weather' } });
    assert.equal((chat.response_format as { type: string }).type, 'json_schema');
    assert.equal(chat.user, 'user-1234');
  });

  it('what Codex 0.171 sends (captured): developer messages, a namespace tool, its hints accepted', () => {
    const conversation = convert(fixture('request-codex.json'));
    assert.equal(conversation.stream, true);
    assert.deepEqual(
      conversation.messages.map((message) => message.role),
      ['system', 'system', 'user', 'user', 'assistant', 'tool'],
    );
    assert.deepEqual(
      conversation.messages[4]?.parts.map((part) => part.type),
      ['tool_call'],
    );
    // The namespace's functions are tools of their own, under <namespace>__<name>.
    assert.deepEqual(
      conversation.tools?.map((tool) => tool.name),
      ['exec_command', 'view_image', 'multi_agent_v1__close_agent', 'multi_agent_v1__resume_agent'],
    );
    assert.equal(conversation.toolChoice, 'auto');
    assert.deepEqual(conversation.options, { parallelToolCalls: true });
  });

  it('a function_call of a namespace is the namespaced tool the model called', () => {
    const conversation = convert({
      model: 'm',
      input: [
        { role: 'user', content: 'spawn' },
        { type: 'function_call', namespace: 'agents', name: 'spawn', call_id: 'c1', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'ok' },
      ],
    });
    assert.deepEqual(conversation.messages[1]?.parts, [
      { type: 'tool_call', id: 'c1', name: 'agents__spawn', arguments: '{}' },
    ]);
    assert.equal((conversation.messages[2]?.parts[0] as { name?: string }).name, 'agents__spawn');
  });

  it('OpenAI-only effort levels ask a self-hosted server for high', () => {
    for (const effort of ['xhigh', 'max'])
      assert.deepEqual(convert({ model: 'm', input: 'x', reasoning: { effort } }).options.reasoning, {
        effort: 'high',
      });
  });

  it('log probabilities when asked for with include or top_logprobs', () => {
    assert.deepEqual(convert({ model: 'm', input: 'x', include: ['message.output_text.logprobs'] }).options, {
      logprobs: true,
    });
    assert.deepEqual(convert({ model: 'm', input: 'x', top_logprobs: 3 }).options, {
      logprobs: true,
      topLogprobs: 3,
    });
  });

  it('without tools, tool_choice auto and parallel_tool_calls mean nothing and are not sent', () => {
    const conversation = convert({ model: 'm', input: 'x', tool_choice: 'auto', parallel_tool_calls: false });
    assert.equal(conversation.toolChoice, undefined);
    assert.deepEqual(conversation.options, {});
  });

  it('item_references are listed with their place in input', () => {
    const items = inputItems([
      { role: 'user', content: 'a' },
      { type: 'item_reference', id: 'msg_1' },
    ] as never);
    assert.deepEqual(itemReferences(items), [{ index: 1, id: 'msg_1' }]);
  });

  it('an error in a stored conversation names previous_response_id, in the request names input[i]', () => {
    const history = [{ type: 'mystery' }];
    assert.throws(
      () =>
        toConversation({ model: 'm', input: [{ type: 'mystery' }] }, [...history, { type: 'mystery' }], {
          historyLength: 1,
        }),
      (error: GatewayError) => error.param === 'previous_response_id',
    );
    assert.equal(
      refusal({ input: [{ role: 'user', content: 'a' }, { type: 'mystery' }] }).param,
      'input[1].type',
    );
  });
});

describe('Responses requests refused with the field named', () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'a hosted tool',
      {
        tools: [
          { type: 'function', name: 'a', parameters: {} },
          { type: 'function', name: 'b', parameters: {} },
          { type: 'web_search' },
        ],
      },
      'tools[2].type',
      /only function tools/,
    ],
    [
      'a custom tool inside a namespace',
      {
        tools: [
          { type: 'namespace', name: 'ns', description: 'd', tools: [{ type: 'custom', name: 'patch' }] },
        ],
      },
      'tools[0].tools[0].type',
      /only function tools/,
    ],
    [
      'a namespace function named as another tool',
      {
        tools: [
          { type: 'function', name: 'ns__f' },
          { type: 'namespace', name: 'ns', description: 'd', tools: [{ type: 'function', name: 'f' }] },
        ],
      },
      'tools[1].name',
      /two tools/,
    ],
    [
      'a function tool field the gateway cannot honour',
      { tools: [{ type: 'function', name: 'a', defer_loading: true }] },
      'tools[0].defer_loading',
      /not supported/,
    ],
    [
      'a file',
      {
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'x' },
              { type: 'input_file', file_id: 'file-1' },
            ],
          },
        ],
      },
      'input[0].content[1].type',
      /files are not supported/,
    ],
    [
      'an image by file id',
      { input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1', detail: 'auto' }] }] },
      'input[0].content[0].file_id',
      /image_url/,
    ],
    [
      'an image URL of another scheme',
      {
        input: [
          { role: 'user', content: [{ type: 'input_image', image_url: 'ftp://x/y.png', detail: 'auto' }] },
        ],
      },
      'input[0].content[0].image_url',
      /data: URL/,
    ],
    [
      'a hosted tool call item',
      { input: [{ type: 'web_search_call', id: 'ws_1', status: 'completed' }] },
      'input[0].type',
      /web search/,
    ],
    ['an unknown role', { input: [{ role: 'critic', content: 'x' }] }, 'input[0].role', /role must be/],
    [
      'a function call without call_id',
      { input: [{ type: 'function_call', name: 'f', arguments: '{}' }] },
      'input[0].call_id',
      /string/,
    ],
    ['background', { background: true }, 'background', /background/],
    ['a conversation object', { conversation: 'conv_1' }, 'conversation', /previous_response_id/],
    ['a prompt template', { prompt: { id: 'pmpt_1' } }, 'prompt', /not supported/],
    ['truncation auto', { truncation: 'auto' }, 'truncation', /disabled/],
    [
      'a hosted tool_choice',
      { tools: [{ type: 'function', name: 'a' }], tool_choice: { type: 'file_search' } },
      'tool_choice.type',
      /not supported/,
    ],
    ['tool_choice required with no tools', { tool_choice: 'required' }, 'tool_choice', /no tools/],
    [
      'a json_schema format without its schema',
      { text: { format: { type: 'json_schema', name: 'x' } } },
      'text.format.schema',
      /JSON Schema/,
    ],
    ['an unknown format', { text: { format: { type: 'grammar' } } }, 'text.format.type', /json_schema/],
    ['an empty input', { input: [] }, 'input', /empty/],
    [
      'an unresolved item_reference',
      { input: [{ type: 'item_reference', id: 'msg_x' }] },
      'input[0].id',
      /stored response/,
    ],
  ];
  for (const [what, request, param, message] of cases) {
    it(what, () => {
      const refused = refusal(request);
      assert.equal(refused.param, param);
      assert.match(refused.message, message);
    });
  }
});
