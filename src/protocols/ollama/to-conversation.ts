/**
 * Ollama's /api/chat and /api/generate requests → the conversation model. Pure: every field is checked
 * here, and what is wrong is a 400 naming the field (`messages[2].images[0]`, `options.temperature`).
 * https://github.com/ollama/ollama/blob/main/docs/api.md and api/types.go (ChatRequest, GenerateRequest,
 * Message, ToolCall, Options).
 *
 * Options the model has names for (temperature, top_p, top_k, seed, num_predict, stop, the penalties)
 * become GenerationOptions; Ollama's others (num_ctx, repeat_penalty, mirostat, ...) travel in
 * `extra.options`, which an `ollama` backend passes on as they are. `keep_alive` travels in `extra`.
 */
import { InvalidRequestError } from '../../errors/errors.js';
import { checkedNumber, type NumberBounds } from '../../conversation/checks.js';
import type {
  ConversationRequest,
  GenerationOptions,
  ImagePart,
  Message,
  Part,
  ReasoningOptions,
  ResponseFormat,
  Tool,
} from '../../conversation/model.js';

/** Tools in one request, as OpenAI bounds them. */
export const MAX_TOOLS = 128;
/** Stop sequences in `options.stop` (OpenAI takes 4, vLLM more; the chat schema allows 16). */
export const MAX_STOP = 16;
/** Keys of `options` (Ollama knows about 30). */
export const MAX_OPTIONS = 64;

type Json = Record<string, unknown>;

/** The fields of /api/chat this module reads (everything arrives as untrusted JSON). */
export interface OllamaChatBody {
  readonly model: string;
  readonly messages?: unknown;
  readonly tools?: unknown;
  readonly format?: unknown;
  readonly options?: unknown;
  readonly think?: unknown;
  readonly keep_alive?: unknown;
  readonly stream?: unknown;
  readonly logprobs?: unknown;
  readonly top_logprobs?: unknown;
  readonly [field: string]: unknown;
}

/** The fields of /api/generate this module reads. */
export interface OllamaGenerateBody {
  readonly model: string;
  readonly prompt?: unknown;
  readonly system?: unknown;
  readonly suffix?: unknown;
  readonly template?: unknown;
  readonly context?: unknown;
  readonly raw?: unknown;
  readonly images?: unknown;
  readonly format?: unknown;
  readonly options?: unknown;
  readonly think?: unknown;
  readonly keep_alive?: unknown;
  readonly stream?: unknown;
  readonly logprobs?: unknown;
  readonly top_logprobs?: unknown;
  readonly [field: string]: unknown;
}

function invalid(message: string, param: string): InvalidRequestError {
  return new InvalidRequestError(message, { param });
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Whether the client wants a stream: Ollama streams unless told `stream: false`. */
export function wantsStream(stream: unknown): boolean {
  if (stream === undefined || stream === null) return true;
  if (typeof stream !== 'boolean') throw invalid("'stream' must be true or false", 'stream');
  return stream;
}

/**
 * The media type of a base64 image from its first bytes (Ollama takes bare base64, the carrier a data
 * URL with a type): PNG, JPEG, GIF, WebP; PNG when unknown, as Ollama itself does not care.
 */
export function imageMediaType(base64: string): string {
  if (base64.startsWith('/9j/')) return 'image/jpeg';
  if (base64.startsWith('R0lGOD')) return 'image/gif';
  if (base64.startsWith('UklGR')) return 'image/webp';
  return 'image/png';
}

const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

function imagesOf(value: unknown, param: string): ImagePart[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`'${param}' must be an array of base64 strings`, param);
  return value.map((image: unknown, index) => {
    const at = `${param}[${index}]`;
    if (typeof image !== 'string' || image === '')
      throw invalid(`'${at}' must be a base64-encoded image (a string)`, at);
    if (image.startsWith('data:'))
      throw invalid(`'${at}' must be bare base64, without a data: URL prefix (as Ollama takes it)`, at);
    // A test of the first characters only: the body limit bounds the rest, and the backend decodes it.
    if (!BASE64.test(image.slice(0, 256)))
      throw invalid(`'${at}' is not base64: send the image file's bytes base64-encoded`, at);
    return { type: 'image', data: image, mediaType: imageMediaType(image) };
  });
}

function stringOf(value: unknown, param: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw invalid(`'${param}' must be a string`, param);
  return value;
}

/** Tool call arguments: an object (Ollama's form), or JSON text of one (what OpenAI clients keep). */
function argumentsText(value: unknown, param: string): string {
  if (value === undefined || value === null) return '{}';
  if (isObject(value)) return JSON.stringify(value);
  if (typeof value === 'string') {
    try {
      if (isObject(JSON.parse(value))) return value;
    } catch {
      // refused below
    }
  }
  throw invalid(`'${param}' must be an object of the call's arguments`, param);
}

interface PendingCall {
  readonly id: string;
  readonly name: string;
  /** JSON text of the arguments object. */
  readonly arguments: string;
  answered: boolean;
}

/**
 * The id of the call a tool message answers: its `tool_call_id` when given, else the first unanswered
 * call of the same name (`tool_name`) since the last assistant message, else the first unanswered one.
 * Ollama clients often send no ids; the carrier (and OpenAI backends) need each result tied to a call.
 */
function answeredCall(pending: PendingCall[], id: string, name: string, fallback: string): string {
  const match =
    (id !== '' ? pending.find((call) => call.id === id) : undefined) ??
    (name !== '' ? pending.find((call) => !call.answered && call.name === name) : undefined) ??
    pending.find((call) => !call.answered);
  if (match === undefined) return id !== '' ? id : fallback;
  match.answered = true;
  return match.id;
}

/** /api/chat's messages → the model's messages. */
export function toMessages(value: unknown): Message[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid("'messages' must be an array of messages", 'messages');
  const messages: Message[] = [];
  let pending: PendingCall[] = [];
  value.forEach((raw: unknown, index) => {
    const at = `messages[${index}]`;
    if (!isObject(raw)) throw invalid(`'${at}' must be an object with a role and content`, at);
    const role = typeof raw['role'] === 'string' ? raw['role'].toLowerCase() : raw['role'];
    const content = stringOf(raw['content'], `${at}.content`);
    const images = imagesOf(raw['images'], `${at}.images`);
    switch (role) {
      case 'system':
      case 'user': {
        const parts: Part[] = [];
        if (content !== '' || images.length === 0) parts.push({ type: 'text', text: content });
        parts.push(...images);
        messages.push({ role, parts });
        return;
      }
      case 'assistant': {
        const parts: Part[] = [];
        const thinking = stringOf(raw['thinking'], `${at}.thinking`);
        if (thinking !== '') parts.push({ type: 'reasoning', text: thinking });
        if (content !== '') parts.push({ type: 'text', text: content });
        pending = toolCallsOf(raw['tool_calls'], index, `${at}.tool_calls`);
        for (const call of pending)
          parts.push({ type: 'tool_call', id: call.id, name: call.name, arguments: call.arguments });
        if (parts.length === 0) parts.push({ type: 'text', text: '' });
        messages.push({ role: 'assistant', parts });
        return;
      }
      case 'tool': {
        const name = stringOf(raw['tool_name'] ?? raw['name'], `${at}.tool_name`);
        const given = stringOf(raw['tool_call_id'], `${at}.tool_call_id`);
        const callId = answeredCall(pending, given, name, `call_${index}`);
        messages.push({
          role: 'tool',
          parts: [
            {
              type: 'tool_result',
              callId,
              ...(name === '' ? {} : { name }),
              content: [{ type: 'text', text: content }, ...images],
            },
          ],
        });
        return;
      }
      default:
        throw invalid(`'${at}.role' must be system, user, assistant or tool`, `${at}.role`);
    }
  });
  return messages;
}

/** An assistant message's tool calls, each with an id (the client's, else one made from its place). */
function toolCallsOf(value: unknown, message: number, param: string): PendingCall[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`'${param}' must be an array of tool calls`, param);
  return value.map((raw: unknown, index) => {
    const at = `${param}[${index}]`;
    const fn = isObject(raw) ? raw['function'] : undefined;
    if (!isObject(raw) || !isObject(fn))
      throw invalid(`'${at}' must be {"function": {"name": ..., "arguments": {...}}}`, at);
    const name = fn['name'];
    if (typeof name !== 'string' || name === '')
      throw invalid(`'${at}.function.name' must be the tool's name`, `${at}.function.name`);
    const id = raw['id'];
    return {
      id: typeof id === 'string' && id !== '' ? id : `call_${message}_${index}`,
      name,
      arguments: argumentsText(fn['arguments'], `${at}.function.arguments`),
      answered: false,
    };
  });
}

/** /api/chat's tools (OpenAI's function tool shape, which Ollama took over). */
export function toTools(value: unknown): Tool[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid("'tools' must be an array of tools", 'tools');
  if (value.length > MAX_TOOLS) throw invalid(`'tools' may hold at most ${MAX_TOOLS} tools`, 'tools');
  if (value.length === 0) return undefined;
  return value.map((raw: unknown, index) => {
    const at = `tools[${index}]`;
    const fn = isObject(raw) ? raw['function'] : undefined;
    if (!isObject(raw) || !isObject(fn))
      throw invalid(
        `'${at}' must be {"type": "function", "function": {"name": ..., "parameters": {...}}}`,
        at,
      );
    if (raw['type'] !== undefined && raw['type'] !== 'function')
      throw invalid(`'${at}.type' must be 'function'`, `${at}.type`);
    const name = fn['name'];
    if (typeof name !== 'string' || name === '')
      throw invalid(`'${at}.function.name' must be the tool's name`, `${at}.function.name`);
    const description = fn['description'];
    if (description !== undefined && description !== null && typeof description !== 'string')
      throw invalid(`'${at}.function.description' must be a string`, `${at}.function.description`);
    const parameters = fn['parameters'] ?? { type: 'object', properties: {} };
    if (!isObject(parameters))
      throw invalid(`'${at}.function.parameters' must be a JSON schema object`, `${at}.function.parameters`);
    return {
      name,
      ...(typeof description === 'string' ? { description } : {}),
      parameters,
    };
  });
}

/** Ollama's `format`: "json", a JSON schema, or nothing ("" is nothing too). */
export function toResponseFormat(value: unknown): ResponseFormat | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (value === 'json') return { type: 'json_object' };
  if (isObject(value)) return { type: 'json_schema', name: 'response', schema: value };
  throw invalid('\'format\' must be "json" or a JSON schema object', 'format');
}

const THINK_LEVELS = ['low', 'medium', 'high'] as const;

/**
 * Ollama's `think` → reasoning: true asks for reasoning (effort medium, which is also what gpt-oss
 * takes by default), false for none, a level as that effort.
 */
export function toReasoning(value: unknown): ReasoningOptions | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === true) return { effort: 'medium' };
  if (value === false) return { effort: 'none' };
  if (typeof value === 'string' && (THINK_LEVELS as readonly string[]).includes(value))
    return { effort: value as (typeof THINK_LEVELS)[number] };
  throw invalid('\'think\' must be true, false, "low", "medium" or "high"', 'think');
}

function numberOption(options: Json, key: string, bounds: NumberBounds): number | undefined {
  return checkedNumber(options[key], `options.${key}`, bounds);
}

/** The options the model has names for; the rest of `options` as Ollama-only options. */
export interface SplitOptions {
  readonly generation: GenerationOptions;
  readonly ollamaOnly: Json | undefined;
}

const NAMED_OPTIONS = new Set([
  'temperature',
  'top_p',
  'top_k',
  'seed',
  'num_predict',
  'stop',
  'presence_penalty',
  'frequency_penalty',
]);

export function splitOptions(value: unknown): SplitOptions {
  if (value === undefined || value === null) return { generation: {}, ollamaOnly: undefined };
  if (!isObject(value)) throw invalid("'options' must be an object of model options", 'options');
  const keys = Object.keys(value);
  if (keys.length > MAX_OPTIONS) throw invalid(`'options' may hold at most ${MAX_OPTIONS} keys`, 'options');
  const temperature = numberOption(value, 'temperature', { min: 0, max: 2 });
  const topP = numberOption(value, 'top_p', { min: 0, max: 1 });
  const topK = numberOption(value, 'top_k', { integer: true, min: 0 });
  const seed = numberOption(value, 'seed', { integer: true });
  // -1 (no limit) and -2 (until the context is full) are Ollama's: no limit here either.
  const numPredict = numberOption(value, 'num_predict', { integer: true, min: -2 });
  const presence = numberOption(value, 'presence_penalty', { min: -2, max: 2 });
  const frequency = numberOption(value, 'frequency_penalty', { min: -2, max: 2 });
  let stop: string[] | undefined;
  const rawStop = value['stop'];
  if (rawStop !== undefined && rawStop !== null) {
    const list = typeof rawStop === 'string' ? [rawStop] : rawStop;
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string'))
      throw invalid("'options.stop' must be an array of strings", 'options.stop');
    if (list.length > MAX_STOP)
      throw invalid(`'options.stop' may hold at most ${MAX_STOP} sequences`, 'options.stop');
    stop = list;
  }
  const generation: GenerationOptions = {
    ...(temperature === undefined ? {} : { temperature }),
    ...(topP === undefined ? {} : { topP }),
    ...(topK === undefined ? {} : { topK }),
    ...(seed === undefined ? {} : { seed }),
    ...(numPredict === undefined || numPredict <= 0 ? {} : { maxTokens: numPredict }),
    ...(stop === undefined || stop.length === 0 ? {} : { stop }),
    ...(presence === undefined ? {} : { presencePenalty: presence }),
    ...(frequency === undefined ? {} : { frequencyPenalty: frequency }),
  };
  const rest: Json = {};
  for (const key of keys) {
    if (NAMED_OPTIONS.has(key) || key === '__proto__') continue;
    rest[key] = value[key];
  }
  return { generation, ollamaOnly: Object.keys(rest).length === 0 ? undefined : rest };
}

function keepAliveOf(value: unknown): string | number | undefined {
  if (value === undefined || value === null) return undefined;
  if (
    (typeof value === 'string' && value.length <= 64) ||
    (typeof value === 'number' && Number.isFinite(value))
  )
    return value;
  throw invalid('\'keep_alive\' must be a duration ("5m", "1h") or a number of seconds', 'keep_alive');
}

/** Whether `keep_alive` asks to unload the model (0, "0", "0s", ...): a load call then says "unload". */
export function unloads(value: unknown): boolean {
  if (value === 0) return true;
  return typeof value === 'string' && /^0+(\.0*)?(ns|us|µs|ms|s|m|h)?$/.test(value.trim());
}

function logprobsOf(body: Json): GenerationOptions {
  const logprobs = body['logprobs'];
  const top = body['top_logprobs'];
  if (logprobs !== undefined && logprobs !== null && typeof logprobs !== 'boolean')
    throw invalid("'logprobs' must be true or false", 'logprobs');
  if (top !== undefined && top !== null) {
    if (typeof top !== 'number' || !Number.isInteger(top) || top < 0 || top > 20)
      throw invalid("'top_logprobs' must be an integer from 0 to 20", 'top_logprobs');
  }
  if (logprobs !== true) return {};
  return typeof top === 'number' && top > 0 ? { logprobs: true, topLogprobs: top } : { logprobs: true };
}

/** What /api/chat and /api/generate share: options, format, think, keep_alive, logprobs. */
function common(body: Json): {
  options: GenerationOptions;
  extra: Json | undefined;
} {
  const { generation, ollamaOnly } = splitOptions(body['options']);
  const responseFormat = toResponseFormat(body['format']);
  const reasoning = toReasoning(body['think']);
  const keepAlive = keepAliveOf(body['keep_alive']);
  const extra: Json = {};
  // think: false travels as Ollama's own field, not as reasoning effort "none": an Ollama backend then
  // turns thinking off, and OpenAI-compatible servers ignore it, where vLLM refuses an effort of "none".
  const thinkOff = reasoning?.effort === 'none';
  if (thinkOff) extra['think'] = false;
  if (ollamaOnly !== undefined) extra['options'] = ollamaOnly;
  if (keepAlive !== undefined) extra['keep_alive'] = keepAlive;
  return {
    options: {
      ...generation,
      ...logprobsOf(body),
      ...(responseFormat === undefined ? {} : { responseFormat }),
      ...(reasoning === undefined || thinkOff ? {} : { reasoning }),
    },
    extra: Object.keys(extra).length === 0 ? undefined : extra,
  };
}

function modelOf(body: Json): string {
  const model = body['model'];
  if (typeof model !== 'string' || model === '') throw invalid("'model' is required", 'model');
  return model;
}

/** /api/chat → the conversation model. An empty `messages` is Ollama's load call, answered apart. */
export function chatToConversation(body: OllamaChatBody): ConversationRequest {
  const model = modelOf(body);
  const messages = toMessages(body.messages);
  const tools = toTools(body.tools);
  const { options, extra } = common(body);
  return {
    model,
    messages,
    ...(tools === undefined ? {} : { tools }),
    options,
    stream: wantsStream(body.stream),
    ...(extra === undefined ? {} : { extra }),
  };
}

/**
 * /api/generate → the conversation model: the prompt (and images) as one user message, `system` as the
 * system text. The backend applies its chat template to it, even with `raw: true` (the gateway carries
 * chat, not raw prompts; docs/protocols/ollama.md). `suffix` (fill in the middle), `template` and
 * `context` need the model's own prompt template and tokens, which the gateway never sees: refused.
 */
export function generateToConversation(body: OllamaGenerateBody): ConversationRequest {
  const model = modelOf(body);
  const prompt = stringOf(body.prompt, 'prompt');
  const system = stringOf(body.system, 'system');
  if (stringOf(body.suffix, 'suffix') !== '')
    throw invalid(
      "'suffix' (fill in the middle) is not supported: it needs the model's own infill template, and the gateway sends prompts to backends as chat messages; put the text in the prompt instead",
      'suffix',
    );
  if (stringOf(body.template, 'template') !== '')
    throw invalid(
      "'template' is not supported: backends apply their own chat template to the prompt",
      'template',
    );
  const context = body.context;
  if (context !== undefined && context !== null && !(Array.isArray(context) && context.length === 0))
    throw invalid(
      "'context' is not supported (it is deprecated in Ollama, and the gateway returns none): send the conversation to /api/chat as messages",
      'context',
    );
  if (body.raw !== undefined && body.raw !== null && typeof body.raw !== 'boolean')
    throw invalid("'raw' must be true or false", 'raw');
  const images = imagesOf(body.images, 'images');
  const { options, extra } = common(body);
  const parts: Part[] = [{ type: 'text', text: prompt }, ...images];
  return {
    model,
    ...(system === '' ? {} : { system: [{ type: 'text', text: system }] }),
    messages: [{ role: 'user', parts }],
    options,
    stream: wantsStream(body.stream),
    ...(extra === undefined ? {} : { extra }),
  };
}
