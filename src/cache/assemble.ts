import type { ChatCompletion, ChatCompletionChunk, ToolCall, Usage } from '../api/schemas.js';

/** Finish reasons of a complete answer; anything else (content_filter, error, ...) is not stored. */
const COMPLETE = new Set(['stop', 'length', 'tool_calls', 'function_call']);

export function isCompleteAnswer(completion: ChatCompletion): boolean {
  return (
    completion.choices.length > 0 &&
    completion.choices.every((choice) => choice.finish_reason !== null && COMPLETE.has(choice.finish_reason))
  );
}

interface ChoiceState {
  content: string;
  hasContent: boolean;
  toolCalls: Map<number, ToolCall>;
  finishReason: string | null;
}

/** Rebuilds the complete answer from a stream's chunks, so that a streamed miss can be stored. */
export class CompletionAssembler {
  private id = '';
  private created = 0;
  private model = '';
  private usage: Usage | undefined;
  private readonly choices = new Map<number, ChoiceState>();

  add(chunk: ChatCompletionChunk): void {
    this.id ||= chunk.id;
    this.created ||= chunk.created;
    this.model ||= chunk.model;
    if (chunk.usage != null) this.usage = chunk.usage;
    for (const choice of chunk.choices) {
      let state = this.choices.get(choice.index);
      if (state === undefined) {
        state = { content: '', hasContent: false, toolCalls: new Map(), finishReason: null };
        this.choices.set(choice.index, state);
      }
      // An empty string is no content: streams open with `content: ""` even before tool calls, whose
      // answer has content null.
      if (typeof choice.delta.content === 'string' && choice.delta.content !== '') {
        state.content += choice.delta.content;
        state.hasContent = true;
      }
      for (const raw of (choice.delta.tool_calls ?? []) as Record<string, unknown>[]) {
        const index = typeof raw['index'] === 'number' ? raw['index'] : 0;
        const fn = (raw['function'] ?? {}) as { name?: unknown; arguments?: unknown };
        const current = state.toolCalls.get(index) ?? {
          id: '',
          type: 'function' as const,
          function: { name: '', arguments: '' },
        };
        if (typeof raw['id'] === 'string') current.id = raw['id'];
        if (typeof fn.name === 'string') current.function.name += fn.name;
        if (typeof fn.arguments === 'string') current.function.arguments += fn.arguments;
        state.toolCalls.set(index, current);
      }
      if (choice.finish_reason != null) state.finishReason = choice.finish_reason;
    }
  }

  /** The answer, or null when the stream did not finish every choice. */
  result(): ChatCompletion | null {
    if (this.choices.size === 0) return null;
    const completion: ChatCompletion = {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: [...this.choices.entries()]
        .sort(([a], [b]) => a - b)
        .map(([index, state]) => ({
          index,
          message: {
            role: 'assistant' as const,
            content: state.hasContent || state.toolCalls.size === 0 ? state.content : null,
            ...(state.toolCalls.size === 0
              ? {}
              : {
                  tool_calls: [...state.toolCalls.entries()]
                    .sort(([a], [b]) => a - b)
                    .map(([, call]) => call),
                }),
          },
          finish_reason: state.finishReason,
        })),
      ...(this.usage === undefined ? {} : { usage: this.usage }),
    };
    return isCompleteAnswer(completion) ? completion : null;
  }
}

/** A stored answer as the chunks of a stream: role, content, tool calls, finish, and usage if asked. */
export function replayChunks(completion: ChatCompletion, includeUsage: boolean): ChatCompletionChunk[] {
  const base = {
    id: completion.id,
    object: 'chat.completion.chunk' as const,
    created: completion.created,
    model: completion.model,
  };
  const chunks: ChatCompletionChunk[] = [];
  for (const choice of completion.choices) {
    chunks.push({
      ...base,
      choices: [{ index: choice.index, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    });
    if (choice.message.content !== null && choice.message.content !== '') {
      chunks.push({
        ...base,
        choices: [{ index: choice.index, delta: { content: choice.message.content }, finish_reason: null }],
      });
    }
    if (choice.message.tool_calls !== undefined) {
      const toolCalls = choice.message.tool_calls.map((call, index) => ({ index, ...call }));
      chunks.push({
        ...base,
        choices: [{ index: choice.index, delta: { tool_calls: toolCalls }, finish_reason: null }],
      });
    }
    chunks.push({
      ...base,
      choices: [{ index: choice.index, delta: {}, finish_reason: choice.finish_reason }],
    });
  }
  if (includeUsage && completion.usage !== undefined)
    chunks.push({ ...base, choices: [], usage: completion.usage });
  return chunks;
}
