/**
 * Anthropic's Messages API answers → the conversation model: a whole message as an Answer, and the
 * server-sent events of a streamed one (message_start, content_block_start / _delta / _stop, message_delta,
 * message_stop, ping, error) as StreamEvents. Pure; the answers are untrusted input.
 * https://docs.anthropic.com/en/api/messages and /en/docs/build-with-claude/streaming.
 */
import type { Answer, FinishReason, Part, StreamEvent, Usage } from '../../conversation/model.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Anthropic's stop reasons → the model's; others (pause_turn, ...) are kept raw. */
export function toFinish(stopReason: unknown): { reason: FinishReason; raw?: string } {
  switch (stopReason) {
    case 'end_turn':
    case 'stop_sequence':
      return { reason: 'stop' };
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return { reason: 'length' };
    case 'tool_use':
      return { reason: 'tool_calls' };
    case 'refusal':
      return { reason: 'content_filter' };
    default:
      return typeof stopReason === 'string' && stopReason !== ''
        ? { reason: 'other', raw: stopReason.slice(0, 64) }
        : { reason: 'stop' };
  }
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/**
 * Anthropic's usage → the model's: prompt tokens are all the input, read from the prompt cache, written
 * to it, or neither (Anthropic counts the three apart); the cached ones are those read from the cache.
 */
export function toUsage(usage: Json): Usage {
  const read = count(usage['cache_read_input_tokens']);
  const written = count(usage['cache_creation_input_tokens']);
  return {
    inputTokens: count(usage['input_tokens']) + read + written,
    outputTokens: count(usage['output_tokens']),
    ...(usage['cache_read_input_tokens'] == null ? {} : { cachedInputTokens: read }),
    ...(usage['cache_creation_input_tokens'] == null ? {} : { cacheWriteInputTokens: written }),
  };
}

/** A tool call's input as JSON text (the JSON answer of a structured output tool). */
function inputText(input: unknown): string {
  return JSON.stringify(isObject(input) ? input : {});
}

/**
 * A whole message (`type: "message"`) as an Answer. `structuredTool`: the tool whose input is the answer's
 * JSON text (a response_format the gateway asked for through a tool), given back as text.
 */
export function fromAnthropicMessage(
  message: Json,
  created: number,
  fallbackModel: string,
  structuredTool?: string,
): Answer {
  const parts: Part[] = [];
  const content = Array.isArray(message['content']) ? (message['content'] as unknown[]) : [];
  let structured = false;
  for (const block of content) {
    if (!isObject(block)) continue;
    switch (block['type']) {
      case 'text':
        if (text(block['text']) !== '') parts.push({ type: 'text', text: text(block['text']) });
        break;
      case 'thinking': {
        const signature = text(block['signature']);
        parts.push({
          type: 'reasoning',
          text: text(block['thinking']),
          ...(signature === '' ? {} : { signature }),
        });
        break;
      }
      case 'redacted_thinking':
        parts.push({ type: 'reasoning', text: '', redacted: text(block['data']) });
        break;
      case 'tool_use':
        if (structuredTool !== undefined && block['name'] === structuredTool) {
          structured = true;
          parts.push({ type: 'text', text: inputText(block['input']) });
        } else
          parts.push({
            type: 'tool_call',
            id: text(block['id']),
            name: text(block['name']),
            arguments: inputText(block['input']),
          });
        break;
      default:
        break; // server tool blocks and the like: never asked for
    }
  }
  const finish = toFinish(message['stop_reason']);
  const stopSequence = message['stop_sequence'];
  const usage = isObject(message['usage']) ? toUsage(message['usage']) : undefined;
  return {
    id: text(message['id']),
    model: text(message['model']) || fallbackModel,
    created,
    choices: [
      {
        index: 0,
        parts,
        finishReason: structured && finish.reason === 'tool_calls' ? 'stop' : finish.reason,
        ...(finish.raw === undefined ? {} : { rawFinishReason: finish.raw }),
        ...(typeof stopSequence === 'string' ? { stopSequence } : {}),
      },
    ],
    ...(usage === undefined ? {} : { usage }),
  };
}

/** An `event: error` in a stream (after a 200): Anthropic's error type and message. */
export class AnthropicStreamError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

type BlockKind =
  | { kind: 'text' }
  | { kind: 'thinking' }
  | { kind: 'tool'; call: number }
  | { kind: 'json' }
  | { kind: 'other' };

/**
 * Anthropic's stream events → the model's, one event at a time. Tool calls are numbered from 0 in the
 * order their blocks start; usage (message_start's input counts, message_delta's output count, each
 * field's last value) comes once, at message_stop.
 */
export class AnthropicStreamDecoder {
  private readonly blocks = new Map<number, BlockKind>();
  private calls = 0;
  private structured = false;
  private usage: Json = {};
  private finished = false;
  /** Whether message_stop came: the answer is complete. */
  done = false;

  constructor(
    private readonly created: number,
    private readonly fallbackModel: string,
    private readonly structuredTool?: string,
  ) {}

  /** The events of one SSE event (its `event:` name and parsed `data`). */
  decode(name: string, data: Json): StreamEvent[] {
    const type = typeof data['type'] === 'string' ? data['type'] : name;
    switch (type) {
      case 'message_start':
        return this.start(isObject(data['message']) ? data['message'] : {});
      case 'content_block_start':
        return this.blockStart(
          count(data['index']),
          isObject(data['content_block']) ? data['content_block'] : {},
        );
      case 'content_block_delta':
        return this.blockDelta(count(data['index']), isObject(data['delta']) ? data['delta'] : {});
      case 'message_delta':
        return this.messageDelta(data);
      case 'message_stop':
        this.done = true;
        return this.end();
      case 'error': {
        const error = isObject(data['error']) ? data['error'] : {};
        throw new AnthropicStreamError(text(error['type']) || 'error', text(error['message']));
      }
      default:
        return []; // ping, content_block_stop, and event types added later
    }
  }

  private start(message: Json): StreamEvent[] {
    if (isObject(message['usage'])) this.mergeUsage(message['usage']);
    return [
      {
        type: 'start',
        id: text(message['id']),
        model: text(message['model']) || this.fallbackModel,
        created: this.created,
      },
    ];
  }

  private blockStart(index: number, block: Json): StreamEvent[] {
    switch (block['type']) {
      case 'text':
        this.blocks.set(index, { kind: 'text' });
        return text(block['text']) === '' ? [] : [{ type: 'text', choice: 0, text: text(block['text']) }];
      case 'thinking':
        this.blocks.set(index, { kind: 'thinking' });
        return text(block['thinking']) === ''
          ? []
          : [{ type: 'reasoning', choice: 0, text: text(block['thinking']) }];
      case 'redacted_thinking':
        // Redacted reasoning has no place in the chat carrier (docs/conversation.md).
        this.blocks.set(index, { kind: 'other' });
        return [];
      case 'tool_use': {
        if (this.structuredTool !== undefined && block['name'] === this.structuredTool) {
          this.structured = true;
          this.blocks.set(index, { kind: 'json' });
          return [];
        }
        const call = this.calls++;
        this.blocks.set(index, { kind: 'tool', call });
        return [
          { type: 'tool_call_start', choice: 0, call, id: text(block['id']), name: text(block['name']) },
        ];
      }
      default:
        this.blocks.set(index, { kind: 'other' });
        return [];
    }
  }

  private blockDelta(index: number, delta: Json): StreamEvent[] {
    const block = this.blocks.get(index);
    if (block === undefined) return [];
    switch (delta['type']) {
      case 'text_delta':
        return text(delta['text']) === '' ? [] : [{ type: 'text', choice: 0, text: text(delta['text']) }];
      case 'thinking_delta':
        return text(delta['thinking']) === ''
          ? []
          : [{ type: 'reasoning', choice: 0, text: text(delta['thinking']) }];
      case 'signature_delta':
        return text(delta['signature']) === ''
          ? []
          : [{ type: 'reasoning', choice: 0, text: '', signature: text(delta['signature']) }];
      case 'input_json_delta': {
        const piece = text(delta['partial_json']);
        if (piece === '') return [];
        if (block.kind === 'json') return [{ type: 'text', choice: 0, text: piece }];
        if (block.kind === 'tool')
          return [{ type: 'tool_call_delta', choice: 0, call: block.call, arguments: piece }];
        return [];
      }
      default:
        return [];
    }
  }

  private messageDelta(data: Json): StreamEvent[] {
    if (isObject(data['usage'])) this.mergeUsage(data['usage']);
    const delta = isObject(data['delta']) ? data['delta'] : {};
    if (delta['stop_reason'] == null || this.finished) return [];
    this.finished = true;
    const finish = toFinish(delta['stop_reason']);
    const stopSequence = delta['stop_sequence'];
    return [
      {
        type: 'finish',
        choice: 0,
        reason: this.structured && finish.reason === 'tool_calls' ? 'stop' : finish.reason,
        ...(finish.raw === undefined ? {} : { rawReason: finish.raw }),
        ...(typeof stopSequence === 'string' ? { stopSequence } : {}),
      },
    ];
  }

  private end(): StreamEvent[] {
    const events: StreamEvent[] = [];
    if (!this.finished) {
      this.finished = true;
      events.push({ type: 'finish', choice: 0, reason: 'stop' });
    }
    if (Object.keys(this.usage).length > 0) events.push({ type: 'usage', usage: toUsage(this.usage) });
    return events;
  }

  /** Each usage field's last value that is not null (message_delta's counts are cumulative). */
  private mergeUsage(usage: Json): void {
    for (const key of [
      'input_tokens',
      'output_tokens',
      'cache_read_input_tokens',
      'cache_creation_input_tokens',
    ]) {
      if (typeof usage[key] === 'number') this.usage[key] = usage[key];
    }
  }
}
