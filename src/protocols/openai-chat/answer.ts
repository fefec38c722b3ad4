/**
 * OpenAI chat completions (the pipeline's carrier of answers) → the conversation model's Answer, and
 * the finish reasons both ways. Pure.
 */
import type { ChatCompletion } from '../../api/schemas.js';
import type { Answer, Choice, FinishReason, Part, TokenLogprob, Usage } from '../../conversation/model.js';

const FINISH: Readonly<Record<string, FinishReason>> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
  error: 'error',
};

export function toFinishReason(reason: string): { reason: FinishReason; raw?: string } {
  const known = FINISH[reason];
  return known === undefined ? { reason: 'other', raw: reason } : { reason: known };
}

/** OpenAI usage (prompt/completion tokens and their details) → the model's usage. */
export function toUsage(usage: unknown): Usage | undefined {
  if (usage === null || typeof usage !== 'object') return undefined;
  const record = usage as Record<string, unknown>;
  const input = record['prompt_tokens'];
  const output = record['completion_tokens'];
  if (typeof input !== 'number' || typeof output !== 'number') return undefined;
  const details = record['prompt_tokens_details'] as
    { cached_tokens?: unknown; cache_write_tokens?: unknown } | null | undefined;
  const cached = details?.cached_tokens;
  const written = details?.cache_write_tokens;
  const reasoning = (record['completion_tokens_details'] as { reasoning_tokens?: unknown } | null | undefined)
    ?.reasoning_tokens;
  return {
    inputTokens: input,
    outputTokens: output,
    ...(typeof cached === 'number' ? { cachedInputTokens: cached } : {}),
    ...(typeof written === 'number' ? { cacheWriteInputTokens: written } : {}),
    ...(typeof reasoning === 'number' ? { reasoningTokens: reasoning } : {}),
  };
}

/** The reasoning text of a message or delta: `reasoning_content` (vLLM, DeepSeek) or `reasoning` (newer vLLM). */
export function reasoningOf(record: Record<string, unknown>): string | null {
  const value = record['reasoning_content'] ?? record['reasoning'];
  return typeof value === 'string' ? value : null;
}

/**
 * Anthropic's thinking signature: the gateway's `reasoning_signature` extension of a message or delta
 * (docs/conversation.md), so that it returns to an Anthropic backend unchanged.
 */
export function signatureOf(record: Record<string, unknown>): string | null {
  const value = record['reasoning_signature'];
  return typeof value === 'string' && value !== '' ? value : null;
}

export function logprobsOf(choice: Record<string, unknown>): TokenLogprob[] | null {
  const logprobs = choice['logprobs'] as { content?: unknown } | null | undefined;
  return Array.isArray(logprobs?.content) ? (logprobs.content as TokenLogprob[]) : null;
}

export function toAnswer(completion: ChatCompletion): Answer {
  const choices: Choice[] = completion.choices.map((choice, position) => {
    // A choice without a message (a broken upstream) is an empty one, not a TypeError (a 500).
    const message = (choice as { message?: Record<string, unknown> | null }).message ?? {};
    const parts: Part[] = [];
    const reasoning = reasoningOf(message);
    const signature = signatureOf(message);
    if ((reasoning !== null && reasoning !== '') || signature !== null)
      parts.push({ type: 'reasoning', text: reasoning ?? '', ...(signature === null ? {} : { signature }) });
    const content = message['content'];
    if (typeof content === 'string' && content !== '') parts.push({ type: 'text', text: content });
    const calls = message['tool_calls'];
    if (Array.isArray(calls)) {
      for (const call of calls as { id?: unknown; function?: { name?: unknown; arguments?: unknown } }[]) {
        parts.push({
          type: 'tool_call',
          id: typeof call.id === 'string' ? call.id : '',
          name: typeof call.function?.name === 'string' ? call.function.name : '',
          arguments: typeof call.function?.arguments === 'string' ? call.function.arguments : '',
        });
      }
    }
    const finish = choice.finish_reason === null ? null : toFinishReason(choice.finish_reason);
    const raw = choice as unknown as Record<string, unknown>;
    const stopSequence = raw['stop_reason'];
    const logprobs = logprobsOf(raw);
    return {
      index: typeof choice.index === 'number' ? choice.index : position,
      parts,
      finishReason: finish?.reason ?? null,
      ...(finish?.raw === undefined ? {} : { rawFinishReason: finish.raw }),
      ...(typeof stopSequence === 'string' ? { stopSequence } : {}),
      ...(logprobs === null ? {} : { logprobs }),
    };
  });
  const usage = toUsage(completion.usage);
  return {
    id: completion.id,
    model: completion.model,
    created: completion.created,
    choices,
    ...(usage === undefined ? {} : { usage }),
  };
}
