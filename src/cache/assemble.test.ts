import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletion, ChatCompletionChunk } from '../api/schemas.js';
import { CompletionAssembler, isCompleteAnswer, replayChunks } from './assemble.js';

const BASE = { id: 'chatcmpl-1', object: 'chat.completion.chunk' as const, created: 1700000000, model: 'm' };
const USAGE = { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 };

type Choice = ChatCompletionChunk['choices'][number];

function chunk(choices: Choice[], extra: Partial<ChatCompletionChunk> = {}): ChatCompletionChunk {
  return { ...BASE, choices, ...extra };
}

function delta(index: number, value: Choice['delta'], finish: string | null = null): Choice {
  return { index, delta: value, finish_reason: finish };
}

function assemble(chunks: ChatCompletionChunk[]): ChatCompletion | null {
  const assembler = new CompletionAssembler();
  for (const item of chunks) assembler.add(item);
  return assembler.result();
}

describe('CompletionAssembler', () => {
  it('rebuilds the content, finish_reason, id, created, model and usage of a streamed answer', () => {
    const result = assemble([
      chunk([delta(0, { role: 'assistant', content: '' })]),
      chunk([delta(0, { content: 'Hel' })]),
      chunk([delta(0, { content: 'lo' })]),
      chunk([delta(0, {}, 'stop')]),
      chunk([], { usage: USAGE }),
    ]);
    assert.deepEqual(result, {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1700000000,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
      usage: USAGE,
    });
  });

  it('leaves usage out when the stream reported none', () => {
    const result = assemble([chunk([delta(0, { content: 'x' }, 'length')])]);
    assert.ok(result !== null);
    assert.equal('usage' in result, false);
    assert.equal(result.choices[0]?.finish_reason, 'length');
  });

  it('rebuilds tool calls split across chunks, by their index, with content null', () => {
    const result = assemble([
      chunk([delta(0, { role: 'assistant' })]),
      chunk([
        delta(0, {
          tool_calls: [
            { index: 0, id: 'call_a', type: 'function', function: { name: 'get_', arguments: '' } },
          ],
        }),
      ]),
      chunk([delta(0, { tool_calls: [{ index: 0, function: { name: 'weather', arguments: '{"ci' } }] })]),
      chunk([
        delta(0, {
          tool_calls: [
            { index: 1, id: 'call_b', type: 'function', function: { name: 'time', arguments: '{' } },
          ],
        }),
      ]),
      chunk([
        delta(0, {
          tool_calls: [
            { index: 0, function: { arguments: 'ty":"Paris"}' } },
            { index: 1, function: { arguments: '}' } },
          ],
        }),
      ]),
      chunk([delta(0, {}, 'tool_calls')]),
    ]);
    assert.ok(result !== null);
    assert.deepEqual(result.choices, [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_a',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'call_b', type: 'function', function: { name: 'time', arguments: '{}' } },
          ],
        },
        finish_reason: 'tool_calls',
      },
    ]);
  });

  it('a stream that opens with content "" before its tool calls gives content null, as the JSON answer', () => {
    const result = assemble([
      chunk([delta(0, { role: 'assistant', content: '' })]),
      chunk([delta(0, { tool_calls: [{ index: 0, id: 'c', function: { name: 'f', arguments: '{}' } }] })]),
      chunk([delta(0, {}, 'tool_calls')]),
    ]);
    assert.equal(result?.choices[0]?.message.content, null);
    const empty = assemble([
      chunk([delta(0, { role: 'assistant', content: '' })]),
      chunk([delta(0, {}, 'length')]),
    ]);
    assert.equal(empty?.choices[0]?.message.content, '');
  });

  it('orders tool calls by index even when a later one starts first', () => {
    const result = assemble([
      chunk([delta(0, { tool_calls: [{ index: 1, id: 'second', function: { name: 'b', arguments: '' } }] })]),
      chunk([delta(0, { tool_calls: [{ index: 0, id: 'first', function: { name: 'a', arguments: '' } }] })]),
      chunk([delta(0, {}, 'tool_calls')]),
    ]);
    assert.deepEqual(
      result?.choices[0]?.message.tool_calls?.map((call) => call.id),
      ['first', 'second'],
    );
  });

  it('keeps both content and tool calls when a choice has both', () => {
    const result = assemble([
      chunk([delta(0, { content: 'Let me check.' })]),
      chunk([delta(0, { tool_calls: [{ index: 0, id: 'c', function: { name: 'f', arguments: '{}' } }] })]),
      chunk([delta(0, {}, 'tool_calls')]),
    ]);
    assert.equal(result?.choices[0]?.message.content, 'Let me check.');
    assert.equal(result?.choices[0]?.message.tool_calls?.length, 1);
  });

  it('rebuilds several choices (n > 1), interleaved, in index order', () => {
    const result = assemble([
      chunk([delta(1, { role: 'assistant', content: 'B' })]),
      chunk([delta(0, { role: 'assistant', content: 'A' })]),
      chunk([delta(1, { content: '2' }), delta(0, { content: '1' })]),
      chunk([delta(0, {}, 'stop')]),
      chunk([delta(1, {}, 'length')]),
    ]);
    assert.deepEqual(
      result?.choices.map((choice) => [choice.index, choice.message.content, choice.finish_reason]),
      [
        [0, 'A1', 'stop'],
        [1, 'B2', 'length'],
      ],
    );
  });

  it('returns null when a choice did not finish (a stream that broke off)', () => {
    assert.equal(assemble([chunk([delta(0, { content: 'Hel' })])]), null);
    assert.equal(
      assemble([
        chunk([delta(0, { content: 'A' }), delta(1, { content: 'B' })]),
        chunk([delta(0, {}, 'stop')]),
      ]),
      null,
    );
  });

  it('returns null when nothing came, or only usage', () => {
    assert.equal(new CompletionAssembler().result(), null);
    assert.equal(assemble([chunk([], { usage: USAGE })]), null);
  });

  it('returns null when a finish_reason shows a failure (content_filter, error)', () => {
    for (const reason of ['content_filter', 'error', 'abort']) {
      assert.equal(assemble([chunk([delta(0, { content: 'x' }, reason)])]), null, reason);
    }
  });
});

describe('isCompleteAnswer', () => {
  function completion(...reasons: (string | null)[]): ChatCompletion {
    return {
      id: 'x',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: reasons.map((reason, index) => ({
        index,
        message: { role: 'assistant', content: 'x' },
        finish_reason: reason,
      })),
    };
  }

  it('accepts stop, length, tool_calls and function_call on every choice', () => {
    for (const reason of ['stop', 'length', 'tool_calls', 'function_call'])
      assert.equal(isCompleteAnswer(completion(reason)), true, reason);
    assert.equal(isCompleteAnswer(completion('stop', 'length')), true);
  });

  it('refuses no choices, an unfinished choice, or a failure on any choice', () => {
    assert.equal(isCompleteAnswer(completion()), false);
    assert.equal(isCompleteAnswer(completion(null)), false);
    assert.equal(isCompleteAnswer(completion('content_filter')), false);
    assert.equal(isCompleteAnswer(completion('stop', 'content_filter')), false);
  });
});

describe('replayChunks', () => {
  const text: ChatCompletion = {
    id: 'chatcmpl-stored',
    object: 'chat.completion',
    created: 1700000123,
    model: 'Qwen/Qwen2.5-0.5B',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there' }, finish_reason: 'stop' }],
    usage: USAGE,
  };
  const tools: ChatCompletion = {
    ...text,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'a', arguments: '{"x":1}' } },
            { id: 'call_2', type: 'function', function: { name: 'b', arguments: '{}' } },
          ],
        },
        finish_reason: 'tool_calls',
      },
    ],
  };
  const several: ChatCompletion = {
    ...text,
    choices: [
      { index: 0, message: { role: 'assistant', content: 'one' }, finish_reason: 'stop' },
      { index: 1, message: { role: 'assistant', content: 'two' }, finish_reason: 'length' },
    ],
  };
  const mixed: ChatCompletion = {
    ...text,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'Calling.',
          tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        finish_reason: 'tool_calls',
      },
    ],
  };

  for (const [name, completion] of Object.entries({ text, tools, several, mixed })) {
    it(`produces chunks the assembler turns back into the same completion (${name})`, () => {
      assert.deepEqual(assemble(replayChunks(completion, true)), completion);
      const { usage: _usage, ...withoutUsage } = completion;
      assert.deepEqual(assemble(replayChunks(completion, false)), withoutUsage);
    });
  }

  it('is in the usual chunk format: role first, finish last, then usage only when asked', () => {
    const chunks = replayChunks(text, true);
    for (const item of chunks) {
      assert.equal(item.object, 'chat.completion.chunk');
      assert.equal(item.id, text.id);
      assert.equal(item.created, text.created);
      assert.equal(item.model, text.model);
    }
    assert.deepEqual(chunks[0]?.choices, [
      { index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null },
    ]);
    assert.deepEqual(chunks.at(-2)?.choices, [{ index: 0, delta: {}, finish_reason: 'stop' }]);
    assert.deepEqual(chunks.at(-1), {
      ...BASE,
      id: text.id,
      created: text.created,
      model: text.model,
      choices: [],
      usage: USAGE,
    });
    const withoutUsage = replayChunks(text, false);
    assert.equal(withoutUsage.length, chunks.length - 1);
    assert.ok(withoutUsage.every((item) => item.usage === undefined && item.choices.length === 1));
  });

  it('gives each tool call its index in the delta', () => {
    const toolChunk = replayChunks(tools, false).find(
      (item) => item.choices[0]?.delta.tool_calls !== undefined,
    );
    assert.deepEqual(toolChunk?.choices[0]?.delta.tool_calls, [
      { index: 0, id: 'call_1', type: 'function', function: { name: 'a', arguments: '{"x":1}' } },
      { index: 1, id: 'call_2', type: 'function', function: { name: 'b', arguments: '{}' } },
    ]);
  });

  it('sends no usage chunk when the stored answer has no usage, even when asked', () => {
    const { usage: _usage, ...bare } = text;
    assert.ok(replayChunks(bare, true).every((item) => item.usage === undefined));
  });
});
