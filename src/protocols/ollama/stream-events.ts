/**
 * Stream events → Ollama's NDJSON lines (application/x-ndjson, one JSON object a line, no comments):
 * a line per text or thinking delta, each tool call as a line of its own with its whole arguments
 * object, and a last line with `done: true`, the done reason, counts and durations. An error after the
 * stream started is a last line `{"error": "..."}`, as Ollama's server writes it.
 *
 * Ollama never fragments tool call arguments, and its clients (ollama-js, ollama-python) read each
 * call's `arguments` as an object: the arguments of a call are held until the call is complete (the
 * next call starts, the choice finishes, or the stream ends), then the call goes out. What is held is
 * one call's arguments, which the answer's own size bounds.
 */
import type { Answer, FinishReason, StreamEvent, TokenLogprob } from '../../conversation/model.js';
import type { GatewayError } from '../../errors/errors.js';
import type { EventEncoder } from '../../pipeline/output.js';
import { ollamaErrorLine } from './errors.js';
import {
  argumentsObject,
  chatMessage,
  createdAt,
  doneReason,
  metrics,
  nowNs,
  ollamaLogprobs,
  toolCall,
  ToolArgumentsError,
} from './from-conversation.js';

type Json = Record<string, unknown>;

export type OllamaEndpoint = 'chat' | 'generate';

interface OpenCall {
  readonly call: number;
  readonly id: string;
  readonly name: string;
  args: string;
}

export class OllamaStreamEncoder implements EventEncoder {
  readonly contentType = 'application/x-ndjson';
  readonly comments = false;
  private firstTokenAt: bigint | null = null;
  private open: OpenCall | null = null;
  /** Tool calls written so far: the next one's `function.index`. */
  private calls = 0;
  private finish: FinishReason | null = null;
  /** An error line was written: nothing follows it. */
  private failed = false;

  constructor(
    private readonly endpoint: OllamaEndpoint,
    /** The model name the client asked for, echoed on every line as Ollama does. */
    private readonly model: string,
    private readonly startedAt: bigint,
    private readonly clock: () => bigint = nowNs,
  ) {}

  events(events: readonly StreamEvent[]): string {
    if (this.failed) return '';
    const lines: Json[] = [];
    // The line a logprobs event belongs to: the text line of the same chunk.
    let lastText: Json | null = null;
    try {
      for (const event of events) {
        // Ollama answers one choice; the carrier never asks for more (no `n`).
        if (event.type !== 'start' && event.type !== 'usage' && event.choice !== 0) continue;
        switch (event.type) {
          case 'text':
            this.markFirst();
            this.flush(lines);
            lastText = this.line(event.text, '');
            lines.push(lastText);
            break;
          case 'reasoning':
            this.markFirst();
            this.flush(lines);
            lines.push(this.line('', event.text));
            break;
          case 'tool_call_start':
            this.markFirst();
            this.flush(lines);
            // /api/generate takes no tools: a call there has nowhere to go.
            if (this.endpoint === 'chat')
              this.open = { call: event.call, id: event.id, name: event.name, args: '' };
            break;
          case 'tool_call_delta':
            if (this.open !== null && this.open.call === event.call) this.open.args += event.arguments;
            break;
          case 'logprobs':
            if (lastText !== null && lastText['logprobs'] === undefined)
              lastText['logprobs'] = ollamaLogprobs(event.content);
            else lines.push(this.logprobsLine(event.content));
            break;
          case 'finish':
            this.flush(lines);
            this.finish = event.reason;
            break;
          case 'start':
          case 'usage':
            break;
        }
      }
    } catch (error) {
      if (!(error instanceof ToolArgumentsError)) throw error;
      this.failed = true;
      return lines.map(frame).join('') + ollamaErrorLine(error);
    }
    return lines.map(frame).join('');
  }

  end(answer: Answer): string {
    if (this.failed) return '';
    const lines: Json[] = [];
    try {
      this.flush(lines);
    } catch (error) {
      if (!(error instanceof ToolArgumentsError)) throw error;
      this.failed = true;
      return lines.map(frame).join('') + ollamaErrorLine(error);
    }
    const now = this.clock();
    const reason = doneReason(this.finish ?? answer.choices[0]?.finishReason ?? null);
    const timing = { startedAt: this.startedAt, firstTokenAt: this.firstTokenAt };
    const last: Json =
      this.endpoint === 'chat'
        ? {
            model: this.model,
            created_at: createdAt(now),
            message: chatMessage('', '', []),
            done: true,
            done_reason: reason,
            ...metrics(answer.usage, timing, now),
          }
        : {
            model: this.model,
            created_at: createdAt(now),
            response: '',
            done: true,
            done_reason: reason,
            ...metrics(answer.usage, timing, now),
          };
    lines.push(last);
    return lines.map(frame).join('');
  }

  error(error: GatewayError): string {
    if (this.failed) return '';
    this.failed = true;
    return ollamaErrorLine(error);
  }

  private markFirst(): void {
    this.firstTokenAt ??= this.clock();
  }

  /** The held tool call, complete now, as its own line. */
  private flush(lines: Json[]): void {
    const open = this.open;
    if (open === null) return;
    this.open = null;
    const args = argumentsObject(open.args);
    if (args === null) throw new ToolArgumentsError(open.name);
    const message = chatMessage('', '', [toolCall(open.id, this.calls++, open.name, args)]);
    lines.push({ model: this.model, created_at: createdAt(this.clock()), message, done: false });
  }

  private line(text: string, thinking: string): Json {
    const base = { model: this.model, created_at: createdAt(this.clock()) };
    return this.endpoint === 'chat'
      ? { ...base, message: chatMessage(text, thinking, []), done: false }
      : { ...base, response: text, ...(thinking === '' ? {} : { thinking }), done: false };
  }

  private logprobsLine(content: readonly TokenLogprob[]): Json {
    return { ...this.line('', ''), logprobs: ollamaLogprobs(content) };
  }
}

function frame(line: Json): string {
  return `${JSON.stringify(line)}\n`;
}
