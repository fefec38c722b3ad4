/**
 * Anthropic Messages requests → the conversation model. Pure. What the backends behind this gateway
 * (vLLM, Ollama and other OpenAI-compatible servers) cannot do is refused with a 400 naming the field
 * and saying what to send instead, never dropped silently: documents, Anthropic-defined and server
 * tools, Files API sources, containers, the MCP connector. What only tunes Anthropic's own platform
 * (service_tier, speed, inference_geo, context_management, ...) is accepted and ignored: the backends
 * have no equivalent, and the answer does not change. `cache_control` on blocks and tools is kept (the
 * model's cacheControl) for the backends that cache prompts (anthropic, bedrock); the request's own
 * top-level `cache_control` (automatic caching) is ignored. docs/protocols/anthropic-messages.md lists
 * them.
 */
import { InvalidRequestError } from '../../errors/errors.js';
import type {
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
  ToolChoice,
  ToolResultPart,
} from '../../conversation/model.js';
import type { CountTokensRequest, Json, MessagesRequest } from './schema.js';

const IMAGE_MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

/** Top-level fields that need Anthropic's platform to mean anything: refused, by name. */
const PLATFORM_FIELDS: Readonly<Record<string, string>> = {
  container: "containers run code on Anthropic's platform, which this gateway's backends do not have",
  mcp_servers:
    "the MCP connector calls MCP servers from Anthropic's platform; connect the MCP servers in your client instead",
};

/** Blocks that only Anthropic's server tools produce. */
const SERVER_BLOCKS = new Set([
  'server_tool_use',
  'web_search_tool_result',
  'web_fetch_tool_result',
  'code_execution_tool_result',
  'bash_code_execution_tool_result',
  'text_editor_code_execution_tool_result',
  'tool_search_tool_result',
  'mcp_tool_use',
  'mcp_tool_result',
  'container_upload',
]);

/** Anthropic's `output_config.effort` levels → the model's (which stops at high). */
const EFFORTS: Readonly<Record<string, NonNullable<ReasoningOptions['effort']>>> = {
  low: 'low',
  medium: 'medium',
  high: 'high',
  xhigh: 'high',
  max: 'high',
};

function fail(param: string, problem: string): never {
  throw new InvalidRequestError(`${param}: ${problem}`, { param });
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function requireString(block: Json, field: string, path: string, nonEmpty = false): string {
  const value = block[field];
  if (typeof value !== 'string') fail(`${path}.${field}`, 'is required and must be a string');
  if (nonEmpty && value === '') fail(`${path}.${field}`, 'must not be empty');
  return value;
}

function optionalBoolean(block: Json, field: string, path: string): boolean | undefined {
  const value = block[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') fail(`${path}.${field}`, 'must be a boolean');
  return value;
}

/** A block's or tool's `cache_control`, checked as Anthropic checks it; nothing when it has none. */
function cacheControlOf(block: Json, path: string): { cacheControl?: CacheControl } {
  const value = block['cache_control'];
  if (value === undefined || value === null) return {};
  const where = `${path}.cache_control`;
  if (!isObject(value)) fail(where, "must be an object: {type: 'ephemeral', ttl?: '5m' | '1h'}");
  if (value['type'] !== 'ephemeral') fail(`${where}.type`, "must be 'ephemeral'");
  const ttl = value['ttl'];
  if (ttl === undefined || ttl === null) return { cacheControl: { type: 'ephemeral' } };
  if (ttl !== '5m' && ttl !== '1h') fail(`${where}.ttl`, "must be '5m' or '1h'");
  return { cacheControl: { type: 'ephemeral', ttl } };
}

function textPart(block: Json, path: string): TextPart {
  return { type: 'text', text: requireString(block, 'text', path), ...cacheControlOf(block, path) };
}

function imagePart(block: Json, path: string): ImagePart {
  const source = block['source'];
  if (!isObject(source)) fail(`${path}.source`, 'is required and must be an object');
  const where = `${path}.source`;
  switch (source['type']) {
    case 'base64': {
      const mediaType = source['media_type'];
      if (typeof mediaType !== 'string' || !IMAGE_MEDIA_TYPES.includes(mediaType))
        fail(`${where}.media_type`, `must be one of ${IMAGE_MEDIA_TYPES.join(', ')}`);
      return {
        type: 'image',
        data: requireString(source, 'data', where, true),
        mediaType,
        ...cacheControlOf(block, path),
      };
    }
    case 'url': {
      const url = requireString(source, 'url', where, true);
      if (!/^https?:\/\//i.test(url)) fail(`${where}.url`, 'must be an http or https URL');
      return { type: 'image', url, ...cacheControlOf(block, path) };
    }
    case 'file':
      return fail(
        `${where}.type`,
        "'file' sources refer to Anthropic's Files API, which this gateway does not have; send the image as base64 or by URL",
      );
    default:
      return fail(`${where}.type`, "must be 'base64' or 'url'");
  }
}

/** Why a block of this type cannot be taken, for every type but the ones a message may hold. */
function unsupportedBlock(type: string, path: string): never {
  if (type === 'document')
    fail(
      `${path}.type`,
      "'document' blocks (PDF and plain-text documents) are not supported by this gateway's backends; send the document's text in a text block",
    );
  if (type === 'search_result')
    fail(
      `${path}.type`,
      "'search_result' blocks are not supported by this gateway's backends; send the results as text",
    );
  if (SERVER_BLOCKS.has(type))
    fail(
      `${path}.type`,
      `'${type}' blocks come from server tools that run on Anthropic's platform; this gateway's backends run only your own tools`,
    );
  return fail(`${path}.type`, `'${type}' is not a content block type this gateway supports`);
}

function toolResultPart(block: Json, path: string, toolNames: ReadonlyMap<string, string>): ToolResultPart {
  const callId = requireString(block, 'tool_use_id', path, true);
  const raw = block['content'];
  const content: (TextPart | ImagePart)[] = [];
  if (typeof raw === 'string') content.push({ type: 'text', text: raw });
  else if (Array.isArray(raw)) {
    raw.forEach((item: unknown, index) => {
      const where = `${path}.content[${index}]`;
      if (!isObject(item)) fail(where, 'must be an object');
      if (item['type'] === 'text') content.push(textPart(item, where));
      else if (item['type'] === 'image') content.push(imagePart(item, where));
      else if (typeof item['type'] !== 'string') fail(`${where}.type`, 'is required and must be a string');
      else if (item['type'] === 'tool_reference')
        fail(
          `${where}.type`,
          "'tool_reference' blocks belong to Anthropic's tool search, which this gateway does not have",
        );
      else unsupportedBlock(item['type'], where);
    });
  } else if (raw !== undefined && raw !== null) fail(`${path}.content`, 'must be a string or content blocks');
  const isError = optionalBoolean(block, 'is_error', path);
  const name = toolNames.get(callId);
  return {
    type: 'tool_result',
    callId,
    content,
    ...(name === undefined ? {} : { name }),
    ...(isError === undefined ? {} : { isError }),
    ...cacheControlOf(block, path),
  };
}

/** Blocks each role may hold (Anthropic's rules): anything else is refused with the role named. */
const ALLOWED: Readonly<Record<'user' | 'assistant' | 'system', readonly string[]>> = {
  user: ['text', 'image', 'tool_result'],
  assistant: ['text', 'tool_use', 'thinking', 'redacted_thinking'],
  system: ['text'],
};

function toPart(
  block: unknown,
  role: 'user' | 'assistant' | 'system',
  path: string,
  toolNames: Map<string, string>,
): Part {
  if (!isObject(block)) fail(path, 'must be an object');
  const type = block['type'] as string;
  if (!ALLOWED[role].includes(type)) {
    const elsewhere = (Object.keys(ALLOWED) as (keyof typeof ALLOWED)[]).find((other) =>
      ALLOWED[other].includes(type),
    );
    if (elsewhere !== undefined)
      fail(`${path}.type`, `'${type}' blocks belong in ${elsewhere} messages, not ${role} messages`);
    unsupportedBlock(type, path);
  }
  switch (type) {
    case 'text':
      return textPart(block, path);
    case 'image':
      return imagePart(block, path);
    case 'tool_result':
      return toolResultPart(block, path, toolNames);
    case 'tool_use': {
      const id = requireString(block, 'id', path, true);
      const name = requireString(block, 'name', path, true);
      const input = block['input'];
      if (!isObject(input)) fail(`${path}.input`, 'is required and must be an object');
      toolNames.set(id, name);
      return {
        type: 'tool_call',
        id,
        name,
        arguments: JSON.stringify(input),
        ...cacheControlOf(block, path),
      };
    }
    case 'thinking': {
      const text = requireString(block, 'thinking', path);
      const signature = block['signature'];
      if (signature !== undefined && typeof signature !== 'string')
        fail(`${path}.signature`, 'must be a string');
      return {
        type: 'reasoning',
        text,
        ...(typeof signature === 'string' && signature !== '' ? { signature } : {}),
      };
    }
    case 'redacted_thinking':
      return { type: 'reasoning', text: '', redacted: requireString(block, 'data', path) };
    default:
      return unsupportedBlock(type, path);
  }
}

function toMessages(messages: MessagesRequest['messages']): Message[] {
  // Tool names by call id, from the assistant's tool_use blocks: Ollama needs a result's tool name.
  const toolNames = new Map<string, string>();
  return messages.map((message, index) => {
    const path = `messages[${index}]`;
    const content = message.content;
    const parts: Part[] =
      typeof content === 'string'
        ? [{ type: 'text', text: content }]
        : content.map((block, at) => toPart(block, message.role, `${path}.content[${at}]`, toolNames));
    return { role: message.role, parts };
  });
}

function toSystem(system: MessagesRequest['system']): TextPart[] | undefined {
  if (system === undefined) return undefined;
  if (typeof system === 'string') return system === '' ? undefined : [{ type: 'text', text: system }];
  const parts = system.map((block, index) => {
    const path = `system[${index}]`;
    if (block.type !== 'text') fail(`${path}.type`, "must be 'text': a system prompt is text blocks");
    return textPart(block, path);
  });
  return parts.length === 0 ? undefined : parts;
}

function toTools(tools: readonly Json[] | undefined): Tool[] | undefined {
  if (tools === undefined || tools.length === 0) return undefined;
  return tools.map((tool, index) => {
    const path = `tools[${index}]`;
    const type = tool['type'];
    if (type !== undefined && type !== null && type !== 'custom') {
      fail(
        `${path}.type`,
        `${typeof type === 'string' ? `'${type}'` : JSON.stringify(type)} is one of Anthropic's own tools (server tools such as web search run on its platform; bash, text_editor, computer and memory need its built-in definitions); this gateway's backends take only custom tools: name, description and input_schema`,
      );
    }
    const name = requireString(tool, 'name', path, true);
    if (name.length > 128) fail(`${path}.name`, 'must be at most 128 characters');
    const schema = tool['input_schema'];
    if (!isObject(schema)) fail(`${path}.input_schema`, 'is required and must be a JSON Schema object');
    const description = tool['description'];
    if (description !== undefined && typeof description !== 'string')
      fail(`${path}.description`, 'must be a string');
    const strict = optionalBoolean(tool, 'strict', path);
    return {
      name,
      parameters: schema,
      ...(description === undefined ? {} : { description }),
      ...(strict === undefined ? {} : { strict }),
      ...cacheControlOf(tool, path),
    };
  });
}

function toToolChoice(
  choice: Json | undefined,
  tools: readonly Tool[] | undefined,
): { toolChoice?: ToolChoice; parallelToolCalls?: boolean } {
  if (choice === undefined) return {};
  const disableParallel = optionalBoolean(choice, 'disable_parallel_tool_use', 'tool_choice');
  const parallel = disableParallel === true ? { parallelToolCalls: false } : {};
  switch (choice['type']) {
    case 'auto':
      return { toolChoice: 'auto', ...parallel };
    case 'none':
      return { toolChoice: 'none' };
    case 'any':
      if (tools === undefined) fail('tool_choice.type', "'any' needs tools to choose from");
      return { toolChoice: 'required', ...parallel };
    case 'tool': {
      const name = requireString(choice, 'name', 'tool_choice', true);
      if (!tools?.some((tool) => tool.name === name))
        fail('tool_choice.name', `'${name}' is not the name of one of the tools`);
      return { toolChoice: { name }, ...parallel };
    }
    default:
      return fail('tool_choice.type', "must be one of 'auto', 'any', 'tool', 'none'");
  }
}

/** `output_config`: an effort level and a JSON schema for the answer. */
function toOutputConfig(config: Json | undefined): {
  effort?: NonNullable<ReasoningOptions['effort']>;
  responseFormat?: ResponseFormat;
} {
  if (config === undefined) return {};
  const out: { effort?: NonNullable<ReasoningOptions['effort']>; responseFormat?: ResponseFormat } = {};
  const effort = config['effort'];
  if (effort !== undefined && effort !== null) {
    const level = typeof effort === 'string' ? EFFORTS[effort] : undefined;
    if (level === undefined) fail('output_config.effort', 'must be one of low, medium, high, xhigh, max');
    out.effort = level;
  }
  const format = config['format'];
  if (format !== undefined && format !== null) {
    if (!isObject(format) || format['type'] !== 'json_schema')
      fail('output_config.format.type', "must be 'json_schema'");
    const schema = format['schema'];
    if (!isObject(schema))
      fail('output_config.format.schema', 'is required and must be a JSON Schema object');
    out.responseFormat = { type: 'json_schema', name: 'output', schema };
  }
  return out;
}

/**
 * `thinking` → how much to reason. A budget (enabled) is kept as a budget (the chat carrier turns it into
 * an effort level); disabled asks for no reasoning; adaptive leaves it to the model (and the backend's
 * default), unless output_config gives an effort.
 */
function toReasoning(
  thinking: Json | undefined,
  maxTokens: number | undefined,
  effort: NonNullable<ReasoningOptions['effort']> | undefined,
): ReasoningOptions | undefined {
  const withEffort = effort === undefined ? {} : { effort };
  if (thinking === undefined) return effort === undefined ? undefined : withEffort;
  switch (thinking['type']) {
    case 'enabled': {
      const budget = thinking['budget_tokens'];
      if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1024)
        fail('thinking.budget_tokens', 'is required with thinking enabled and must be an integer >= 1024');
      if (maxTokens !== undefined && budget >= maxTokens)
        fail('thinking.budget_tokens', `must be less than max_tokens (${maxTokens})`);
      return { budgetTokens: budget, ...withEffort };
    }
    case 'disabled':
      return { effort: 'none' };
    case 'adaptive':
    case 'between_tools':
      return effort === undefined ? undefined : withEffort;
    default:
      return fail('thinking.type', "must be one of 'enabled', 'disabled', 'adaptive'");
  }
}

function refusePlatformFields(body: Json): void {
  for (const [field, why] of Object.entries(PLATFORM_FIELDS)) {
    if (body[field] !== undefined && body[field] !== null) fail(field, `not supported: ${why}`);
  }
}

/** The request of either endpoint (count_tokens has no max_tokens, stream or sampling options). */
export function toConversation(body: MessagesRequest | CountTokensRequest): ConversationRequest {
  refusePlatformFields(body);
  const full = body as Partial<MessagesRequest>;
  const maxTokens = full.max_tokens;
  const tools = toTools(body.tools);
  const { toolChoice, parallelToolCalls } = toToolChoice(body.tool_choice, tools);
  const output = toOutputConfig(body.output_config);
  const reasoning = toReasoning(body.thinking, maxTokens, output.effort);
  const options: GenerationOptions = {
    ...(maxTokens === undefined ? {} : { maxTokens }),
    ...(full.temperature === undefined ? {} : { temperature: full.temperature }),
    ...(full.top_p === undefined ? {} : { topP: full.top_p }),
    ...(full.top_k === undefined ? {} : { topK: full.top_k }),
    ...(full.stop_sequences === undefined || full.stop_sequences.length === 0
      ? {}
      : { stop: full.stop_sequences }),
    ...(output.responseFormat === undefined ? {} : { responseFormat: output.responseFormat }),
    ...(reasoning === undefined ? {} : { reasoning }),
    ...(parallelToolCalls === undefined ? {} : { parallelToolCalls }),
  };
  const system = toSystem(body.system);
  const user = full.metadata?.user_id;
  return {
    model: body.model,
    messages: toMessages(body.messages),
    options,
    stream: full.stream === true,
    ...(system === undefined ? {} : { system }),
    ...(tools === undefined ? {} : { tools }),
    ...(toolChoice === undefined ? {} : { toolChoice }),
    ...(typeof user === 'string' && user !== '' ? { user } : {}),
  };
}
