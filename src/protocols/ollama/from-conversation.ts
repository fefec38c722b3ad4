/**
 * The conversation model's answers → Ollama's /api/chat and /api/generate bodies, field for field as
 * Ollama's server writes them (api/types.go: ChatResponse, GenerateResponse, Message, ToolCall,
 * Metrics), in the same key order. Pure but for the clock, which is passed in.
 *
 * The counts are the backend's usage. The durations are what the gateway measured, in nanoseconds:
 * total_duration from the request's arrival to the answer; load_duration 0 (the gateway loads nothing,
 * and does not know what the backend did); prompt_eval_duration until the first token arrived
 * (streams) and eval_duration the rest; an answer that arrives whole cannot be split, so all of it is
 * eval_duration and prompt_eval_duration is 0.
 */
import { UpstreamError } from '../../errors/errors.js';
import type { Answer, Choice, FinishReason, Part, TokenLogprob, Usage } from '../../conversation/model.js';

type Json = Record<string, unknown>;

/** Epoch nanoseconds of process.hrtime's zero, so that timestamps and durations share one clock. */
const EPOCH_OFFSET_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Now, as process.hrtime.bigint() (monotonic nanoseconds). */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/**
 * An hrtime reading as Ollama prints `created_at`: Go's time.Time in JSON, RFC 3339 in UTC with up to
 * nine fractional digits, trailing zeros dropped ("2025-08-15T22:55:08.5082Z").
 */
export function createdAt(hrtime: bigint): string {
  const epochNs = hrtime + EPOCH_OFFSET_NS;
  const seconds = epochNs / 1_000_000_000n;
  const fraction = (epochNs % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}${fraction === '' ? '' : `.${fraction}`}Z`;
}

/** When a request started and when its first token arrived (null: it came whole), in hrtime. */
export interface Timing {
  readonly startedAt: bigint;
  readonly firstTokenAt: bigint | null;
}

/** Ollama's Metrics for an answer that ends now. */
export function metrics(usage: Usage | undefined, timing: Timing, now: bigint): Json {
  const total = now - timing.startedAt;
  const first = timing.firstTokenAt;
  const promptEval = first === null ? 0n : first - timing.startedAt;
  return {
    total_duration: Number(total),
    load_duration: 0,
    prompt_eval_count: usage?.inputTokens ?? 0,
    prompt_eval_duration: Number(promptEval),
    eval_count: usage?.outputTokens ?? 0,
    eval_duration: Number(total - promptEval),
  };
}

/** Ollama's done_reason: "length" when the token limit cut the answer, else "stop" (tool calls too). */
export function doneReason(reason: FinishReason | null): 'stop' | 'length' {
  return reason === 'length' ? 'length' : 'stop';
}

/** A tool call's arguments as Ollama sends them: an object, never text. */
export function argumentsObject(text: string): Json | null {
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null;
  } catch {
    return null;
  }
}

/** Ollama's ToolCall: `{id, function: {index, name, arguments}}` (index counts the answer's calls). */
export function toolCall(id: string, index: number, name: string, args: Json): Json {
  return { id, function: { index, name, arguments: args } };
}

/** Ollama's logprobs (OpenAI's fields, `bytes` left out when absent). */
export function ollamaLogprobs(content: readonly TokenLogprob[]): Json[] {
  return content.map((entry) => ({
    token: entry.token,
    logprob: entry.logprob,
    ...(entry.bytes == null ? {} : { bytes: entry.bytes }),
    ...(entry.top_logprobs === undefined
      ? {}
      : {
          top_logprobs: entry.top_logprobs.map((top) => ({
            token: top.token,
            logprob: top.logprob,
            ...(top.bytes == null ? {} : { bytes: top.bytes }),
          })),
        }),
  }));
}

/** A tool call whose arguments are not a JSON object cannot be written in Ollama's form (a 502). */
export class ToolArgumentsError extends UpstreamError {
  constructor(name: string) {
    super(
      `The model called '${name}' with arguments that are not a JSON object, which Ollama's API cannot carry`,
    );
  }
}

interface Collected {
  text: string;
  thinking: string;
  calls: Json[];
}

function collect(parts: readonly Part[]): Collected {
  const out: Collected = { text: '', thinking: '', calls: [] };
  for (const part of parts) {
    if (part.type === 'text') out.text += part.text;
    else if (part.type === 'reasoning') out.thinking += part.text;
    else if (part.type === 'tool_call') {
      const args = argumentsObject(part.arguments);
      if (args === null) throw new ToolArgumentsError(part.name);
      out.calls.push(toolCall(part.id, out.calls.length, part.name, args));
    }
  }
  return out;
}

function firstChoice(answer: Answer): Choice | undefined {
  return answer.choices.find((choice) => choice.index === 0) ?? answer.choices[0];
}

/** The message of a line of /api/chat: role and content always, the rest when there is any. */
export function chatMessage(content: string, thinking: string, calls: readonly Json[]): Json {
  return {
    role: 'assistant',
    content,
    ...(thinking === '' ? {} : { thinking }),
    ...(calls.length === 0 ? {} : { tool_calls: calls }),
  };
}

/** /api/chat's answer (stream: false). `model` is the name the client asked for, as Ollama echoes it. */
export function chatAnswer(answer: Answer, model: string, timing: Timing, now: bigint): Json {
  const choice = firstChoice(answer);
  const { text, thinking, calls } = collect(choice?.parts ?? []);
  return {
    model,
    created_at: createdAt(now),
    message: chatMessage(text, thinking, calls),
    done: true,
    done_reason: doneReason(choice?.finishReason ?? null),
    ...(choice?.logprobs === undefined ? {} : { logprobs: ollamaLogprobs(choice.logprobs) }),
    ...metrics(answer.usage, timing, now),
  };
}

/** /api/generate's answer (stream: false); no `context`, as the gateway has no tokens to give. */
export function generateAnswer(answer: Answer, model: string, timing: Timing, now: bigint): Json {
  const choice = firstChoice(answer);
  const { text, thinking } = collect((choice?.parts ?? []).filter((part) => part.type !== 'tool_call'));
  return {
    model,
    created_at: createdAt(now),
    response: text,
    ...(thinking === '' ? {} : { thinking }),
    done: true,
    done_reason: doneReason(choice?.finishReason ?? null),
    ...metrics(answer.usage, timing, now),
    ...(choice?.logprobs === undefined ? {} : { logprobs: ollamaLogprobs(choice.logprobs) }),
  };
}

/**
 * Ollama's answer to a load call (/api/chat with no messages, /api/generate with no prompt), or an
 * unload call (the same with keep_alive 0): done at once, nothing generated.
 */
export function loadAnswer(
  kind: 'chat' | 'generate',
  model: string,
  reason: 'load' | 'unload',
  now: bigint,
): Json {
  return kind === 'chat'
    ? {
        model,
        created_at: createdAt(now),
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: reason,
      }
    : { model, created_at: createdAt(now), response: '', done: true, done_reason: reason };
}
