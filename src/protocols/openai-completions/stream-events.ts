/**
 * Stream events → OpenAI's legacy completion chunks as server-sent events: `data: {"object":
 * "text_completion", "choices": [{"text", "index", "logprobs", "finish_reason"}]}` per text delta, the
 * finish reason on a chunk of its own, a usage chunk (`choices: []`) when the client asked for it with
 * `stream_options.include_usage`, then `data: [DONE]`. An error after the stream started is a last
 * `data: {problem+json}` event, as on chat completions.
 */
import type { StreamEvent } from '../../conversation/model.js';
import { toProblem, type GatewayError } from '../../errors/errors.js';
import type { EventEncoder } from '../../pipeline/output.js';
import { completionIdOf, legacyFinishReason, legacyLogprobs, legacyUsage } from './from-conversation.js';

type Json = Record<string, unknown>;

export class CompletionChunkEncoder implements EventEncoder {
  readonly contentType = 'text/event-stream; charset=utf-8';
  readonly comments = true;
  private id = completionIdOf('');
  private model = '';
  private created = 0;
  /** Per choice: the length of the text sent so far (where the next token's text_offset starts). */
  private readonly offsets = new Map<number, number>();

  constructor(private readonly includeUsage: boolean) {}

  events(events: readonly StreamEvent[]): string {
    let out = '';
    // The chunk a logprobs event belongs to: the text chunk of the same choice in the same batch.
    const pending = new Map<number, Json>();
    const flush = (): void => {
      for (const choice of pending.values()) out += this.frame([choice]);
      pending.clear();
    };
    for (const event of events) {
      switch (event.type) {
        case 'start':
          this.id = completionIdOf(event.id);
          this.model = event.model;
          this.created = event.created;
          break;
        case 'text': {
          if (pending.has(event.choice)) flush();
          const offset = this.offsets.get(event.choice) ?? 0;
          pending.set(event.choice, {
            text: event.text,
            index: event.choice,
            logprobs: null,
            finish_reason: null,
            offset,
          });
          this.offsets.set(event.choice, offset + event.text.length);
          break;
        }
        case 'logprobs': {
          const chunk = pending.get(event.choice);
          if (chunk !== undefined && chunk['logprobs'] === null) {
            chunk['logprobs'] = legacyLogprobs(event.content, chunk['offset'] as number);
          } else {
            flush();
            const offset = this.offsets.get(event.choice) ?? 0;
            out += this.frame([
              {
                text: '',
                index: event.choice,
                logprobs: legacyLogprobs(event.content, offset),
                finish_reason: null,
              },
            ]);
          }
          break;
        }
        case 'finish':
          flush();
          out += this.frame([
            {
              text: '',
              index: event.choice,
              logprobs: null,
              finish_reason: legacyFinishReason(event.reason, event.rawReason),
            },
          ]);
          break;
        case 'usage':
          flush();
          if (this.includeUsage) out += this.frame([], legacyUsage(event.usage));
          break;
        case 'reasoning':
        case 'tool_call_start':
        case 'tool_call_delta':
          // A legacy completion has text only.
          break;
      }
    }
    flush();
    return out;
  }

  end(): string {
    return 'data: [DONE]\n\n';
  }

  error(error: GatewayError, instance: string, requestId: string): string {
    return `data: ${JSON.stringify(toProblem(error, instance, requestId))}\n\n`;
  }

  private frame(choices: Json[], usage?: Json): string {
    const chunk = {
      id: this.id,
      object: 'text_completion',
      created: this.created,
      model: this.model,
      choices: choices.map(({ offset: _offset, ...choice }) => choice),
      ...(usage === undefined ? {} : { usage }),
    };
    return `data: ${JSON.stringify(chunk)}\n\n`;
  }
}
