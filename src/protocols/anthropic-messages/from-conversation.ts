/**
 * The conversation model's Answer → Anthropic's Message object, with every field of the API reference
 * and of the SDK's `Message` type (null where the backends have nothing to say). Pure; the stream's
 * encoder (stream-events.ts) shares the blocks, stop reasons and usage written here.
 */
import { randomUUID } from 'node:crypto';
import type { Answer, Choice, FinishReason, Part, Usage } from '../../conversation/model.js';

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'refusal';

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: null;
  inference_geo: null;
  output_tokens_details: { thinking_tokens: number } | null;
  server_tool_use: null;
  service_tier: null;
  speed: null;
}

export type ContentBlock =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string }
  | { type: 'text'; text: string; citations: null }
  | {
      type: 'tool_use';
      id: string;
      name: string;
      input: Record<string, unknown>;
      caller: { type: 'direct' };
    };

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ContentBlock[];
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  stop_details: null;
  container: null;
  diagnostics: null;
  usage: AnthropicUsage;
}

/** `msg_` and 32 hex characters: a fresh id for every answer, stored ones included. */
export function messageId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}

/** `toolu_` and 24 hex characters, for a tool call the backend gave no id (Ollama before 0.12). */
export function toolUseId(): string {
  return `toolu_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
}

/**
 * Why the answer stopped. A model that called tools stopped to have them run (Ollama reports "stop"
 * then); a stop on one of stop_sequences is reported as such when the backend said which (vLLM does).
 */
export function stopReasonOf(
  finish: FinishReason | null,
  stopSequence: string | undefined,
  calledTools: boolean,
): { stop_reason: StopReason; stop_sequence: string | null } {
  if (finish === 'length') return { stop_reason: 'max_tokens', stop_sequence: null };
  if (finish === 'content_filter') return { stop_reason: 'refusal', stop_sequence: null };
  if (finish === 'tool_calls' || calledTools) return { stop_reason: 'tool_use', stop_sequence: null };
  if (finish === 'stop' && stopSequence !== undefined)
    return { stop_reason: 'stop_sequence', stop_sequence: stopSequence };
  return { stop_reason: 'end_turn', stop_sequence: null };
}

/**
 * Anthropic counts cached input apart: `input_tokens` is what was neither read from nor written to
 * the prompt cache, so that the three add up to the prompt (OpenAI's prompt_tokens includes its
 * cached_tokens).
 */
export function toUsage(usage: Usage | undefined): AnthropicUsage {
  const cached = usage?.cachedInputTokens ?? 0;
  const written = usage?.cacheWriteInputTokens ?? 0;
  return {
    input_tokens: Math.max(0, (usage?.inputTokens ?? 0) - cached - written),
    output_tokens: usage?.outputTokens ?? 0,
    cache_creation_input_tokens: written,
    cache_read_input_tokens: cached,
    cache_creation: null,
    inference_geo: null,
    output_tokens_details:
      usage?.reasoningTokens === undefined ? null : { thinking_tokens: usage.reasoningTokens },
    server_tool_use: null,
    service_tier: null,
    speed: null,
  };
}

/**
 * A tool call's arguments as the `input` object. A model that wrote arguments that are not a JSON
 * object (a small local model can) gets `{}`: Anthropic's `input` is always an object, and the client's
 * validation of it against the tool's schema then tells the model what is missing.
 */
export function toolInput(args: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(args);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function toBlock(part: Part): ContentBlock | null {
  switch (part.type) {
    case 'reasoning':
      return part.redacted !== undefined
        ? { type: 'redacted_thinking', data: part.redacted }
        : { type: 'thinking', thinking: part.text, signature: part.signature ?? '' };
    case 'text':
      return part.text === '' ? null : { type: 'text', text: part.text, citations: null };
    case 'tool_call':
      return {
        type: 'tool_use',
        id: part.id === '' ? toolUseId() : part.id,
        name: part.name,
        input: toolInput(part.arguments),
        caller: { type: 'direct' },
      };
    case 'image':
    case 'audio':
    case 'tool_result':
      return null;
  }
}

/** The answer's first choice as a Message (this protocol never asks for more than one). */
export function toMessage(answer: Answer, id: string = messageId()): AnthropicMessage {
  const choice: Choice | undefined = answer.choices[0];
  const content = (choice?.parts ?? []).flatMap((part) => toBlock(part) ?? []);
  const calledTools = content.some((block) => block.type === 'tool_use');
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: answer.model,
    content,
    ...stopReasonOf(choice?.finishReason ?? null, choice?.stopSequence, calledTools),
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: toUsage(answer.usage),
  };
}
