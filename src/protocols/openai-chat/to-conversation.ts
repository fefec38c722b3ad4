/**
 * OpenAI chat completions → the conversation model, the inverse of toChatRequest (from-conversation.ts),
 * and the model's Answer → a chat completion, the inverse of toAnswer (answer.ts). Chat completions
 * itself never goes through here (the pipeline carries it untouched, docs/conversation.md); these are
 * for protocols and backends that need a chat request or answer as the model, and for the round-trip
 * tests that pin both directions down (round-trip.test.ts).
 *
 * The rule for what the model cannot hold: a request field it can hold only in part travels whole, as
 * the client sent it, in `extra` (a non-function tool, a tool_choice or response_format of another
 * shape, an unknown reasoning_effort), so that toChatRequest gives it back exactly. Within a message
 * there is no `extra`: a content part the model has no type for is refused with a 400 naming it.
 */
import type { ChatCompletion, ChatCompletionRequest } from '../../api/schemas.js';
import type {
  Answer,
  AudioPart,
  CacheControl,
  ConversationRequest,
  GenerationOptions,
  ImagePart,
  Message,
  Part,
  ReasoningOptions,
  ResponseFormat,
  TextPart,
  Tool,
  ToolCallPart,
  ToolChoice,
  ToolResultPart,
  Usage,
} from '../../conversation/model.js';
import { InvalidRequestError } from '../../errors/errors.js';

/** Request fields read into the model's own fields; every other field goes to `extra`. */
const KNOWN_FIELDS = new Set([
  'model',
  'messages',
  'stream',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'top_k',
  'stop',
  'seed',
  'n',
  'presence_penalty',
  'frequency_penalty',
  'logprobs',
  'top_logprobs',
  'parallel_tool_calls',
  'response_format',
  'reasoning_effort',
  'tools',
  'tool_choice',
  'user',
]);

const EFFORTS: readonly string[] = ['none', 'minimal', 'low', 'medium', 'high'];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function invalid(param: string, detail: string): InvalidRequestError {
  return new InvalidRequestError(`'${param}' ${detail}`, { param });
}

/**
 * A `data:` URL with base64 content as its media type and data; null for any other URL (an https URL,
 * or a data URL with parameters or without base64, which stays a URL so that it returns unchanged).
 * Scanned with indexOf, not a regular expression: the data can be megabytes.
 */
export function splitDataUrl(url: string): { mediaType: string; data: string } | null {
  if (!url.startsWith('data:')) return null;
  const comma = url.indexOf(',');
  if (comma < 0) return null;
  const header = url.slice(5, comma);
  if (!header.endsWith(';base64')) return null;
  const mediaType = header.slice(0, -';base64'.length);
  if (mediaType === '' || mediaType.includes(';')) return null;
  return { mediaType, data: url.slice(comma + 1) };
}

/**
 * A prompt-cache breakpoint (`cache_control`, as OpenRouter and LiteLLM take it on content parts, tool
 * definitions, tool calls and tool messages) of `holder`; undefined when it has none. Anthropic's own
 * rules: type 'ephemeral', ttl '5m' or '1h'. Backends that cache prompts honour it, the others ignore it.
 */
export function readCacheControl(holder: Json, param: string): CacheControl | undefined {
  const value = holder['cache_control'];
  if (value === undefined || value === null) return undefined;
  const where = `${param}.cache_control`;
  if (!isObject(value)) throw invalid(where, "must be an object: {type: 'ephemeral', ttl?: '5m' | '1h'}");
  if (value['type'] !== 'ephemeral') throw invalid(`${where}.type`, "must be 'ephemeral'");
  const ttl = value['ttl'];
  if (ttl === undefined || ttl === null) return { type: 'ephemeral' };
  if (ttl !== '5m' && ttl !== '1h') throw invalid(`${where}.ttl`, "must be '5m' or '1h'");
  return { type: 'ephemeral', ttl };
}

/** `{cacheControl}` for a part or tool when the holder has one, else nothing to spread. */
function withCacheControl(holder: Json, param: string): { cacheControl?: CacheControl } {
  const cacheControl = readCacheControl(holder, param);
  return cacheControl === undefined ? {} : { cacheControl };
}

function imagePart(value: unknown, param: string): ImagePart {
  // Some clients send image_url as the URL string itself; OpenAI's form is { url, detail }.
  const image = typeof value === 'string' ? { url: value } : value;
  if (!isObject(image) || typeof image['url'] !== 'string')
    throw invalid(`${param}.image_url.url`, 'must be a string: an https or data: URL');
  const url = image['url'];
  const detail = image['detail'];
  if (detail !== undefined && detail !== null && typeof detail !== 'string')
    throw invalid(`${param}.image_url.detail`, 'must be auto, low or high');
  const inline = splitDataUrl(url);
  return {
    type: 'image',
    ...(inline === null ? { url } : inline),
    ...(typeof detail === 'string' ? { detail } : {}),
  };
}

function audioPart(value: unknown, param: string): AudioPart {
  if (!isObject(value) || typeof value['data'] !== 'string' || typeof value['format'] !== 'string')
    throw invalid(`${param}.input_audio`, 'must have data (base64) and format strings');
  return { type: 'audio', data: value['data'], format: value['format'] };
}

/** One content part of a system, user or tool message. */
function contentPart(value: unknown, param: string): TextPart | ImagePart | AudioPart {
  if (!isObject(value)) throw invalid(param, 'must be a content part object');
  switch (value['type']) {
    case 'text':
      if (typeof value['text'] !== 'string') throw invalid(`${param}.text`, 'must be a string');
      return { type: 'text', text: value['text'], ...withCacheControl(value, param) };
    case 'image_url':
      return { ...imagePart(value['image_url'], param), ...withCacheControl(value, param) };
    case 'input_audio':
      return audioPart(value['input_audio'], param);
    default:
      throw invalid(
        `${param}.type`,
        `'${String(value['type']).slice(0, 64)}' is not supported here (text, image_url, input_audio)`,
      );
  }
}

/**
 * A message's content as parts: a string is one text part ('' none); an array part by part, except
 * that text parts alone mean the string they join into (what toChatRequest writes them as), so that
 * the conversation does not depend on which of the two forms the client chose. Text parts with a
 * cache breakpoint stay apart: the breakpoint marks where its part ends.
 */
function contentParts(content: unknown, param: string): (TextPart | ImagePart | AudioPart)[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw invalid(param, 'must be a string or an array of content parts');
  const parts = content.map((part, index) => contentPart(part, `${param}[${index}]`));
  if (!parts.every((part) => part.type === 'text' && part.cacheControl === undefined)) return parts;
  const joined = (parts as TextPart[]).map((part) => part.text).join('');
  return joined === '' ? [] : [{ type: 'text', text: joined }];
}

/**
 * An assistant message's text: its content string, or its text (and refusal) parts joined; parts apart
 * when one of them carries a cache breakpoint (see contentParts).
 */
function assistantText(content: unknown, param: string): TextPart[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw invalid(param, 'must be a string, null or an array of text parts');
  const parts = content.map((part: unknown, index): TextPart => {
    const where = `${param}[${index}]`;
    if (isObject(part) && part['type'] === 'text' && typeof part['text'] === 'string')
      return { type: 'text', text: part['text'], ...withCacheControl(part, where) };
    if (isObject(part) && part['type'] === 'refusal' && typeof part['refusal'] === 'string')
      return { type: 'text', text: part['refusal'], ...withCacheControl(part, where) };
    throw invalid(where, 'must be a text part (an assistant message holds only text)');
  });
  if (parts.some((part) => part.cacheControl !== undefined)) return parts;
  const joined = parts.map((part) => part.text).join('');
  return joined === '' ? [] : [{ type: 'text', text: joined }];
}

function toolCallPart(value: unknown, param: string): ToolCallPart {
  const fn = isObject(value) ? value['function'] : undefined;
  if (!isObject(value) || !isObject(fn) || typeof fn['name'] !== 'string')
    throw invalid(`${param}.function.name`, 'must be a string');
  const args = fn['arguments'];
  if (args !== undefined && typeof args !== 'string')
    throw invalid(`${param}.function.arguments`, 'must be a string of JSON');
  return {
    type: 'tool_call',
    id: typeof value['id'] === 'string' ? value['id'] : '',
    name: fn['name'],
    arguments: args ?? '',
    ...withCacheControl(value, param),
  };
}

function assistantParts(message: Json, param: string): Part[] {
  const parts: Part[] = [];
  // In the order the model produced them: reasoning, then text, then calls (what toChatRequest writes).
  const reasoning = message['reasoning_content'] ?? message['reasoning'];
  const signature = message['reasoning_signature'];
  if (typeof reasoning === 'string')
    parts.push({
      type: 'reasoning',
      text: reasoning,
      ...(typeof signature === 'string' && signature !== '' ? { signature } : {}),
    });
  parts.push(...assistantText(message['content'], `${param}.content`));
  const calls = message['tool_calls'];
  if (Array.isArray(calls))
    calls.forEach((call, index) => parts.push(toolCallPart(call, `${param}.tool_calls[${index}]`)));
  else if (calls !== undefined && calls !== null) throw invalid(`${param}.tool_calls`, 'must be an array');
  // The deprecated single function_call, as a call without an id.
  const legacy = message['function_call'];
  if (isObject(legacy)) parts.push(toolCallPart({ function: legacy }, `${param}.function_call`));
  return parts;
}

function toolResult(message: Json, param: string): ToolResultPart {
  const legacy = message['role'] === 'function';
  const callId = legacy ? message['name'] : message['tool_call_id'];
  if (typeof callId !== 'string')
    throw invalid(`${param}.${legacy ? 'name' : 'tool_call_id'}`, 'must be a string');
  const name = message['name'];
  const content = contentParts(message['content'], `${param}.content`).filter(
    (part): part is TextPart | ImagePart => part.type !== 'audio',
  );
  return {
    type: 'tool_result',
    callId,
    ...(typeof name === 'string' ? { name } : {}),
    content,
    // On the tool message itself, as LiteLLM takes it: the breakpoint ends the whole result.
    ...withCacheControl(message, param),
  };
}

function toMessages(messages: readonly unknown[]): Message[] {
  const out: Message[] = [];
  messages.forEach((raw, index) => {
    const param = `messages[${index}]`;
    if (!isObject(raw)) throw invalid(param, 'must be a message object');
    const name = typeof raw['name'] === 'string' ? { name: raw['name'] } : {};
    switch (raw['role']) {
      case 'system':
      case 'developer':
        // Kept as messages (not `system`), so that their place among the others is kept.
        out.push({ role: 'system', parts: contentParts(raw['content'], `${param}.content`), ...name });
        return;
      case 'user':
        out.push({ role: 'user', parts: contentParts(raw['content'], `${param}.content`), ...name });
        return;
      case 'assistant':
        out.push({ role: 'assistant', parts: assistantParts(raw, param), ...name });
        return;
      case 'tool':
      case 'function': {
        // Consecutive tool messages answer one assistant turn: one tool message of results.
        const result = toolResult(raw, param);
        const last = out.at(-1);
        if (last?.role === 'tool') out[out.length - 1] = { role: 'tool', parts: [...last.parts, result] };
        else out.push({ role: 'tool', parts: [result] });
        return;
      }
      default:
        throw invalid(`${param}.role`, 'must be system, developer, user, assistant or tool');
    }
  });
  return out;
}

/**
 * Function tools as the model's tools; null when any tool is of another shape (it then stays in extra).
 * A tool's `cache_control` sits beside `type` and `function` (OpenRouter's and LiteLLM's place).
 */
function toTools(value: unknown): Tool[] | null {
  if (!Array.isArray(value)) return null;
  const tools: Tool[] = [];
  for (const [index, tool] of value.entries()) {
    if (!isObject(tool) || tool['type'] !== 'function') return null;
    const keys = Object.keys(tool).length;
    if (keys !== (tool['cache_control'] === undefined ? 2 : 3)) return null;
    const fn = tool['function'];
    if (!isObject(fn) || typeof fn['name'] !== 'string') return null;
    const { name, description, parameters, strict, ...rest } = fn;
    if (Object.keys(rest).length > 0) return null;
    if (description !== undefined && typeof description !== 'string') return null;
    if (parameters !== undefined && !isObject(parameters)) return null;
    if (strict !== undefined && typeof strict !== 'boolean') return null;
    tools.push({
      name: name,
      ...(description === undefined ? {} : { description }),
      // OpenAI's meaning of an omitted schema: no arguments. Protocols that require a schema get one.
      parameters: parameters ?? { type: 'object', properties: {} },
      ...(strict === undefined ? {} : { strict }),
      ...withCacheControl(tool, `tools[${index}]`),
    });
  }
  return tools;
}

function toToolChoice(value: unknown): ToolChoice | null {
  if (value === 'auto' || value === 'none' || value === 'required') return value;
  if (!isObject(value) || value['type'] !== 'function' || Object.keys(value).length !== 2) return null;
  const fn = value['function'];
  if (!isObject(fn) || typeof fn['name'] !== 'string' || Object.keys(fn).length !== 1) return null;
  return { name: fn['name'] };
}

function toResponseFormat(value: unknown): ResponseFormat | null {
  if (!isObject(value)) return null;
  const type = value['type'];
  if ((type === 'text' || type === 'json_object') && Object.keys(value).length === 1) return { type };
  if (type !== 'json_schema' || Object.keys(value).length !== 2) return null;
  const spec = value['json_schema'];
  if (!isObject(spec)) return null;
  const { name, schema, strict, description, ...rest } = spec;
  if (Object.keys(rest).length > 0 || typeof name !== 'string' || !isObject(schema)) return null;
  if (strict !== undefined && typeof strict !== 'boolean') return null;
  if (description !== undefined && typeof description !== 'string') return null;
  return {
    type: 'json_schema',
    name,
    schema,
    ...(strict === undefined ? {} : { strict }),
    ...(description === undefined ? {} : { description }),
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The options. Each field is read when it has the type the model gives it, dropped when null (OpenAI's
 * "not given"), and otherwise kept as sent in `extra` for the backend to judge.
 */
function toOptions(body: Json, extra: Json): GenerationOptions {
  const options: Mutable<GenerationOptions> = {};
  const number = (field: string, integer: boolean): number | undefined => {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number' && (!integer || Number.isInteger(value))) return value;
    extra[field] = value;
    return undefined;
  };
  const flag = (field: string): boolean | undefined => {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'boolean') return value;
    extra[field] = value;
    return undefined;
  };
  const maxTokens = number('max_tokens', true) ?? number('max_completion_tokens', true);
  if (maxTokens !== undefined) options.maxTokens = maxTokens;
  const temperature = number('temperature', false);
  if (temperature !== undefined) options.temperature = temperature;
  const topP = number('top_p', false);
  if (topP !== undefined) options.topP = topP;
  const topK = number('top_k', true);
  if (topK !== undefined) options.topK = topK;
  const seed = number('seed', true);
  if (seed !== undefined) options.seed = seed;
  const n = number('n', true);
  if (n !== undefined) options.n = n;
  const presence = number('presence_penalty', false);
  if (presence !== undefined) options.presencePenalty = presence;
  const frequency = number('frequency_penalty', false);
  if (frequency !== undefined) options.frequencyPenalty = frequency;
  const logprobs = flag('logprobs');
  if (logprobs !== undefined) options.logprobs = logprobs;
  const topLogprobs = number('top_logprobs', true);
  if (topLogprobs !== undefined) options.topLogprobs = topLogprobs;
  const parallel = flag('parallel_tool_calls');
  if (parallel !== undefined) options.parallelToolCalls = parallel;

  const stop = body['stop'];
  if (typeof stop === 'string') options.stop = [stop];
  else if (Array.isArray(stop) && stop.every((item) => typeof item === 'string')) {
    if (stop.length > 0) options.stop = stop;
  } else if (stop !== undefined && stop !== null) extra['stop'] = stop;

  const format = body['response_format'];
  if (format !== undefined && format !== null) {
    const responseFormat = toResponseFormat(format);
    if (responseFormat === null) extra['response_format'] = format;
    else options.responseFormat = responseFormat;
  }
  const effort = body['reasoning_effort'];
  if (typeof effort === 'string' && EFFORTS.includes(effort))
    options.reasoning = { effort: effort as ReasoningOptions['effort'] } as ReasoningOptions;
  else if (effort !== undefined && effort !== null) extra['reasoning_effort'] = effort;
  return options;
}

/** A chat completion request as the conversation model. Throws a 400 naming the field it cannot read. */
export function fromChatRequest(body: ChatCompletionRequest): ConversationRequest {
  const record = body as Json;
  if (!Array.isArray(record['messages'])) throw invalid('messages', 'must be an array of messages');
  const extra: Json = {};
  for (const [field, value] of Object.entries(record)) if (!KNOWN_FIELDS.has(field)) extra[field] = value;
  const options = toOptions(record, extra);

  let tools: Tool[] | undefined;
  const rawTools = record['tools'];
  if (rawTools !== undefined && rawTools !== null) {
    const read = toTools(rawTools);
    if (read === null) extra['tools'] = rawTools;
    else if (read.length > 0) tools = read;
  }
  let toolChoice: ToolChoice | undefined;
  const rawChoice = record['tool_choice'];
  if (rawChoice !== undefined && rawChoice !== null) {
    const read = toToolChoice(rawChoice);
    if (read === null) extra['tool_choice'] = rawChoice;
    else toolChoice = read;
  }
  const user = record['user'];
  if (user !== undefined && user !== null && typeof user !== 'string') extra['user'] = user;

  return {
    model: typeof record['model'] === 'string' ? record['model'] : '',
    messages: toMessages(record['messages'] as unknown[]),
    ...(tools === undefined ? {} : { tools }),
    ...(toolChoice === undefined ? {} : { toolChoice }),
    options,
    stream: record['stream'] === true,
    ...(Object.keys(extra).length === 0 ? {} : { extra }),
    ...(typeof user === 'string' ? { user } : {}),
  };
}

/** The model's usage as OpenAI's, with the details OpenAI reports when they are known. */
export function fromUsage(usage: Usage): Record<string, unknown> {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    ...(usage.cachedInputTokens === undefined && usage.cacheWriteInputTokens === undefined
      ? {}
      : {
          prompt_tokens_details: {
            cached_tokens: usage.cachedInputTokens ?? 0,
            // OpenRouter's name for the tokens written to the prompt cache (OpenAI reports none).
            ...(usage.cacheWriteInputTokens === undefined
              ? {}
              : { cache_write_tokens: usage.cacheWriteInputTokens }),
          },
        }),
    ...(usage.reasoningTokens === undefined
      ? {}
      : { completion_tokens_details: { reasoning_tokens: usage.reasoningTokens } }),
  };
}

/**
 * An answer as a chat completion: text parts joined as the content (null when the choice only called
 * tools), reasoning as `reasoning_content` (vLLM's and DeepSeek's name) with Anthropic's signature as
 * the gateway's `reasoning_signature` extension (the last one; redacted reasoning is dropped), the finish reason as the backend gave it,
 * a stop sequence as vLLM's `stop_reason`.
 */
export function fromAnswer(answer: Answer): ChatCompletion {
  const choices = answer.choices.map((choice) => {
    let text = '';
    let hasText = false;
    let reasoning = '';
    let hasReasoning = false;
    let signature: string | undefined;
    const calls: Record<string, unknown>[] = [];
    for (const part of choice.parts) {
      if (part.type === 'text') {
        text += part.text;
        hasText = true;
      } else if (part.type === 'reasoning') {
        reasoning += part.text;
        hasReasoning = true;
        if (part.signature !== undefined) signature = part.signature;
      } else if (part.type === 'tool_call') {
        calls.push({
          id: part.id,
          type: 'function',
          function: { name: part.name, arguments: part.arguments },
        });
      }
    }
    return {
      index: choice.index,
      message: {
        role: 'assistant',
        content: hasText ? text : calls.length > 0 ? null : '',
        ...(hasReasoning ? { reasoning_content: reasoning } : {}),
        ...(signature === undefined ? {} : { reasoning_signature: signature }),
        ...(calls.length === 0 ? {} : { tool_calls: calls }),
      },
      logprobs: choice.logprobs === undefined ? null : { content: choice.logprobs },
      finish_reason: choice.rawFinishReason ?? choice.finishReason,
      ...(choice.stopSequence === undefined ? {} : { stop_reason: choice.stopSequence }),
    };
  });
  return {
    id: answer.id,
    object: 'chat.completion',
    created: answer.created,
    model: answer.model,
    choices,
    ...(answer.usage === undefined ? {} : { usage: fromUsage(answer.usage) }),
  } as unknown as ChatCompletion;
}
