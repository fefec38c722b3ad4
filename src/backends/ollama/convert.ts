/**
 * Pure translations between OpenAI's chat format and Ollama's native /api/chat and /api/embed.
 * https://github.com/ollama/ollama/blob/main/docs/api.md, and api/types.go for what the page leaves out
 * (logprobs and top_logprobs since 0.12.11, tool call ids and `function.index`).
 */
import { floatsToBase64 } from '../embedding-encoding.js';
import { randomUUID } from 'node:crypto';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatMessage,
  EmbeddingsResponse,
  ToolCall,
  Usage,
} from '../../api/schemas.js';
import { InvalidRequestError } from '../../errors/errors.js';
import { printable, UnsupportedFields } from '../unsupported-fields.js';

export interface OllamaToolCall {
  id?: string;
  function: { name: string; arguments: Record<string, unknown> };
}

export interface OllamaMessage {
  role: string;
  content: string;
  thinking?: string;
  images?: string[];
  tool_calls?: OllamaToolCall[];
  tool_name?: string;
  tool_call_id?: string;
}

export interface OllamaChatRequest {
  model: string;
  messages: OllamaMessage[];
  stream: boolean;
  options?: Record<string, unknown>;
  format?: unknown;
  tools?: unknown[];
  /** true/false, or a level ("low", "medium", "high") for models that take one (gpt-oss). */
  think?: boolean | string;
  keep_alive?: string | number;
  logprobs?: boolean;
  top_logprobs?: number;
}

/** One line of /api/chat's answer (the whole answer when not streaming), as untrusted input. */
export interface OllamaChatResponse {
  model?: string;
  message?: {
    role?: string;
    content?: string;
    thinking?: unknown;
    tool_calls?: { id?: unknown; function?: { index?: unknown; name?: unknown; arguments?: unknown } }[];
  };
  done?: boolean;
  done_reason?: string;
  prompt_eval_count?: number;
  eval_count?: number;
  /** [{token, logprob, bytes?, top_logprobs?: [{token, logprob, bytes?}]}] when logprobs were asked for. */
  logprobs?: unknown;
  error?: string;
}

/** How a backend treats request fields Ollama cannot honour (its `drop_unsupported` setting). */
export interface OllamaRequestPolicy {
  /** The backend's name, for the error that says how to fix the request. */
  readonly backend: string;
  /** false: such a field is a 400 naming it; true: it is left out and reported in `dropped`. */
  readonly dropUnsupported: boolean;
}

export interface OllamaChatTranslation {
  readonly request: OllamaChatRequest;
  /**
   * Fields left out because Ollama cannot honour them (only with drop_unsupported), in the order met;
   * at most MAX_REPORTED_FIELDS names of at most MAX_FIELD_NAME printable ASCII characters each, as they
   * are client input.
   */
  readonly dropped: readonly string[];
}

const DEFAULT_POLICY: OllamaRequestPolicy = { backend: 'ollama', dropUnsupported: false };

/** Fields that do not change the answer (or that the gateway itself acts on): never refused. */
const METADATA_FIELDS: ReadonlySet<string> = new Set([
  'model',
  'stream',
  'stream_options',
  'user',
  'store',
  'metadata',
  'service_tier',
  'safety_identifier',
  'prompt_cache_key',
]);

/** OpenAI fields translated below; values Ollama cannot honour are checked field by field. */
const MAPPED_FIELDS: ReadonlySet<string> = new Set([
  'messages',
  'temperature',
  'top_p',
  'n',
  'max_tokens',
  'max_completion_tokens',
  'stop',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
  'reasoning_effort',
  'logprobs',
  'top_logprobs',
]);

/** Ollama's own parameters, which a client that knows its backend may send in the chat body. */
const OLLAMA_EXTENSIONS: ReadonlySet<string> = new Set([
  'think',
  'keep_alive',
  'options',
  'top_k',
  'min_p',
  'repeat_penalty',
  'num_ctx',
]);

/**
 * OpenAI fields Ollama has no equivalent for: why, and which values change nothing (and so are no
 * reason to refuse a request: an empty logit_bias, modalities ["text"], ...). Every other field is
 * unknown, and refused the same way.
 */
const UNSUPPORTED_FIELDS: ReadonlyMap<string, { reason: string; harmless: (value: unknown) => boolean }> =
  new Map([
    ['logit_bias', { reason: 'Ollama cannot bias token choices', harmless: (value) => isEmptyObject(value) }],
    ['audio', { reason: 'Ollama answers in text only', harmless: () => false }],
    [
      'modalities',
      {
        reason: 'Ollama answers in text only',
        harmless: (value) => Array.isArray(value) && value.every((item) => item === 'text'),
      },
    ],
    ['prediction', { reason: 'Ollama has no predicted outputs', harmless: () => false }],
    ['web_search_options', { reason: 'Ollama does not search the web', harmless: () => false }],
    [
      'functions',
      {
        reason: 'Ollama takes tools, not the legacy functions',
        harmless: (value) => Array.isArray(value) && value.length === 0,
      },
    ],
    [
      'function_call',
      {
        reason: 'Ollama takes tools, not the legacy function_call',
        harmless: (value) => value === 'auto' || value === 'none',
      },
    ],
  ]);

const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] as const;

/** OpenAI sampling parameters → Ollama `options`. */
const OPTION_MAP: readonly (readonly [keyof ChatCompletionRequest, string])[] = [
  ['temperature', 'temperature'],
  ['top_p', 'top_p'],
  ['seed', 'seed'],
  ['presence_penalty', 'presence_penalty'],
  ['frequency_penalty', 'frequency_penalty'],
];

/**
 * Translates a chat request. Fields Ollama cannot honour are refused with a 400 naming them, or with
 * `policy.dropUnsupported` left out and listed in `dropped`: never dropped silently.
 */
export function toOllamaChatRequest(
  request: ChatCompletionRequest,
  stream: boolean,
  policy: OllamaRequestPolicy = DEFAULT_POLICY,
): OllamaChatTranslation {
  const unsupported = new UnsupportedFields(policy, 'Ollama');
  for (const field of Object.keys(request)) {
    if (METADATA_FIELDS.has(field) || MAPPED_FIELDS.has(field) || OLLAMA_EXTENSIONS.has(field)) continue;
    const value = request[field];
    if (value === null || value === undefined) continue; // null: not set
    const known = UNSUPPORTED_FIELDS.get(field);
    if (known?.harmless(value) === true) continue;
    unsupported.refuse(field, known?.reason ?? 'Ollama has no such parameter');
  }
  if (request.n != null && request.n > 1)
    unsupported.refuse('n', 'Ollama answers one choice only (send n: 1)');

  const out: OllamaChatRequest = {
    model: request.model,
    messages: toOllamaMessages(request.messages),
    stream,
  };
  const options = toOllamaOptions(request);
  if (Object.keys(options).length > 0) out.options = options;
  const format = toOllamaFormat(request, unsupported);
  if (format !== undefined) out.format = format;
  const tools = toolsToSend(request, unsupported);
  if (tools !== undefined) out.tools = tools;
  const think = toOllamaThink(request);
  if (think !== undefined) out.think = think;
  const keepAlive = request['keep_alive'];
  if (keepAlive != null) {
    if (!(typeof keepAlive === 'string' && keepAlive.length <= 64) && !isFiniteNumber(keepAlive)) {
      throw new InvalidRequestError("'keep_alive' must be a duration ('5m', '1h') or a number of seconds", {
        param: 'keep_alive',
      });
    }
    out.keep_alive = keepAlive;
  }
  Object.assign(out, toOllamaLogprobs(request));
  return { request: out, dropped: unsupported.dropped };
}

/**
 * Ollama's `options`. Precedence, lowest first: OpenAI's parameters (temperature, top_p, seed, the
 * penalties, max_tokens, stop); then Ollama's parameters sent at the top level (top_k, min_p,
 * repeat_penalty, num_ctx); then the client's `options` object, key by key: a client that writes
 * `options` means exactly those values.
 */
function toOllamaOptions(request: ChatCompletionRequest): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [from, to] of OPTION_MAP) {
    const value = request[from];
    if (value !== undefined && value !== null) options[to] = value;
  }
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens != null) options['num_predict'] = maxTokens;
  if (request.stop != null) options['stop'] = Array.isArray(request.stop) ? request.stop : [request.stop];

  const topK = request['top_k'];
  if (topK != null) options['top_k'] = checkNumber('top_k', topK, { integer: true, min: 0 });
  const minP = request['min_p'];
  if (minP != null) options['min_p'] = checkNumber('min_p', minP, { min: 0, max: 1 });
  const repeatPenalty = request['repeat_penalty'];
  if (repeatPenalty != null)
    options['repeat_penalty'] = checkNumber('repeat_penalty', repeatPenalty, { min: 0 });
  const numCtx = request['num_ctx'];
  if (numCtx != null) options['num_ctx'] = checkNumber('num_ctx', numCtx, { integer: true, min: 1 });

  const given = request['options'];
  if (given != null) {
    if (typeof given !== 'object' || Array.isArray(given)) {
      throw new InvalidRequestError("'options' must be an object of Ollama options (num_ctx, top_k, ...)", {
        param: 'options',
      });
    }
    for (const [key, value] of Object.entries(given)) {
      // The body parser already refuses this key; kept out here too, as it would set the prototype.
      if (key !== '__proto__') options[key] = value;
    }
  }
  return options;
}

function toOllamaFormat(request: ChatCompletionRequest, unsupported: UnsupportedFields): unknown {
  const format = request.response_format as { type: string; json_schema?: { schema?: unknown } } | undefined;
  if (format == null || format.type === 'text') return undefined;
  if (format.type === 'json_object') return 'json';
  if (format.type === 'json_schema') return format.json_schema?.schema ?? 'json';
  unsupported.refuse(
    'response_format',
    `Ollama's format takes text, json_object or json_schema, not '${printable(format.type)}'`,
  );
  return undefined;
}

function withoutCacheField(tool: unknown): unknown {
  if (tool === null || typeof tool !== 'object' || !('cache_control' in tool)) return tool;
  const { cache_control: _breakpoint, ...rest } = tool as Record<string, unknown>;
  return rest;
}

/** The tools to send: none for tool_choice "none"; what Ollama cannot honour about them is refused. */
function toolsToSend(request: ChatCompletionRequest, unsupported: UnsupportedFields): unknown[] | undefined {
  const choice = request.tool_choice;
  if (choice === 'none') return undefined;
  if (choice != null && choice !== 'auto') {
    const named =
      typeof choice === 'object' ? (choice as { function?: { name?: unknown } }).function?.name : null;
    unsupported.refuse(
      'tool_choice',
      choice === 'required'
        ? 'Ollama cannot make the model call a tool'
        : typeof named === 'string'
          ? 'Ollama cannot make the model call a named function'
          : 'Ollama lets the model choose among all tools (auto) or none',
    );
  }
  // Anthropic's prompt-cache breakpoints (the carrier's `cache_control` beside a tool's `function`)
  // mean nothing to Ollama: not sent.
  const tools =
    request.tools !== undefined && request.tools.length > 0
      ? request.tools.map((tool) => withoutCacheField(tool))
      : undefined;
  const parallel = request['parallel_tool_calls'];
  if (parallel != null && typeof parallel !== 'boolean') {
    throw new InvalidRequestError("'parallel_tool_calls' must be a boolean", {
      param: 'parallel_tool_calls',
    });
  }
  if (parallel === false && tools !== undefined)
    unsupported.refuse('parallel_tool_calls', 'Ollama cannot hold the model to one tool call');
  return tools;
}

/**
 * Ollama's `think`: the client's own `think` as given; else from reasoning_effort ("none" turns thinking
 * off; any other effort turns it on, as the effort level itself for gpt-oss, which takes levels).
 */
function toOllamaThink(request: ChatCompletionRequest): boolean | string | undefined {
  const think = request['think'];
  if (think != null) {
    if (typeof think === 'boolean' || (typeof think === 'string' && think.length > 0 && think.length <= 32))
      return think;
    throw new InvalidRequestError("'think' must be true, false, or a level such as 'low', 'medium', 'high'", {
      param: 'think',
    });
  }
  const effort = request['reasoning_effort'];
  if (effort == null) return undefined;
  if (typeof effort !== 'string' || !(REASONING_EFFORTS as readonly string[]).includes(effort)) {
    throw new InvalidRequestError(`'reasoning_effort' must be one of: ${REASONING_EFFORTS.join(', ')}`, {
      param: 'reasoning_effort',
    });
  }
  if (effort === 'none') return false;
  if (!request.model.toLowerCase().includes('gpt-oss')) return true;
  // gpt-oss takes low, medium and high: OpenAI's levels outside them go to the nearest.
  return effort === 'minimal' ? 'low' : effort === 'xhigh' ? 'high' : effort;
}

function toOllamaLogprobs(
  request: ChatCompletionRequest,
): Pick<OllamaChatRequest, 'logprobs' | 'top_logprobs'> {
  const logprobs = request['logprobs'];
  const top = request['top_logprobs'];
  if (logprobs != null && typeof logprobs !== 'boolean') {
    throw new InvalidRequestError("'logprobs' must be a boolean", { param: 'logprobs' });
  }
  if (top != null) {
    checkNumber('top_logprobs', top, { integer: true, min: 0, max: 20 });
    if (logprobs !== true && top !== 0) {
      throw new InvalidRequestError("'top_logprobs' needs 'logprobs': true", { param: 'top_logprobs' });
    }
  }
  if (logprobs !== true) return {};
  return top != null && top !== 0 ? { logprobs: true, top_logprobs: top as number } : { logprobs: true };
}

function checkNumber(
  field: string,
  value: unknown,
  bounds: { integer?: boolean; min?: number; max?: number },
): number {
  const ok =
    isFiniteNumber(value) &&
    (bounds.integer !== true || Number.isInteger(value)) &&
    (bounds.min === undefined || value >= bounds.min) &&
    (bounds.max === undefined || value <= bounds.max);
  if (!ok) {
    const kind = bounds.integer === true ? 'an integer' : 'a number';
    const range =
      bounds.max === undefined
        ? `of at least ${bounds.min ?? 0}`
        : `from ${bounds.min ?? 0} to ${bounds.max}`;
    throw new InvalidRequestError(`'${field}' must be ${kind} ${range}`, { param: field });
  }
  return value;
}

/** The messages, with each tool result named after the call it answers (Ollama's `tool_name`). */
function toOllamaMessages(messages: readonly ChatMessage[]): OllamaMessage[] {
  const toolNames = new Map<string, string>();
  return messages.map((message, index) => {
    const out = toOllamaMessage(message, index);
    for (const call of out.tool_calls ?? []) {
      if (call.id !== undefined) toolNames.set(call.id, call.function.name);
    }
    if (message.role === 'tool') {
      // OpenAI's SDKs and the AI SDK send only tool_call_id: the name comes from the call it answers.
      const callId = message.tool_call_id;
      const name = (callId === undefined ? undefined : toolNames.get(callId)) ?? message.name;
      if (typeof name === 'string' && name !== '') out.tool_name = name;
      if (typeof callId === 'string') out.tool_call_id = callId;
    }
    return out;
  });
}

function toOllamaMessage(message: ChatMessage, index: number): OllamaMessage {
  const out: OllamaMessage = { role: message.role === 'developer' ? 'system' : message.role, content: '' };
  const content = message.content;
  if (typeof content === 'string') {
    out.content = content;
  } else if (Array.isArray(content)) {
    const texts: string[] = [];
    content.forEach((part, partIndex) => {
      const record = part as Record<string, unknown>;
      if (record['type'] === 'text' && typeof record['text'] === 'string') {
        texts.push(record['text']);
      } else if (record['type'] === 'image_url') {
        const imageUrl = record['image_url'] as { url?: unknown } | string | undefined;
        const url = typeof imageUrl === 'string' ? imageUrl : imageUrl?.url;
        const match = typeof url === 'string' ? /^data:image\/[a-z0-9.+-]+;base64,(.+)$/i.exec(url) : null;
        if (match === null) {
          // Fetching remote images would let any client make the gateway connect anywhere (SSRF).
          throw new InvalidRequestError(
            'Images must be sent as data: URLs with base64 content (data:image/png;base64,...); the gateway does not fetch image URLs',
            { param: `messages[${index}].content[${partIndex}].image_url` },
          );
        }
        (out.images ??= []).push(match[1] as string);
      } else {
        throw new InvalidRequestError(
          `Content part type '${printable(String(record['type']))}' is not supported by Ollama backends`,
          {
            param: `messages[${index}].content[${partIndex}].type`,
          },
        );
      }
    });
    out.content = texts.join('\n');
  }
  const reasoning = message['reasoning_content'];
  if (message.role === 'assistant' && typeof reasoning === 'string' && reasoning !== '')
    out.thinking = reasoning;
  if (Array.isArray(message.tool_calls)) {
    out.tool_calls = message.tool_calls.map((call, callIndex) => {
      const record = call as { id?: unknown; function?: { name?: unknown; arguments?: unknown } };
      const fn = record.function;
      let args: unknown = fn?.arguments ?? {};
      if (typeof args === 'string') {
        try {
          args = JSON.parse(args);
        } catch {
          args = null;
        }
      }
      if (args === null || typeof args !== 'object' || Array.isArray(args)) {
        throw new InvalidRequestError('Tool call arguments must be a JSON object', {
          param: `messages[${index}].tool_calls[${callIndex}].function.arguments`,
        });
      }
      return {
        ...(typeof record.id === 'string' ? { id: record.id } : {}),
        function: {
          name: typeof fn?.name === 'string' ? fn.name : '',
          arguments: args as Record<string, unknown>,
        },
      };
    });
  }
  return out;
}

/** What numbering tool calls takes from one line to the next of an answer. */
interface ToolCallNumbering {
  /** Tool calls numbered so far: the next call's index. Above 0: the answer called tools. */
  toolCalls: number;
  /** Ids given so far, so that each call's is unique. */
  readonly toolCallIds: Set<string>;
}

/** What a streamed answer's translation keeps from one NDJSON line to the next. */
export interface OllamaStreamState extends ToolCallNumbering {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  sentRole: boolean;
}

export function newStreamState(id: string, created: number, model: string): OllamaStreamState {
  return { id, created, model, sentRole: false, toolCalls: 0, toolCallIds: new Set() };
}

/** Ollama's own call ids look like `call_x1y2z3w4`; anything else is replaced. */
const UPSTREAM_TOOL_CALL_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
/** How far ahead of the running count an upstream `function.index` may point. */
const MAX_INDEX_GAP = 128;

function toolCallId(given: unknown, used: Set<string>): string {
  let id = typeof given === 'string' && UPSTREAM_TOOL_CALL_ID.test(given) && !used.has(given) ? given : '';
  while (id === '' || used.has(id)) id = `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
  used.add(id);
  return id;
}

/**
 * The line's tool calls, numbered across the whole answer: Ollama streams parallel calls one per line,
 * each first in its line. A `function.index` (newer Ollama) is used when it does not point back at a
 * call already numbered.
 */
function toToolCalls(
  response: OllamaChatResponse,
  numbering: ToolCallNumbering,
): (ToolCall & { index: number })[] | undefined {
  const calls: unknown = response.message?.tool_calls;
  if (!Array.isArray(calls)) return undefined;
  // Tolerate what a misbehaving upstream sends: entries that are not objects are skipped.
  const valid = (calls as unknown[]).filter(
    (call): call is { id?: unknown; function?: { index?: unknown; name?: unknown; arguments?: unknown } } =>
      call !== null && typeof call === 'object',
  );
  if (valid.length === 0) return undefined;
  return valid.map((call) => {
    const given = call.function?.index;
    const index =
      typeof given === 'number' &&
      Number.isInteger(given) &&
      given >= numbering.toolCalls &&
      given < numbering.toolCalls + MAX_INDEX_GAP
        ? given
        : numbering.toolCalls;
    numbering.toolCalls = index + 1;
    return {
      index,
      id: toolCallId(call.id, numbering.toolCallIds),
      type: 'function' as const,
      function: {
        name: typeof call.function?.name === 'string' ? call.function.name : '',
        arguments:
          typeof call.function?.arguments === 'string'
            ? call.function.arguments
            : JSON.stringify(call.function?.arguments ?? {}),
      },
    };
  });
}

function finishReason(response: OllamaChatResponse, calledTools: boolean): string {
  if (calledTools) return 'tool_calls';
  return response.done_reason === 'length' ? 'length' : 'stop';
}

/** One token's log probability in OpenAI's form. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
}

/** OpenAI's `choices[].logprobs`. */
export interface ChoiceLogprobs {
  content: (TokenLogprob & { top_logprobs: TokenLogprob[] })[];
  refusal: null;
}

function toTokenLogprob(entry: unknown): TokenLogprob | null {
  if (entry === null || typeof entry !== 'object') return null;
  const { token, logprob, bytes } = entry as { token?: unknown; logprob?: unknown; bytes?: unknown };
  if (typeof token !== 'string' || typeof logprob !== 'number') return null;
  const validBytes = Array.isArray(bytes) && bytes.every((byte) => Number.isInteger(byte));
  return { token, logprob, bytes: validBytes ? (bytes as number[]) : null };
}

/** Ollama's `logprobs` (same fields as OpenAI's, `bytes` optional) → `choices[].logprobs`. */
function toLogprobs(value: unknown): ChoiceLogprobs | undefined {
  if (!Array.isArray(value)) return undefined;
  const content = value.flatMap((entry: unknown) => {
    const token = toTokenLogprob(entry);
    if (token === null) return [];
    const top = (entry as { top_logprobs?: unknown }).top_logprobs;
    const alternatives = Array.isArray(top) ? top.flatMap((item: unknown) => toTokenLogprob(item) ?? []) : [];
    return [{ ...token, top_logprobs: alternatives }];
  });
  return content.length === 0 ? undefined : { content, refusal: null };
}

function thinkingOf(response: OllamaChatResponse): string {
  const thinking = response.message?.thinking;
  return typeof thinking === 'string' ? thinking : '';
}

export function toUsage(response: OllamaChatResponse): Usage {
  const prompt = response.prompt_eval_count ?? 0;
  const completion = response.eval_count ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

type CompletionChoice = ChatCompletion['choices'][number] & {
  message: ChatCompletion['choices'][number]['message'] & { reasoning_content?: string };
  logprobs?: ChoiceLogprobs;
};

export function fromOllamaChatResponse(
  response: OllamaChatResponse,
  id: string,
  created: number,
  model: string,
): ChatCompletion {
  const toolCalls = toToolCalls(response, { toolCalls: 0, toolCallIds: new Set() });
  const thinking = thinkingOf(response);
  const logprobs = toLogprobs(response.logprobs);
  const choice: CompletionChoice = {
    index: 0,
    message: {
      role: 'assistant',
      content: response.message?.content ?? '',
      ...(thinking === '' ? {} : { reasoning_content: thinking }),
      ...(toolCalls === undefined ? {} : { tool_calls: toolCalls.map(({ index: _index, ...call }) => call) }),
    },
    finish_reason: finishReason(response, toolCalls !== undefined),
    ...(logprobs === undefined ? {} : { logprobs }),
  };
  return {
    id,
    object: 'chat.completion',
    created,
    model: response.model ?? model,
    choices: [choice],
    usage: toUsage(response),
  };
}

type ChunkChoice = ChatCompletionChunk['choices'][number] & {
  delta: ChatCompletionChunk['choices'][number]['delta'] & { reasoning_content?: string };
  logprobs?: ChoiceLogprobs;
};

/**
 * Translates one NDJSON line of a streamed /api/chat answer into OpenAI chunks: the delta (content,
 * reasoning_content, each tool call whole, logprobs), and on the last line the finish reason followed by
 * a usage chunk.
 */
export function fromOllamaStreamLine(
  line: OllamaChatResponse,
  state: OllamaStreamState,
): ChatCompletionChunk[] {
  const base = {
    id: state.id,
    object: 'chat.completion.chunk' as const,
    created: state.created,
    model: line.model ?? state.model,
  };
  const chunks: ChatCompletionChunk[] = [];
  const content = line.message?.content ?? '';
  const thinking = thinkingOf(line);
  const toolCalls = toToolCalls(line, state);
  const logprobs = toLogprobs(line.logprobs);
  if (
    content !== '' ||
    thinking !== '' ||
    toolCalls !== undefined ||
    logprobs !== undefined ||
    !state.sentRole
  ) {
    const delta: ChunkChoice['delta'] = {};
    if (!state.sentRole) delta.role = 'assistant';
    if (content !== '' || (thinking === '' && toolCalls === undefined)) delta.content = content;
    if (thinking !== '') delta.reasoning_content = thinking;
    if (toolCalls !== undefined) delta.tool_calls = toolCalls;
    state.sentRole = true;
    const choice: ChunkChoice = {
      index: 0,
      delta,
      finish_reason: null,
      ...(logprobs === undefined ? {} : { logprobs }),
    };
    chunks.push({ ...base, choices: [choice] });
  }
  if (line.done === true) {
    chunks.push({
      ...base,
      choices: [{ index: 0, delta: {}, finish_reason: finishReason(line, state.toolCalls > 0) }],
    });
    chunks.push({ ...base, choices: [], usage: toUsage(line) });
  }
  return chunks;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isEmptyObject(value: unknown): boolean {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0
  );
}

export interface OllamaEmbedResponse {
  model?: string;
  embeddings?: number[][];
  prompt_eval_count?: number;
}

export function fromOllamaEmbedResponse(
  response: OllamaEmbedResponse,
  model: string,
  encoding: 'float' | 'base64',
): EmbeddingsResponse {
  const vectors = response.embeddings ?? [];
  const tokens = response.prompt_eval_count ?? 0;
  return {
    object: 'list',
    data: vectors.map((vector, index) => ({
      object: 'embedding' as const,
      index,
      embedding: encoding === 'base64' ? floatsToBase64(vector) : vector,
    })),
    model: response.model ?? model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

export { floatsToBase64 };
