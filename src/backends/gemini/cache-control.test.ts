import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletionRequest } from '../../api/schemas.js';
import { toGeminiRequestFromChat } from './to-provider.js';

describe('gemini/vertex backend: prompt-cache breakpoints', () => {
  it('are ignored: the request is what it is without them, tools included', () => {
    const marked = {
      model: 'gemini-2.5-flash',
      messages: [
        {
          role: 'system',
          content: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
        },
        {
          role: 'user',
          content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral', ttl: '1h' } }],
        },
      ],
      tools: [
        {
          type: 'function',
          function: { name: 'f', parameters: { type: 'object', properties: {} } },
          cache_control: { type: 'ephemeral' },
        },
      ],
    } as unknown as ChatCompletionRequest;
    const plain = JSON.parse(
      JSON.stringify(marked).replace(/,"cache_control":\{[^}]*\}/g, ''),
    ) as ChatCompletionRequest;
    const policy = { backend: 'google', dropUnsupported: false };
    const out = toGeminiRequestFromChat(marked, policy);
    assert.deepEqual(out, toGeminiRequestFromChat(plain, policy));
    assert.ok(!JSON.stringify(out).includes('cache'), JSON.stringify(out));
    assert.ok(JSON.stringify(out).includes('"name":"f"'));
  });
});
