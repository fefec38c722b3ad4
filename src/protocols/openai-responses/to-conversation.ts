/**
 * A Responses API request → the conversation model. Pure: the stored conversation of a
 * previous_response_id and the items of item_references are read by the route and handed in.
 *
 * Input items become messages: consecutive assistant items (an assistant message, reasoning,
 * function_call) make one assistant message, consecutive function_call_output items one tool message,
 * developer messages are system messages, `instructions` is the system text. What a self-hosted backend
 * cannot serve (hosted tools, files, background runs, server-side conversations and prompts) is refused
 * with a 400 naming the field, never dropped.
 */
import type {
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
} from '../../conversation/model.js';
import { InvalidRequestError } from '../../errors/errors.js';
import type { ResponsesRequest } from './schema.js';

export type Item = Readonly<Record<string, unknown>>;

/** At most this many parts in one message's content (the chat route's bound). */
const MAX_PARTS = 10_000;

/** Where an item came from, for error messages: the request's input, or the stored conversation. */
export interface ItemSource {
  /** Items before this index came from previous_response_id. */
  readonly historyLength: number;
}

function fail(message: string, param: string): never {
  throw new InvalidRequestError(message, { param });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Refuses what no backend behind the gateway can do, naming the field and why. */
export function checkServable(request: ResponsesRequest): void {
  if (request.background === true)
    fail(
      'background responses are not supported: the gateway answers within the request; leave background out or set it to false',
      'background',
    );
  if (request.conversation != null)
    fail(
      'conversation objects are not supported; continue a conversation with previous_response_id, or send the whole conversation in input',
      'conversation',
    );
  if (request.prompt != null)
    fail('prompt templates are not supported; send the prompt in instructions and input', 'prompt');
  if (request.moderation != null) fail('moderation is not supported by this gateway', 'moderation');
  if (request.context_management != null)
    fail(
      'context_management (server-side compaction) is not supported by this gateway',
      'context_management',
    );
  if (request.truncation === 'auto')
    fail(
      "the gateway cannot truncate a conversation to the model's context; set truncation to 'disabled' or leave it out",
      'truncation',
    );
}

/** `input` as items: a string is one user message. */
export function inputItems(input: ResponsesRequest['input']): Item[] {
  if (input === undefined) return [];
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  return input;
}

/** The ids of item_reference items, in order, with their index in `input`. */
export function itemReferences(items: readonly Item[]): { index: number; id: string }[] {
  const references: { index: number; id: string }[] = [];
  items.forEach((item, index) => {
    if (item['type'] !== 'item_reference') return;
    const id = item['id'];
    if (typeof id !== 'string' || id === '')
      fail('an item_reference needs the id of an output item', `input[${index}].id`);
    references.push({ index, id });
  });
  return references;
}

// ---------------------------------------------------------------------------------------------------
// Content

/** `data:<media type>;base64,<data>` → the image inline; http(s) URLs stay URLs. */
function imagePart(part: Record<string, unknown>, path: string): ImagePart {
  if (part['file_id'] != null)
    fail(
      'file ids need OpenAI’s file store, which this gateway does not have; send the image as image_url (a data: URL or an https URL)',
      `${path}.file_id`,
    );
  const url = part['image_url'];
  if (typeof url !== 'string' || url === '')
    fail('an input_image needs image_url: a data: URL or an http(s) URL', `${path}.image_url`);
  const detail = part['detail'];
  if (detail != null && (typeof detail !== 'string' || !['auto', 'low', 'high', 'original'].includes(detail)))
    fail('detail must be one of auto, low, high, original', `${path}.detail`);
  const detailOf = typeof detail === 'string' ? { detail } : {};
  const inline = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (inline !== null)
    return { type: 'image', mediaType: inline[1] ?? '', data: inline[2] ?? '', ...detailOf };
  if (/^https?:\/\//i.test(url)) return { type: 'image', url, ...detailOf };
  return fail('image_url must be a data: URL (base64) or an http(s) URL', `${path}.image_url`);
}

function textOfPart(part: Record<string, unknown>, field: string, path: string): TextPart {
  const text = part[field];
  if (typeof text !== 'string')
    fail(`${String(part['type'])} needs ${field} as a string`, `${path}.${field}`);
  return { type: 'text', text };
}

function contentList(content: unknown, path: string): Record<string, unknown>[] {
  if (!Array.isArray(content)) fail('content must be a string or a list of content parts', path);
  if (content.length > MAX_PARTS) fail(`content has more than ${MAX_PARTS} parts`, path);
  return content.map((part, index) => {
    if (!isRecord(part)) fail('a content part must be an object with a type', `${path}[${index}]`);
    return part;
  });
}

/** Content of a user, system or developer message (and of a function's output). */
function inputContent(content: unknown, path: string, allowAudio: boolean): Part[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return contentList(content, path).map((part, index): Part => {
    const at = `${path}[${index}]`;
    switch (part['type']) {
      case 'input_text':
        return textOfPart(part, 'text', at);
      case 'input_image':
        return imagePart(part, at);
      case 'input_audio': {
        const audio = part['input_audio'];
        if (!allowAudio || !isRecord(audio) || typeof audio['data'] !== 'string')
          fail('input_audio needs input_audio: { data (base64), format }', `${at}.input_audio`);
        return {
          type: 'audio',
          data: audio['data'],
          format: typeof audio['format'] === 'string' ? audio['format'] : 'wav',
        };
      }
      case 'input_file':
        return fail(
          'files are not supported by this gateway (it has no file store and its backends read no PDFs); send the text as input_text',
          `${at}.type`,
        );
      default:
        return fail(
          `content part type ${JSON.stringify(part['type'])} is not supported here; use input_text or input_image`,
          `${at}.type`,
        );
    }
  });
}

/** Content of an assistant message: what the model said before (output_text, refusal). */
function assistantContent(content: unknown, path: string): TextPart[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return contentList(content, path).map((part, index) => {
    const at = `${path}[${index}]`;
    switch (part['type']) {
      case 'output_text':
      case 'input_text':
        return textOfPart(part, 'text', at);
      case 'refusal':
        return textOfPart(part, 'refusal', at);
      default:
        return fail(
          `an assistant message's content parts are output_text or refusal, not ${JSON.stringify(part['type'])}`,
          `${at}.type`,
        );
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// Items → messages

const UNSUPPORTED_ITEMS: Readonly<Record<string, string>> = {
  file_search_call: 'file search',
  web_search_call: 'web search',
  computer_call: 'computer use',
  computer_call_output: 'computer use',
  code_interpreter_call: 'the code interpreter',
  image_generation_call: 'image generation',
  local_shell_call: 'the local shell tool',
  local_shell_call_output: 'the local shell tool',
  shell_call: 'the shell tool',
  shell_call_output: 'the shell tool',
  apply_patch_call: 'the apply_patch tool',
  apply_patch_call_output: 'the apply_patch tool',
  mcp_list_tools: 'MCP tools',
  mcp_approval_request: 'MCP tools',
  mcp_approval_response: 'MCP tools',
  mcp_call: 'MCP tools',
  custom_tool_call: 'custom (free-form) tools',
  custom_tool_call_output: 'custom (free-form) tools',
  tool_search_call: 'tool search',
  tool_search_output: 'tool search',
  compaction: 'compaction',
  compaction_trigger: 'compaction',
  program: 'programmatic tool calling',
  program_output: 'programmatic tool calling',
  additional_tools: 'additional tools',
};

function stringField(item: Item, field: string, path: string): string {
  const value = item[field];
  if (typeof value !== 'string') fail(`${field} must be a string`, `${path}.${field}`);
  return value;
}

/** The conversation's messages from its items, in order. */
export function toMessages(items: readonly Item[], source: ItemSource): Message[] {
  const messages: Message[] = [];
  let assistant: Part[] | null = null;
  let results: Part[] | null = null;
  /** call_id → name, so that a tool result carries its tool's name (Ollama needs it). */
  const callNames = new Map<string, string>();
  const close = (): void => {
    if (assistant !== null) messages.push({ role: 'assistant', parts: assistant });
    if (results !== null) messages.push({ role: 'tool', parts: results });
    assistant = null;
    results = null;
  };
  const openAssistant = (): Part[] => {
    if (results !== null) close();
    assistant ??= [];
    return assistant;
  };
  items.forEach((item, position) => {
    if (position >= source.historyLength) {
      addItem(item, `input[${String(position - source.historyLength)}]`);
      return;
    }
    // Stored items were checked when they came in; should one fail now, its stored path means nothing.
    try {
      addItem(item, `item ${String(position)}`);
    } catch (error) {
      if (!(error instanceof InvalidRequestError)) throw error;
      fail(
        `The stored conversation of previous_response_id cannot be used: ${error.message}`,
        'previous_response_id',
      );
    }
  });
  close();
  return messages;

  function addItem(item: Item, path: string): void {
    if (!isRecord(item)) fail('an input item must be an object', path);
    const type = item['type'] ?? (item['role'] !== undefined ? 'message' : undefined);
    switch (type) {
      case 'message': {
        const role = item['role'];
        if (role === 'assistant') {
          openAssistant().push(...assistantContent(item['content'], `${path}.content`));
          return;
        }
        if (role !== 'user' && role !== 'system' && role !== 'developer')
          fail('role must be one of user, system, developer, assistant', `${path}.role`);
        close();
        messages.push({
          role: role === 'developer' ? 'system' : role,
          parts: inputContent(item['content'], `${path}.content`, role === 'user'),
        });
        return;
      }
      case 'function_call': {
        const callId = stringField(item, 'call_id', path);
        const namespace = item['namespace'];
        if (namespace != null && typeof namespace !== 'string')
          fail('namespace must be a string', `${path}.namespace`);
        const name =
          typeof namespace === 'string'
            ? namespacedName(namespace, stringField(item, 'name', path))
            : stringField(item, 'name', path);
        callNames.set(callId, name);
        openAssistant().push({
          type: 'tool_call',
          id: callId,
          name,
          arguments: stringField(item, 'arguments', path),
        });
        return;
      }
      case 'function_call_output': {
        const callId = stringField(item, 'call_id', path);
        const output = item['output'];
        const parts =
          typeof output === 'string'
            ? [{ type: 'text' as const, text: output }]
            : inputContent(output, `${path}.output`, false);
        const name = callNames.get(callId);
        if (assistant !== null) close();
        results ??= [];
        results.push({
          type: 'tool_result',
          callId,
          content: parts as (TextPart | ImagePart)[],
          ...(name === undefined ? {} : { name }),
        });
        return;
      }
      case 'reasoning': {
        openAssistant().push(reasoningPart(item, path));
        return;
      }
      case 'item_reference':
        return fail('an item_reference must name an output item of a stored response', `${path}.id`);
      case undefined:
      default: {
        const what = typeof type === 'string' ? UNSUPPORTED_ITEMS[type] : undefined;
        if (what !== undefined)
          fail(`${type as string} items are not supported: this gateway serves no ${what}`, `${path}.type`);
        fail(
          `item type ${JSON.stringify(type)} is not one of message, function_call, function_call_output, reasoning, item_reference`,
          `${path}.type`,
        );
      }
    }
  }
}

/** A reasoning item: its raw content if it has one, else its summary; encrypted content kept opaque. */
function reasoningPart(item: Item, path: string): Part {
  const texts = (field: string): string[] => {
    const list = item[field];
    if (list == null) return [];
    if (!Array.isArray(list)) fail(`${field} must be a list`, `${path}.${field}`);
    return list.map((entry, index) => {
      if (!isRecord(entry) || typeof entry['text'] !== 'string')
        fail(`each ${field} part needs text`, `${path}.${field}[${index}].text`);
      return entry['text'];
    });
  };
  const content = texts('content');
  const text = content.length > 0 ? content.join('') : texts('summary').join('\n\n');
  const encrypted = item['encrypted_content'];
  if (encrypted != null && typeof encrypted !== 'string')
    fail('encrypted_content must be a string', `${path}.encrypted_content`);
  return { type: 'reasoning', text, ...(typeof encrypted === 'string' ? { redacted: encrypted } : {}) };
}

// ---------------------------------------------------------------------------------------------------
// Tools, tool choice, text format, options

const TOOL_FIELDS = new Set(['type', 'name', 'description', 'parameters', 'strict']);
/** At most this many functions in one namespace (the bound on a request's tools). */
const MAX_NAMESPACE_TOOLS = 128;

/**
 * The name a function of a namespace has for the model: `<namespace>__<name>` (characters every
 * server's tool-name rules allow). The model's calls are given back their namespace and own name.
 */
export function namespacedName(namespace: string, name: string): string {
  return `${namespace}__${name}`;
}

/** Each namespaced name of a request's tools → its namespace and own name. */
export function namespaceNames(
  tools: readonly Record<string, unknown>[] | undefined,
): Map<string, { namespace: string; name: string }> {
  const names = new Map<string, { namespace: string; name: string }>();
  for (const tool of tools ?? []) {
    if (tool['type'] !== 'namespace' || typeof tool['name'] !== 'string' || !Array.isArray(tool['tools']))
      continue;
    for (const inner of tool['tools'] as Record<string, unknown>[]) {
      if (isRecord(inner) && typeof inner['name'] === 'string')
        names.set(namespacedName(tool['name'], inner['name']), {
          namespace: tool['name'],
          name: inner['name'],
        });
    }
  }
  return names;
}

function functionTool(tool: Record<string, unknown>, path: string, prefix: string | null): Tool {
  if (tool['type'] !== 'function')
    fail(
      `only function tools can be served by self-hosted models; ${JSON.stringify(tool['type'])} tools are not supported`,
      `${path}.type`,
    );
  for (const [field, value] of Object.entries(tool)) {
    if (TOOL_FIELDS.has(field) || value === null || value === false) continue;
    fail(`${field} is not supported on function tools by this gateway; leave it out`, `${path}.${field}`);
  }
  const name = tool['name'];
  if (typeof name !== 'string' || name === '' || name.length > 256)
    fail('a function tool needs a name of 1 to 256 characters', `${path}.name`);
  const description = tool['description'];
  if (description != null && typeof description !== 'string')
    fail('description must be a string', `${path}.description`);
  const parameters = tool['parameters'];
  if (parameters != null && !isRecord(parameters))
    fail('parameters must be a JSON Schema object', `${path}.parameters`);
  const strict = tool['strict'];
  if (strict != null && typeof strict !== 'boolean') fail('strict must be a boolean', `${path}.strict`);
  return {
    name: prefix === null ? name : namespacedName(prefix, name),
    ...(typeof description === 'string' ? { description } : {}),
    parameters: parameters ?? { type: 'object', properties: {} },
    ...(typeof strict === 'boolean' ? { strict } : {}),
  };
}

/**
 * Function tools, and the functions of namespace tools (a group of functions under one name, as Codex
 * sends its sub-agent tools), each under its namespaced name. Hosted tools are refused.
 */
export function toTools(tools: readonly Record<string, unknown>[] | undefined): Tool[] | undefined {
  if (tools === undefined) return undefined;
  const out: Tool[] = [];
  const seen = new Set<string>();
  tools.forEach((tool, index) => {
    const path = `tools[${index}]`;
    const added: Tool[] = [];
    if (tool['type'] === 'namespace') {
      const namespace = tool['name'];
      if (typeof namespace !== 'string' || namespace === '' || namespace.length > 128)
        fail('a namespace needs a name of 1 to 128 characters', `${path}.name`);
      const inner = tool['tools'];
      if (!Array.isArray(inner) || inner.length > MAX_NAMESPACE_TOOLS)
        fail(
          `a namespace's tools must be a list of at most ${MAX_NAMESPACE_TOOLS} function tools`,
          `${path}.tools`,
        );
      inner.forEach((entry, position) => {
        const at = `${path}.tools[${position}]`;
        if (!isRecord(entry)) fail('a tool must be an object with a type', at);
        added.push(functionTool(entry, at, namespace));
      });
    } else {
      added.push(functionTool(tool, path, null));
    }
    for (const entry of added) {
      if (seen.has(entry.name))
        fail(
          `two tools have the name ${JSON.stringify(entry.name)} (a namespace's functions are named <namespace>__<name>)`,
          `${path}.name`,
        );
      seen.add(entry.name);
      out.push(entry);
    }
  });
  return out;
}

export function toToolChoice(choice: ResponsesRequest['tool_choice']): ToolChoice | undefined {
  if (choice === undefined) return undefined;
  if (typeof choice === 'string') {
    if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
    return fail('tool_choice must be auto, none, required or { type: "function", name }', 'tool_choice');
  }
  const record = choice as Record<string, unknown>;
  if (record['type'] !== 'function')
    fail(
      `tool_choice ${JSON.stringify(record['type'])} is not supported; use auto, none, required or { type: "function", name }`,
      'tool_choice.type',
    );
  const name = record['name'];
  if (typeof name !== 'string' || name === '')
    fail('tool_choice.name must name a function tool', 'tool_choice.name');
  return { name };
}

export function toResponseFormat(text: ResponsesRequest['text']): ResponseFormat | undefined {
  const format = text?.format as Record<string, unknown> | undefined;
  if (format === undefined) return undefined;
  switch (format['type']) {
    case 'text':
      return undefined;
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      const name = format['name'];
      if (typeof name !== 'string' || name === '')
        fail('a json_schema format needs a name', 'text.format.name');
      const schema = format['schema'];
      if (!isRecord(schema))
        fail('a json_schema format needs schema: a JSON Schema object', 'text.format.schema');
      const strict = format['strict'];
      const description = format['description'];
      return {
        type: 'json_schema',
        name,
        schema,
        ...(typeof strict === 'boolean' ? { strict } : {}),
        ...(typeof description === 'string' ? { description } : {}),
      };
    }
    default:
      return fail('text.format.type must be text, json_object or json_schema', 'text.format.type');
  }
}

/** OpenAI's newest levels above high have no counterpart on self-hosted servers: they ask for high. */
function reasoningOf(request: ResponsesRequest): ReasoningOptions | undefined {
  const effort = request.reasoning?.effort as ReasoningOptions['effort'] | 'xhigh' | 'max' | null | undefined;
  if (effort == null) return undefined;
  return { effort: effort === 'xhigh' || effort === 'max' ? 'high' : effort };
}

/** Whether the client asked for the log probabilities of the output text. */
export function wantsLogprobs(request: ResponsesRequest): boolean {
  return (
    request.include?.includes('message.output_text.logprobs') === true ||
    (request.top_logprobs != null && request.top_logprobs > 0)
  );
}

function optionsOf(request: ResponsesRequest): GenerationOptions {
  const format = toResponseFormat(request.text);
  const reasoning = reasoningOf(request);
  const logprobs = wantsLogprobs(request);
  return {
    ...(request.max_output_tokens == null ? {} : { maxTokens: request.max_output_tokens }),
    ...(request.temperature == null ? {} : { temperature: request.temperature }),
    ...(request.top_p == null ? {} : { topP: request.top_p }),
    ...(format === undefined ? {} : { responseFormat: format }),
    ...(reasoning === undefined ? {} : { reasoning }),
    ...(request.parallel_tool_calls == null ? {} : { parallelToolCalls: request.parallel_tool_calls }),
    ...(logprobs ? { logprobs: true } : {}),
    ...(logprobs && request.top_logprobs != null && request.top_logprobs > 0
      ? { topLogprobs: request.top_logprobs }
      : {}),
  };
}

function withoutParallelCalls(options: GenerationOptions): GenerationOptions {
  const { parallelToolCalls: _ignored, ...rest } = options;
  return rest;
}

/**
 * The conversation of a request whose items (the stored conversation's, then the request's own, with
 * item_references replaced by the items they name) are given.
 */
export function toConversation(
  request: ResponsesRequest,
  items: readonly Item[],
  source: ItemSource,
): ConversationRequest {
  checkServable(request);
  const messages = toMessages(items, source);
  if (messages.length === 0)
    fail('input is empty: send the text to answer, or items of a conversation', 'input');
  const tools = toTools(request.tools);
  const hasTools = tools !== undefined && tools.length > 0;
  let toolChoice = toToolChoice(request.tool_choice);
  // Without tools, auto and none both mean no calls (and some servers refuse a choice with no tools).
  if (!hasTools && toolChoice !== undefined) {
    if (toolChoice !== 'auto' && toolChoice !== 'none')
      fail('tool_choice asks for a tool call, but the request has no tools', 'tool_choice');
    toolChoice = undefined;
  }
  const options = optionsOf(request);
  const user = request.user ?? request.safety_identifier ?? undefined;
  const instructions = request.instructions;
  return {
    model: request.model,
    ...(instructions == null || instructions === ''
      ? {}
      : { system: [{ type: 'text', text: instructions }] }),
    messages,
    ...(hasTools ? { tools } : {}),
    ...(toolChoice === undefined ? {} : { toolChoice }),
    // parallel_tool_calls means nothing without tools.
    options: hasTools ? options : withoutParallelCalls(options),
    stream: request.stream === true,
    ...(user === undefined ? {} : { user }),
  };
}
