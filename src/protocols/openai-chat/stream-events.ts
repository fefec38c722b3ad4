/**
 * OpenAI chat completion chunks (what every backend adapter streams) → the conversation model's stream
 * events. Stateful only in what a stream needs: whether it started, each choice's tool calls by the
 * index the upstream gave them, and the usage, held until the end (vLLM can repeat it on every chunk).
 */
import type { ChatCompletionChunk } from '../../api/schemas.js';
import type { StreamEvent, Usage } from '../../conversation/model.js';
import { logprobsOf, reasoningOf, toFinishReason, toUsage } from './answer.js';

/** A choice's tool calls so far: what tells a new call from the continuation of one. */
interface ChoiceCalls {
  /** The upstream's tool call index → the call's number in events. */
  readonly byIndex: Map<number, number>;
  /** Each call's id as the upstream gave it (null: none), by number. */
  readonly ids: (string | null)[];
  /** The call the last delta went to. */
  last: number | undefined;
}

type RawToolCall = { index?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } };

export class ChunkDecoder {
  private started = false;
  private usage: Usage | undefined;
  private readonly calls = new Map<number, ChoiceCalls>();

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
      if (reasoning !== null && reasoning !== '')
        events.push({ type: 'reasoning', choice: index, text: reasoning });
      const content = delta['content'];
      if (typeof content === 'string' && content !== '')
        events.push({ type: 'text', choice: index, text: content });
      const toolCalls = delta['tool_calls'];
      if (Array.isArray(toolCalls))
        for (const raw of toolCalls as RawToolCall[]) this.toolCall(index, raw, events);
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

  /**
   * One tool call delta. OpenAI numbers calls by `index` and sends the id with a call's first delta
   * only; not every OpenAI-compatible server does: Gemini's, SGLang and mistral.rs leave `index` out
   * (a delta with a new id is then a new call, one without an id continues the last call), and some
   * number every parallel call 0 (a new id at a known index is then a new call).
   */
  private toolCall(choice: number, raw: RawToolCall, events: StreamEvent[]): void {
    let state = this.calls.get(choice);
    if (state === undefined) {
      state = { byIndex: new Map(), ids: [], last: undefined };
      this.calls.set(choice, state);
    }
    const id = typeof raw.id === 'string' && raw.id !== '' ? raw.id : null;
    const upstreamIndex = typeof raw.index === 'number' ? raw.index : null;
    let call: number | undefined;
    if (upstreamIndex !== null) {
      call = state.byIndex.get(upstreamIndex);
      if (call !== undefined && id !== null && state.ids[call] !== null && state.ids[call] !== id)
        call = undefined;
    } else if (id !== null) {
      const known = state.ids.indexOf(id);
      call = known < 0 ? undefined : known;
    } else call = state.last;
    if (call === undefined) {
      call = state.ids.length;
      state.ids.push(id);
      if (upstreamIndex !== null) state.byIndex.set(upstreamIndex, call);
      events.push({
        type: 'tool_call_start',
        choice,
        call,
        id: id ?? `call_${choice}_${call}`,
        name: typeof raw.function?.name === 'string' ? raw.function.name : '',
      });
    }
    state.last = call;
    const args = raw.function?.arguments;
    if (typeof args === 'string' && args !== '')
      events.push({ type: 'tool_call_delta', choice, call, arguments: args });
  }
}
