/**
 * The conversation model → Google's generateContent request (Gemini API and Vertex AI alike). Pure.
 * https://ai.google.dev/api/generate-content#request-body
 *
 * What Google cannot take is refused with a 400 naming the field, or, with the backend's
 * drop_unsupported, left out and reported: never dropped silently. Images must come inline: the gateway
 * fetches no URL, and passes on no gs:// or Files API URI (see toImagePart).
 */
import type { ChatCompletionRequest } from '../../api/schemas.js';
import type {
  ConversationRequest,
  GenerationOptions,
  ImagePart,
  Message,
  Part,
  ReasoningOptions,
  Tool,
} from '../../conversation/model.js';
import { InvalidRequestError } from '../../errors/errors.js';
import { fromChatRequest } from '../../protocols/openai-chat/to-conversation.js';
import type { GeminiContent, GeminiGenerationConfig, GeminiPart, GeminiRequest } from './wire.js';
import { printable, UnsupportedFields } from '../unsupported-fields.js';

/** How a backend treats request fields Google cannot honour (its `drop_unsupported` setting). */
export interface GeminiRequestPolicy {
  /** The backend's name, for the error that says how to fix the request. */
  readonly backend: string;
  /** false: such a field is a 400 naming it; true: it is left out and reported in `dropped`. */
  readonly dropUnsupported: boolean;
}

export interface GeminiTranslation {
  readonly request: GeminiRequest;
  /** Fields left out (drop_unsupported only), in the order met; bounded in number and length. */
  readonly dropped: readonly string[];
}

/**
 * Google's documented stand-in for a thought signature the client could not keep: Gemini 3 refuses a
 * function call of the current turn without its signature (400), and the chat completions carrier has no
 * place for signatures (docs/conversation.md), so every replayed call gets this value instead
 * (https://ai.google.dev/gemini-api/docs/thought-signatures, FAQ).
 */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

/** Request fields that do not change the answer (or that the gateway itself acts on): never refused. */
const METADATA_FIELDS: ReadonlySet<string> = new Set([
  // Ollama's: how long a local model stays loaded.
  'keep_alive',
  'stream_options',
  'store',
  'metadata',
  'service_tier',
  'safety_identifier',
  'prompt_cache_key',
]);

/**
 * OpenAI fields Google has no equivalent for: why, and which values change nothing (and so are no reason
 * to refuse a request). Every other unknown field is refused the same way.
 */
const UNSUPPORTED_FIELDS: ReadonlyMap<string, { reason: string; harmless: (value: unknown) => boolean }> =
  new Map([
    ['logit_bias', { reason: 'Gemini cannot bias token choices', harmless: (value) => isEmptyObject(value) }],
    ['audio', { reason: 'the gateway takes text answers from Gemini only', harmless: () => false }],
    [
      'modalities',
      {
        reason: 'the gateway takes text answers from Gemini only',
        harmless: (value) => Array.isArray(value) && value.every((item) => item === 'text'),
      },
    ],
    ['prediction', { reason: 'Gemini has no predicted outputs', harmless: () => false }],
    ['web_search_options', { reason: 'the gateway does not turn on Google Search', harmless: () => false }],
    [
      'functions',
      {
        reason: 'send tools, not the legacy functions',
        harmless: (value) => Array.isArray(value) && value.length === 0,
      },
    ],
    [
      'function_call',
      {
        reason: 'send tool_choice, not the legacy function_call',
        harmless: (value) => value === 'auto' || value === 'none',
      },
    ],
  ]);

/** Ollama options about the local runtime (memory, threads, GPUs, context size): nothing to honour on Google's side. */
const OLLAMA_RUNTIME_OPTIONS: ReadonlySet<string> = new Set([
  'num_ctx',
  'num_batch',
  'num_gpu',
  'main_gpu',
  'num_thread',
  'use_mmap',
  'use_mlock',
  'numa',
  'low_vram',
  'num_keep',
]);

/** Chat completions fields the conversation model reads; one left in `extra` had a value of the wrong type. */
const CHAT_FIELDS: ReadonlySet<string> = new Set([
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
  'user',
]);

/** Thinking budgets (tokens) for OpenAI's effort levels; Gemini 2.5 takes 128 to 32768 (Pro), 0 to 24576 (Flash). */
const EFFORT_BUDGETS: Readonly<Record<string, number>> = {
  minimal: 512,
  low: 1024,
  medium: 8192,
  high: 24576,
  xhigh: 32768,
};

/**
 * A chat completions request (the pipeline's carrier) as Google's request: image URLs are checked on the
 * chat messages, where the error can name the exact field, then the request goes through the
 * conversation model.
 */
export function toGeminiRequestFromChat(
  body: ChatCompletionRequest,
  policy: GeminiRequestPolicy,
): GeminiTranslation {
  checkImageUrls(body);
  return toGeminiRequest(fromChatRequest(body), policy);
}

/** Translates a conversation request; see the module comment for what is refused. */
export function toGeminiRequest(
  request: ConversationRequest,
  policy: GeminiRequestPolicy,
): GeminiTranslation {
  const unsupported = new UnsupportedFields(policy, 'Gemini');
  const extra = request.extra ?? {};
  let effort: string | undefined;
  for (const [field, value] of Object.entries(extra)) {
    if (value === null || value === undefined || METADATA_FIELDS.has(field)) continue;
    // OpenAI's newest level, which the model has no name for.
    if (field === 'reasoning_effort' && value === 'xhigh') {
      effort = 'xhigh';
      continue;
    }
    // Ollama's think: false (the Ollama ingress keeps it apart from an effort of none): no thinking.
    if (field === 'think' && value === false) {
      effort ??= 'none';
      continue;
    }
    if (field === 'options' && isObject(value)) {
      // Ollama's options the conversation model has no name for: a local runtime's knobs change
      // nothing on Google's side; sampling ones Gemini lacks are refused by name.
      for (const key of Object.keys(value)) {
        if (!OLLAMA_RUNTIME_OPTIONS.has(key))
          unsupported.refuse(`options.${key}`, 'Gemini has no such option');
      }
      continue;
    }
    const known = UNSUPPORTED_FIELDS.get(field);
    if (known?.harmless(value) === true) continue;
    unsupported.refuse(field, known?.reason ?? unknownReason(field));
  }

  const out: GeminiRequest = { contents: toContents(request.messages) };
  const system = systemText(request);
  if (system !== null) out.systemInstruction = { parts: [{ text: system }] };
  if (request.tools !== undefined && request.tools.length > 0) {
    out.tools = [{ functionDeclarations: request.tools.map(toFunctionDeclaration) }];
    const parallel = request.options.parallelToolCalls;
    if (parallel === false)
      unsupported.refuse('parallel_tool_calls', 'Gemini cannot hold the model to one call');
  }
  const choice = request.toolChoice;
  if (choice !== undefined && choice !== 'auto') {
    if (out.tools === undefined && choice !== 'none') {
      throw new InvalidRequestError("'tool_choice' needs 'tools'", { param: 'tool_choice' });
    }
    if (out.tools !== undefined) {
      out.toolConfig = {
        functionCallingConfig:
          choice === 'none'
            ? { mode: 'NONE' }
            : choice === 'required'
              ? { mode: 'ANY' }
              : { mode: 'ANY', allowedFunctionNames: [choice.name] },
      };
    }
  }
  const config = toGenerationConfig(request.options, effort);
  if (Object.keys(config).length > 0) out.generationConfig = config;
  return { request: out, dropped: unsupported.dropped };
}

function unknownReason(field: string): string {
  switch (field) {
    case 'tools':
      return 'Gemini takes function tools only ({type: "function", function: {name, description, parameters}})';
    case 'tool_choice':
      return 'Gemini takes auto, none, required or a named function';
    case 'response_format':
      return 'Gemini takes text, json_object or json_schema';
    case 'reasoning_effort':
      return 'Gemini takes none, minimal, low, medium, high or xhigh';
    default:
      return CHAT_FIELDS.has(field)
        ? 'its value is not of the type chat completions defines'
        : 'Gemini has no such parameter';
  }
}

/** System messages (wherever they are) and the request's own system text, as Gemini's one systemInstruction. */
function systemText(request: ConversationRequest): string | null {
  const texts: string[] = (request.system ?? []).map((part) => part.text);
  request.messages.forEach((message, index) => {
    if (message.role !== 'system') return;
    for (const part of message.parts) {
      if (part.type === 'text') texts.push(part.text);
      else {
        throw new InvalidRequestError('System messages take text only on Gemini backends', {
          param: `messages[${chatIndex(request.messages, index)}].content`,
        });
      }
    }
  });
  const joined = texts.filter((text) => text !== '').join('\n\n');
  return joined === '' ? null : joined;
}

/**
 * The index in the chat request of the conversation's message at `index`: fromChatRequest keeps one
 * message per chat message, except that consecutive tool messages become one message of their results.
 */
function chatIndex(messages: readonly Message[], index: number): number {
  let at = 0;
  for (let position = 0; position < index; position++) {
    const message = messages[position] as Message;
    at += message.role === 'tool' ? Math.max(1, message.parts.length) : 1;
  }
  return at;
}

/**
 * The messages as Google's contents: user and tool messages as `user`, assistant messages as `model`;
 * consecutive contents of one role joined (a tool's results followed by the user's next words), empty
 * ones left out. A tool result names its function (Google matches results to calls by name): the name
 * the client gave, or that of the call it answers.
 */
function toContents(messages: readonly Message[]): GeminiContent[] {
  const contents: GeminiContent[] = [];
  const callNames = new Map<string, string>();
  messages.forEach((message, index) => {
    if (message.role === 'system') return;
    const param = `messages[${chatIndex(messages, index)}]`;
    let parts: GeminiPart[];
    let role: GeminiContent['role'];
    if (message.role === 'assistant') {
      role = 'model';
      parts = modelParts(message.parts, param, callNames);
    } else {
      role = 'user';
      parts =
        message.role === 'tool'
          ? toolResultParts(message.parts, messages, index, callNames)
          : userParts(message.parts, param);
    }
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  });
  if (contents.length === 0) {
    throw new InvalidRequestError("'messages' must hold a user or assistant message with content", {
      param: 'messages',
    });
  }
  return contents;
}

function userParts(parts: readonly Part[], param: string): GeminiPart[] {
  const out: GeminiPart[] = [];
  for (const part of parts) {
    if (part.type === 'text') {
      if (part.text !== '') out.push({ text: part.text });
    } else if (part.type === 'image') out.push(toImagePart(part, `${param}.content`));
    else if (part.type === 'audio')
      out.push({ inlineData: { mimeType: audioMimeType(part.format), data: part.data } });
    else {
      throw new InvalidRequestError(`A ${part.type} part cannot stand in a user message`, {
        param: `${param}.content`,
      });
    }
  }
  return out;
}

/**
 * An assistant message: text and calls in order. Reasoning is left out: the carrier keeps no signature,
 * and Gemini reads nothing from thought text without one. Each call carries SKIP_SIGNATURE (Gemini 3
 * requires a signature on the first call of each step; older models ignore it).
 */
function modelParts(parts: readonly Part[], param: string, callNames: Map<string, string>): GeminiPart[] {
  const out: GeminiPart[] = [];
  let calls = 0;
  for (const part of parts) {
    if (part.type === 'text') {
      if (part.text !== '') out.push({ text: part.text });
    } else if (part.type === 'tool_call') {
      const args = parseArguments(part.arguments, `${param}.tool_calls[${calls}].function.arguments`);
      if (part.id !== '') callNames.set(part.id, part.name);
      out.push({
        functionCall: { name: part.name, args },
        ...(calls === 0 ? { thoughtSignature: SKIP_SIGNATURE } : {}),
      });
      calls++;
    }
  }
  return out;
}

function parseArguments(text: string, param: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (!isObject(parsed))
    throw new InvalidRequestError('Tool call arguments must be a JSON object', { param });
  return parsed;
}

/** A tool message's results as functionResponse parts, then the images they hold as parts of their own. */
function toolResultParts(
  parts: readonly Part[],
  messages: readonly Message[],
  index: number,
  callNames: ReadonlyMap<string, string>,
): GeminiPart[] {
  const first = chatIndex(messages, index);
  const out: GeminiPart[] = [];
  const images: GeminiPart[] = [];
  parts.forEach((part, position) => {
    if (part.type !== 'tool_result') return;
    const param = `messages[${first + position}]`;
    const name = part.name ?? callNames.get(part.callId);
    if (name === undefined || name === '') {
      throw new InvalidRequestError(
        `No assistant tool call before this tool message has the id '${printable(part.callId)}': Gemini needs the function's name with its result`,
        { param: `${param}.tool_call_id` },
      );
    }
    let text = '';
    for (const item of part.content) {
      if (item.type === 'text') text += item.text;
      else images.push(toImagePart(item, `${param}.content`));
    }
    out.push({ functionResponse: { name, response: toResponseObject(text, part.isError === true) } });
  });
  return [...out, ...images];
}

/**
 * A tool's result as the JSON object Google requires: a JSON object as it is, anything else under
 * `output` (or `error`), the keys Google's reference names for a function's output and its failure.
 */
function toResponseObject(text: string, isError: boolean): Record<string, unknown> {
  if (isError) return { error: text };
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (isObject(parsed)) return parsed;
    } catch {
      // not JSON: the text itself is the output
    }
  }
  return { output: text };
}

/**
 * An inline image. URLs are refused: the gateway fetches nothing a client names (SSRF), and Google's own
 * URIs (gs:// on Vertex, Files API URIs on Gemini) would be read with the gateway's credentials, not the
 * client's, so a client could read any object the gateway's service account can.
 */
function toImagePart(part: ImagePart, param: string): GeminiPart {
  if (part.data === undefined) {
    throw new InvalidRequestError(
      'Gemini backends take images inline, as data: URLs with base64 content (data:image/png;base64,...); the gateway fetches no image URL and passes on no gs:// or Files API URI',
      { param },
    );
  }
  return { inlineData: { mimeType: part.mediaType ?? 'image/png', data: part.data } };
}

function audioMimeType(format: string): string {
  const lower = format.toLowerCase();
  return lower === 'mp3' ? 'audio/mp3' : `audio/${lower.replace(/[^a-z0-9.+-]/g, '')}`;
}

/** The chat messages' image URLs that are not inline data, refused with the exact field named. */
export function checkImageUrls(body: ChatCompletionRequest): void {
  const messages: unknown = body.messages;
  if (!Array.isArray(messages)) return;
  messages.forEach((message: unknown, index) => {
    const content = isObject(message) ? message['content'] : undefined;
    if (!Array.isArray(content)) return;
    content.forEach((part: unknown, partIndex) => {
      if (!isObject(part) || part['type'] !== 'image_url') return;
      const image = part['image_url'];
      const url = typeof image === 'string' ? image : isObject(image) ? image['url'] : undefined;
      if (typeof url !== 'string') return; // fromChatRequest names the malformed field
      if (/^data:[^,;]+;base64,/.test(url.slice(0, 256))) return;
      throw new InvalidRequestError(
        `Gemini backends take images inline, as data: URLs with base64 content (data:image/png;base64,...); the gateway does not fetch '${printable(url.split(':')[0] ?? '')}:' URLs`,
        { param: `messages[${index}].content[${partIndex}].image_url.url` },
      );
    });
  });
}

function toFunctionDeclaration(tool: Tool): {
  name: string;
  description?: string;
  parametersJsonSchema?: Readonly<Record<string, unknown>>;
} {
  // Gemini's parametersJsonSchema takes JSON Schema as written (its `parameters` takes only an OpenAPI
  // subset); `strict` has no counterpart and changes nothing about a valid call.
  return {
    name: tool.name,
    ...(tool.description === undefined ? {} : { description: tool.description }),
    parametersJsonSchema: tool.parameters,
  };
}

function toGenerationConfig(options: GenerationOptions, effort: string | undefined): GeminiGenerationConfig {
  const config: GeminiGenerationConfig = {};
  if (options.maxTokens !== undefined) config.maxOutputTokens = options.maxTokens;
  if (options.temperature !== undefined) config.temperature = options.temperature;
  if (options.topP !== undefined) config.topP = options.topP;
  if (options.topK !== undefined) config.topK = options.topK;
  if (options.stop !== undefined && options.stop.length > 0) config.stopSequences = [...options.stop];
  if (options.seed !== undefined) config.seed = options.seed;
  if (options.n !== undefined && options.n !== 1) config.candidateCount = options.n;
  if (options.presencePenalty !== undefined) config.presencePenalty = options.presencePenalty;
  if (options.frequencyPenalty !== undefined) config.frequencyPenalty = options.frequencyPenalty;
  if (options.logprobs === true) {
    config.responseLogprobs = true;
    if (options.topLogprobs !== undefined && options.topLogprobs > 0) config.logprobs = options.topLogprobs;
  } else if (options.topLogprobs !== undefined && options.topLogprobs > 0) {
    throw new InvalidRequestError("'top_logprobs' needs 'logprobs': true", { param: 'top_logprobs' });
  }
  const format = options.responseFormat;
  if (format?.type === 'json_object') config.responseMimeType = 'application/json';
  else if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    config.responseJsonSchema = format.schema;
  }
  const thinking = toThinkingConfig(options.reasoning, effort);
  if (thinking !== undefined) config.thinkingConfig = thinking;
  return config;
}

/**
 * Gemini's thinkingConfig: a token budget (the client's own, else one per effort level: EFFORT_BUDGETS),
 * with the thoughts included in the answer; effort none turns thinking off (budget 0), which models
 * that cannot stop thinking (2.5 Pro) refuse with a 400 of their own.
 */
function toThinkingConfig(
  reasoning: ReasoningOptions | undefined,
  extraEffort: string | undefined,
): GeminiGenerationConfig['thinkingConfig'] {
  const effort = extraEffort ?? reasoning?.effort;
  if (reasoning?.budgetTokens !== undefined)
    return { thinkingBudget: reasoning.budgetTokens, includeThoughts: true };
  if (effort === undefined) return undefined;
  if (effort === 'none') return { thinkingBudget: 0 };
  const budget = EFFORT_BUDGETS[effort];
  return budget === undefined ? undefined : { thinkingBudget: budget, includeThoughts: true };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isEmptyObject(value: unknown): boolean {
  return isObject(value) && Object.keys(value).length === 0;
}
