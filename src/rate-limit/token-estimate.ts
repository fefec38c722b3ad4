import { createRequire } from 'node:module';
import type { ChatCompletionRequest, EmbeddingsRequest } from '../api/schemas.js';

/**
 * Token counts for reservations, with a real BPE tokenizer (o200k_base, as OpenAI's current models).
 * Self-hosted models tokenize differently, so this is an estimate: it is settled to the usage the
 * backend reports once the answer is complete.
 */
const TOKENS_PER_MESSAGE = 4;

type CountTokens = (text: string) => number;
let tokenizer: CountTokens | null = null;

/**
 * The tokenizer's tables take about 35 MB of heap and 65 MB of RSS, so they are loaded on first use
 * (synchronously, once: a few hundred milliseconds) rather than at start: a gateway without token
 * limits never pays for them. preloadTokenizer() loads them at start when a token limit is configured.
 */
function countTokens(value: string): number {
  if (tokenizer === null) {
    const require = createRequire(import.meta.url);
    tokenizer = (require('gpt-tokenizer') as { countTokens: CountTokens }).countTokens;
  }
  return tokenizer(value);
}

/** Counts of recent texts: a conversation resends its earlier messages and its system prompt each turn. */
const recentCounts = new Map<string, number>();
const RECENT_COUNTS = 4096;
const RECENT_COUNT_MAX_CHARS = 16_384;

/** countTokens, remembered for the last RECENT_COUNTS texts (up to RECENT_COUNT_MAX_CHARS each). */
function countTokensRemembered(value: string): number {
  if (value.length > RECENT_COUNT_MAX_CHARS) return countTokens(value);
  let count = recentCounts.get(value);
  if (count === undefined) {
    count = countTokens(value);
    if (recentCounts.size >= RECENT_COUNTS) {
      const oldest = recentCounts.keys().next().value;
      if (oldest !== undefined) recentCounts.delete(oldest);
    }
    recentCounts.set(value, count);
  }
  return count;
}

export function preloadTokenizer(): void {
  countTokens('');
}

function text(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => (part as { text?: unknown }).text)
    .filter((value): value is string => typeof value === 'string')
    .join('\n');
}

export function countPromptTokens(request: ChatCompletionRequest): number {
  let total = 3;
  for (const message of request.messages)
    total += TOKENS_PER_MESSAGE + countTokensRemembered(text(message.content));
  if (request.tools !== undefined) total += countTokens(JSON.stringify(request.tools));
  return total;
}

/**
 * What a chat request reserves: its prompt, plus max_tokens per choice. Without max_tokens the
 * configured default is reserved, but never so much that prompt and answer would not fit in the
 * smallest token limit: a request that sets no bound is not refused for the default's sake (its real
 * usage is settled afterwards anyway).
 */
export function estimateChatTokens(
  request: ChatCompletionRequest,
  defaultCompletionTokens: number,
  smallestTokenLimit = Infinity,
): number {
  const prompt = countPromptTokens(request);
  const choices = request.n ?? 1;
  const asked = request.max_completion_tokens ?? request.max_tokens;
  if (asked != null) return prompt + asked * choices;
  const room = Math.max(1, Math.floor((smallestTokenLimit - prompt) / choices));
  return prompt + Math.min(defaultCompletionTokens, room) * choices;
}

export function estimateEmbeddingTokens(request: EmbeddingsRequest): number {
  const input = request.input;
  if (typeof input === 'string') return countTokens(input);
  let total = 0;
  for (const item of input) {
    total += typeof item === 'string' ? countTokens(item) : Array.isArray(item) ? item.length : 1;
  }
  return total;
}

/** Tokens in a piece of generated text: what a cancelled stream is charged when no usage came. */
export function countTextTokens(value: string): number {
  return value === '' ? 0 : countTokens(value);
}
