/**
 * The conversation model's stream events → OpenAI chat completion chunks, the inverse of ChunkDecoder
 * (stream-events.ts): what a backend that does not speak chat completions (or a stored answer) needs to
 * stream through the pipeline, which carries chunks. Chunks are shaped as vLLM sends them: a first
 * delta with the role per choice, each tool call's id, type and name with its first delta and its
 * arguments in the deltas after it (numbered by `index`, so parallel calls stay apart), the finish
 * reason on a delta of its own, and usage on a last chunk with no choices.
 */
import type { ChatCompletionChunk } from '../../api/schemas.js';
import type { Answer, StreamEvent } from '../../conversation/model.js';
import { answerEvents } from '../../conversation/events.js';
import { fromUsage } from './to-conversation.js';

export class ChunkEncoder {
  private id = '';
  private model = '';
  private created = 0;
  /** Choices that have had their first (role) delta. */
  private readonly opened = new Set<number>();

  /** The chunks for one event ([] for the start, which only names the chunks that follow). */
  encode(event: StreamEvent): ChatCompletionChunk[] {
    if (event.type === 'start') {
      this.id = event.id;
      this.model = event.model;
      this.created = event.created;
      return [];
    }
    if (event.type === 'usage') return [this.chunk([], { usage: fromUsage(event.usage) })];
    const out: ChatCompletionChunk[] = [];
    if (!this.opened.has(event.choice)) {
      this.opened.add(event.choice);
      out.push(this.delta(event.choice, { role: 'assistant', content: '' }));
    }
    switch (event.type) {
      case 'text':
        out.push(this.delta(event.choice, { content: event.text }));
        break;
      case 'reasoning':
        // Anthropic's signature rides as the gateway's reasoning_signature extension (docs/conversation.md).
        if (event.text !== '' || event.signature !== undefined)
          out.push(
            this.delta(event.choice, {
              ...(event.text === '' ? {} : { reasoning_content: event.text }),
              ...(event.signature === undefined ? {} : { reasoning_signature: event.signature }),
            }),
          );
        break;
      case 'tool_call_start':
        out.push(
          this.delta(event.choice, {
            tool_calls: [
              {
                index: event.call,
                id: event.id,
                type: 'function',
                function: { name: event.name, arguments: '' },
              },
            ],
          }),
        );
        break;
      case 'tool_call_delta':
        out.push(
          this.delta(event.choice, {
            tool_calls: [{ index: event.call, function: { arguments: event.arguments } }],
          }),
        );
        break;
      case 'logprobs':
        out.push(this.delta(event.choice, {}, { logprobs: { content: event.content } }));
        break;
      case 'finish':
        out.push(
          this.delta(
            event.choice,
            {},
            {
              finish_reason: event.rawReason ?? event.reason,
              ...(event.stopSequence === undefined ? {} : { stop_reason: event.stopSequence }),
            },
          ),
        );
        break;
    }
    return out;
  }

  private delta(
    choice: number,
    delta: Record<string, unknown>,
    fields: Record<string, unknown> = {},
  ): ChatCompletionChunk {
    return this.chunk([{ index: choice, delta, logprobs: null, finish_reason: null, ...fields }]);
  }

  private chunk(
    choices: Record<string, unknown>[],
    fields: Record<string, unknown> = {},
  ): ChatCompletionChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices,
      ...fields,
    } as unknown as ChatCompletionChunk;
  }
}

/** A whole answer as the chunks of its stream. */
export function answerChunks(answer: Answer): ChatCompletionChunk[] {
  const encoder = new ChunkEncoder();
  return answerEvents(answer).flatMap((event) => encoder.encode(event));
}
