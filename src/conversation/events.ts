/**
 * Stream events ↔ answers: an answer replayed as the events of a stream (a cache hit served to a
 * streaming client), and a stream's events accumulated into the answer (to store it, or to report it
 * whole at the end, as the Responses API does).
 */
import type { Answer, Choice, FinishReason, Part, StreamEvent, TokenLogprob, Usage } from './model.js';

/** The events a stream of this answer would have carried, in order. */
export function answerEvents(answer: Answer): StreamEvent[] {
  const events: StreamEvent[] = [
    { type: 'start', id: answer.id, model: answer.model, created: answer.created },
  ];
  for (const choice of answer.choices) {
    let call = 0;
    for (const part of choice.parts) {
      switch (part.type) {
        case 'reasoning':
          events.push({
            type: 'reasoning',
            choice: choice.index,
            text: part.text,
            ...(part.signature === undefined ? {} : { signature: part.signature }),
          });
          break;
        case 'text':
          if (part.text !== '') events.push({ type: 'text', choice: choice.index, text: part.text });
          break;
        case 'tool_call':
          events.push({ type: 'tool_call_start', choice: choice.index, call, id: part.id, name: part.name });
          if (part.arguments !== '')
            events.push({ type: 'tool_call_delta', choice: choice.index, call, arguments: part.arguments });
          call++;
          break;
        case 'image':
        case 'audio':
        case 'tool_result':
          break;
      }
    }
    if (choice.logprobs !== undefined && choice.logprobs.length > 0)
      events.push({ type: 'logprobs', choice: choice.index, content: choice.logprobs });
    if (choice.finishReason !== null)
      events.push({
        type: 'finish',
        choice: choice.index,
        reason: choice.finishReason,
        ...(choice.rawFinishReason === undefined ? {} : { rawReason: choice.rawFinishReason }),
        ...(choice.stopSequence === undefined ? {} : { stopSequence: choice.stopSequence }),
      });
  }
  if (answer.usage !== undefined) events.push({ type: 'usage', usage: answer.usage });
  return events;
}

interface ChoiceState {
  parts: Part[];
  /** Index in `parts` of each tool call, by its call number. */
  calls: Map<number, number>;
  finishReason: FinishReason | null;
  rawFinishReason?: string;
  stopSequence?: string;
  logprobs: TokenLogprob[];
}

/** Builds the answer from a stream's events as they pass: consecutive text (or reasoning) joins one part. */
export class AnswerAccumulator {
  private id = '';
  private model = '';
  private created = 0;
  private usage: Usage | undefined;
  private readonly choices = new Map<number, ChoiceState>();

  add(event: StreamEvent): void {
    if (event.type === 'start') {
      this.id = event.id;
      this.model = event.model;
      this.created = event.created;
      return;
    }
    if (event.type === 'usage') {
      this.usage = event.usage;
      return;
    }
    const state = this.choice(event.choice);
    const last = state.parts.at(-1);
    switch (event.type) {
      case 'text':
        if (last?.type === 'text')
          state.parts[state.parts.length - 1] = { type: 'text', text: last.text + event.text };
        else state.parts.push({ type: 'text', text: event.text });
        break;
      case 'reasoning': {
        if (last?.type === 'reasoning' && last.signature === undefined) {
          state.parts[state.parts.length - 1] = {
            type: 'reasoning',
            text: last.text + event.text,
            ...(event.signature === undefined ? {} : { signature: event.signature }),
          };
        } else {
          state.parts.push({
            type: 'reasoning',
            text: event.text,
            ...(event.signature === undefined ? {} : { signature: event.signature }),
          });
        }
        break;
      }
      case 'tool_call_start':
        state.calls.set(event.call, state.parts.length);
        state.parts.push({ type: 'tool_call', id: event.id, name: event.name, arguments: '' });
        break;
      case 'tool_call_delta': {
        const at = state.calls.get(event.call);
        const part = at === undefined ? undefined : state.parts[at];
        if (at !== undefined && part?.type === 'tool_call')
          state.parts[at] = { ...part, arguments: part.arguments + event.arguments };
        break;
      }
      case 'logprobs':
        state.logprobs.push(...event.content);
        break;
      case 'finish':
        state.finishReason = event.reason;
        if (event.rawReason !== undefined) state.rawFinishReason = event.rawReason;
        if (event.stopSequence !== undefined) state.stopSequence = event.stopSequence;
        break;
    }
  }

  /** The answer so far (complete once every choice has finished). */
  result(): Answer {
    const choices: Choice[] = [...this.choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, state]) => ({
        index,
        parts: state.parts,
        finishReason: state.finishReason,
        ...(state.rawFinishReason === undefined ? {} : { rawFinishReason: state.rawFinishReason }),
        ...(state.stopSequence === undefined ? {} : { stopSequence: state.stopSequence }),
        ...(state.logprobs.length === 0 ? {} : { logprobs: state.logprobs }),
      }));
    return {
      id: this.id,
      model: this.model,
      created: this.created,
      choices,
      ...(this.usage === undefined ? {} : { usage: this.usage }),
    };
  }

  private choice(index: number): ChoiceState {
    let state = this.choices.get(index);
    if (state === undefined) {
      state = { parts: [], calls: new Map(), finishReason: null, logprobs: [] };
      this.choices.set(index, state);
    }
    return state;
  }
}

/** The text parts of a list of parts, joined. */
export function textOf(parts: readonly Part[], separator = ''): string {
  let out = '';
  let first = true;
  for (const part of parts) {
    if (part.type !== 'text') continue;
    if (!first) out += separator;
    out += part.text;
    first = false;
  }
  return out;
}
