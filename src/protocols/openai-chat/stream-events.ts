/**
 * OpenAI chat completion chunks (what every backend adapter streams) → the conversation model's stream
 * events. Stateful only in what a stream needs: whether it started, each choice's tool calls by the
 * index the upstream gave them, and the usage, held until the end (vLLM can repeat it on every chunk).
 */
import type { ChatCompletionChunk } from '../../api/schemas.js';
import type { StreamEvent, Usage } from '../../conversation/model.js';
import { logprobsOf, reasoningOf, signatureOf, toFinishReason, toUsage } from './answer.js';
import { ToolCallNumbering } from './tool-call-numbering.js';

type RawToolCall = { index?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } };

export class ChunkDecoder {
  private started = false;
  private usage: Usage | undefined;
  private readonly calls = new Map<number, ToolCallNumbering>();

  /** The events of one chunk (usage is kept for end()). */
  decode(chunk: ChatCompletionChunk): StreamEvent[] {
    const events: StreamEvent[] = [];
    if (!this.started) {
      this.started = true;
      events.push({ type: 'start', id: chunk.id, model: chunk.model, created: chunk.created });
    }
    const usage = toUsage(chunk.usage);
    if (usage !== undefined) this.usage = usage;
    for (const choice of chunk.choices) {
      const index = choice.index;
      // Some servers send `delta: null` with the finish reason.
      const delta = (choice as { delta?: Record<string, unknown> | null }).delta ?? {};
      const reasoning = reasoningOf(delta);
      const signature = signatureOf(delta);
      if ((reasoning !== null && reasoning !== '') || signature !== null)
        events.push({
          type: 'reasoning',
          choice: index,
          text: reasoning ?? '',
          ...(signature === null ? {} : { signature }),
        });
      const content = delta['content'];
      if (typeof content === 'string' && content !== '')
        events.push({ type: 'text', choice: index, text: content });
      const toolCalls = delta['tool_calls'];
      if (Array.isArray(toolCalls))
        (toolCalls as RawToolCall[]).forEach((raw, position) => {
          this.toolCall(index, raw, position, events);
        });
      const logprobs = logprobsOf(choice);
      if (logprobs !== null && logprobs.length > 0)
        events.push({ type: 'logprobs', choice: index, content: logprobs });
      if (choice.finish_reason != null) {
        const finish = toFinishReason(choice.finish_reason);
        const stopSequence = (choice as unknown as Record<string, unknown>)['stop_reason'];
        events.push({
          type: 'finish',
          choice: index,
          reason: finish.reason,
          ...(finish.raw === undefined ? {} : { rawReason: finish.raw }),
          ...(typeof stopSequence === 'string' ? { stopSequence } : {}),
        });
      }
    }
    return events;
  }

  /** The events after the last chunk: the usage, once. */
  end(): StreamEvent[] {
    return this.usage === undefined ? [] : [{ type: 'usage', usage: this.usage }];
  }

  /** One tool call delta: a new call starts (with its id and name), then its arguments follow. */
  private toolCall(choice: number, raw: RawToolCall, position: number, events: StreamEvent[]): void {
    let numbering = this.calls.get(choice);
    if (numbering === undefined) {
      numbering = new ToolCallNumbering();
      this.calls.set(choice, numbering);
    }
    const { call, started } = numbering.number(raw, position);
    if (started) {
      const id = typeof raw.id === 'string' && raw.id !== '' ? raw.id : null;
      events.push({
        type: 'tool_call_start',
        choice,
        call,
        id: id ?? `call_${choice}_${call}`,
        name: typeof raw.function?.name === 'string' ? raw.function.name : '',
      });
    }
    const args = raw.function?.arguments;
    if (typeof args === 'string' && args !== '')
      events.push({ type: 'tool_call_delta', choice, call, arguments: args });
  }
}
