import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { AnswerAccumulator } from '../../conversation/events.js';
import type { StreamEvent } from '../../conversation/model.js';
import { ChunkDecoder } from '../../protocols/openai-chat/stream-events.js';
import { ChunkEncoder } from '../../protocols/openai-chat/chunk-encoder.js';
import { toAnswer } from '../../protocols/openai-chat/answer.js';
import { fromAnswer } from '../../protocols/openai-chat/to-conversation.js';
import {
  AnthropicStreamDecoder,
  AnthropicStreamError,
  fromAnthropicMessage,
  toFinish,
} from './from-provider.js';

function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

/** The fixture's SSE frames as (event, data) pairs, as a parser hands them over. */
function frames(text: string): [string, Record<string, unknown>][] {
  return text
    .split('\n\n')
    .filter((frame) => frame.trim() !== '')
    .map((frame) => {
      const lines = frame.split('\n');
      const event = lines.find((line) => line.startsWith('event: '))?.slice(7) ?? '';
      const data = lines.find((line) => line.startsWith('data: '))?.slice(6) ?? '{}';
      return [event, JSON.parse(data) as Record<string, unknown>];
    });
}

function decodeAll(text: string, structuredTool?: string): StreamEvent[] {
  const decoder = new AnthropicStreamDecoder(1_700_000_000, 'fallback', structuredTool);
  return frames(text).flatMap(([event, data]) => decoder.decode(event, data));
}

describe('fromAnthropicMessage', () => {
  it('reads text, the stop reason and usage with cache reads and writes in the prompt tokens', () => {
    const answer = fromAnthropicMessage(JSON.parse(fixture('message-text.json')), 1, 'm');
    assert.equal(answer.id, 'msg_013Zva2CMHLNnXjNJJKqJ2EF');
    assert.equal(answer.model, 'claude-sonnet-4-5-20250929');
    assert.deepEqual(answer.choices[0]?.parts, [{ type: 'text', text: 'Hi! My name is Claude.' }]);
    assert.equal(answer.choices[0]?.finishReason, 'stop');
    assert.deepEqual(answer.usage, {
      inputTokens: 2095 + 100 + 1800,
      outputTokens: 503,
      cachedInputTokens: 1800,
      cacheWriteInputTokens: 100,
    });
    const completion = fromAnswer(answer) as unknown as Record<string, unknown>;
    assert.deepEqual(completion['usage'], {
      prompt_tokens: 3995,
      completion_tokens: 503,
      total_tokens: 4498,
      prompt_tokens_details: { cached_tokens: 1800, cache_write_tokens: 100 },
    });
  });

  it('reads signed thinking and parallel tool calls; the signature survives the chat carrier', () => {
    const answer = fromAnthropicMessage(JSON.parse(fixture('message-thinking-tools.json')), 1, 'm');
    const choice = answer.choices[0];
    assert.equal(choice?.finishReason, 'tool_calls');
    assert.deepEqual(choice?.parts, [
      {
        type: 'reasoning',
        text: 'The user wants the weather in two cities; I can ask for both at once.',
        signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds',
      },
      { type: 'text', text: "I'll check both cities." },
      {
        type: 'tool_call',
        id: 'toolu_01A09q90qw90lq917835lq9',
        name: 'get_weather',
        arguments: '{"location":"Paris"}',
      },
      {
        type: 'tool_call',
        id: 'toolu_01B19r91rw91lr918836lr0',
        name: 'get_weather',
        arguments: '{"location":"Tokyo"}',
      },
    ]);
    const completion = fromAnswer(answer);
    const message = completion.choices[0]?.message as unknown as Record<string, unknown>;
    assert.equal(message['reasoning_signature'], 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds');
    assert.deepEqual(toAnswer(completion).choices[0]?.parts, choice?.parts);
  });

  it('gives a structured output tool input back as the text, finished with stop', () => {
    const answer = fromAnthropicMessage(
      {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-haiku-4-5',
        content: [{ type: 'tool_use', id: 'toolu_1', name: 'json_answer', input: { answer: 42 } }],
        stop_reason: 'tool_use',
        stop_sequence: null,
        usage: { input_tokens: 5, output_tokens: 7 },
      },
      1,
      'm',
      'json_answer',
    );
    assert.deepEqual(answer.choices[0]?.parts, [{ type: 'text', text: '{"answer":42}' }]);
    assert.equal(answer.choices[0]?.finishReason, 'stop');
    assert.deepEqual(answer.usage, { inputTokens: 5, outputTokens: 7 });
  });

  it('maps every stop reason; a stop sequence is kept', () => {
    assert.deepEqual(toFinish('end_turn'), { reason: 'stop' });
    assert.deepEqual(toFinish('stop_sequence'), { reason: 'stop' });
    assert.deepEqual(toFinish('max_tokens'), { reason: 'length' });
    assert.deepEqual(toFinish('tool_use'), { reason: 'tool_calls' });
    assert.deepEqual(toFinish('refusal'), { reason: 'content_filter' });
    assert.deepEqual(toFinish('pause_turn'), { reason: 'other', raw: 'pause_turn' });
    const answer = fromAnthropicMessage(
      {
        id: 'x',
        type: 'message',
        content: [{ type: 'text', text: 'a' }],
        stop_reason: 'stop_sequence',
        stop_sequence: 'END',
      },
      1,
      'm',
    );
    assert.equal(answer.choices[0]?.stopSequence, 'END');
    assert.equal((fromAnswer(answer).choices[0] as unknown as Record<string, unknown>)['stop_reason'], 'END');
  });
});

describe('AnthropicStreamDecoder', () => {
  it('decodes thinking with its signature, text, and parallel tool calls streamed in fragments', () => {
    const events = decodeAll(fixture('stream-thinking-tools.sse'));
    assert.deepEqual(events, [
      {
        type: 'start',
        id: 'msg_014p7gG3wDgGV9EUtLvnow3U',
        model: 'claude-sonnet-4-5-20250929',
        created: 1_700_000_000,
      },
      { type: 'reasoning', choice: 0, text: 'Two cities, ' },
      { type: 'reasoning', choice: 0, text: 'two calls.' },
      {
        type: 'reasoning',
        choice: 0,
        text: '',
        signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds',
      },
      { type: 'text', choice: 0, text: 'Checking ' },
      { type: 'text', choice: 0, text: 'both.' },
      {
        type: 'tool_call_start',
        choice: 0,
        call: 0,
        id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
        name: 'get_weather',
      },
      { type: 'tool_call_delta', choice: 0, call: 0, arguments: '{"location": "Pa' },
      { type: 'tool_call_delta', choice: 0, call: 0, arguments: 'ris"}' },
      {
        type: 'tool_call_start',
        choice: 0,
        call: 1,
        id: 'toolu_01U2y2gK45rBnl3uOUsO8Vq7',
        name: 'get_weather',
      },
      { type: 'tool_call_delta', choice: 0, call: 1, arguments: '{"location"' },
      { type: 'tool_call_delta', choice: 0, call: 1, arguments: ': "Tokyo"}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      {
        type: 'usage',
        usage: { inputTokens: 772, outputTokens: 89, cachedInputTokens: 300, cacheWriteInputTokens: 0 },
      },
    ]);
  });

  it('through the chat carrier (chunks and back) keeps the signature and the whole answer', () => {
    const events = decodeAll(fixture('stream-thinking-tools.sse'));
    const encoder = new ChunkEncoder();
    const chunks = events.flatMap((event) => encoder.encode(event));
    const signed = chunks.find((chunk) => {
      const delta = chunk.choices[0]?.delta as Record<string, unknown> | undefined;
      return delta?.['reasoning_signature'] !== undefined;
    });
    assert.ok(signed, 'a chunk carries reasoning_signature');
    const decoder = new ChunkDecoder();
    const back = [...chunks.flatMap((chunk) => decoder.decode(chunk)), ...decoder.end()];
    const direct = new AnswerAccumulator();
    for (const event of events) direct.add(event);
    const carried = new AnswerAccumulator();
    for (const event of back) carried.add(event);
    assert.deepEqual(carried.result(), direct.result());
    assert.equal(
      (carried.result().choices[0]?.parts[0] as { signature?: string }).signature,
      'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds',
    );
  });

  it('streams a structured output tool input as text', () => {
    const sse = [
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}',
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_9","name":"json_answer","input":{}}}',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"answer\\": "}}',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"42}"}}',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}',
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":9}}',
      'event: message_stop\ndata: {"type":"message_stop"}',
    ].join('\n\n');
    const events = decodeAll(sse, 'json_answer');
    assert.deepEqual(
      events.filter((event) => event.type !== 'start'),
      [
        { type: 'text', choice: 0, text: '{"answer": ' },
        { type: 'text', choice: 0, text: '42}' },
        { type: 'finish', choice: 0, reason: 'stop' },
        { type: 'usage', usage: { inputTokens: 5, outputTokens: 9 } },
      ],
    );
  });

  it('throws the error event with its type and message', () => {
    assert.throws(
      () => decodeAll(fixture('stream-error-overloaded.sse')),
      (error: unknown) =>
        error instanceof AnthropicStreamError &&
        error.errorType === 'overloaded_error' &&
        error.message === 'Overloaded',
    );
  });
});
