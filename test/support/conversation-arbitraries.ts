/**
 * fast-check generators of the conversation model's answers and of the streams that carry them, for
 * the round-trip property tests of every protocol (src/protocols/<name>/round-trip.test.ts). Each
 * protocol states what it can express through the options (one choice, arguments that are JSON
 * objects, ...), and the stream generator cuts the answer up as upstreams do.
 */
import fc from 'fast-check';
import type {
  Answer,
  Choice,
  ConversationRequest,
  ImagePart,
  Message,
  Part,
  StreamEvent,
  TokenLogprob,
  ToolResultPart,
} from '../../src/conversation/model.js';
import { effortOf } from '../../src/protocols/openai-chat/from-conversation.js';

/** fast-check builds records without a prototype; the translators build plain objects. */
export function plain<T>(value: T): T {
  return structuredClone(value);
}

/** Any text, lone surrogates included: nothing on the way may assume well-formed strings. */
export const anyText = fc.string({ unit: 'binary', maxLength: 16 });
export const nonEmptyText = fc.string({ unit: 'binary', minLength: 1, maxLength: 16 });
export const identifier = fc.string({ minLength: 1, maxLength: 10 });
/** A JSON object with string keys, as tool arguments and schemas are. */
export const jsonObject = fc.dictionary(identifier, fc.jsonValue({ maxDepth: 2 }), {
  maxKeys: 3,
  noNullPrototype: true,
});

/** Log probabilities survive JSON, so no -0 (JSON writes it as 0) and no NaN. */
const logprob = fc.integer({ min: -100_000, max: 0 }).map((value) => (value === 0 ? 0 : value / 1000));
export const tokenLogprob: fc.Arbitrary<TokenLogprob> = fc.record(
  {
    token: anyText,
    logprob,
    bytes: fc.option(fc.array(fc.nat(255), { maxLength: 4 }), { nil: null }),
    top_logprobs: fc.array(fc.record({ token: anyText, logprob }), { maxLength: 2 }),
  },
  { requiredKeys: ['token', 'logprob'] },
);

export interface AnswerShape {
  /** At most this many choices (1 for every protocol but chat and legacy completions). */
  readonly maxChoices?: number;
  /** Tool call arguments as JSON objects only (Ollama, Anthropic and Responses clients parse them). */
  readonly objectArguments?: boolean;
  /** Whether the protocol carries log probabilities. */
  readonly logprobs?: boolean;
  /** Whether the protocol carries finish reasons it has no name for, and stop sequences. */
  readonly rawFinish?: boolean;
  /** Whether the protocol carries tool calls. */
  readonly toolCalls?: boolean;
  /** Reasoning with Anthropic's signature (only Anthropic Messages shows one; the carrier drops it). */
  readonly signatures?: boolean;
}

/**
 * Answers as they come from a backend through the carrier: per choice reasoning (no signature: the
 * carrier has no place for one), then text, then tool calls, each non-empty when there.
 */
export function answerArbitrary(shape: AnswerShape = {}): fc.Arbitrary<Answer> {
  const objectArguments = shape.objectArguments ?? false;
  const toolCall = fc.record({
    type: fc.constant('tool_call' as const),
    id: identifier,
    name: identifier,
    // JSON text as models stream it, or anything: the arguments are carried, not parsed.
    arguments: objectArguments
      ? jsonObject.map((value) => JSON.stringify(value))
      : fc.oneof(fc.json({ maxDepth: 2 }), anyText),
  });
  const finish = fc.oneof(
    fc.constantFrom('stop', 'length', 'tool_calls', 'content_filter', 'error').map((reason) => ({
      finishReason: reason,
    })),
    ...(shape.rawFinish === false
      ? []
      : [
          // A reason the model has no name for is kept as the backend gave it.
          fc.constantFrom('abort', 'recitation', 'pause_turn').map((raw) => ({
            finishReason: 'other' as const,
            rawFinishReason: raw,
          })),
        ]),
    fc.constant({ finishReason: null }),
  );
  const choiceBody = fc
    .record(
      {
        reasoning: nonEmptyText,
        signature:
          shape.signatures === true
            ? fc.option(fc.base64String({ minLength: 4, maxLength: 24 }), { nil: undefined })
            : fc.constant(undefined),
        text: nonEmptyText,
        calls:
          shape.toolCalls === false ? fc.constant([]) : fc.array(toolCall, { minLength: 1, maxLength: 3 }),
        finish,
        stopSequence: anyText,
        logprobs: fc.array(tokenLogprob, { minLength: 1, maxLength: 3 }),
      },
      { requiredKeys: ['finish'] },
    )
    .map(({ reasoning, signature, text, calls, finish: ended, stopSequence, logprobs }) => {
      const parts: Part[] = [];
      if (reasoning !== undefined)
        parts.push({ type: 'reasoning', text: reasoning, ...(signature === undefined ? {} : { signature }) });
      if (text !== undefined) parts.push({ type: 'text', text });
      if (calls !== undefined) parts.push(...calls);
      return {
        parts,
        ...ended,
        // A stop sequence is why a choice stopped: it comes with the finish reason stop.
        ...(stopSequence === undefined || ended.finishReason !== 'stop' || shape.rawFinish === false
          ? {}
          : { stopSequence }),
        ...(logprobs === undefined || shape.logprobs === false ? {} : { logprobs }),
      };
    });
  const usage = fc.record(
    {
      inputTokens: fc.nat(100_000),
      outputTokens: fc.nat(100_000),
      cachedInputTokens: fc.nat(100_000),
      reasoningTokens: fc.nat(100_000),
    },
    { requiredKeys: ['inputTokens', 'outputTokens'] },
  );
  return fc
    .record(
      {
        id: identifier,
        model: identifier,
        created: fc.nat(2_000_000_000),
        choices: fc.array(choiceBody, { minLength: 1, maxLength: shape.maxChoices ?? 3 }),
        usage,
      },
      { requiredKeys: ['id', 'model', 'created', 'choices'] },
    )
    .map(({ choices, ...rest }) =>
      plain({ ...rest, choices: choices.map((choice, index): Choice => ({ index, ...choice })) }),
    );
}

/** A choice streams something: a part, log probabilities or a finish reason. */
export function streamable(answer: Answer): boolean {
  return answer.choices.every(
    (choice) => choice.parts.length > 0 || choice.finishReason !== null || choice.logprobs !== undefined,
  );
}

/** Cuts a string into 1..4 non-empty pieces, at points fast-check chooses. */
export function fragments(value: string, g: fc.GeneratorValue): string[] {
  if (value.length <= 1) return [value];
  const cuts = g(() => fc.uniqueArray(fc.integer({ min: 1, max: value.length - 1 }), { maxLength: 3 }));
  const points = [0, ...[...cuts].sort((a, b) => a - b), value.length];
  return points.slice(1).map((end, index) => value.slice(points[index], end));
}

/** Merges lists into one, keeping each list's order, choosing which list goes next with `g`. */
export function interleave<T>(lists: readonly (readonly T[])[], g: fc.GeneratorValue): T[] {
  const out: T[] = [];
  const queues = lists.filter((list) => list.length > 0).map((list) => [...list]);
  while (queues.length > 0) {
    const at = g(fc.nat, queues.length - 1);
    const queue = queues[at] as T[];
    out.push(queue.shift() as T);
    if (queue.length === 0) queues.splice(at, 1);
  }
  return out;
}

function splitList<T>(list: readonly T[], g: fc.GeneratorValue): T[][] {
  const out: T[][] = [];
  let at = 0;
  while (at < list.length) {
    const size = g(fc.integer, { min: 1, max: list.length - at });
    out.push(list.slice(at, at + size));
    at += size;
  }
  return out;
}

export interface StreamShape {
  /**
   * Parallel tool calls' argument fragments interleaved (each after its call's start), as the model
   * allows; false: each call's fragments before the next call starts, as OpenAI and vLLM send them.
   */
  readonly interleaveCalls?: boolean;
  /** The choices' events interleaved (only chat and legacy completions have several). */
  readonly interleaveChoices?: boolean;
}

/**
 * The events a real stream of this answer could carry: text, reasoning and each call's arguments in
 * fragments, log probabilities in pieces; calls and choices interleaved as `shape` allows.
 */
export function fragmentedEvents(
  answer: Answer,
  g: fc.GeneratorValue,
  shape: StreamShape = {},
): StreamEvent[] {
  const perChoice = answer.choices.map((choice) => {
    const events: StreamEvent[] = [];
    const calls: StreamEvent[][] = [];
    for (const part of choice.parts) {
      if (part.type === 'reasoning') {
        for (const piece of fragments(part.text, g))
          events.push({ type: 'reasoning', choice: choice.index, text: piece });
        // Anthropic sends the signature last, in a delta of its own.
        if (part.signature !== undefined)
          events.push({ type: 'reasoning', choice: choice.index, text: '', signature: part.signature });
      } else if (part.type === 'text')
        for (const piece of fragments(part.text, g))
          events.push({ type: 'text', choice: choice.index, text: piece });
      else if (part.type === 'tool_call') {
        const call = calls.length;
        calls.push([
          { type: 'tool_call_start', choice: choice.index, call, id: part.id, name: part.name },
          ...(part.arguments === ''
            ? []
            : fragments(part.arguments, g).map((piece): StreamEvent => ({
                type: 'tool_call_delta',
                choice: choice.index,
                call,
                arguments: piece,
              }))),
        ]);
      }
    }
    if (shape.interleaveCalls === true) {
      // Calls start in order (their numbers are their order of start); their deltas interleave.
      const starts = calls.map((list) => list[0] as StreamEvent);
      const deltas = interleave(
        calls.map((list) => list.slice(1)),
        g,
      );
      let started = 0;
      for (const delta of deltas) {
        const call = (delta as { call: number }).call;
        while (started <= call) events.push(starts[started++] as StreamEvent);
        events.push(delta);
      }
      while (started < starts.length) events.push(starts[started++] as StreamEvent);
    } else events.push(...calls.flat());
    if (choice.logprobs !== undefined)
      for (const piece of splitList(choice.logprobs, g))
        events.push({ type: 'logprobs', choice: choice.index, content: piece });
    if (choice.finishReason !== null)
      events.push({
        type: 'finish',
        choice: choice.index,
        reason: choice.finishReason,
        ...(choice.rawFinishReason === undefined ? {} : { rawReason: choice.rawFinishReason }),
        ...(choice.stopSequence === undefined ? {} : { stopSequence: choice.stopSequence }),
      });
    return events;
  });
  return [
    { type: 'start', id: answer.id, model: answer.model, created: answer.created },
    ...(shape.interleaveChoices === true ? interleave(perChoice, g) : perChoice.flat()),
    ...(answer.usage === undefined ? [] : [{ type: 'usage' as const, usage: answer.usage }]),
  ];
}

function joined(parts: readonly Part[], separator = ''): string {
  return parts.map((part) => (part.type === 'text' ? part.text : '')).join(separator);
}

/** Text alone is one text part (none when empty); with an image it stays parts as they were. */
function content(parts: readonly Part[]): Part[] {
  if (!parts.every((part) => part.type === 'text')) return [...parts];
  const text = joined(parts);
  return text === '' ? [] : [{ type: 'text', text }];
}

function pushTool(messages: Message[], results: readonly ToolResultPart[]): void {
  const last = messages.at(-1);
  if (last?.role === 'tool')
    messages[messages.length - 1] = { role: 'tool', parts: [...last.parts, ...results] };
  else messages.push({ role: 'tool', parts: results });
}

/**
 * A conversation as it comes back from the chat carrier (fromChatRequest ∘ toChatRequest), for the
 * round-trip tests of protocols that translate to the model: each protocol's request must keep every
 * part through the carrier up to these changes, each stated with its why (docs/conversation.md, what
 * the carrier cannot express):
 * - `system` is the first system message, its blocks joined by a newline: chat completions has no
 *   other place for it;
 * - a message's text alone is one string (none when empty): chat writes text-only content as a string;
 * - an assistant turn is its reasoning (joined), its text (joined), its calls: the carrier's
 *   reasoning_content, content and tool_calls. Of Anthropic's thinking signatures the last one stays
 *   (the carrier's reasoning_signature, for an anthropic backend); redacted (or encrypted) reasoning
 *   is dropped;
 * - tool_result blocks become tool messages before the rest of their user message (chat's order: the
 *   results answer the assistant turn before them), their text joined, an error with no text "error"
 *   (is_error has no place in chat), their images in the user message after them (chat takes images
 *   only from users);
 * - a thinking budget becomes an effort level (what OpenAI-compatible servers take);
 * - a tool message's other parts (it has none in any protocol today) would go in a user message.
 */
export function carrierForm(conversation: ConversationRequest): ConversationRequest {
  const messages: Message[] = [];
  if (conversation.system !== undefined && conversation.system.length > 0)
    messages.push({
      role: 'system',
      parts: content([{ type: 'text', text: joined(conversation.system, '\n') }]),
    });
  for (const message of conversation.messages) {
    if (message.role === 'assistant') {
      const reasoning = message.parts.filter((part) => part.type === 'reasoning');
      const signature = reasoning.findLast((part) => part.signature !== undefined)?.signature;
      const text = joined(message.parts);
      messages.push({
        role: 'assistant',
        parts: [
          ...(reasoning.length === 0
            ? []
            : [
                {
                  type: 'reasoning' as const,
                  text: reasoning.map((part) => part.text).join(''),
                  ...(signature === undefined ? {} : { signature }),
                },
              ]),
          ...(text === '' ? [] : [{ type: 'text' as const, text }]),
          ...message.parts.filter((part) => part.type === 'tool_call'),
        ],
      });
      continue;
    }
    const results: ToolResultPart[] = [];
    const rest: Part[] = [];
    for (const part of message.parts) {
      if (part.type !== 'tool_result') {
        rest.push(part);
        continue;
      }
      const text = joined(part.content);
      const said = part.isError === true && text === '' ? 'error' : text;
      results.push({
        type: 'tool_result',
        callId: part.callId,
        ...(part.name === undefined ? {} : { name: part.name }),
        content: said === '' ? [] : [{ type: 'text', text: said }],
      });
      rest.push(...part.content.filter((item): item is ImagePart => item.type === 'image'));
    }
    if (results.length > 0) pushTool(messages, results);
    if (rest.length > 0 || message.parts.length === 0)
      messages.push({ role: message.role === 'tool' ? 'user' : message.role, parts: content(rest) });
  }
  const { system: _system, options, ...others } = conversation;
  const { reasoning, ...otherOptions } = options;
  const effort = reasoning === undefined ? undefined : effortOf(reasoning);
  return {
    ...others,
    messages,
    options: {
      ...otherOptions,
      ...(effort === undefined ? {} : { reasoning: { effort: effort as 'low' } }),
    },
  };
}
