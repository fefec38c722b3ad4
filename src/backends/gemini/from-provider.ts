/**
 * Google's GenerateContentResponse → the conversation model: a whole answer as an Answer, a streamed
 * one (`streamGenerateContent?alt=sse`: one GenerateContentResponse per event, each with the new parts
 * only) as StreamEvents. Pure. Answers are untrusted input: every field is checked where it is read.
 * https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse
 */
import { randomUUID } from 'node:crypto';
import type {
  Answer,
  Choice,
  FinishReason,
  Part,
  StreamEvent,
  TokenLogprob,
  Usage,
} from '../../conversation/model.js';
import { UpstreamClientError } from '../../errors/errors.js';
import type { GeminiAnswerPart, GeminiCandidate, GeminiResponse, GeminiUsageMetadata } from './wire.js';

/** Finish reasons that mean Google's filters stopped the answer. */
const FILTERED: ReadonlySet<string> = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/** Google's function call ids (Gemini API only) look like this; anything else is replaced. */
const UPSTREAM_CALL_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** More candidates than a request can ask for (chat completions' n is at most 128) is a broken answer. */
const MAX_CANDIDATES = 128;

/**
 * The finish reason of a candidate: STOP is `tool_calls` when it called tools, MAX_TOKENS `length`, a
 * filter's reason `content_filter`; any other reason is `other`, kept in lower case as the raw reason
 * (MALFORMED_FUNCTION_CALL → malformed_function_call).
 */
export function toFinishReason(
  reason: unknown,
  calledTools: boolean,
): { reason: FinishReason; raw?: string } | null {
  if (typeof reason !== 'string' || reason === '' || reason === 'FINISH_REASON_UNSPECIFIED') return null;
  if (reason === 'STOP') return { reason: calledTools ? 'tool_calls' : 'stop' };
  if (reason === 'MAX_TOKENS') return { reason: 'length' };
  if (FILTERED.has(reason)) return { reason: 'content_filter' };
  return { reason: 'other', raw: reason.toLowerCase().slice(0, 64) };
}

/**
 * Usage as Google bills it: thinking tokens are output tokens (candidatesTokenCount leaves them out),
 * tokens of tool-use prompts are input; cached input is counted within the prompt.
 */
export function toUsage(metadata: GeminiUsageMetadata | null | undefined): Usage | undefined {
  if (metadata === null || typeof metadata !== 'object') return undefined;
  const prompt = count(metadata.promptTokenCount);
  const candidates = count(metadata.candidatesTokenCount);
  const thoughts = count(metadata.thoughtsTokenCount);
  const toolPrompt = count(metadata.toolUsePromptTokenCount);
  const cached = metadata.cachedContentTokenCount;
  return {
    inputTokens: prompt + toolPrompt,
    outputTokens: candidates + thoughts,
    ...(typeof cached === 'number' && cached > 0 ? { cachedInputTokens: count(cached) } : {}),
    ...(metadata.thoughtsTokenCount === undefined ? {} : { reasoningTokens: thoughts }),
  };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/**
 * The error for an answer without candidates because Google blocked the prompt (promptFeedback
 * .blockReason): the request's fault, so a 400 (invalid_request), which no retry or fallback repeats.
 */
export function promptBlockedError(response: GeminiResponse, backend: string): UpstreamClientError | null {
  const feedback = response.promptFeedback;
  const reason = feedback !== null && typeof feedback === 'object' ? feedback.blockReason : undefined;
  if (typeof reason !== 'string' || reason === '' || reason === 'BLOCK_REASON_UNSPECIFIED') return null;
  const label = reason.replace(/[^A-Z0-9_]/gi, '').slice(0, 64);
  const detail =
    typeof feedback?.blockReasonMessage === 'string' ? ` (${feedback.blockReasonMessage.slice(0, 300)})` : '';
  return new UpstreamClientError(
    'invalid_request',
    400,
    `Backend '${backend}': Google blocked the prompt (blockReason ${label})${detail}; its safety filters refused to answer it. Rephrase the request`,
    {},
  );
}

/** The candidates of a response: objects only, at most MAX_CANDIDATES. */
export function candidatesOf(response: GeminiResponse): GeminiCandidate[] {
  const candidates = response.candidates;
  if (!Array.isArray(candidates)) return [];
  return candidates
    .slice(0, MAX_CANDIDATES)
    .filter((candidate): candidate is GeminiCandidate => candidate !== null && typeof candidate === 'object');
}

function partsOf(candidate: GeminiCandidate): GeminiAnswerPart[] {
  const parts = candidate.content?.parts;
  if (!Array.isArray(parts)) return [];
  return parts.filter((part): part is GeminiAnswerPart => part !== null && typeof part === 'object');
}

function candidateIndex(candidate: GeminiCandidate, position: number): number {
  const index = candidate.index;
  return typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < MAX_CANDIDATES
    ? index
    : position;
}

/** Ids of the calls of one answer: Google's own when it gave one that is usable and unused, else made up. */
export class CallIds {
  private readonly used = new Set<string>();

  next(given: unknown): string {
    let id = typeof given === 'string' && UPSTREAM_CALL_ID.test(given) && !this.used.has(given) ? given : '';
    while (id === '' || this.used.has(id)) id = `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
    this.used.add(id);
    return id;
  }
}

/**
 * A part of an answer as the model's part; null for what the carrier has no place for (images, code).
 * Thought signatures are dropped: the carrier's reasoning_signature cannot say which provider a
 * signature came from, and one of Google's sent back to another provider (a fallback to Anthropic) or
 * another's sent to Google is refused with a 400; calls replayed to Gemini carry Google's documented
 * stand-in instead (to-provider.ts, SKIP_SIGNATURE).
 */
function toPart(part: GeminiAnswerPart, ids: CallIds): Part | null {
  const call = part.functionCall;
  if (call !== null && typeof call === 'object') {
    const args = call.args;
    return {
      type: 'tool_call',
      id: ids.next(call.id),
      name: typeof call.name === 'string' ? call.name : '',
      arguments: JSON.stringify(args !== null && typeof args === 'object' ? args : {}),
    };
  }
  if (typeof part.text !== 'string') return null;
  return part.thought === true ? { type: 'reasoning', text: part.text } : { type: 'text', text: part.text };
}

/**
 * logprobsResult → OpenAI's token log probabilities: the chosen token at each step, with the top
 * candidates of that step as its alternatives.
 */
export function toLogprobs(candidate: GeminiCandidate): TokenLogprob[] | undefined {
  const result = candidate.logprobsResult;
  if (result === null || typeof result !== 'object' || !Array.isArray(result.chosenCandidates))
    return undefined;
  const top = Array.isArray(result.topCandidates) ? (result.topCandidates as unknown[]) : [];
  const out: TokenLogprob[] = [];
  (result.chosenCandidates as unknown[]).forEach((chosen, step) => {
    const token = tokenLogprob(chosen);
    if (token === null) return;
    const alternatives = (top[step] as { candidates?: unknown } | null | undefined)?.candidates;
    out.push({
      ...token,
      top_logprobs: Array.isArray(alternatives)
        ? alternatives.flatMap((item: unknown) => tokenLogprob(item) ?? [])
        : [],
    });
  });
  return out.length === 0 ? undefined : out;
}

function tokenLogprob(value: unknown): { token: string; logprob: number; bytes: number[] } | null {
  if (value === null || typeof value !== 'object') return null;
  const { token, logProbability } = value as { token?: unknown; logProbability?: unknown };
  if (typeof token !== 'string' || typeof logProbability !== 'number') return null;
  return { token, logprob: logProbability, bytes: [...Buffer.from(token, 'utf8')] };
}

/**
 * A whole answer. A candidate without a finish reason (which Google always gives on a whole answer)
 * counts as stopped. A prompt Google blocked is thrown (promptBlockedError).
 */
export function fromGeminiResponse(
  response: GeminiResponse,
  meta: { id: string; created: number; model: string; backend: string },
): Answer {
  const candidates = candidatesOf(response);
  if (candidates.length === 0) {
    const blocked = promptBlockedError(response, meta.backend);
    if (blocked !== null) throw blocked;
  }
  const choices: Choice[] = candidates.map((candidate, position) => {
    const ids = new CallIds();
    const parts = partsOf(candidate).flatMap((part) => toPart(part, ids) ?? []);
    const calledTools = parts.some((part) => part.type === 'tool_call');
    const finish = toFinishReason(candidate.finishReason, calledTools) ?? {
      reason: calledTools ? ('tool_calls' as const) : ('stop' as const),
    };
    const logprobs = toLogprobs(candidate);
    return {
      index: candidateIndex(candidate, position),
      parts,
      finishReason: finish.reason,
      ...(finish.raw === undefined ? {} : { rawFinishReason: finish.raw }),
      ...(logprobs === undefined ? {} : { logprobs }),
    };
  });
  const usage = toUsage(response.usageMetadata);
  return {
    id: meta.id,
    model:
      typeof response.modelVersion === 'string' && response.modelVersion !== ''
        ? response.modelVersion
        : meta.model,
    created: meta.created,
    choices,
    ...(usage === undefined ? {} : { usage }),
  };
}

/**
 * A streamed answer's events, one GenerateContentResponse at a time. Each event holds the parts that
 * are new (text in pieces; a function call always whole, so each call's start and arguments go out
 * together); a candidate's finish reason comes on its last event; usage (on every event, cumulative) is
 * sent once, by finish(), after the stream ended.
 */
export class GeminiStreamDecoder {
  private started = false;
  private usage: Usage | undefined;
  /** Per candidate: calls numbered so far, their ids, and whether it has finished. */
  private readonly choices = new Map<number, { calls: number; ids: CallIds; finished: boolean }>();

  constructor(private readonly meta: { id: string; created: number; model: string; backend: string }) {}

  /** The events of one streamed response (a prompt Google blocked is thrown). */
  decode(response: GeminiResponse): StreamEvent[] {
    const events: StreamEvent[] = [];
    const candidates = candidatesOf(response);
    if (candidates.length === 0 && this.choices.size === 0) {
      const blocked = promptBlockedError(response, this.meta.backend);
      if (blocked !== null) throw blocked;
    }
    if (!this.started) {
      this.started = true;
      const model =
        typeof response.modelVersion === 'string' && response.modelVersion !== ''
          ? response.modelVersion
          : this.meta.model;
      events.push({ type: 'start', id: this.meta.id, model, created: this.meta.created });
    }
    candidates.forEach((candidate, position) => {
      const choice = candidateIndex(candidate, position);
      let state = this.choices.get(choice);
      if (state === undefined) {
        state = { calls: 0, ids: new CallIds(), finished: false };
        this.choices.set(choice, state);
      }
      for (const raw of partsOf(candidate)) {
        const part = toPart(raw, state.ids);
        if (part === null) continue;
        if (part.type === 'text') {
          if (part.text !== '') events.push({ type: 'text', choice, text: part.text });
        } else if (part.type === 'reasoning') {
          if (part.text !== '') events.push({ type: 'reasoning', choice, text: part.text });
        } else if (part.type === 'tool_call') {
          const call = state.calls++;
          events.push({ type: 'tool_call_start', choice, call, id: part.id, name: part.name });
          events.push({ type: 'tool_call_delta', choice, call, arguments: part.arguments });
        }
      }
      const logprobs = toLogprobs(candidate);
      if (logprobs !== undefined) events.push({ type: 'logprobs', choice, content: logprobs });
      const finish = toFinishReason(candidate.finishReason, state.calls > 0);
      if (finish !== null && !state.finished) {
        state.finished = true;
        events.push({
          type: 'finish',
          choice,
          reason: finish.reason,
          ...(finish.raw === undefined ? {} : { rawReason: finish.raw }),
        });
      }
    });
    const usage = toUsage(response.usageMetadata);
    if (usage !== undefined) this.usage = usage;
    return events;
  }

  /** Whether every candidate seen has finished (and at least one was seen): the answer is complete. */
  get complete(): boolean {
    if (this.choices.size === 0) return false;
    for (const state of this.choices.values()) if (!state.finished) return false;
    return true;
  }

  /** The events after the last response: the usage, when Google reported it. */
  finish(): StreamEvent[] {
    return this.usage === undefined ? [] : [{ type: 'usage', usage: this.usage }];
  }
}
