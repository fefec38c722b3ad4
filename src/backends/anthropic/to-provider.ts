/**
 * The conversation model → Anthropic's Messages API request (POST /v1/messages). Pure.
 * https://docs.anthropic.com/en/api/messages: `system` apart from the messages, which alternate user and
 * assistant and hold content blocks (text, image, tool_use, tool_result, thinking with its signature,
 * redacted_thinking); tools with `input_schema`; `tool_choice` auto / any / tool / none with
 * `disable_parallel_tool_use`; `max_tokens` required; `thinking: {type: "enabled", budget_tokens}`.
 *
 * What Anthropic cannot honour is refused with a 400 naming the field, or with the backend's
 * drop_unsupported left out and reported: never dropped silently.
 */
import type {
  CacheControl,
  ConversationRequest,
  ImagePart,
  Message,
  Part,
  ReasoningOptions,
  ResponseFormat,
  TextPart,
} from '../../conversation/model.js';
import { InvalidRequestError } from '../../errors/errors.js';
import { printable, UnsupportedFields } from '../unsupported-fields.js';

/** Sent when the client gave no limit: Anthropic requires one (docs/providers.md). */
export const DEFAULT_MAX_TOKENS = 4096;

/** Reasoning effort → thinking budget, on the carrier's thresholds (effortOf: ≤ 2048 low, ≤ 8192 medium). */
export const THINKING_BUDGETS: Readonly<Record<string, number>> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
};

/**
 * Anthropic's limit on cache breakpoints (`cache_control` blocks) in one request: more is a 400 from the
 * gateway, before the request goes out, rather than Anthropic's own 400 after a round trip.
 */
export const MAX_CACHE_BREAKPOINTS = 4;

/** Anthropic's smallest thinking budget. */
const MIN_BUDGET = 1024;

/** The tool a JSON answer is asked for through (Anthropic has no response_format): its input is the answer. */
export const STRUCTURED_OUTPUT_TOOL = 'json_answer';

/** Fields that do not change the answer (or that the gateway itself acts on): never refused. */
const METADATA_FIELDS: ReadonlySet<string> = new Set([
  'stream_options',
  'store',
  'metadata',
  'service_tier',
  'safety_identifier',
  'prompt_cache_key',
]);

const IMAGE_MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

export type AnthropicBlock = Record<string, unknown>;

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: AnthropicBlock[];
}

export interface AnthropicRequest {
  model: string;
  max_tokens: number;
  messages: AnthropicMessage[];
  system?: { type: 'text'; text: string; cache_control?: AnthropicCacheControl }[];
  tools?: {
    name: string;
    description?: string;
    input_schema: Readonly<Record<string, unknown>>;
    cache_control?: AnthropicCacheControl;
  }[];
  tool_choice?: Record<string, unknown>;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  thinking?: { type: 'enabled'; budget_tokens: number };
  metadata?: { user_id: string };
  stream?: boolean;
}

export interface AnthropicCacheControl {
  type: 'ephemeral';
  ttl?: '5m' | '1h';
}

/** `{cache_control}` to spread into a block or tool when the part carries a breakpoint. */
function cacheField(cacheControl: CacheControl | undefined): { cache_control?: AnthropicCacheControl } {
  if (cacheControl === undefined) return {};
  return {
    cache_control: {
      type: cacheControl.type,
      ...(cacheControl.ttl === undefined ? {} : { ttl: cacheControl.ttl }),
    },
  };
}

export interface AnthropicPolicy {
  /** The backend's name, for the error that says how to fix the request. */
  readonly backend: string;
  /** false: what Anthropic cannot honour is a 400 naming it; true: left out and reported in `dropped`. */
  readonly dropUnsupported: boolean;
}

export interface AnthropicTranslation {
  readonly request: AnthropicRequest;
  /** Fields left out (drop_unsupported only), at most MAX_REPORTED_FIELDS printable names. */
  readonly dropped: readonly string[];
  /** The tool whose input is the answer's text (a JSON response_format), when one was asked for. */
  readonly structuredTool?: string;
}

function invalid(param: string, detail: string): InvalidRequestError {
  return new InvalidRequestError(`'${param}' ${detail}`, { param });
}

function imageBlock(part: ImagePart, param: string): AnthropicBlock {
  if (part.data !== undefined) {
    const mediaType = part.mediaType ?? 'image/png';
    if (!IMAGE_MEDIA_TYPES.includes(mediaType))
      throw invalid(
        param,
        `is an image of type ${printable(mediaType)}; Anthropic takes ${IMAGE_MEDIA_TYPES.join(', ')}`,
      );
    return {
      type: 'image',
      source: { type: 'base64', media_type: mediaType, data: part.data },
      ...cacheField(part.cacheControl),
    };
  }
  const url = part.url ?? '';
  // Anthropic fetches the URL itself: the gateway never connects to it.
  if (!/^https?:\/\//i.test(url)) throw invalid(param, 'must be an http(s) URL or a base64 data: URL');
  return { type: 'image', source: { type: 'url', url }, ...cacheField(part.cacheControl) };
}

function userBlocks(parts: readonly Part[], param: string): AnthropicBlock[] {
  const blocks: AnthropicBlock[] = [];
  parts.forEach((part, index) => {
    const where = `${param}[${index}]`;
    switch (part.type) {
      case 'text':
        // Anthropic refuses empty text blocks.
        if (part.text !== '')
          blocks.push({ type: 'text', text: part.text, ...cacheField(part.cacheControl) });
        break;
      case 'image':
        blocks.push(imageBlock(part, where));
        break;
      case 'audio':
        throw invalid(where, 'is audio; Anthropic takes text and images only');
      case 'tool_result': {
        const content = part.content.flatMap((item, at): AnthropicBlock[] => {
          if (item.type === 'image') return [imageBlock(item, `${where}.content[${at}]`)];
          return item.text === ''
            ? []
            : [{ type: 'text', text: item.text, ...cacheField(item.cacheControl) }];
        });
        blocks.push({
          type: 'tool_result',
          tool_use_id: part.callId,
          ...(content.length === 0 ? {} : { content }),
          ...(part.isError === true ? { is_error: true } : {}),
          ...cacheField(part.cacheControl),
        });
        break;
      }
      case 'tool_call':
      case 'reasoning':
        throw invalid(where, `(${part.type}) belongs in an assistant message`);
    }
  });
  return blocks;
}

function toolInput(args: string, param: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw invalid(param, 'must be a JSON object (Anthropic takes tool input as an object)');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw invalid(param, 'must be a JSON object (Anthropic takes tool input as an object)');
  return parsed as Record<string, unknown>;
}

function assistantBlocks(message: Message, param: string): AnthropicBlock[] {
  const blocks: AnthropicBlock[] = [];
  message.parts.forEach((part, index) => {
    const where = `${param}[${index}]`;
    switch (part.type) {
      case 'reasoning':
        if (part.redacted !== undefined) blocks.push({ type: 'redacted_thinking', data: part.redacted });
        // Anthropic accepts earlier thinking only with its signature: reasoning another model wrote (a
        // fallback's) has none, and is left out as Anthropic would ignore it anyway.
        else if (part.signature !== undefined)
          blocks.push({ type: 'thinking', thinking: part.text, signature: part.signature });
        break;
      case 'text':
        if (part.text !== '')
          blocks.push({ type: 'text', text: part.text, ...cacheField(part.cacheControl) });
        break;
      case 'tool_call':
        blocks.push({
          type: 'tool_use',
          id: part.id,
          name: part.name,
          input: toolInput(part.arguments, `${where}.arguments`),
          ...cacheField(part.cacheControl),
        });
        break;
      case 'image':
      case 'audio':
      case 'tool_result':
        throw invalid(where, `(${part.type}) cannot be in an assistant message`);
    }
  });
  return blocks;
}

/**
 * The messages, system text apart (Anthropic takes it only at the top: system messages anywhere are
 * moved there, in order), consecutive messages of one role merged into one turn.
 */
function toMessages(request: ConversationRequest): {
  system: TextPart[];
  messages: AnthropicMessage[];
} {
  const system: TextPart[] = [...(request.system ?? [])];
  const messages: AnthropicMessage[] = [];
  request.messages.forEach((message, index) => {
    const param = `messages[${index}].content`;
    if (message.role === 'system') {
      for (const part of message.parts) {
        if (part.type !== 'text') throw invalid(param, 'of a system message must be text');
        if (part.text !== '') system.push(part);
      }
      return;
    }
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    const content = role === 'assistant' ? assistantBlocks(message, param) : userBlocks(message.parts, param);
    if (content.length === 0) return;
    const last = messages.at(-1);
    if (last?.role === role) last.content.push(...content);
    else messages.push({ role, content });
  });
  if (messages.length === 0) throw invalid('messages', 'must hold at least one user message with content');
  return { system, messages };
}

/** An effort level or budget → Anthropic's thinking budget; null for no thinking. */
export function thinkingBudget(reasoning: ReasoningOptions | undefined): number | null {
  if (reasoning === undefined) return null;
  if (reasoning.budgetTokens !== undefined) return Math.max(MIN_BUDGET, reasoning.budgetTokens);
  const effort = reasoning.effort;
  if (effort === undefined || effort === 'none') return null;
  return THINKING_BUDGETS[effort] ?? null;
}

/** Anthropic's tool names: letters, digits, _ and -, at most 64. */
function structuredToolName(format: ResponseFormat): string {
  if (format.type !== 'json_schema') return STRUCTURED_OUTPUT_TOOL;
  const name = format.name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
  return name === '' ? STRUCTURED_OUTPUT_TOOL : name;
}

export function toAnthropicRequest(
  request: ConversationRequest,
  policy: AnthropicPolicy,
): AnthropicTranslation {
  const unsupported = new UnsupportedFields(policy, 'Anthropic');
  for (const [field, value] of Object.entries(request.extra ?? {})) {
    if (value === null || value === undefined || METADATA_FIELDS.has(field)) continue;
    unsupported.refuse(field, 'Anthropic has no such parameter');
  }
  const options = request.options;
  if (options.n !== undefined && options.n > 1)
    unsupported.refuse('n', 'Anthropic answers one choice only (send n: 1)');
  if (options.seed !== undefined) unsupported.refuse('seed', 'Anthropic has no seed');
  if (options.presencePenalty !== undefined && options.presencePenalty !== 0)
    unsupported.refuse('presence_penalty', 'Anthropic has no presence penalty');
  if (options.frequencyPenalty !== undefined && options.frequencyPenalty !== 0)
    unsupported.refuse('frequency_penalty', 'Anthropic has no frequency penalty');
  if (options.logprobs === true) unsupported.refuse('logprobs', 'Anthropic gives no log probabilities');
  if (options.topLogprobs !== undefined && options.topLogprobs > 0)
    unsupported.refuse('top_logprobs', 'Anthropic gives no log probabilities');

  const { system, messages } = toMessages(request);
  const budget = thinkingBudget(options.reasoning);
  // Thinking counts against max_tokens: without the client's limit, the answer gets the default on top.
  const maxTokens = options.maxTokens ?? (budget === null ? DEFAULT_MAX_TOKENS : budget + DEFAULT_MAX_TOKENS);
  if (maxTokens < 1) throw invalid('max_tokens', 'must be at least 1');
  const out: AnthropicRequest = { model: request.model, max_tokens: maxTokens, messages };
  if (system.length > 0)
    out.system = system.map((part) => ({ type: 'text', text: part.text, ...cacheField(part.cacheControl) }));
  if (budget !== null) {
    if (budget >= maxTokens) {
      if (maxTokens <= MIN_BUDGET)
        throw invalid(
          'max_tokens',
          `must be more than ${MIN_BUDGET} with reasoning: Anthropic's thinking budget (at least ${MIN_BUDGET} tokens) counts against it`,
        );
      out.thinking = { type: 'enabled', budget_tokens: maxTokens - 1 };
    } else out.thinking = { type: 'enabled', budget_tokens: budget };
  }
  if (options.stop !== undefined && options.stop.length > 0) out.stop_sequences = [...options.stop];
  if (options.temperature !== undefined) {
    if (options.temperature > 1) throw invalid('temperature', 'must be from 0 to 1 for Anthropic models');
    out.temperature = options.temperature;
  }
  if (options.topP !== undefined) out.top_p = options.topP;
  if (options.topK !== undefined) out.top_k = options.topK;
  if (request.user !== undefined && request.user !== '') out.metadata = { user_id: request.user };

  const tools = request.tools ?? [];
  if (tools.length > 0) {
    // Sent with tool_choice "none" too (as Anthropic's own none), so that earlier tool_use blocks stay valid.
    out.tools = tools.map((tool) => ({
      name: tool.name,
      ...(tool.description === undefined ? {} : { description: tool.description }),
      input_schema: tool.parameters,
      ...cacheField(tool.cacheControl),
    }));
    const parallel = options.parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
    const choice = request.toolChoice;
    if (choice === 'none') out.tool_choice = { type: 'none' };
    else if (choice === 'required') out.tool_choice = { type: 'any', ...parallel };
    else if (typeof choice === 'object') out.tool_choice = { type: 'tool', name: choice.name, ...parallel };
    else if (options.parallelToolCalls === false) out.tool_choice = { type: 'auto', ...parallel };
  }

  const format = options.responseFormat;
  let structuredTool: string | undefined;
  if (format !== undefined && format.type !== 'text') {
    if (out.tools !== undefined)
      throw invalid(
        'response_format',
        'cannot be combined with tools on an Anthropic backend: the gateway asks Anthropic for JSON through a tool of its own',
      );
    if (out.thinking !== undefined)
      throw invalid(
        'response_format',
        'cannot be combined with reasoning on an Anthropic backend: Anthropic cannot think while held to the tool that gives the JSON answer',
      );
    const schema = format.type === 'json_schema' ? format.schema : { type: 'object' };
    if (schema['type'] !== 'object')
      throw invalid(
        'response_format.json_schema.schema',
        "must describe an object (type: 'object') on an Anthropic backend: the answer is a tool's input",
      );
    structuredTool = structuredToolName(format);
    const description =
      format.type === 'json_schema' && format.description !== undefined
        ? format.description
        : 'Give the answer as this tool’s input.';
    out.tools = [{ name: structuredTool, description, input_schema: schema }];
    out.tool_choice = { type: 'tool', name: structuredTool, disable_parallel_tool_use: true };
  }
  if (request.stream) out.stream = true;
  checkCacheBreakpoints(out);
  return {
    request: out,
    dropped: unsupported.dropped,
    ...(structuredTool === undefined ? {} : { structuredTool }),
  };
}

/**
 * Anthropic takes at most MAX_CACHE_BREAKPOINTS `cache_control` markers a request (system blocks, tools,
 * content blocks and the blocks inside tool results together) and answers 400 for more; the gateway
 * says so first, counting the blocks it would send (an empty text block, left out, counts for nothing).
 */
function checkCacheBreakpoints(request: AnthropicRequest): void {
  let count = 0;
  const visit = (block: { cache_control?: unknown; content?: unknown }): void => {
    if (block.cache_control !== undefined) count++;
    if (Array.isArray(block.content)) for (const item of block.content) visit(item as AnthropicBlock);
  };
  for (const block of request.system ?? []) visit(block);
  for (const tool of request.tools ?? []) visit(tool);
  for (const message of request.messages) for (const block of message.content) visit(block);
  if (count > MAX_CACHE_BREAKPOINTS)
    throw invalid(
      'cache_control',
      `is on ${count} blocks and tools; Anthropic takes at most ${MAX_CACHE_BREAKPOINTS} cache breakpoints a request: keep the last ones of the prefixes to cache`,
    );
}
