import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Answer, FinishReason, Part } from '../../conversation/model.js';
import { toAnswer } from '../openai-chat/answer.js';
import type { ChatCompletion } from '../../api/schemas.js';
import { stopReasonOf, toMessage, toUsage, toolInput } from './from-conversation.js';

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as Json;
}

const FINISH: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
};

/** The answer a backend would have given for one of Anthropic's documented messages. */
function answerFor(message: Json): Answer {
  const parts: Part[] = (message['content'] as Json[]).map((block): Part => {
    switch (block['type']) {
      case 'thinking':
        return {
          type: 'reasoning',
          text: block['thinking'] as string,
          signature: block['signature'] as string,
        };
      case 'text':
        return { type: 'text', text: block['text'] as string };
      case 'tool_use':
        return {
          type: 'tool_call',
          id: block['id'] as string,
          name: block['name'] as string,
          arguments: JSON.stringify(block['input']),
        };
      default:
        throw new Error(`no part for ${String(block['type'])}`);
    }
  });
  const usage = message['usage'] as { input_tokens: number; output_tokens: number };
  const stopSequence = message['stop_sequence'];
  return {
    id: 'chatcmpl-1',
    model: message['model'] as string,
    created: 1,
    choices: [
      {
        index: 0,
        parts,
        finishReason: FINISH[message['stop_reason'] as string] ?? null,
        ...(typeof stopSequence === 'string' ? { stopSequence } : {}),
      },
    ],
    usage: { inputTokens: usage.input_tokens, outputTokens: usage.output_tokens },
  };
}

/** The SDK's Message type: every field, so that a client reading any of them finds one. */
const MESSAGE_FIELDS = [
  'container',
  'content',
  'diagnostics',
  'id',
  'model',
  'role',
  'stop_details',
  'stop_reason',
  'stop_sequence',
  'type',
  'usage',
];
const USAGE_FIELDS = [
  'cache_creation',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
  'inference_geo',
  'input_tokens',
  'output_tokens',
  'output_tokens_details',
  'server_tool_use',
  'service_tier',
  'speed',
];

/** Every member of the documented value is in ours with the same value (ours may have more). */
function assertCovers(ours: unknown, documented: unknown, path = 'message'): void {
  if (documented !== null && typeof documented === 'object' && !Array.isArray(documented)) {
    assert.ok(ours !== null && typeof ours === 'object', `${path} is an object`);
    for (const [key, value] of Object.entries(documented))
      assertCovers((ours as Json)[key], value, `${path}.${key}`);
  } else if (Array.isArray(documented)) {
    assert.ok(Array.isArray(ours), `${path} is an array`);
    assert.equal(ours.length, documented.length, `${path} has ${documented.length} items`);
    documented.forEach((item, index) => {
      assertCovers((ours as unknown[])[index], item, `${path}[${index}]`);
    });
  } else assert.deepEqual(ours, documented, path);
}

describe('answer → Anthropic Message (API reference examples)', () => {
  for (const name of [
    'message-text.json',
    'message-tool-use.json',
    'message-thinking.json',
    'message-stop-sequence.json',
  ]) {
    it(`${name}: the documented message, with every field of the SDK's type`, () => {
      const documented = fixture(name);
      const ours = toMessage(answerFor(documented), documented['id'] as string);
      assertCovers(ours, documented);
      assert.deepEqual(Object.keys(ours).sort(), MESSAGE_FIELDS);
      assert.deepEqual(Object.keys(ours.usage).sort(), USAGE_FIELDS);
    });
  }

  it('tool_use blocks: input parsed, caller direct, an id made when the backend gave none', () => {
    const message = toMessage({
      id: 'x',
      model: 'qwen',
      created: 1,
      choices: [
        {
          index: 0,
          parts: [{ type: 'tool_call', id: '', name: 'get_time', arguments: '{"zone":"Asia/Tokyo"}' }],
          finishReason: 'stop',
        },
      ],
    });
    const block = message.content[0];
    assert.equal(block?.type, 'tool_use');
    assert.match(block.type === 'tool_use' ? block.id : '', /^toolu_[0-9a-f]{24}$/);
    assert.deepEqual(block.type === 'tool_use' ? block.input : null, { zone: 'Asia/Tokyo' });
    assert.deepEqual(block.type === 'tool_use' ? block.caller : null, { type: 'direct' });
    // Ollama says "stop" when the model called tools: Anthropic's clients need tool_use to run them.
    assert.equal(message.stop_reason, 'tool_use');
    assert.match(message.id, /^msg_[0-9a-f]{32}$/);
  });

  it('from a chat completion with reasoning_content (vLLM): thinking first, then text', () => {
    const completion = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'Qwen/Qwen3-8B',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: '42.', reasoning_content: 'Let me think.' },
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 100,
        completion_tokens: 20,
        total_tokens: 120,
        prompt_tokens_details: { cached_tokens: 64 },
        completion_tokens_details: { reasoning_tokens: 12 },
      },
    } as unknown as ChatCompletion;
    const message = toMessage(toAnswer(completion));
    assert.deepEqual(message.content, [
      { type: 'thinking', thinking: 'Let me think.', signature: '' },
      { type: 'text', text: '42.', citations: null },
    ]);
    assert.equal(message.model, 'Qwen/Qwen3-8B');
    // Anthropic's input_tokens leave out what was read from the cache.
    assert.equal(message.usage.input_tokens, 36);
    assert.equal(message.usage.cache_read_input_tokens, 64);
    assert.equal(message.usage.cache_creation_input_tokens, 0);
    assert.deepEqual(message.usage.output_tokens_details, { thinking_tokens: 12 });
  });
});

describe('stop reasons, usage, tool input', () => {
  it('maps every finish reason', () => {
    assert.deepEqual(stopReasonOf('stop', undefined, false), {
      stop_reason: 'end_turn',
      stop_sequence: null,
    });
    assert.deepEqual(stopReasonOf('stop', 'END', false), {
      stop_reason: 'stop_sequence',
      stop_sequence: 'END',
    });
    assert.deepEqual(stopReasonOf('length', undefined, true), {
      stop_reason: 'max_tokens',
      stop_sequence: null,
    });
    assert.deepEqual(stopReasonOf('tool_calls', undefined, false), {
      stop_reason: 'tool_use',
      stop_sequence: null,
    });
    assert.deepEqual(stopReasonOf('content_filter', undefined, false), {
      stop_reason: 'refusal',
      stop_sequence: null,
    });
    assert.deepEqual(stopReasonOf('other', undefined, false), {
      stop_reason: 'end_turn',
      stop_sequence: null,
    });
    assert.deepEqual(stopReasonOf(null, undefined, false), { stop_reason: 'end_turn', stop_sequence: null });
  });

  it('usage without a report is zeros, never missing numbers', () => {
    const usage = toUsage(undefined);
    assert.equal(usage.input_tokens, 0);
    assert.equal(usage.output_tokens, 0);
    assert.equal(usage.cache_read_input_tokens, 0);
  });

  it('tool input: an object, or {} for arguments that are not a JSON object', () => {
    assert.deepEqual(toolInput('{"a":1}'), { a: 1 });
    assert.deepEqual(toolInput(''), {});
    assert.deepEqual(toolInput('{"a":'), {});
    assert.deepEqual(toolInput('[1,2]'), {});
  });
});
