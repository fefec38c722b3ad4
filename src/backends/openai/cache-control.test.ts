import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletionRequest } from '../../api/schemas.js';
import { withoutCacheControl } from './cache-control.js';

const EPHEMERAL = { type: 'ephemeral' };

describe('withoutCacheControl (openai and azure_openai backends)', () => {
  it('removes cache_control from content parts, tool calls, tool messages and tools, and nothing else', () => {
    const request = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Be brief.', cache_control: EPHEMERAL }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' }, cache_control: EPHEMERAL },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c', type: 'function', function: { name: 'f', arguments: '{}' }, cache_control: EPHEMERAL },
          ],
        },
        { role: 'tool', tool_call_id: 'c', content: 'ok', cache_control: EPHEMERAL },
      ],
      tools: [{ type: 'function', function: { name: 'f' }, cache_control: EPHEMERAL }],
      temperature: 0.5,
    } as unknown as ChatCompletionRequest;
    const before = JSON.stringify(request);
    const out = withoutCacheControl(request);
    assert.ok(!JSON.stringify(out).includes('cache_control'));
    assert.deepEqual(out, JSON.parse(before.replaceAll(',"cache_control":{"type":"ephemeral"}', '')));
    assert.equal(JSON.stringify(request), before, 'the caller’s request is not changed');
  });

  it('gives the same object back when there is none', () => {
    const request = {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      tools: [{ type: 'function', function: { name: 'f' } }],
    } as unknown as ChatCompletionRequest;
    assert.equal(withoutCacheControl(request), request);
  });
});
