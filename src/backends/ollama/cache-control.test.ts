import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletionRequest } from '../../api/schemas.js';
import { toOllamaChatRequest } from './convert.js';

describe('ollama backend: prompt-cache breakpoints', () => {
  it('are not sent to Ollama (it has no prompt cache by breakpoint)', () => {
    const request = {
      model: 'llama3.2',
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
    const out = JSON.stringify(
      toOllamaChatRequest(request, false, { backend: 'ollama', dropUnsupported: false }),
    );
    assert.ok(!out.includes('cache_control'), out);
    assert.ok(out.includes('Be brief.') && out.includes('"name":"f"'), out);
  });
});
