import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { InvalidRequestError } from '../../errors/errors.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import type { MessagesRequest } from './schema.js';
import { toConversation } from './to-conversation.js';

function fixture(name: string): MessagesRequest {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as MessagesRequest;
}

function base(extra: Record<string, unknown> = {}): MessagesRequest {
  return {
    model: 'local',
    max_tokens: 256,
    messages: [{ role: 'user', content: 'Hi' }],
    ...extra,
  };
}

/** The 400 a request gets: its param and message. */
function refusal(body: MessagesRequest): { param: string | null; message: string } {
  try {
    toConversation(body);
  } catch (error) {
    assert.ok(error instanceof InvalidRequestError, String(error));
    assert.equal(error.status, 400);
    return { param: error.param, message: error.message };
  }
  assert.fail('the request was accepted');
}

describe('Anthropic Messages request → conversation (API reference examples)', () => {
  it('a basic request: a string content is one text part; max_tokens kept', () => {
    const conversation = toConversation(fixture('request-basic.json'));
    assert.equal(conversation.model, 'claude-sonnet-4-5');
    assert.deepEqual(conversation.messages, [
      { role: 'user', parts: [{ type: 'text', text: 'Hello, world' }] },
    ]);
    assert.deepEqual(conversation.options, { maxTokens: 1024 });
    assert.equal(conversation.stream, false);
    assert.equal(conversation.system, undefined);
  });

  it('tools with input_schema become tools with parameters; auto with disable_parallel_tool_use', () => {
    const conversation = toConversation(fixture('request-tools.json'));
    assert.equal(conversation.tools?.length, 1);
    assert.equal(conversation.tools[0]?.name, 'get_weather');
    assert.equal(conversation.tools[0]?.description, 'Get the current weather in a given location');
    assert.deepEqual(conversation.tools[0]?.parameters['required'], ['location']);
    assert.equal(conversation.toolChoice, 'auto');
    assert.equal(conversation.options.parallelToolCalls, false);
    const carrier = toChatRequest(conversation);
    assert.equal(carrier['parallel_tool_calls'], false);
    assert.deepEqual(
      (carrier.tools?.[0] as unknown as { function: { name: string } }).function.name,
      'get_weather',
    );
  });

  it('tool_use becomes a call with its input as JSON text; tool_result answers it by id, named', () => {
    const conversation = toConversation(fixture('request-tool-result.json'));
    const [question, assistant, result] = conversation.messages;
    assert.equal(question?.role, 'user');
    assert.deepEqual(assistant, {
      role: 'assistant',
      parts: [
        { type: 'text', text: "I'll check the current weather in San Francisco for you." },
        {
          type: 'tool_call',
          id: 'toolu_01A09q90qw90lq917835lq9',
          name: 'get_weather',
          arguments: '{"location":"San Francisco, CA","unit":"celsius"}',
        },
      ],
    });
    assert.deepEqual(result, {
      role: 'user',
      parts: [
        {
          type: 'tool_result',
          callId: 'toolu_01A09q90qw90lq917835lq9',
          name: 'get_weather',
          content: [{ type: 'text', text: '15 degrees' }],
        },
      ],
    });
    // Carried as chat completions: the assistant's tool_calls, then a tool message.
    const messages = toChatRequest(conversation).messages;
    assert.deepEqual(messages[1]?.tool_calls, [
      {
        id: 'toolu_01A09q90qw90lq917835lq9',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' },
      },
    ]);
    assert.deepEqual(messages[2], {
      role: 'tool',
      tool_call_id: 'toolu_01A09q90qw90lq917835lq9',
      content: '15 degrees',
      name: 'get_weather',
    });
  });

  it('images: base64 keeps its media type, url its URL; carried as image_url parts', () => {
    const conversation = toConversation(fixture('request-image.json'));
    const parts = conversation.messages[0]?.parts ?? [];
    assert.equal(parts[0]?.type, 'image');
    assert.equal((parts[0] as { mediaType?: string }).mediaType, 'image/png');
    assert.match((parts[0] as { data?: string }).data ?? '', /^iVBORw0KGgo/);
    assert.deepEqual(parts[1], {
      type: 'image',
      url: 'https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg',
    });
    const content = toChatRequest(conversation).messages[0]?.content as {
      type: string;
      image_url?: { url: string };
    }[];
    assert.match(content[0]?.image_url?.url ?? '', /^data:image\/png;base64,iVBORw0KGgo/);
    assert.equal(content[2]?.type, 'text');
  });

  it('thinking: a budget (→ an effort level for the carrier); thinking blocks with their signature, redacted ones', () => {
    const conversation = toConversation(fixture('request-thinking.json'));
    assert.deepEqual(conversation.options.reasoning, { budgetTokens: 10000 });
    assert.equal(toChatRequest(conversation)['reasoning_effort'], 'high');
    const assistant = conversation.messages[1];
    assert.deepEqual(assistant?.parts.slice(0, 2), [
      {
        type: 'reasoning',
        text: "To approach this, let's think about what we know about prime numbers...",
        signature:
          'zbbJhbGciOiJFU8zI1NiIsImtakcjsu38219c0.eyJoYXNoIjoiYWJjMTIzIiwiaWF0IjoxNjE0NTM0NTY3fQ....',
      },
      {
        type: 'reasoning',
        text: '',
        redacted:
          'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj',
      },
    ]);
  });

  it("a Claude Code request: system blocks and cache_control kept, Anthropic's platform fields accepted and ignored", () => {
    const conversation = toConversation(fixture('request-claude-code.json'));
    assert.deepEqual(conversation.system, [
      {
        type: 'text',
        text: "You are Claude Code, Anthropic's official CLI for Claude.",
        cacheControl: { type: 'ephemeral' },
      },
      {
        type: 'text',
        text: 'You are an interactive CLI tool that helps users with software engineering tasks.',
        cacheControl: { type: 'ephemeral', ttl: '1h' },
      },
    ]);
    assert.equal(conversation.user, 'user_5e4f6a1b_account__session_0b9d2c8e');
    assert.equal(conversation.stream, true);
    assert.deepEqual(conversation.options, { maxTokens: 32000, temperature: 1 });
    assert.equal(conversation.tools?.[0]?.name, 'Read');
    assert.deepEqual(conversation.tools?.[0]?.cacheControl, { type: 'ephemeral' });
    assert.equal(conversation.messages[0]?.parts.length, 2);
    assert.deepEqual(conversation.messages[0]?.parts[1], {
      type: 'text',
      text: 'what does package.json say?',
      cacheControl: { type: 'ephemeral' },
    });
    const carrier = toChatRequest(conversation);
    assert.equal(carrier.messages[0]?.role, 'system');
    assert.deepEqual(carrier.messages[0]?.content, [
      {
        type: 'text',
        text: "You are Claude Code, Anthropic's official CLI for Claude.",
        cache_control: { type: 'ephemeral' },
      },
      {
        type: 'text',
        text: 'You are an interactive CLI tool that helps users with software engineering tasks.',
        cache_control: { type: 'ephemeral', ttl: '1h' },
      },
    ]);
    assert.deepEqual((carrier.tools?.[0] as Record<string, unknown>)['cache_control'], { type: 'ephemeral' });
    assert.equal(carrier['user'], 'user_5e4f6a1b_account__session_0b9d2c8e');
    assert.equal(carrier['context_management'], undefined);
    assert.equal(carrier['service_tier'], undefined);
  });

  it('cache_control on image, tool_use and tool_result blocks is kept; a malformed one is a 400 naming it', () => {
    const cc = { type: 'ephemeral' };
    const conversation = toConversation(
      base({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' }, cache_control: cc },
            ],
          },
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 't1', name: 'f', input: {}, cache_control: cc }],
          },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok', cache_control: cc }],
          },
        ],
      }),
    );
    const parts = conversation.messages.map((message) => message.parts[0]);
    for (const part of parts) assert.deepEqual((part as { cacheControl?: unknown }).cacheControl, cc);
    for (const [bad, param] of [
      [{ type: 'persistent' }, 'messages[0].content[0].cache_control.type'],
      [{ type: 'ephemeral', ttl: '2h' }, 'messages[0].content[0].cache_control.ttl'],
      ['ephemeral', 'messages[0].content[0].cache_control'],
    ] as const)
      assert.throws(
        () =>
          toConversation(
            base({
              messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: bad }] }],
            }),
          ),
        (error: InvalidRequestError) => error.param === param,
      );
  });
});

describe('Anthropic Messages options', () => {
  it('sampling, stop sequences, metadata.user_id', () => {
    const conversation = toConversation(
      base({
        temperature: 0.2,
        top_p: 0.9,
        top_k: 40,
        stop_sequences: ['\n\nHuman:', 'END'],
        metadata: { user_id: 'u-1' },
        stream: true,
      }),
    );
    assert.deepEqual(conversation.options, {
      maxTokens: 256,
      temperature: 0.2,
      topP: 0.9,
      topK: 40,
      stop: ['\n\nHuman:', 'END'],
    });
    assert.equal(conversation.user, 'u-1');
    const carrier = toChatRequest(conversation);
    assert.equal(carrier['top_k'], 40);
    assert.deepEqual(carrier.stop, ['\n\nHuman:', 'END']);
    assert.equal(carrier.stream, true);
  });

  it('tool_choice: any → required, tool → a named tool, none → none', () => {
    const tools = [{ name: 'get_weather', input_schema: { type: 'object' } }];
    assert.equal(toConversation(base({ tools, tool_choice: { type: 'any' } })).toolChoice, 'required');
    assert.deepEqual(
      toConversation(base({ tools, tool_choice: { type: 'tool', name: 'get_weather' } })).toolChoice,
      {
        name: 'get_weather',
      },
    );
    assert.equal(toConversation(base({ tools, tool_choice: { type: 'none' } })).toolChoice, 'none');
    const carrier = toChatRequest(
      toConversation(base({ tools, tool_choice: { type: 'tool', name: 'get_weather' } })),
    );
    assert.deepEqual(carrier.tool_choice, { type: 'function', function: { name: 'get_weather' } });
  });

  it('thinking disabled asks for no reasoning; adaptive leaves it to the model unless output_config has an effort', () => {
    assert.deepEqual(toConversation(base({ thinking: { type: 'disabled' } })).options.reasoning, {
      effort: 'none',
    });
    assert.equal(toConversation(base({ thinking: { type: 'adaptive' } })).options.reasoning, undefined);
    assert.deepEqual(
      toConversation(base({ thinking: { type: 'adaptive' }, output_config: { effort: 'max' } })).options
        .reasoning,
      { effort: 'high' },
    );
  });

  it('output_config.format: a JSON schema for the answer', () => {
    const schema = { type: 'object', properties: { answer: { type: 'integer' } } };
    const conversation = toConversation(base({ output_config: { format: { type: 'json_schema', schema } } }));
    assert.deepEqual(conversation.options.responseFormat, { type: 'json_schema', name: 'output', schema });
    assert.deepEqual(toChatRequest(conversation).response_format, {
      type: 'json_schema',
      json_schema: { name: 'output', schema },
    });
  });

  it('a system message in messages, a tool result with text and image blocks and is_error', () => {
    const conversation = toConversation(
      base({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'shot', input: {} }] },
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: 'call_1',
                is_error: true,
                content: [
                  { type: 'text', text: 'failed' },
                  { type: 'image', source: { type: 'base64', media_type: 'image/webp', data: 'UklGR' } },
                ],
              },
            ],
          },
        ],
      }),
    );
    assert.equal(conversation.messages[0]?.role, 'system');
    assert.deepEqual(conversation.messages[2]?.parts[0], {
      type: 'tool_result',
      callId: 'call_1',
      name: 'shot',
      isError: true,
      content: [
        { type: 'text', text: 'failed' },
        { type: 'image', data: 'UklGR', mediaType: 'image/webp' },
      ],
    });
  });
});

describe('Anthropic Messages refusals: a 400 naming the field', () => {
  it('document blocks', () => {
    const { param, message } = refusal(
      base({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBER' } },
            ],
          },
        ],
      }),
    );
    assert.equal(param, 'messages[0].content[0].type');
    assert.match(message, /'document' blocks .* not supported/);
  });

  for (const type of ['web_search_20250305', 'bash_20250124', 'text_editor_20250728']) {
    it(`Anthropic's own tools: ${type}`, () => {
      const { param, message } = refusal(
        base({
          tools: [
            { name: 'get_weather', input_schema: { type: 'object' } },
            { type, name: 'x' },
          ],
        }),
      );
      assert.equal(param, 'tools[1].type');
      assert.match(message, new RegExp(`'${type}' is one of Anthropic's own tools`));
    });
  }

  it('a tool without input_schema', () => {
    assert.equal(refusal(base({ tools: [{ name: 'x' }] })).param, 'tools[0].input_schema');
  });

  it("fields that need Anthropic's platform: container, mcp_servers", () => {
    assert.equal(refusal(base({ container: 'container_1' })).param, 'container');
    assert.equal(
      refusal(base({ mcp_servers: [{ type: 'url', url: 'https://mcp.example' }] })).param,
      'mcp_servers',
    );
  });

  it('images from the Files API, of another media type, or from a URL that is not http', () => {
    const image = (source: Record<string, unknown>) =>
      base({ messages: [{ role: 'user', content: [{ type: 'image', source }] }] });
    assert.equal(
      refusal(image({ type: 'file', file_id: 'file_1' })).param,
      'messages[0].content[0].source.type',
    );
    assert.equal(
      refusal(image({ type: 'base64', media_type: 'image/tiff', data: 'AA' })).param,
      'messages[0].content[0].source.media_type',
    );
    assert.equal(
      refusal(image({ type: 'url', url: 'file:///etc/passwd' })).param,
      'messages[0].content[0].source.url',
    );
  });

  it('blocks in the wrong role, unknown blocks, server tool blocks', () => {
    const inUser = refusal(
      base({ messages: [{ role: 'user', content: [{ type: 'tool_use', id: 'a', name: 'b', input: {} }] }] }),
    );
    assert.equal(inUser.param, 'messages[0].content[0].type');
    assert.match(inUser.message, /belong in assistant messages/);
    const inAssistant = refusal(
      base({ messages: [{ role: 'assistant', content: [{ type: 'tool_result', tool_use_id: 'a' }] }] }),
    );
    assert.match(inAssistant.message, /belong in user messages/);
    assert.match(
      refusal(
        base({
          messages: [
            {
              role: 'assistant',
              content: [{ type: 'server_tool_use', id: 'a', name: 'web_search', input: {} }],
            },
          ],
        }),
      ).message,
      /server tools/,
    );
    assert.equal(
      refusal(base({ messages: [{ role: 'user', content: [{ type: 'hologram' }] }] })).param,
      'messages[0].content[0].type',
    );
  });

  it('a tool_use input that is not an object, a text block without text', () => {
    assert.equal(
      refusal(
        base({
          messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'b', input: '{}' }] }],
        }),
      ).param,
      'messages[0].content[0].input',
    );
    assert.equal(
      refusal(base({ messages: [{ role: 'user', content: [{ type: 'text' }] }] })).param,
      'messages[0].content[0].text',
    );
  });

  it('tool_choice: any without tools, a tool that is not there, an unknown type', () => {
    assert.equal(refusal(base({ tool_choice: { type: 'any' } })).param, 'tool_choice.type');
    assert.equal(
      refusal(
        base({
          tools: [{ name: 'a', input_schema: { type: 'object' } }],
          tool_choice: { type: 'tool', name: 'b' },
        }),
      ).param,
      'tool_choice.name',
    );
    assert.equal(refusal(base({ tool_choice: { type: 'sometimes' } })).param, 'tool_choice.type');
  });

  it('thinking: a budget under 1,024 or not under max_tokens, an unknown type', () => {
    assert.equal(
      refusal(base({ thinking: { type: 'enabled', budget_tokens: 100 } })).param,
      'thinking.budget_tokens',
    );
    const over = refusal(base({ max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 2000 } }));
    assert.equal(over.param, 'thinking.budget_tokens');
    assert.match(over.message, /less than max_tokens \(2000\)/);
    assert.equal(refusal(base({ thinking: { type: 'deep' } })).param, 'thinking.type');
  });

  it('a system prompt of other blocks', () => {
    assert.equal(refusal(base({ system: [{ type: 'image' }] })).param, 'system[0].type');
  });
});
