/**
 * The conversation model's stream events → Anthropic's server-sent events, in Anthropic's order:
 * `message_start` (the message with empty content), a `ping`, then each content block as
 * `content_block_start`, its deltas (`thinking_delta` and `signature_delta`, `text_delta`,
 * `input_json_delta`) and `content_block_stop`, with `index` counting blocks from 0; then
 * `message_delta` (stop reason, usage) and `message_stop`. Blocks never interleave: reasoning, text and
 * each tool call open a block of their own when the one before is of another kind (text after a tool
 * call is a new block), as Anthropic's models stream. Every frame names its event, which is what
 * Anthropic's SDKs dispatch on. Only the first choice is written (this protocol never asks for more).
 */
import type { Answer, FinishReason, StreamEvent, Usage } from '../../conversation/model.js';
import type { GatewayError } from '../../errors/errors.js';
import type { EventEncoder } from '../../pipeline/output.js';
import { anthropicError } from './errors.js';
import { messageId, stopReasonOf, toolUseId, toUsage } from './from-conversation.js';

type Block =
  | { readonly kind: 'text'; readonly index: number }
  | { readonly kind: 'thinking'; readonly index: number; signed: boolean }
  | { readonly kind: 'tool_use'; readonly index: number; readonly call: number };

export interface EncoderOptions {
  /** The message id (a fresh `msg_` id by default). */
  readonly id?: string;
  /**
   * The prompt's tokens for `message_start`, counted by the gateway before the backend reports its own
   * count (which `message_delta` then carries): Anthropic's clients read input tokens from the start.
   */
  readonly inputTokens: () => number;
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class MessagesEventEncoder implements EventEncoder {
  readonly contentType = 'text/event-stream; charset=utf-8';
  readonly comments = true;
  private readonly id: string;
  private started = false;
  private block: Block | null = null;
  private nextIndex = 0;
  /** Block index of each tool call, by its call number. */
  private readonly callBlocks = new Map<number, number>();
  private calledTools = false;
  private finish: { reason: FinishReason; stopSequence?: string } | null = null;
  private usage: Usage | undefined;

  constructor(private readonly options: EncoderOptions) {
    this.id = options.id ?? messageId();
  }

  events(events: readonly StreamEvent[]): string {
    let out = '';
    for (const event of events) out += this.event(event);
    return out;
  }

  end(answer: Answer): string {
    let out = this.start(answer.model) + this.closeBlock();
    const choice = answer.choices[0];
    const finish = this.finish ?? (choice?.finishReason == null ? null : { reason: choice.finishReason });
    const usage = this.usage ?? answer.usage;
    const known = usage === undefined ? null : toUsage(usage);
    out += frame('message_delta', {
      type: 'message_delta',
      delta: {
        ...stopReasonOf(finish?.reason ?? null, finish?.stopSequence, this.calledTools),
        stop_details: null,
        container: null,
      },
      // Cumulative, as Anthropic's: the backend's counts replace the estimate of message_start.
      usage: {
        input_tokens: known?.input_tokens ?? null,
        cache_creation_input_tokens: known?.cache_creation_input_tokens ?? null,
        cache_read_input_tokens: known?.cache_read_input_tokens ?? null,
        output_tokens: known?.output_tokens ?? 0,
        ...(known?.output_tokens_details == null
          ? {}
          : { output_tokens_details: known.output_tokens_details }),
      },
    });
    return out + frame('message_stop', { type: 'message_stop' });
  }

  error(error: GatewayError, _instance: string, requestId: string): string {
    return frame('error', anthropicError(error, requestId));
  }

  private event(event: StreamEvent): string {
    if (event.type === 'start') return this.start(event.model);
    if (event.type === 'usage') {
      this.usage = event.usage;
      return '';
    }
    if (event.choice !== 0) return '';
    switch (event.type) {
      case 'reasoning':
        return this.reasoning(event.text, event.signature);
      case 'text': {
        if (event.text === '') return '';
        let out = '';
        if (this.block?.kind !== 'text')
          out += this.open({ type: 'text', text: '', citations: null }, 'text');
        return out + this.delta({ type: 'text_delta', text: event.text });
      }
      case 'tool_call_start': {
        this.calledTools = true;
        const out = this.open(
          {
            type: 'tool_use',
            id: event.id === '' ? toolUseId() : event.id,
            name: event.name,
            input: {},
            caller: { type: 'direct' },
          },
          'tool_use',
          event.call,
        );
        return out;
      }
      case 'tool_call_delta': {
        const index = this.callBlocks.get(event.call);
        if (index === undefined || event.arguments === '') return '';
        // Arguments of an earlier call after a later one began (no server streams so): still sent to
        // that call's block, by its index, which is how Anthropic's SDKs place every delta.
        return frame('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: event.arguments },
        });
      }
      case 'finish':
        this.finish = {
          reason: event.reason,
          ...(event.stopSequence === undefined ? {} : { stopSequence: event.stopSequence }),
        };
        return '';
      case 'logprobs':
        return '';
    }
  }

  /** message_start and the first ping, once. */
  private start(model: string): string {
    if (this.started) return '';
    this.started = true;
    const usage = toUsage(undefined);
    usage.input_tokens = this.options.inputTokens();
    return (
      frame('message_start', {
        type: 'message_start',
        message: {
          id: this.id,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          stop_details: null,
          container: null,
          diagnostics: null,
          usage,
        },
      }) + frame('ping', { type: 'ping' })
    );
  }

  private reasoning(text: string, signature: string | undefined): string {
    let out = '';
    // A signed block is complete: reasoning after it is a block of its own.
    if (this.block?.kind !== 'thinking' || this.block.signed)
      out += this.open({ type: 'thinking', thinking: '', signature: '' }, 'thinking');
    if (text !== '') out += this.delta({ type: 'thinking_delta', thinking: text });
    if (signature !== undefined && signature !== '') {
      out += this.delta({ type: 'signature_delta', signature });
      if (this.block?.kind === 'thinking') this.block.signed = true;
    }
    return out;
  }

  private open(contentBlock: Record<string, unknown>, kind: Block['kind'], call = 0): string {
    let out = this.start('') + this.closeBlock();
    const index = this.nextIndex++;
    if (kind === 'tool_use') {
      this.block = { kind, index, call };
      this.callBlocks.set(call, index);
    } else this.block = kind === 'thinking' ? { kind, index, signed: false } : { kind, index };
    out += frame('content_block_start', { type: 'content_block_start', index, content_block: contentBlock });
    return out;
  }

  private delta(delta: Record<string, unknown>): string {
    const index = this.block?.index ?? 0;
    return frame('content_block_delta', { type: 'content_block_delta', index, delta });
  }

  private closeBlock(): string {
    if (this.block === null) return '';
    const index = this.block.index;
    this.block = null;
    return frame('content_block_stop', { type: 'content_block_stop', index });
  }
}
