import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countPromptTokens, countTextTokens } from '../../rate-limit/token-estimate.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import { countInputTokens, roughInputTokens } from './route.js';
import type { MessagesRequest } from './schema.js';
import { toConversation } from './to-conversation.js';

const ARGS = { path: '/srv/app/src/very/long/path/to/a/file/that/the/model/wants/to/read.ts', limit: 2000 };

function conversationWithToolCall(): ReturnType<typeof toConversation> {
  return toConversation({
    model: 'local',
    max_tokens: 100,
    system: 'Be brief.',
    tools: [{ name: 'Read', input_schema: { type: 'object', properties: { path: { type: 'string' } } } }],
    messages: [
      { role: 'user', content: 'Read the file.' },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'I should read it.', signature: '' },
          { type: 'tool_use', id: 'toolu_1', name: 'Read', input: ARGS },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'export {}' }] },
    ],
  } as MessagesRequest);
}

describe('input token counts', () => {
  it("count_tokens: the carrier's count plus the assistant's tool calls and reasoning", () => {
    const conversation = conversationWithToolCall();
    const carrier = toChatRequest(conversation);
    assert.equal(
      countInputTokens(conversation, carrier),
      countPromptTokens(carrier) +
        countTextTokens('Read') +
        countTextTokens(JSON.stringify(ARGS)) +
        countTextTokens('I should read it.'),
    );
  });

  it("message_start's estimate: 4 characters a token, of every text, call and tool definition", () => {
    const conversation = conversationWithToolCall();
    const chars =
      'Be brief.'.length +
      'Read the file.'.length +
      'I should read it.'.length +
      'Read'.length +
      JSON.stringify(ARGS).length +
      'export {}'.length +
      JSON.stringify(conversation.tools).length;
    assert.equal(roughInputTokens(conversation), Math.ceil(chars / 4));
  });
});
