import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletionRequest } from '../../api/schemas.js';
import type { ConversationRequest } from '../../conversation/model.js';
import { InvalidRequestError } from '../../errors/errors.js';
import { toChatRequest } from './from-conversation.js';
import { fromChatRequest } from './to-conversation.js';

const EPHEMERAL = { type: 'ephemeral' } as const;
const HOUR = { type: 'ephemeral', ttl: '1h' } as const;
const PNG = 'data:image/png;base64,iVBORw0KGgo=';

function request(body: Record<string, unknown>): ChatCompletionRequest {
  return { model: 'm', ...body } as ChatCompletionRequest;
}

/** A chat request with a breakpoint in every place the carrier has one. */
const MARKED = request({
  messages: [
    {
      role: 'system',
      content: [
        { type: 'text', text: 'You are terse.', cache_control: HOUR },
        { type: 'text', text: 'Today is Monday.' },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Look: ' },
        { type: 'image_url', image_url: { url: PNG }, cache_control: EPHEMERAL },
        { type: 'text', text: 'the weather?', cache_control: EPHEMERAL },
      ],
    },
    {
      role: 'assistant',
      content: [{ type: 'text', text: 'Checking.', cache_control: EPHEMERAL }],
      tool_calls: [
        {
          id: 'call_1',
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          cache_control: EPHEMERAL,
        },
      ],
    },
    { role: 'tool', tool_call_id: 'call_1', content: 'sunny', cache_control: HOUR },
    {
      role: 'tool',
      tool_call_id: 'call_2',
      content: [
        { type: 'text', text: 'rain ' },
        { type: 'text', text: 'later', cache_control: EPHEMERAL },
      ],
    },
  ],
  tools: [
    {
      type: 'function',
      function: { name: 'get_weather', parameters: { type: 'object', properties: {} } },
      cache_control: HOUR,
    },
  ],
});

describe('cache_control through the carrier', () => {
  it('fromChatRequest reads every breakpoint into the model', () => {
    const conversation = fromChatRequest(MARKED);
    const [system, user, assistant, tools] = conversation.messages;
    assert.deepEqual(system?.parts, [
      { type: 'text', text: 'You are terse.', cacheControl: HOUR },
      { type: 'text', text: 'Today is Monday.' },
    ]);
    assert.deepEqual(user?.parts, [
      { type: 'text', text: 'Look: ' },
      { type: 'image', mediaType: 'image/png', data: 'iVBORw0KGgo=', cacheControl: EPHEMERAL },
      { type: 'text', text: 'the weather?', cacheControl: EPHEMERAL },
    ]);
    assert.deepEqual(assistant?.parts, [
      { type: 'text', text: 'Checking.', cacheControl: EPHEMERAL },
      {
        type: 'tool_call',
        id: 'call_1',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
        cacheControl: EPHEMERAL,
      },
    ]);
    assert.deepEqual(tools?.parts, [
      {
        type: 'tool_result',
        callId: 'call_1',
        content: [{ type: 'text', text: 'sunny' }],
        cacheControl: HOUR,
      },
      {
        type: 'tool_result',
        callId: 'call_2',
        content: [
          { type: 'text', text: 'rain ' },
          { type: 'text', text: 'later', cacheControl: EPHEMERAL },
        ],
      },
    ]);
    assert.deepEqual(conversation.tools?.[0]?.cacheControl, HOUR);
    assert.equal(conversation.extra, undefined);
  });

  it('toChatRequest writes them back where they were: the chat request round-trips unchanged', () => {
    assert.deepEqual(toChatRequest(fromChatRequest(MARKED)), MARKED);
  });

  it('without breakpoints text-only content stays a string, and no cache_control is written', () => {
    const conversation: ConversationRequest = {
      model: 'm',
      system: [
        { type: 'text', text: 'a' },
        { type: 'text', text: 'b' },
      ],
      messages: [{ role: 'user', parts: [{ type: 'text', text: 'hi' }] }],
      tools: [{ name: 't', parameters: { type: 'object' } }],
      options: {},
      stream: false,
    };
    const chat = toChatRequest(conversation);
    assert.deepEqual(chat.messages, [
      { role: 'system', content: 'a\nb' },
      { role: 'user', content: 'hi' },
    ]);
    assert.ok(!JSON.stringify(chat).includes('cache_control'));
  });

  it('the model’s separate system text with a breakpoint becomes a system message of text parts', () => {
    const chat = toChatRequest({
      model: 'm',
      system: [
        { type: 'text', text: 'a', cacheControl: EPHEMERAL },
        { type: 'text', text: 'b' },
      ],
      messages: [{ role: 'user', parts: [{ type: 'text', text: 'hi' }] }],
      options: {},
      stream: false,
    });
    assert.deepEqual(chat.messages[0], {
      role: 'system',
      content: [
        { type: 'text', text: 'a', cache_control: EPHEMERAL },
        { type: 'text', text: 'b' },
      ],
    });
  });

  it('a malformed cache_control is a 400 naming the field', () => {
    const cases: [Record<string, unknown>, string][] = [
      [
        {
          messages: [
            { role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'forever' } }] },
          ],
        },
        'messages[0].content[0].cache_control.type',
      ],
      [
        {
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'x' },
                { type: 'text', text: 'y', cache_control: { type: 'ephemeral', ttl: '10m' } },
              ],
            },
          ],
        },
        'messages[0].content[1].cache_control.ttl',
      ],
      [
        { messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: true }] }] },
        'messages[0].content[0].cache_control',
      ],
      [
        {
          messages: [{ role: 'user', content: 'x' }],
          tools: [{ type: 'function', function: { name: 't' }, cache_control: { type: 'persistent' } }],
        },
        'tools[0].cache_control.type',
      ],
      [
        { messages: [{ role: 'tool', tool_call_id: 'c', content: 'x', cache_control: { ttl: '5m' } }] },
        'messages[0].cache_control.type',
      ],
    ];
    for (const [body, param] of cases)
      assert.throws(
        () => fromChatRequest(request(body)),
        (error: unknown) =>
          error instanceof InvalidRequestError &&
          error.status === 400 &&
          error.param === param &&
          error.message.includes(param),
        param,
      );
  });

  it('a null cache_control means none', () => {
    const conversation = fromChatRequest(
      request({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: null }] }] }),
    );
    assert.deepEqual(conversation.messages[0]?.parts, [{ type: 'text', text: 'x' }]);
  });
});
