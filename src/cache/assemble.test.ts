import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
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

  it('keeps parallel calls apart when the server leaves out index (Gemini, SGLang) or numbers every call 0', () => {
    for (const index of [undefined, 0]) {
      const at = index === undefined ? {} : { index };
      const result = assemble([
        chunk([delta(0, { tool_calls: [{ ...at, id: 'a', function: { name: 'f', arguments: '{"x":' } }] })]),
        chunk([
          delta(0, { tool_calls: [{ ...(index === undefined ? {} : at), function: { arguments: '1}' } }] }),
        ]),
        chunk([delta(0, { tool_calls: [{ ...at, id: 'b', function: { name: 'g', arguments: '{}' } }] })]),
        chunk([delta(0, {}, 'tool_calls')]),
      ]);
      assert.deepEqual(
        result?.choices[0]?.message.tool_calls?.map((call) => [
          call.id,
          call.function.name,
          call.function.arguments,
        ]),
        [
          ['a', 'f', '{"x":1}'],
          ['b', 'g', '{}'],
        ],
        `index ${String(index)}`,
      );
    }
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

/** A logprobs entry as OpenAI sends it. */
function logprob(token: string, value: number): Record<string, unknown> {
  return { token, logprob: value, bytes: [...Buffer.from(token)], top_logprobs: [] };
}

/** A chunk with fields beyond the schema's (system_fingerprint, reasoning_content, logprobs, ...). */
function loose(value: Record<string, unknown>): ChatCompletionChunk {
  return { ...BASE, ...value } as unknown as ChatCompletionChunk;
}

describe('CompletionAssembler keeps every field (fidelity)', () => {
  it('keeps reasoning_content, refusal: null, logprobs, system_fingerprint, service_tier and unknown fields', () => {
    const top = { system_fingerprint: 'fp_44709d6fcb', service_tier: 'default' };
    const result = assemble([
      loose({
        ...top,
        obfuscation: 'x1',
        prompt_logprobs: null,
        choices: [
          {
            index: 0,
            delta: { role: 'assistant', content: '', refusal: null },
            logprobs: null,
            finish_reason: null,
          },
        ],
      }),
      loose({
        ...top,
        prompt_logprobs: [{ '1': { logprob: -0.1 } }],
        choices: [{ index: 0, delta: { reasoning_content: 'Let me ' }, logprobs: null, finish_reason: null }],
      }),
      loose({
        ...top,
        choices: [{ index: 0, delta: { reasoning_content: 'think.' }, logprobs: null, finish_reason: null }],
      }),
      loose({
        ...top,
        obfuscation: 'x2',
        choices: [
          {
            index: 0,
            delta: { content: 'Hi', x_note: 'first' },
            logprobs: { content: [logprob('Hi', -0.5)], refusal: null },
            finish_reason: null,
          },
        ],
      }),
      loose({
        ...top,
        choices: [
          {
            index: 0,
            delta: { content: '!', x_note: 'second' },
            logprobs: { content: [logprob('!', -0.25)], refusal: null },
            finish_reason: null,
          },
        ],
      }),
      loose({
        ...top,
        choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop', stop_reason: 42 }],
      }),
      loose({ ...top, choices: [], usage: USAGE }),
    ]);
    assert.deepEqual(result, {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1700000000,
      model: 'm',
      system_fingerprint: 'fp_44709d6fcb',
      service_tier: 'default',
      // The last value that is not null; `obfuscation` (stream padding) is dropped.
      prompt_logprobs: [{ '1': { logprob: -0.1 } }],
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Hi!',
            refusal: null,
            reasoning_content: 'Let me think.',
            // An unknown string field is not concatenated: its last value is kept.
            x_note: 'second',
          },
          logprobs: { content: [logprob('Hi', -0.5), logprob('!', -0.25)], refusal: null },
          finish_reason: 'stop',
          stop_reason: 42,
        },
      ],
      usage: USAGE,
    });
  });

  it('keeps `reasoning` (newer vLLM) under its own name, before content', () => {
    const result = assemble([
      chunk([delta(0, { role: 'assistant' })]),
      loose({ choices: [{ index: 0, delta: { reasoning: 'Two plus ' }, finish_reason: null }] }),
      loose({ choices: [{ index: 0, delta: { reasoning: 'two.' }, finish_reason: null }] }),
      chunk([delta(0, { content: '4' })]),
      chunk([delta(0, {}, 'stop')]),
    ]);
    assert.deepEqual(result?.choices[0]?.message, {
      role: 'assistant',
      content: '4',
      reasoning: 'Two plus two.',
    });
    assert.equal('reasoning_content' in (result?.choices[0]?.message ?? {}), false);
  });

  it('a refusal: content null, the refusal and its logprobs concatenated', () => {
    const result = assemble([
      loose({
        choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: '' }, finish_reason: null }],
      }),
      loose({
        choices: [
          {
            index: 0,
            delta: { refusal: "I can't " },
            logprobs: { content: null, refusal: [logprob("I can't ", -0.1)] },
            finish_reason: null,
          },
        ],
      }),
      loose({
        choices: [
          {
            index: 0,
            delta: { refusal: 'help.' },
            logprobs: { content: null, refusal: [logprob('help.', -0.2)] },
            finish_reason: null,
          },
        ],
      }),
      chunk([delta(0, {}, 'stop')]),
    ]);
    assert.deepEqual(result?.choices[0], {
      index: 0,
      message: { role: 'assistant', content: null, refusal: "I can't help." },
      logprobs: { content: null, refusal: [logprob("I can't ", -0.1), logprob('help.', -0.2)] },
      finish_reason: 'stop',
    });
  });

  it('keeps unknown fields of tool calls and the legacy function_call', () => {
    const result = assemble([
      loose({
        choices: [
          {
            index: 0,
            delta: {
              role: 'assistant',
              tool_calls: [
                {
                  index: 0,
                  id: 'call_1',
                  type: 'function',
                  function: { name: 'f', arguments: '{"a"' },
                  extra_content: { google: { thought_signature: 'sig' } },
                },
              ],
            },
            finish_reason: null,
          },
        ],
      }),
      loose({
        choices: [
          {
            index: 0,
            delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] },
            finish_reason: null,
          },
        ],
      }),
      chunk([delta(0, {}, 'tool_calls')]),
    ]);
    assert.deepEqual(result?.choices[0]?.message.tool_calls, [
      {
        id: 'call_1',
        type: 'function',
        function: { name: 'f', arguments: '{"a":1}' },
        extra_content: { google: { thought_signature: 'sig' } },
      },
    ]);
    const legacy = assemble([
      loose({
        choices: [{ index: 0, delta: { role: 'assistant', function_call: { name: 'g', arguments: '' } } }],
      }),
      loose({ choices: [{ index: 0, delta: { function_call: { arguments: '{}' } }, finish_reason: null }] }),
      chunk([delta(0, {}, 'function_call')]),
    ]);
    assert.deepEqual(legacy?.choices[0]?.message, {
      role: 'assistant',
      content: null,
      function_call: { name: 'g', arguments: '{}' },
    });
  });

  it('keeps an upstream `__proto__` key as a plain field, never as a prototype', () => {
    const parsed = JSON.parse(
      '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","__proto__":{"polluted":1},' +
        '"choices":[{"index":0,"delta":{"content":"x","__proto__":{"polluted":2}},"finish_reason":"stop"}]}',
    ) as ChatCompletionChunk;
    const result = assemble([parsed]);
    assert.ok(result !== null);
    assert.equal(Object.getPrototypeOf(result), Object.prototype);
    assert.equal(Object.getPrototypeOf(result.choices[0]?.message), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(result.choices[0]?.message, '__proto__')?.value, {
      polluted: 2,
    });
    assert.equal(JSON.parse(JSON.stringify(result))['__proto__'].polluted, 1);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
});

describe('replayChunks keeps every field (fidelity)', () => {
  const stored = {
    id: 'chatcmpl-r',
    object: 'chat.completion',
    created: 1700000200,
    model: 'deepseek-r1',
    system_fingerprint: 'fp_abc',
    service_tier: 'default',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'Paris.',
          refusal: null,
          reasoning_content: 'The capital of France is Paris.',
          annotations: [],
        },
        logprobs: { content: [logprob('Paris', -0.01), logprob('.', -0.02)], refusal: null },
        finish_reason: 'stop',
        stop_reason: null,
      },
    ],
    usage: { ...USAGE, completion_tokens_details: { reasoning_tokens: 7 } },
  } as unknown as ChatCompletion;

  it('replays reasoning before content, logprobs on the content chunk, top-level fields on every chunk', () => {
    const chunks = replayChunks(stored, true) as unknown as Record<string, unknown>[];
    for (const item of chunks) {
      assert.equal(item['system_fingerprint'], 'fp_abc');
      assert.equal(item['service_tier'], 'default');
    }
    const deltas = chunks.flatMap((item) => item['choices'] as Record<string, unknown>[]);
    assert.deepEqual(deltas[0], {
      index: 0,
      delta: { role: 'assistant', content: '', refusal: null, annotations: [] },
      finish_reason: null,
    });
    const reasoningAt = deltas.findIndex((choice) => 'reasoning_content' in (choice['delta'] as object));
    const contentAt = deltas.findIndex(
      (choice) => (choice['delta'] as { content?: unknown }).content === 'Paris.',
    );
    assert.ok(
      reasoningAt > 0 && contentAt > reasoningAt,
      `reasoning at ${reasoningAt}, content at ${contentAt}`,
    );
    assert.deepEqual(deltas[contentAt]?.['logprobs'], {
      content: [logprob('Paris', -0.01), logprob('.', -0.02)],
      refusal: null,
    });
    assert.equal(deltas.filter((choice) => 'logprobs' in choice).length, 1);
    assert.deepEqual(deltas.at(-1), { index: 0, delta: {}, finish_reason: 'stop', stop_reason: null });
    assert.deepEqual(assemble(replayChunks(stored, true)), stored);
  });

  it('replays a tool-call answer with content null as content null', () => {
    const tools = {
      ...stored,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          finish_reason: 'tool_calls',
        },
      ],
    } as unknown as ChatCompletion;
    assert.deepEqual(replayChunks(tools, false)[0]?.choices[0]?.delta, { role: 'assistant', content: null });
    assert.deepEqual(assemble(replayChunks(tools, false)), without(tools));
  });
});

function without(completion: ChatCompletion): Record<string, unknown> {
  const { usage: _usage, ...rest } = completion;
  return rest;
}

describe('assemble(replayChunks(answer)) is the answer (property)', () => {
  const text = fc.string({ maxLength: 8 });
  const entry = fc.record({
    token: text,
    logprob: fc.double({ noNaN: true, max: 0 }),
    bytes: fc.option(fc.array(fc.nat(255), { maxLength: 4 }), { nil: null }),
    top_logprobs: fc.array(fc.record({ token: text, logprob: fc.double({ noNaN: true, max: 0 }) }), {
      maxLength: 2,
    }),
  });
  const logprobs = fc.option(
    fc.record({
      content: fc.option(fc.array(entry, { maxLength: 4 }), { nil: null }),
      refusal: fc.option(fc.array(entry, { maxLength: 2 }), { nil: null }),
    }),
    { nil: null },
  );
  const call = fc.record({
    id: text,
    type: fc.constant('function'),
    function: fc.record({ name: text, arguments: text }),
  });
  const json = fc.jsonValue({ maxDepth: 2 });
  const message = fc
    .record(
      {
        role: fc.constant('assistant'),
        content: fc.option(text, { nil: null }),
        refusal: fc.option(text, { nil: null }),
        reasoning_content: fc.option(text, { nil: null }),
        reasoning: fc.option(text, { nil: null }),
        tool_calls: fc.array(call, { maxLength: 3 }),
        function_call: fc.record({ name: text, arguments: text }),
        annotations: json,
        audio: json,
      },
      { requiredKeys: ['role', 'content'] },
    )
    // An empty content beside tool calls, a function call or a refusal is what a stream that opens with
    // `content: ""` gives: null (the one case where a stream cannot tell "" from null).
    .filter(
      (value) =>
        value.content !== '' ||
        ((value.tool_calls ?? []).length === 0 &&
          value.function_call === undefined &&
          (value.refusal ?? '') === ''),
    );
  const choice = fc.record(
    {
      message,
      logprobs,
      finish_reason: fc.constantFrom('stop', 'length', 'tool_calls', 'function_call'),
      stop_reason: fc.oneof(fc.constant(null), fc.nat(), text),
    },
    { requiredKeys: ['message', 'finish_reason'] },
  );
  const answer = fc
    .record(
      {
        id: text,
        created: fc.nat(),
        model: text,
        choices: fc.array(choice, { minLength: 1, maxLength: 3 }),
        usage: fc.record(
          {
            prompt_tokens: fc.nat(),
            completion_tokens: fc.nat(),
            total_tokens: fc.nat(),
            completion_tokens_details: fc.record({ reasoning_tokens: fc.nat() }),
          },
          { requiredKeys: ['prompt_tokens', 'completion_tokens', 'total_tokens'] },
        ),
        system_fingerprint: fc.option(text, { nil: null }),
        service_tier: fc.option(fc.constantFrom('default', 'flex', 'priority'), { nil: null }),
        prompt_logprobs: json,
      },
      { requiredKeys: ['id', 'created', 'model', 'choices'] },
    )
    // Through JSON, as every stored answer came: plain objects (fast-check's records have no prototype).
    .map(
      (value) =>
        JSON.parse(
          JSON.stringify({
            object: 'chat.completion',
            ...value,
            choices: value.choices.map((item, index) => ({ index, ...item })),
          }),
        ) as ChatCompletion,
    );

  it('for generated answers: several choices and tool calls, reasoning, refusal, logprobs, usage, unknown fields', () => {
    fc.assert(
      fc.property(answer, (generated) => {
        assert.deepEqual(assemble(replayChunks(generated, true)), generated);
        assert.deepEqual(assemble(replayChunks(generated, false)), without(generated));
      }),
      { seed: 18, numRuns: 300 },
    );
  });
});

describe('CompletionAssembler keeps Anthropic thinking signatures (reasoning_signature)', () => {
  it('keeps the signature whole (the last value, not concatenated) beside the joined reasoning, and replays it', () => {
    const result = assemble([
      chunk([delta(0, { role: 'assistant', content: '' })]),
      chunk([delta(0, { reasoning_content: 'Think' } as Choice['delta'])]),
      chunk([delta(0, { reasoning_content: 'ing.' } as Choice['delta'])]),
      chunk([delta(0, { reasoning_signature: 'EqQBsig==' } as Choice['delta'])]),
      chunk([delta(0, { content: 'Done' })]),
      chunk([delta(0, {}, 'stop')]),
    ]);
    const message = result?.choices[0]?.message as unknown as Record<string, unknown>;
    assert.equal(message['reasoning_content'], 'Thinking.');
    assert.equal(message['reasoning_signature'], 'EqQBsig==');
    assert.equal(message['content'], 'Done');
    const replayed = replayChunks(result as ChatCompletion, false).map(
      (item) => item.choices[0]?.delta as Record<string, unknown> | undefined,
    );
    assert.ok(replayed.some((item) => item?.['reasoning_signature'] === 'EqQBsig=='));
  });
});
