/**
 * The conversation model's answers → OpenAI's legacy completion (`object: "text_completion"`): each
 * choice's text, its finish reason and its log probabilities in the legacy shape
 * (`{tokens, token_logprobs, top_logprobs, text_offset}`). Reasoning and tool calls have no place in a
 * legacy completion and are left out. Pure.
 */
import { randomUUID } from 'node:crypto';
import { textOf } from '../../conversation/events.js';
import type { Answer, Choice, FinishReason, TokenLogprob, Usage } from '../../conversation/model.js';

type Json = Record<string, unknown>;

/** A completion id: `cmpl-` and what follows the carrier's `chatcmpl-`, else a fresh one. */
export function completionIdOf(id: string): string {
  if (id.startsWith('chatcmpl-')) return `cmpl-${id.slice('chatcmpl-'.length)}`;
  if (id.startsWith('cmpl-')) return id;
  return `cmpl-${randomUUID().replaceAll('-', '')}`;
}

/** Legacy finish reasons: stop, length, content_filter (a tool call or anything else ends as stop). */
export function legacyFinishReason(reason: FinishReason | null, raw?: string): string | null {
  if (reason === null) return null;
  if (reason === 'length' || reason === 'content_filter') return reason;
  if (reason === 'other' && raw !== undefined) return raw;
  return 'stop';
}

export interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[] | null;
  text_offset: number[];
}

/**
 * Chat log probabilities → the legacy shape. `offset` is where the first token starts in the choice's
 * text (a stream continues where the last chunk ended); `text_offset` counts UTF-16 code units, as the
 * text is a JavaScript string.
 */
export function legacyLogprobs(content: readonly TokenLogprob[], offset = 0): LegacyLogprobs {
  const tokens: string[] = [];
  const tokenLogprobs: number[] = [];
  const top: Record<string, number>[] = [];
  const textOffset: number[] = [];
  let withTop = false;
  let at = offset;
  for (const entry of content) {
    tokens.push(entry.token);
    tokenLogprobs.push(entry.logprob);
    textOffset.push(at);
    at += entry.token.length;
    const alternatives: Record<string, number> = {};
    for (const alternative of entry.top_logprobs ?? []) {
      withTop = true;
      alternatives[alternative.token] = alternative.logprob;
    }
    top.push(alternatives);
  }
  return {
    tokens,
    token_logprobs: tokenLogprobs,
    top_logprobs: withTop ? top : null,
    text_offset: textOffset,
  };
}

export function legacyUsage(usage: Usage | undefined): Json | undefined {
  if (usage === undefined) return undefined;
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

function legacyChoice(choice: Choice): Json {
  return {
    text: textOf(choice.parts),
    index: choice.index,
    logprobs: choice.logprobs === undefined ? null : legacyLogprobs(choice.logprobs),
    finish_reason: legacyFinishReason(choice.finishReason, choice.rawFinishReason),
  };
}

/** The whole completion (stream: false); `cached` marks a stored answer, as chat completions does. */
export function completionBody(answer: Answer, cached: boolean): Json {
  const usage = legacyUsage(answer.usage);
  return {
    id: completionIdOf(answer.id),
    object: 'text_completion',
    created: answer.created,
    model: answer.model,
    choices: answer.choices.map(legacyChoice),
    ...(usage === undefined ? {} : { usage }),
    ...(cached ? { cached: true } : {}),
  };
}
