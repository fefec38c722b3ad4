import type { ChatCompletion, ChatCompletionChunk } from '../api/schemas.js';
import { ToolCallNumbering } from '../protocols/openai-chat/tool-call-numbering.js';

/** Finish reasons of a complete answer; anything else (content_filter, error, ...) is not stored. */
const COMPLETE = new Set(['stop', 'length', 'tool_calls', 'function_call']);

export function isCompleteAnswer(completion: ChatCompletion): boolean {
  return (
    completion.choices.length > 0 &&
    completion.choices.every((choice) => choice.finish_reason !== null && COMPLETE.has(choice.finish_reason))
  );
}

/*
 * Fidelity (docs/cache.md): an answer that crosses between streamed and non-streamed keeps every field.
 *  - Concatenated across chunks: `content`, `refusal`, `reasoning_content` and `reasoning` (each under the
 *    name it came with), a tool call's (and the legacy `function_call`'s) `name` and `arguments`, and the
 *    arrays of a choice's `logprobs` (`content`, `refusal`).
 *  - Every other field, known (`system_fingerprint`, `service_tier`, ...) or not, on a chunk, a choice, a
 *    delta or a tool call, keeps its last value that is not null (null when it only ever came as null):
 *    a string delta of an unknown field is not concatenated, since nothing says it is a piece.
 *  - `obfuscation`, the padding OpenAI adds to stream chunks, belongs to the stream and is dropped.
 * Fields are copied with Maps and Object.fromEntries, never by assignment: an upstream's `__proto__` key
 * stays a plain field.
 */

type Json = Record<string, unknown>;

/** Chunk fields the assembler handles itself (the rest are kept as they come). */
const CHUNK_FIELDS = new Set(['id', 'object', 'created', 'model', 'choices', 'usage', 'obfuscation']);
const CHOICE_FIELDS = new Set(['index', 'delta', 'finish_reason', 'logprobs']);
/** Text fields of a message besides `content`, concatenated across deltas. */
const TEXT_FIELDS = ['reasoning_content', 'reasoning', 'refusal'] as const;
const DELTA_FIELDS = new Set<string>(['role', 'content', 'tool_calls', 'function_call', ...TEXT_FIELDS]);
const TOOL_CALL_FIELDS = new Set(['index', 'id', 'type', 'function']);
const FUNCTION_FIELDS = new Set(['name', 'arguments']);
/** Fields of a stored answer that are not carried onto its replayed chunks. */
const NOT_REPLAYED = new Set(['id', 'object', 'created', 'model', 'choices', 'usage', 'cached']);
/** Choice fields replayed in their own place (the rest go on the finish chunk). */
const REPLAYED_CHOICE = new Set(['index', 'message', 'logprobs', 'finish_reason']);

interface FunctionState {
  name: string;
  arguments: string;
  readonly extra: Map<string, unknown>;
}

interface ToolCallState {
  /** Where the call goes in `tool_calls`: the upstream's index, else its place among the calls. */
  readonly order: number;
  id: string;
  type: string;
  readonly fn: FunctionState;
  readonly extra: Map<string, unknown>;
}

interface ChoiceState {
  role: string;
  content: string;
  /** Streams open with `content: ""` even before tool calls: an empty string alone is not content. */
  contentSeen: 'none' | 'empty' | 'text';
  /** refusal, reasoning_content, reasoning: null while only null came. */
  readonly texts: Map<string, string | null>;
  /** null: the stream never sent `tool_calls` (an empty array is kept as one). */
  toolCalls: Map<number, ToolCallState> | null;
  /** Which call each tool call delta belongs to, as the stream decoder numbers them. */
  numbering: ToolCallNumbering | null;
  functionCall: FunctionState | null;
  /** Other message fields. */
  readonly message: Map<string, unknown>;
  /** Kept as entries (absent: never sent; null: only null came). */
  logprobs: Map<string, unknown> | null | undefined;
  finishReason: string | null;
  /** Other choice fields (vLLM's stop_reason, ...). */
  readonly extra: Map<string, unknown>;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The last value that is not null wins; null is kept only while nothing else came. */
function keepLast(map: Map<string, unknown>, key: string, value: unknown): void {
  if (value === undefined) return;
  if (value !== null || !map.has(key)) map.set(key, value);
}

function keepOthers(map: Map<string, unknown>, source: Json, known: ReadonlySet<string>): void {
  for (const key of Object.keys(source)) if (!known.has(key)) keepLast(map, key, source[key]);
}

function newFunction(): FunctionState {
  return { name: '', arguments: '', extra: new Map() };
}

function addFunction(state: FunctionState, raw: unknown): void {
  if (!isObject(raw)) return;
  if (typeof raw['name'] === 'string') state.name += raw['name'];
  if (typeof raw['arguments'] === 'string') state.arguments += raw['arguments'];
  keepOthers(state.extra, raw, FUNCTION_FIELDS);
}

function functionOf(state: FunctionState): Json {
  return Object.fromEntries([['name', state.name], ['arguments', state.arguments], ...state.extra]);
}

/** Appends a chunk's logprobs: arrays concatenate, other fields keep their last non-null value. */
function addLogprobs(current: Map<string, unknown> | null | undefined, raw: unknown): typeof current {
  if (!isObject(raw)) return raw === null && current === undefined ? null : current;
  const merged = current ?? new Map<string, unknown>();
  for (const key of Object.keys(raw)) {
    const value = raw[key];
    const before = merged.get(key);
    if (Array.isArray(value)) {
      if (Array.isArray(before)) for (const item of value as unknown[]) before.push(item);
      else merged.set(key, [...(value as unknown[])]); // a copy: later chunks append to it
    } else keepLast(merged, key, value);
  }
  return merged;
}

function newChoice(): ChoiceState {
  return {
    role: 'assistant',
    content: '',
    contentSeen: 'none',
    texts: new Map(),
    toolCalls: null,
    numbering: null,
    functionCall: null,
    message: new Map(),
    logprobs: undefined,
    finishReason: null,
    extra: new Map(),
  };
}

function addDelta(state: ChoiceState, delta: Json): void {
  if (typeof delta['role'] === 'string') state.role = delta['role'];
  const content = delta['content'];
  if (typeof content === 'string') {
    if (content !== '') {
      state.content += content;
      state.contentSeen = 'text';
    } else if (state.contentSeen === 'none') state.contentSeen = 'empty';
  }
  for (const field of TEXT_FIELDS) {
    const value = delta[field];
    if (typeof value === 'string') state.texts.set(field, (state.texts.get(field) ?? '') + value);
    else if (value === null && !state.texts.has(field)) state.texts.set(field, null);
  }
  const toolCalls = delta['tool_calls'];
  if (Array.isArray(toolCalls)) {
    const calls = (state.toolCalls ??= new Map<number, ToolCallState>());
    toolCalls.forEach((raw: unknown, position) => {
      if (!isObject(raw)) return;
      // Servers that leave out `index`, or number every call 0, still get their calls apart.
      const index = (state.numbering ??= new ToolCallNumbering()).number(raw, position).call;
      let call = calls.get(index);
      if (call === undefined) {
        const order = typeof raw['index'] === 'number' ? raw['index'] : index;
        call = { order, id: '', type: 'function', fn: newFunction(), extra: new Map() };
        calls.set(index, call);
      }
      if (typeof raw['id'] === 'string') call.id = raw['id'];
      if (typeof raw['type'] === 'string') call.type = raw['type'];
      addFunction(call.fn, raw['function']);
      keepOthers(call.extra, raw, TOOL_CALL_FIELDS);
    });
  }
  if (isObject(delta['function_call']))
    addFunction((state.functionCall ??= newFunction()), delta['function_call']);
  keepOthers(state.message, delta, DELTA_FIELDS);
}

function messageOf(state: ChoiceState): Json {
  const calls = state.toolCalls;
  const refusal = state.texts.get('refusal');
  const answersOtherwise =
    (calls !== null && calls.size > 0) ||
    state.functionCall !== null ||
    (typeof refusal === 'string' && refusal !== '');
  const content =
    state.contentSeen === 'text'
      ? state.content
      : state.contentSeen === 'empty' && !answersOtherwise
        ? ''
        : null;
  const entries: [string, unknown][] = [['role', state.role], ['content', content], ...state.texts];
  if (state.functionCall !== null) entries.push(['function_call', functionOf(state.functionCall)]);
  if (calls !== null) {
    const ordered = [...calls.entries()].sort(([a, one], [b, other]) => one.order - other.order || a - b);
    entries.push([
      'tool_calls',
      ordered.map(([, call]) =>
        Object.fromEntries([
          ['id', call.id],
          ['type', call.type],
          ['function', functionOf(call.fn)],
          ...call.extra,
        ]),
      ),
    ]);
  }
  entries.push(...state.message);
  return Object.fromEntries(entries);
}

/**
 * Rebuilds the complete answer from a stream's chunks, so that a streamed miss can be stored. Every field
 * is kept (see the fidelity rule above): what a non-streamed request would have been answered.
 */
export class CompletionAssembler {
  private id = '';
  private created = 0;
  private model = '';
  private usage: unknown = undefined;
  private readonly extra = new Map<string, unknown>();
  private readonly choices = new Map<number, ChoiceState>();

  add(chunk: ChatCompletionChunk): void {
    const raw = chunk as unknown as Json;
    this.id ||= chunk.id;
    this.created ||= chunk.created;
    this.model ||= chunk.model;
    if (raw['usage'] != null) this.usage = raw['usage'];
    keepOthers(this.extra, raw, CHUNK_FIELDS);
    const choices = raw['choices'];
    if (!Array.isArray(choices)) return;
    for (const choice of choices as unknown[]) {
      if (!isObject(choice)) continue;
      const index = typeof choice['index'] === 'number' ? choice['index'] : 0;
      let state = this.choices.get(index);
      if (state === undefined) {
        state = newChoice();
        this.choices.set(index, state);
      }
      if (isObject(choice['delta'])) addDelta(state, choice['delta']);
      if ('logprobs' in choice) state.logprobs = addLogprobs(state.logprobs, choice['logprobs']);
      if (typeof choice['finish_reason'] === 'string') state.finishReason = choice['finish_reason'];
      keepOthers(state.extra, choice, CHOICE_FIELDS);
    }
  }

  /** The answer, or null when the stream did not finish every choice. */
  result(): ChatCompletion | null {
    if (this.choices.size === 0) return null;
    const choices = [...this.choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, state]) => {
        const entries: [string, unknown][] = [
          ['index', index],
          ['message', messageOf(state)],
        ];
        if (state.logprobs !== undefined)
          entries.push(['logprobs', state.logprobs === null ? null : Object.fromEntries(state.logprobs)]);
        entries.push(['finish_reason', state.finishReason], ...state.extra);
        return Object.fromEntries(entries);
      });
    const entries: [string, unknown][] = [
      ['id', this.id],
      ['object', 'chat.completion'],
      ['created', this.created],
      ['model', this.model],
      ['choices', choices],
    ];
    if (this.usage !== undefined) entries.push(['usage', this.usage]);
    entries.push(...this.extra);
    const completion = Object.fromEntries(entries) as unknown as ChatCompletion;
    return isCompleteAnswer(completion) ? completion : null;
  }
}

/** `source` without the `left` fields (an own `__proto__` key stays a plain field). */
function without(source: Json, left: ReadonlySet<string>): Json {
  return Object.fromEntries(Object.entries(source).filter(([key]) => !left.has(key)));
}

/**
 * A stored answer as the chunks of a stream, every field kept: per choice, the role (with the fields
 * that are null, empty or not text), then reasoning, content (with the logprobs), refusal, function
 * call, tool calls, and the finish (with the choice's other fields); usage last, if asked. The answer's
 * other top-level fields (system_fingerprint, service_tier, ...) are on every chunk, as OpenAI sends them.
 * CompletionAssembler turns these chunks back into the same answer.
 */
export function replayChunks(completion: ChatCompletion, includeUsage: boolean): ChatCompletionChunk[] {
  const base = {
    id: completion.id,
    object: 'chat.completion.chunk' as const,
    created: completion.created,
    model: completion.model,
    ...without(completion, NOT_REPLAYED),
  };
  const chunks: ChatCompletionChunk[] = [];
  const push = (choice: Json): void => {
    chunks.push({ ...base, choices: [choice] } as unknown as ChatCompletionChunk);
  };
  for (const choice of completion.choices as unknown as Json[]) {
    const index = choice['index'];
    const message = isObject(choice['message']) ? choice['message'] : {};
    const content = message['content'];
    const hasContentChunk = typeof content === 'string' && content !== '';
    const opening: Json = { role: message['role'] ?? 'assistant', content: content == null ? null : '' };
    const texts: Json[] = [];
    for (const [key, value] of Object.entries(message)) {
      if (key === 'role' || key === 'content' || key === 'tool_calls' || key === 'function_call') continue;
      if ((TEXT_FIELDS as readonly string[]).includes(key) && typeof value === 'string' && value !== '')
        texts.push(Object.fromEntries([[key, value]]));
      else
        Object.defineProperty(opening, key, { value, enumerable: true, writable: true, configurable: true });
    }
    const logprobs = 'logprobs' in choice ? { logprobs: choice['logprobs'] } : {};
    push({ index, delta: opening, ...(hasContentChunk ? {} : logprobs), finish_reason: null });
    // Reasoning comes before the answer, a refusal after whatever content there is.
    const refusal = texts.filter((delta) => 'refusal' in delta);
    for (const delta of texts) if (!('refusal' in delta)) push({ index, delta, finish_reason: null });
    if (hasContentChunk) push({ index, delta: { content }, ...logprobs, finish_reason: null });
    for (const delta of refusal) push({ index, delta, finish_reason: null });
    if (isObject(message['function_call']))
      push({ index, delta: { function_call: message['function_call'] }, finish_reason: null });
    if (Array.isArray(message['tool_calls'])) {
      const toolCalls = (message['tool_calls'] as unknown[]).map((call, position) => ({
        index: position,
        ...(isObject(call) ? call : {}),
      }));
      push({ index, delta: { tool_calls: toolCalls }, finish_reason: null });
    }
    push({ index, delta: {}, finish_reason: choice['finish_reason'], ...without(choice, REPLAYED_CHOICE) });
  }
  if (includeUsage && completion.usage !== undefined)
    chunks.push({ ...base, choices: [], usage: completion.usage });
  return chunks;
}
