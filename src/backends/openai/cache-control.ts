/**
 * Prompt-cache breakpoints (`cache_control`, the carrier's field for Anthropic's caching: on content
 * parts, tool definitions, tool calls and tool messages; docs/conversation.md) are for the backends that
 * cache prompts by breakpoint (anthropic, bedrock). OpenAI's API refuses fields it does not know in a
 * content part, and OpenAI-compatible servers have no use for them, so an `openai` or `azure_openai`
 * backend sends the request without them. Pure; the request is copied only where it holds one, so that
 * the usual request (none) costs a scan and nothing more.
 */
import type { ChatCompletionRequest } from '../../api/schemas.js';

const FIELD = 'cache_control';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function has(value: unknown): value is Json {
  return isObject(value) && value[FIELD] !== undefined;
}

function without(value: Json): Json {
  const { [FIELD]: _dropped, ...rest } = value;
  return rest;
}

/** The items of a list without their breakpoints; the list itself when none has one. */
function stripItems(items: unknown): unknown {
  if (!Array.isArray(items) || !items.some(has)) return items;
  return (items as unknown[]).map((item) => (has(item) ? without(item) : item));
}

function messageHasAny(message: unknown): boolean {
  if (!isObject(message)) return false;
  return (
    message[FIELD] !== undefined ||
    (Array.isArray(message['content']) && message['content'].some(has)) ||
    (Array.isArray(message['tool_calls']) && message['tool_calls'].some(has))
  );
}

function stripMessage(message: unknown): unknown {
  if (!messageHasAny(message)) return message;
  const out = without(message as Json);
  if (out['content'] !== undefined) out['content'] = stripItems(out['content']);
  if (out['tool_calls'] !== undefined) out['tool_calls'] = stripItems(out['tool_calls']);
  return out;
}

/** The request without `cache_control` anywhere the carrier puts it; the same object when it has none. */
export function withoutCacheControl(request: ChatCompletionRequest): ChatCompletionRequest {
  const body = request as unknown as Json;
  const messages = body['messages'];
  const inMessages = Array.isArray(messages) && messages.some(messageHasAny);
  const inTools = Array.isArray(body['tools']) && body['tools'].some(has);
  if (!inMessages && !inTools) return request;
  const out: Json = { ...body };
  if (inMessages) out['messages'] = (messages as unknown[]).map(stripMessage);
  if (inTools) out['tools'] = stripItems(body['tools']);
  return out as unknown as ChatCompletionRequest;
}
