/**
 * ChunkDecoder on tool call deltas as OpenAI-compatible servers really send them, not only as OpenAI
 * does (`index` on every delta, the id on the first): without `index` (Gemini's OpenAI-compatible API,
 * SGLang, mistral.rs), and with every parallel call numbered 0. Before, an indexless call was numbered
 * by its place in the chunk's list, so the second of two parallel calls, each in a chunk of its own,
 * became arguments of the first: `{"city":"Paris"}{"zone":"UTC"}` under get_weather.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletionChunk } from '../../api/schemas.js';
import { AnswerAccumulator } from '../../conversation/events.js';
import type { Part } from '../../conversation/model.js';
import { ChunkEncoder } from './chunk-encoder.js';
import { ChunkDecoder } from './stream-events.js';

function chunk(delta: Record<string, unknown>, finish: string | null = null): ChatCompletionChunk {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
}

function partsOf(chunks: readonly ChatCompletionChunk[]): readonly Part[] {
  const decoder = new ChunkDecoder();
  const accumulator = new AnswerAccumulator();
  for (const event of [...chunks.flatMap((each) => decoder.decode(each)), ...decoder.end()])
    accumulator.add(event);
  return accumulator.result().choices[0]?.parts ?? [];
}

const PARIS = { type: 'tool_call', id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' };
const UTC = { type: 'tool_call', id: 'call_b', name: 'get_time', arguments: '{"zone":"UTC"}' };

describe('ChunkDecoder: tool calls', () => {
  it('keeps parallel calls apart by index, their fragments interleaved (OpenAI, vLLM)', () => {
    const parts = partsOf([
      chunk({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', function: { name: 'get_time', arguments: '{"zo' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: 'ne":"UTC"}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    assert.deepEqual(parts, [PARIS, UTC]);
  });

  it('keeps parallel calls apart when the server sends them whole without index (Gemini)', () => {
    const parts = partsOf([
      chunk({
        tool_calls: [{ id: 'call_a', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      }),
      chunk({ tool_calls: [{ id: 'call_b', function: { name: 'get_time', arguments: '{"zone":"UTC"}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    assert.deepEqual(parts, [PARIS, UTC]);
  });

  it('joins fragments without index or id to the call before them (SGLang)', () => {
    const parts = partsOf([
      chunk({ tool_calls: [{ id: 'call_a', function: { name: 'get_weather' } }] }),
      chunk({ tool_calls: [{ function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ function: { arguments: '"Paris"}' } }] }),
      chunk({ tool_calls: [{ id: 'call_b', function: { name: 'get_time', arguments: '{"zone":' } }] }),
      chunk({ tool_calls: [{ function: { arguments: '"UTC"}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    assert.deepEqual(parts, [PARIS, UTC]);
  });

  it('starts a new call when a new id comes at an index already used (every call numbered 0)', () => {
    const parts = partsOf([
      chunk({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] }),
      chunk({ tool_calls: [{ index: 0, id: 'call_b', function: { name: 'get_time', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"zone":"UTC"}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    assert.deepEqual(parts, [PARIS, UTC]);
  });

  it('continues a call whose id is repeated on every delta (llama.cpp)', () => {
    const parts = partsOf([
      chunk({
        tool_calls: [{ index: 0, id: 'call_a', function: { name: 'get_weather', arguments: '{"city":' } }],
      }),
      chunk({ tool_calls: [{ index: 0, id: 'call_a', function: { arguments: '"Paris"}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    assert.deepEqual(parts, [PARIS]);
  });

  it('names a call the server gave no id', () => {
    const parts = partsOf([
      chunk({ tool_calls: [{ index: 0, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] }),
    ]);
    assert.deepEqual(parts, [{ ...PARIS, id: 'call_0_0' }]);
  });
});

describe('ChunkDecoder: reasoning_signature (the carrier extension for Anthropic signatures)', () => {
  it('gives a reasoning event with the signature, which ends the reasoning part', () => {
    assert.deepEqual(
      partsOf([
        chunk({ role: 'assistant', reasoning_content: 'Hm' }),
        chunk({ reasoning_content: 'm.' }),
        chunk({ reasoning_signature: 'sig' }),
        chunk({ content: 'Hi' }, 'stop'),
      ]),
      [
        { type: 'reasoning', text: 'Hmm.', signature: 'sig' },
        { type: 'text', text: 'Hi' },
      ],
    );
  });

  it('ChunkEncoder writes the signature as a reasoning_signature delta', () => {
    const encoder = new ChunkEncoder();
    encoder.encode({ type: 'start', id: 'x', model: 'm', created: 1 });
    const chunks = encoder.encode({ type: 'reasoning', choice: 0, text: '', signature: 'sig' });
    assert.deepEqual(chunks.at(-1)?.choices[0]?.delta, { reasoning_signature: 'sig' });
  });
});
