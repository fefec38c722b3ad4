/**
 * The conversation model → AWS Bedrock's Converse API (POST /model/{modelId}/converse and
 * /converse-stream) and the InvokeModel bodies of the embedding models. Pure: no I/O, no credentials.
 * Shapes from the Bedrock Runtime API reference (API_runtime_Converse, Message, ContentBlock,
 * ToolConfiguration, InferenceConfiguration) and the AWS SDK's bedrock-runtime models.
 *
 * What Converse cannot honour is refused with a 400 naming the field, or with the backend's
 * `drop_unsupported: true` left out and reported in `dropped`: never dropped silently.
 */
import type {
  CacheControl,
  ConversationRequest,
  ImagePart,
  Message,
  Part,
  ReasoningOptions,
} from '../../conversation/model.js';
import { InvalidRequestError } from '../../errors/errors.js';
import { printable, UnsupportedFields } from '../unsupported-fields.js';

/**
 * Converse's prompt-cache checkpoint: a block of its own right after the content block, system block or
 * tool spec whose prefix is to be cached (API_runtime_CachePointBlock: type 'default', ttl '5m' or '1h').
 */
export interface CachePointBlock {
  cachePoint: { type: 'default'; ttl?: '5m' | '1h' };
}

export type ConverseContentBlock =
  | { text: string }
  | { image: { format: ImageFormat; source: { bytes: string } } }
  | { toolUse: { toolUseId: string; name: string; input: unknown } }
  | {
      toolResult: {
        toolUseId: string;
        content: ({ text: string } | { image: { format: ImageFormat; source: { bytes: string } } })[];
        status?: 'success' | 'error';
      };
    }
  | { reasoningContent: { reasoningText: { text: string; signature?: string } } }
  | { reasoningContent: { redactedContent: string } }
  | CachePointBlock;

type ToolResultContent = { text: string } | { image: { format: ImageFormat; source: { bytes: string } } };

type SystemBlock = { text: string } | CachePointBlock;

/** The checkpoint block that follows a part or tool with a cache breakpoint; none without one. */
function cachePoints(cacheControl: CacheControl | undefined): CachePointBlock[] {
  if (cacheControl === undefined) return [];
  return [
    { cachePoint: { type: 'default', ...(cacheControl.ttl === undefined ? {} : { ttl: cacheControl.ttl }) } },
  ];
}

export interface ConverseMessage {
  role: 'user' | 'assistant';
  content: ConverseContentBlock[];
}

export interface ConverseToolConfig {
  tools: (
    { toolSpec: { name: string; description?: string; inputSchema: { json: unknown } } } | CachePointBlock
  )[];
  toolChoice?: { auto: Record<string, never> } | { any: Record<string, never> } | { tool: { name: string } };
}

export interface ConverseRequest {
  messages: ConverseMessage[];
  system?: SystemBlock[];
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
  toolConfig?: ConverseToolConfig;
  additionalModelRequestFields?: Record<string, unknown>;
}

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp';

/** How a backend treats fields Converse cannot honour (its `drop_unsupported` setting). */
export interface BedrockRequestPolicy {
  readonly backend: string;
  readonly dropUnsupported: boolean;
}

export interface ConverseTranslation {
  readonly request: ConverseRequest;
  /** Fields left out (drop_unsupported only), at most MAX_REPORTED_FIELDS bounded printable names. */
  readonly dropped: readonly string[];
}

/**
 * Thinking budgets for OpenAI's effort levels (the inverse of the carrier's effortOf: up to 2,048
 * tokens is low, up to 8,192 medium). Anthropic's minimum budget is 1,024.
 */
export const THINKING_BUDGETS: Readonly<Record<string, number>> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
};

/** Output room given beside a thinking budget when the client set no max_tokens. */
export const THINKING_ANSWER_TOKENS = 4096;

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

/** The Bedrock extension a client that knows its backend may send: merged into the request as given. */
export const ADDITIONAL_FIELDS = 'additionalModelRequestFields';

const MEDIA_FORMATS: Readonly<Record<string, ImageFormat>> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

function invalid(param: string, detail: string): InvalidRequestError {
  return new InvalidRequestError(`'${param}' ${detail}`, { param });
}

/**
 * Whether the model id (a plain id, a cross-region inference profile such as
 * `us.anthropic.claude-sonnet-4-5-20250929-v1:0`, or an ARN naming one) is one of Anthropic's Claude
 * models, which take `thinking` and `top_k` in additionalModelRequestFields.
 */
export function isAnthropicModel(modelId: string): boolean {
  return /(^|[./])anthropic\.claude/.test(modelId);
}

/** The path of a Converse call: the model id is one path segment, percent-encoded (ARNs have `/` and `:`). */
export function conversePath(modelId: string, stream: boolean): string {
  return `/model/${encodeURIComponent(modelId)}/${stream ? 'converse-stream' : 'converse'}`;
}

export function invokePath(modelId: string): string {
  return `/model/${encodeURIComponent(modelId)}/invoke`;
}

/** Translates a conversation into a Converse request body (the model id goes in the path). */
export function toConverseRequest(
  conversation: ConversationRequest,
  policy: BedrockRequestPolicy,
): ConverseTranslation {
  const unsupported = new UnsupportedFields(policy, 'Bedrock');
  const additional: Record<string, unknown> = {};
  checkExtra(conversation, unsupported, additional);
  checkOptions(conversation, unsupported);

  const system: SystemBlock[] = (conversation.system ?? [])
    .filter((part) => part.text !== '')
    .flatMap((part) => [{ text: part.text }, ...cachePoints(part.cacheControl)]);
  const messages = toMessages(conversation.messages, system);
  const request: ConverseRequest = { messages };
  if (system.length > 0) request.system = system;

  const options = conversation.options;
  const inference: NonNullable<ConverseRequest['inferenceConfig']> = {};
  if (options.maxTokens !== undefined) inference.maxTokens = options.maxTokens;
  if (options.temperature !== undefined) inference.temperature = options.temperature;
  if (options.topP !== undefined) inference.topP = options.topP;
  if (options.stop !== undefined && options.stop.length > 0) inference.stopSequences = [...options.stop];
  if (options.topK !== undefined) additional['top_k'] = options.topK;
  const thinking = toThinking(conversation, unsupported);
  if (thinking !== undefined) {
    additional['thinking'] = { type: 'enabled', budget_tokens: thinking.budget };
    if (thinking.maxTokens !== undefined) inference.maxTokens = thinking.maxTokens;
  }
  if (Object.keys(inference).length > 0) request.inferenceConfig = inference;

  const toolConfig = toToolConfig(conversation, messages, unsupported);
  if (toolConfig !== undefined) request.toolConfig = toolConfig;
  if (Object.keys(additional).length > 0) request.additionalModelRequestFields = additional;
  return { request, dropped: unsupported.dropped };
}

/**
 * Fields in `extra`: metadata is ignored; the client's own additionalModelRequestFields (an object) is
 * kept, under the gateway's own top_k and thinking; anything else is refused by name.
 */
function checkExtra(
  conversation: ConversationRequest,
  unsupported: UnsupportedFields,
  additional: Record<string, unknown>,
): void {
  for (const [field, value] of Object.entries(conversation.extra ?? {})) {
    if (METADATA_FIELDS.has(field) || value === null || value === undefined) continue;
    if (field === ADDITIONAL_FIELDS) {
      if (typeof value !== 'object' || Array.isArray(value))
        throw invalid(ADDITIONAL_FIELDS, "must be an object of the model's own request fields");
      for (const [key, item] of Object.entries(value as Record<string, unknown>))
        if (key !== '__proto__') additional[key] = item;
      continue;
    }
    unsupported.refuse(field, extraReason(field, value));
  }
}

function extraReason(field: string, value: unknown): string {
  switch (field) {
    case 'response_format':
      return "Bedrock's Converse API has no response format; the gateway takes only {type: 'text'}";
    case 'tools':
      return 'Bedrock takes function tools only';
    case 'tool_choice':
      return 'Bedrock takes tool_choice auto, required or a named function';
    case 'reasoning_effort':
      return `'${printable(String(value))}' is not an effort level (minimal, low, medium, high, none)`;
    case 'logit_bias':
      return 'Bedrock cannot bias token choices';
    case 'audio':
    case 'modalities':
      return 'Bedrock answers in text only';
    default:
      return 'Bedrock has no such parameter';
  }
}

function checkOptions(conversation: ConversationRequest, unsupported: UnsupportedFields): void {
  const options = conversation.options;
  if (options.n !== undefined && options.n > 1)
    unsupported.refuse('n', 'Bedrock answers one choice only (send n: 1)');
  if (options.seed !== undefined) unsupported.refuse('seed', "Bedrock's Converse API takes no seed");
  if (options.presencePenalty !== undefined && options.presencePenalty !== 0)
    unsupported.refuse('presence_penalty', "Bedrock's Converse API has no presence penalty");
  if (options.frequencyPenalty !== undefined && options.frequencyPenalty !== 0)
    unsupported.refuse('frequency_penalty', "Bedrock's Converse API has no frequency penalty");
  if (options.logprobs === true)
    unsupported.refuse('logprobs', "Bedrock's Converse API reports no log probabilities");
  if (options.topLogprobs !== undefined && options.topLogprobs > 0)
    unsupported.refuse('top_logprobs', "Bedrock's Converse API reports no log probabilities");
  const format = options.responseFormat;
  if (format !== undefined && format.type !== 'text')
    unsupported.refuse(
      'response_format',
      `Bedrock's Converse API has no response format, so '${format.type}' output cannot be guaranteed; describe the JSON in the prompt, or define a tool with the schema and force it with tool_choice`,
    );
  if (
    options.parallelToolCalls === false &&
    conversation.tools !== undefined &&
    conversation.tools.length > 0
  )
    unsupported.refuse('parallel_tool_calls', 'Bedrock cannot hold the model to one tool call');
}

/**
 * The thinking budget from the reasoning options, for Anthropic's models only; `maxTokens` when the
 * output room must grow (Anthropic requires max_tokens above the budget).
 */
function toThinking(
  conversation: ConversationRequest,
  unsupported: UnsupportedFields,
): { budget: number; maxTokens?: number } | undefined {
  const reasoning: ReasoningOptions | undefined = conversation.options.reasoning;
  if (reasoning === undefined || reasoning.effort === 'none') return undefined;
  const budget =
    reasoning.budgetTokens ??
    (reasoning.effort === undefined ? undefined : THINKING_BUDGETS[reasoning.effort]);
  if (budget === undefined) return undefined;
  if (!isAnthropicModel(conversation.model)) {
    unsupported.refuse(
      'reasoning_effort',
      `the gateway sets a thinking budget for Anthropic's Claude models only, not '${printable(conversation.model)}' (send the model's own fields in additionalModelRequestFields)`,
    );
    return undefined;
  }
  const maxTokens = conversation.options.maxTokens;
  if (maxTokens === undefined) return { budget, maxTokens: budget + THINKING_ANSWER_TOKENS };
  if (maxTokens > budget) return { budget };
  if (maxTokens <= 1024)
    throw invalid(
      'max_tokens',
      'must be more than 1024 to leave room for thinking (Anthropic budgets start at 1024)',
    );
  return { budget: maxTokens - 1 };
}

function imageBlock(
  part: ImagePart,
  param: string,
): { image: { format: ImageFormat; source: { bytes: string } } } {
  if (part.data === undefined)
    throw invalid(
      param,
      'is an image by URL; Bedrock takes images inline only: send it as a data: URL (data:image/png;base64,...)',
    );
  const format = MEDIA_FORMATS[(part.mediaType ?? '').toLowerCase()];
  if (format === undefined)
    throw invalid(
      param,
      `is an image of type '${printable(part.mediaType ?? '')}'; Bedrock takes image/png, image/jpeg, image/gif and image/webp`,
    );
  return { image: { format, source: { bytes: part.data } } };
}

function toolInput(args: string, param: string): unknown {
  if (args.trim() === '') return {};
  try {
    return JSON.parse(args) as unknown;
  } catch {
    throw invalid(param, 'must be JSON (Bedrock takes a tool call input as a JSON document)');
  }
}

/** The blocks of one message; system text is moved to `system` (Converse keeps it apart). */
function blocksOf(message: Message, index: number, system: SystemBlock[]): ConverseContentBlock[] {
  const param = `messages[${index}]`;
  const blocks: ConverseContentBlock[] = [];
  let call = 0;
  message.parts.forEach((part: Part, position) => {
    const at = `${param}.content[${position}]`;
    switch (part.type) {
      case 'text':
        if (part.text === '') return;
        if (message.role === 'system') system.push({ text: part.text }, ...cachePoints(part.cacheControl));
        else blocks.push({ text: part.text }, ...cachePoints(part.cacheControl));
        return;
      case 'image':
        if (message.role === 'system' || message.role === 'assistant')
          throw invalid(at, `is an image; Bedrock takes images from the user only`);
        blocks.push(imageBlock(part, at), ...cachePoints(part.cacheControl));
        return;
      case 'audio':
        throw invalid(at, 'is audio; Bedrock takes text and images');
      case 'tool_call':
        blocks.push({
          toolUse: {
            toolUseId: part.id,
            name: part.name,
            input: toolInput(part.arguments, `${param}.tool_calls[${call}].function.arguments`),
          },
        });
        blocks.push(...cachePoints(part.cacheControl));
        call++;
        return;
      case 'tool_result':
        blocks.push({
          toolResult: {
            toolUseId: part.callId,
            content: part.content.flatMap((item, at2): ToolResultContent[] => {
              if (item.type === 'image') return [imageBlock(item, `${param}.content[${at2}]`)];
              return item.text === '' ? [] : [{ text: item.text }];
            }),
            ...(part.isError === true ? { status: 'error' as const } : {}),
          },
        });
        // Converse's tool result content holds no checkpoints: a breakpoint on the result or on any of
        // its items is one checkpoint after the whole result.
        blocks.push(
          ...cachePoints(part.cacheControl ?? part.content.find((item) => item.cacheControl)?.cacheControl),
        );
        return;
      case 'reasoning':
        // Anthropic refuses thinking without its signature; reasoning without one (another model's, or
        // cut by a client) goes back as nothing rather than as a refused request.
        if (part.signature !== undefined && part.signature !== '')
          blocks.push({
            reasoningContent: { reasoningText: { text: part.text, signature: part.signature } },
          });
        else if (part.redacted !== undefined && part.redacted !== '')
          blocks.push({ reasoningContent: { redactedContent: part.redacted } });
        return;
    }
  });
  return blocks;
}

/**
 * Converse messages: user and assistant only, alternating (consecutive ones of one role, such as tool
 * results followed by the user's text, become one message), none empty.
 */
function toMessages(messages: readonly Message[], system: SystemBlock[]): ConverseMessage[] {
  const out: ConverseMessage[] = [];
  messages.forEach((message, index) => {
    const blocks = blocksOf(message, index, system);
    if (message.role === 'system' || blocks.length === 0) return;
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    const last = out.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  });
  return out;
}

function hasToolBlocks(messages: readonly ConverseMessage[]): boolean {
  return messages.some((message) =>
    message.content.some((block) => 'toolUse' in block || 'toolResult' in block),
  );
}

/**
 * toolConfig: the tools and the choice. Converse has no "none": the tools are left out, unless the
 * conversation already holds tool calls or results (Bedrock then requires toolConfig), when they are
 * sent with the model free to choose.
 */
function toToolConfig(
  conversation: ConversationRequest,
  messages: readonly ConverseMessage[],
  unsupported: UnsupportedFields,
): ConverseToolConfig | undefined {
  const tools = conversation.tools ?? [];
  const choice = conversation.toolChoice;
  if (tools.length === 0) {
    if (choice !== undefined && choice !== 'auto' && choice !== 'none')
      unsupported.refuse('tool_choice', 'the request has no tools to choose from');
    return undefined;
  }
  if (choice === 'none' && !hasToolBlocks(messages)) return undefined;
  const config: ConverseToolConfig = {
    tools: tools.flatMap((tool) => [
      {
        toolSpec: {
          name: tool.name,
          ...(tool.description === undefined || tool.description === ''
            ? {}
            : { description: tool.description }),
          inputSchema: { json: tool.parameters },
        },
      },
      ...cachePoints(tool.cacheControl),
    ]),
  };
  if (choice === 'required') config.toolChoice = { any: {} };
  else if (typeof choice === 'object') {
    if (!tools.some((tool) => tool.name === choice.name))
      throw invalid(
        'tool_choice.function.name',
        `'${printable(choice.name)}' is not one of the request's tools`,
      );
    config.toolChoice = { tool: { name: choice.name } };
  } else if (choice === 'auto') config.toolChoice = { auto: {} };
  return config;
}

/** Which InvokeModel body an embedding model takes, by its id's family; null for others. */
export type EmbeddingFamily = 'titan' | 'cohere';

export function embeddingFamily(modelId: string): EmbeddingFamily | null {
  if (/(^|[./])amazon\.titan-embed/.test(modelId)) return 'titan';
  if (/(^|[./])cohere\.embed/.test(modelId)) return 'cohere';
  return null;
}

/** Titan Text Embeddings (v2): one text a request; `dimensions` 256, 512 or 1024. */
export function titanEmbeddingBody(text: string, dimensions: number | undefined): Record<string, unknown> {
  if (dimensions !== undefined && ![256, 512, 1024].includes(dimensions))
    throw invalid('dimensions', 'must be 256, 512 or 1024 for Titan Text Embeddings v2');
  return { inputText: text, ...(dimensions === undefined ? {} : { dimensions }), normalize: true };
}

/** Cohere Embed: up to COHERE_MAX_TEXTS texts a request, as documents to search. */
export const COHERE_MAX_TEXTS = 96;

export function cohereEmbeddingBody(
  texts: readonly string[],
  dimensions: number | undefined,
): Record<string, unknown> {
  if (dimensions !== undefined) throw invalid('dimensions', 'Cohere Embed on Bedrock has fixed dimensions');
  return { texts: [...texts], input_type: 'search_document' };
}
