/**
 * The conversation model → OpenAI chat completions, the form the pipeline carries a request in to every
 * backend adapter (docs/conversation.md). Pure; fields the model has no name for travel in `extra`.
 */
import type { ChatCompletionRequest } from '../../api/schemas.js';
import type {
  CacheControl,
  ConversationRequest,
  ImagePart,
  Message,
  Part,
  ReasoningOptions,
} from '../../conversation/model.js';

type ChatContentPart = Record<string, unknown>;

/**
 * A prompt-cache breakpoint as the carrier writes it: `cache_control` on the content part, tool
 * definition, tool call or tool message that ends the cached prefix (OpenRouter's and LiteLLM's shape).
 */
function cacheField(cacheControl: CacheControl | undefined): { cache_control?: Record<string, string> } {
  if (cacheControl === undefined) return {};
  return {
    cache_control: {
      type: cacheControl.type,
      ...(cacheControl.ttl === undefined ? {} : { ttl: cacheControl.ttl }),
    },
  };
}

function hasCacheControl(parts: readonly Part[]): boolean {
  return parts.some((part) => (part as { cacheControl?: CacheControl }).cacheControl !== undefined);
}

function imageContent(part: ImagePart): ChatContentPart {
  const url =
    part.data !== undefined ? `data:${part.mediaType ?? 'image/png'};base64,${part.data}` : (part.url ?? '');
  return {
    type: 'image_url',
    image_url: { url, ...(part.detail === undefined ? {} : { detail: part.detail }) },
    ...cacheField(part.cacheControl),
  };
}

/**
 * User or system content: a plain string when it is text only (what every server takes), else parts;
 * parts too when one carries a cache breakpoint, which a string has no place for.
 */
function userContent(parts: readonly Part[]): string | ChatContentPart[] {
  if (parts.every((part) => part.type === 'text') && !hasCacheControl(parts))
    return parts.map((part) => (part as { text: string }).text).join('');
  const out: ChatContentPart[] = [];
  for (const part of parts) {
    if (part.type === 'text') out.push({ type: 'text', text: part.text, ...cacheField(part.cacheControl) });
    else if (part.type === 'image') out.push(imageContent(part));
    else if (part.type === 'audio')
      out.push({ type: 'input_audio', input_audio: { data: part.data, format: part.format } });
  }
  return out;
}

function toChatMessages(message: Message, out: Record<string, unknown>[]): void {
  const name = message.name === undefined ? {} : { name: message.name };
  if (message.role === 'assistant') {
    let text = '';
    const texts: ChatContentPart[] = [];
    let reasoning = '';
    let hasReasoning = false;
    // Anthropic's signature (the carrier's reasoning_signature extension): the last one given.
    let signature: string | undefined;
    const calls: Record<string, unknown>[] = [];
    for (const part of message.parts) {
      if (part.type === 'text') {
        text += part.text;
        texts.push({ type: 'text', text: part.text, ...cacheField(part.cacheControl) });
      } else if (part.type === 'reasoning') {
        reasoning += part.text;
        hasReasoning = true;
        if (part.signature !== undefined) signature = part.signature;
      } else if (part.type === 'tool_call')
        calls.push({
          id: part.id,
          type: 'function',
          function: { name: part.name, arguments: part.arguments },
          ...cacheField(part.cacheControl),
        });
    }
    // Text parts apart, as content parts, only when one of them ends a cached prefix.
    const marked = message.parts.some((part) => part.type === 'text' && part.cacheControl !== undefined);
    out.push({
      role: 'assistant',
      content: marked ? texts : text === '' && calls.length > 0 ? null : text,
      ...name,
      ...(calls.length === 0 ? {} : { tool_calls: calls }),
      ...(hasReasoning ? { reasoning_content: reasoning } : {}),
      ...(signature === undefined ? {} : { reasoning_signature: signature }),
    });
    return;
  }
  // Tool results become tool messages, first (they answer the assistant message before them); what else
  // the message holds follows as a message of its own role.
  const rest: Part[] = [];
  for (const part of message.parts) {
    if (part.type !== 'tool_result') {
      rest.push(part);
      continue;
    }
    const textItems = part.content.filter((item) => item.type === 'text');
    const text = textItems.map((item) => item.text).join('');
    out.push({
      role: 'tool',
      tool_call_id: part.callId,
      // Text parts apart only when one of them ends a cached prefix (tool messages take text parts).
      content: hasCacheControl(textItems)
        ? textItems.map((item) => ({ type: 'text', text: item.text, ...cacheField(item.cacheControl) }))
        : part.isError === true && text === ''
          ? 'error'
          : text,
      ...(part.name === undefined ? {} : { name: part.name }),
      // The whole result's breakpoint on the tool message, as LiteLLM takes it.
      ...cacheField(part.cacheControl),
    });
    // Images in a tool's result: chat completions takes them only from the user.
    const images = part.content.filter((item) => item.type === 'image');
    if (images.length > 0) rest.push(...images);
  }
  if (message.role === 'tool') {
    if (rest.length > 0) out.push({ role: 'user', content: userContent(rest) });
    return;
  }
  if (rest.length > 0 || message.parts.length === 0)
    out.push({ role: message.role, content: userContent(rest), ...name });
}

/** An effort level from a token budget (Anthropic's thinking.budget_tokens), for servers that take levels. */
export function effortOf(reasoning: ReasoningOptions): string | undefined {
  if (reasoning.effort !== undefined) return reasoning.effort;
  const budget = reasoning.budgetTokens;
  if (budget === undefined) return undefined;
  if (budget <= 2048) return 'low';
  return budget <= 8192 ? 'medium' : 'high';
}

export function toChatRequest(request: ConversationRequest): ChatCompletionRequest {
  const messages: Record<string, unknown>[] = [];
  const system = request.system ?? [];
  // Blocks with a cache breakpoint stay apart as text parts; otherwise one string, as every server takes.
  if (hasCacheControl(system))
    messages.push({
      role: 'system',
      content: system.map((part) => ({ type: 'text', text: part.text, ...cacheField(part.cacheControl) })),
    });
  else if (system.length > 0)
    messages.push({ role: 'system', content: system.map((part) => part.text).join('\n') });
  for (const message of request.messages) toChatMessages(message, messages);
  const options = request.options;
  const body: Record<string, unknown> = { ...request.extra, model: request.model, messages };
  if (request.stream) body['stream'] = true;
  if (options.maxTokens !== undefined) body['max_tokens'] = options.maxTokens;
  if (options.temperature !== undefined) body['temperature'] = options.temperature;
  if (options.topP !== undefined) body['top_p'] = options.topP;
  if (options.topK !== undefined) body['top_k'] = options.topK;
  if (options.stop !== undefined && options.stop.length > 0) body['stop'] = [...options.stop];
  if (options.seed !== undefined) body['seed'] = options.seed;
  if (options.n !== undefined) body['n'] = options.n;
  if (options.presencePenalty !== undefined) body['presence_penalty'] = options.presencePenalty;
  if (options.frequencyPenalty !== undefined) body['frequency_penalty'] = options.frequencyPenalty;
  if (options.logprobs !== undefined) body['logprobs'] = options.logprobs;
  if (options.topLogprobs !== undefined) body['top_logprobs'] = options.topLogprobs;
  if (options.parallelToolCalls !== undefined) body['parallel_tool_calls'] = options.parallelToolCalls;
  const format = options.responseFormat;
  if (format !== undefined) {
    body['response_format'] =
      format.type === 'json_schema'
        ? {
            type: 'json_schema',
            json_schema: {
              name: format.name,
              schema: format.schema,
              ...(format.strict === undefined ? {} : { strict: format.strict }),
              ...(format.description === undefined ? {} : { description: format.description }),
            },
          }
        : { type: format.type };
  }
  if (options.reasoning !== undefined) {
    const effort = effortOf(options.reasoning);
    if (effort !== undefined) body['reasoning_effort'] = effort;
  }
  if (request.tools !== undefined && request.tools.length > 0) {
    body['tools'] = request.tools.map((tool) => ({
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description === undefined ? {} : { description: tool.description }),
        parameters: tool.parameters,
        ...(tool.strict === undefined ? {} : { strict: tool.strict }),
      },
      ...cacheField(tool.cacheControl),
    }));
  }
  const choice = request.toolChoice;
  if (choice !== undefined)
    body['tool_choice'] =
      typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
  if (request.user !== undefined) body['user'] = request.user;
  return body as ChatCompletionRequest;
}
