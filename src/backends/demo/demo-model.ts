import { createHash } from 'node:crypto';
import type { ChatCompletionRequest } from '../../api/schemas.js';

/**
 * The built-in demo model: a deterministic, dependency-free stand-in for an LLM so that a newcomer's
 * first request gets an answer. "Tokens" are whitespace-separated words, each keeping its leading space.
 */
export interface DemoAnswer {
  readonly tokens: readonly string[];
  readonly finishReason: 'stop' | 'length';
  readonly promptTokens: number;
}

export const DEMO_EMBEDDING_DIMENSIONS = 16;

export function countWords(text: string): number {
  const words = text.trim().split(/\s+/);
  return words[0] === '' ? 0 : words.length;
}

function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => (part as { type?: unknown; text?: unknown }).text)
    .filter((text): text is string => typeof text === 'string')
    .join(' ');
}

export function demoAnswer(request: ChatCompletionRequest): DemoAnswer {
  const promptTokens = request.messages.reduce(
    (sum, message) => sum + countWords(messageText(message.content)),
    0,
  );
  const lastUser = [...request.messages].reverse().find((message) => message.role === 'user');
  const said = messageText(lastUser?.content).replace(/\s+/g, ' ').trim().slice(0, 200);
  let text = `Hello! I am the demo model of ai-gateway. You said: "${said}". Point a backend at a real model to get real answers.`;

  let finishReason: 'stop' | 'length' = 'stop';
  const stops = request.stop == null ? [] : Array.isArray(request.stop) ? request.stop : [request.stop];
  for (const stop of stops) {
    const at = stop === '' ? -1 : text.indexOf(stop);
    if (at !== -1) text = text.slice(0, at);
  }
  let tokens = text.split(/(?=\s)/).filter((token) => token !== '');
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens != null && tokens.length > maxTokens) {
    tokens = tokens.slice(0, maxTokens);
    finishReason = 'length';
  }
  return { tokens, finishReason, promptTokens };
}

/** A unit vector derived from the text's SHA-256: equal texts, equal vectors. */
export function demoEmbedding(text: string): number[] {
  const digest = createHash('sha256').update(text).digest();
  const vector = Array.from(
    { length: DEMO_EMBEDDING_DIMENSIONS },
    (_, index) => (digest[index] ?? 0) / 255 - 0.5,
  );
  const norm = Math.hypot(...vector) || 1;
  return vector.map((value) => Math.round((value / norm) * 1e6) / 1e6);
}
