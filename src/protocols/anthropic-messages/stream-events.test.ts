import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { AnswerAccumulator, answerEvents } from '../../conversation/events.js';
import type { FinishReason, StreamEvent } from '../../conversation/model.js';
import { ServiceUnavailableError, UpstreamError } from '../../errors/errors.js';
import { MessagesEventEncoder } from './stream-events.js';

type Json = Record<string, unknown>;

interface SseEvent {
  readonly event: string;
  readonly data: Json;
}

/** Server-sent events as Anthropic's SDKs read them: each frame's `event:` and its JSON `data:`. */
function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((frame) => frame.trim() !== '')
    .map((frame) => {
      const lines = frame.split('\n');
      const event = lines.find((line) => line.startsWith('event: '))?.slice('event: '.length);
      const data = lines.find((line) => line.startsWith('data: '))?.slice('data: '.length);
      assert.ok(event !== undefined && data !== undefined, `a frame with event and data: ${frame}`);
      const parsed = JSON.parse(data) as Json;
      assert.equal(parsed['type'], event, 'the data names the same event');
      return { event, data: parsed };
    });
}

function transcript(name: string): SseEvent[] {
  return parseSse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
}

const FINISH: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  stop_sequence: 'stop',
};

/** The conversation events a backend's stream would have carried for one of Anthropic's transcripts. */
function eventsOf(sse: readonly SseEvent[]): StreamEvent[] {
  const events: StreamEvent[] = [];
  let calls = 0;
  let outputTokens = 0;
  let inputTokens = 0;
  for (const { data } of sse) {
    switch (data['type']) {
      case 'message_start': {
        const message = data['message'] as Json;
        inputTokens = (message['usage'] as { input_tokens: number }).input_tokens;
        events.push({ type: 'start', id: 'chatcmpl-x', model: message['model'] as string, created: 1 });
        break;
      }
      case 'content_block_start': {
        const block = data['content_block'] as Json;
        if (block['type'] === 'tool_use')
          events.push({
            type: 'tool_call_start',
            choice: 0,
            call: calls++,
            id: block['id'] as string,
            name: block['name'] as string,
          });
        break;
      }
      case 'content_block_delta': {
        const delta = data['delta'] as Json;
        if (delta['type'] === 'text_delta')
          events.push({ type: 'text', choice: 0, text: delta['text'] as string });
        else if (delta['type'] === 'thinking_delta')
          events.push({ type: 'reasoning', choice: 0, text: delta['thinking'] as string });
        else if (delta['type'] === 'signature_delta')
          events.push({ type: 'reasoning', choice: 0, text: '', signature: delta['signature'] as string });
        else if (delta['type'] === 'input_json_delta')
          events.push({
            type: 'tool_call_delta',
            choice: 0,
            call: calls - 1,
            arguments: delta['partial_json'] as string,
          });
        break;
      }
      case 'message_delta': {
        const delta = data['delta'] as { stop_reason: string; stop_sequence: string | null };
        outputTokens = (data['usage'] as { output_tokens: number }).output_tokens;
        events.push({
          type: 'finish',
          choice: 0,
          reason: FINISH[delta.stop_reason] ?? 'other',
          ...(delta.stop_sequence === null ? {} : { stopSequence: delta.stop_sequence }),
        });
        break;
      }
      default:
        break;
    }
  }
  events.push({ type: 'usage', usage: { inputTokens, outputTokens } });
  return events;
}

/**
 * What must match Anthropic's transcript exactly: the order of events, block indexes and types, every
 * delta. Not compared: ids, where pings fall (Anthropic sends them anywhere), empty input_json deltas
 * (Anthropic opens a tool's input with one; they carry nothing), and members the SDK's types added
 * since the documented example (checked to be null).
 */
function shape(sse: readonly SseEvent[]): unknown[] {
  return sse
    .filter(({ event }) => event !== 'ping')
    .filter(({ data }) => (data['delta'] as Json | undefined)?.['partial_json'] !== '')
    .map(({ event, data }) => {
      switch (event) {
        case 'message_start': {
          const message = data['message'] as Json;
          return {
            event,
            content: message['content'],
            stop_reason: message['stop_reason'],
            role: message['role'],
          };
        }
        case 'content_block_start': {
          // Members the SDK's types added since the examples were written, null or empty here.
          const { citations, caller, signature, ...block } = data['content_block'] as Json;
          assert.ok(citations === undefined || citations === null);
          assert.ok(caller === undefined || JSON.stringify(caller) === '{"type":"direct"}');
          return {
            event,
            index: data['index'],
            block: signature === '' || signature === undefined ? block : { ...block, signature },
          };
        }
        case 'message_delta': {
          const delta = data['delta'] as Json;
          return {
            event,
            stop_reason: delta['stop_reason'],
            stop_sequence: delta['stop_sequence'],
            output_tokens: (data['usage'] as Json)['output_tokens'],
          };
        }
        default:
          return { event, ...data };
      }
    });
}

function encode(events: readonly StreamEvent[]): SseEvent[] {
  const encoder = new MessagesEventEncoder({ inputTokens: () => 7 });
  const accumulator = new AnswerAccumulator();
  for (const event of events) accumulator.add(event);
  const half = Math.ceil(events.length / 2);
  // In two calls, as chunks arrive.
  const text =
    encoder.events(events.slice(0, half)) +
    encoder.events(events.slice(half)) +
    encoder.end(accumulator.result());
  return parseSse(text);
}

describe('conversation stream events → Anthropic server-sent events (API reference transcripts)', () => {
  for (const name of ['stream-text.sse', 'stream-tool-use.sse', 'stream-thinking.sse']) {
    it(`${name}: the same events in the same order`, () => {
      const documented = transcript(name);
      const ours = encode(eventsOf(documented));
      assert.deepEqual(shape(ours), shape(documented));
    });
  }

  it('a ping right after message_start; message_start carries the estimate, message_delta the backend count', () => {
    const ours = encode(eventsOf(transcript('stream-tool-use.sse')));
    assert.deepEqual(
      ours.slice(0, 2).map(({ event }) => event),
      ['message_start', 'ping'],
    );
    const start = ours[0]?.data['message'] as { usage: Json; stop_details: unknown; container: unknown };
    assert.equal(start.usage['input_tokens'], 7);
    assert.equal(start.stop_details, null);
    const delta = ours.find(({ event }) => event === 'message_delta')?.data;
    assert.deepEqual(delta?.['usage'], {
      input_tokens: 472,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: 89,
    });
    assert.deepEqual(delta?.['delta'], {
      stop_reason: 'tool_use',
      stop_sequence: null,
      stop_details: null,
      container: null,
    });
  });

  it('parallel tool calls and text after a tool call: a block each, indexes increasing', () => {
    const ours = encode([
      { type: 'start', id: 'c', model: 'qwen', created: 1 },
      { type: 'text', choice: 0, text: 'Checking.' },
      { type: 'tool_call_start', choice: 0, call: 0, id: 'call_a', name: 'get_weather' },
      { type: 'tool_call_delta', choice: 0, call: 0, arguments: '{"city":' },
      { type: 'tool_call_delta', choice: 0, call: 0, arguments: '"Paris"}' },
      { type: 'tool_call_start', choice: 0, call: 1, id: 'call_b', name: 'get_time' },
      { type: 'tool_call_delta', choice: 0, call: 1, arguments: '{"zone":"Asia/Tokyo"}' },
      { type: 'text', choice: 0, text: 'Done.' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
    ]);
    const blocks = ours.filter(({ event }) => event.startsWith('content_block'));
    assert.deepEqual(
      blocks.map(({ event, data }) => `${event}:${String(data['index'])}`),
      [
        'content_block_start:0',
        'content_block_delta:0',
        'content_block_stop:0',
        'content_block_start:1',
        'content_block_delta:1',
        'content_block_delta:1',
        'content_block_stop:1',
        'content_block_start:2',
        'content_block_delta:2',
        'content_block_stop:2',
        'content_block_start:3',
        'content_block_delta:3',
        'content_block_stop:3',
      ],
    );
    assert.deepEqual(blocks[3]?.data['content_block'], {
      type: 'tool_use',
      id: 'call_a',
      name: 'get_weather',
      input: {},
      caller: { type: 'direct' },
    });
    assert.deepEqual(blocks[4]?.data['delta'], { type: 'input_json_delta', partial_json: '{"city":' });
    const last = ours.at(-2)?.data['delta'] as Json;
    assert.equal(last['stop_reason'], 'tool_use');
    assert.equal(ours.at(-1)?.event, 'message_stop');
  });

  it('a stored answer replayed (answerEvents) streams as the live one did', () => {
    const events: StreamEvent[] = [
      { type: 'start', id: 'c', model: 'qwen', created: 1 },
      { type: 'reasoning', choice: 0, text: 'Let me think.' },
      { type: 'text', choice: 0, text: '42.' },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'usage', usage: { inputTokens: 9, outputTokens: 5 } },
    ];
    const accumulator = new AnswerAccumulator();
    for (const event of events) accumulator.add(event);
    assert.deepEqual(shape(encode(answerEvents(accumulator.result()))), shape(encode(events)));
  });

  it('an answer with no events at all still opens and closes the message', () => {
    const encoder = new MessagesEventEncoder({ inputTokens: () => 3 });
    const ours = parseSse(encoder.end({ id: 'c', model: 'qwen', created: 1, choices: [] }));
    assert.deepEqual(
      ours.map(({ event }) => event),
      ['message_start', 'ping', 'message_delta', 'message_stop'],
    );
  });

  it('an error after the stream started: event: error in Anthropic shape, as the documented example', () => {
    const documented = transcript('stream-error.sse').at(-1);
    const encoder = new MessagesEventEncoder({ inputTokens: () => 3 });
    const [overloaded] = parseSse(
      encoder.error(new ServiceUnavailableError('The gateway is shutting down'), '/v1/messages', 'req-1'),
    );
    assert.equal(overloaded?.event, documented?.event);
    assert.equal((overloaded?.data['error'] as Json)['type'], (documented?.data['error'] as Json)['type']);
    assert.deepEqual(overloaded?.data, {
      type: 'error',
      error: { type: 'overloaded_error', message: 'The gateway is shutting down' },
      request_id: 'req-1',
    });
    const [upstream] = parseSse(encoder.error(new UpstreamError('cut'), '/v1/messages', 'req-2'));
    assert.equal((upstream?.data['error'] as Json)['type'], 'api_error');
  });
});
