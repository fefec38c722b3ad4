/**
 * Pure translations between OpenAI's chat format and Ollama's native /api/chat and /api/embed.
 * https://github.com/ollama/ollama/blob/main/docs/api.md
 */
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

export interface OllamaMessage {
  role: string;
  content: string;
  images?: string[];
  tool_calls?: { function: { name: string; arguments: Record<string, unknown> } }[];
  tool_name?: string;
}

export interface OllamaChatRequest {
  model: string;
  messages: OllamaMessage[];
  stream: boolean;
  options?: Record<string, unknown>;
  format?: unknown;
  tools?: unknown[];
}

/** One line of /api/chat's answer (the whole answer when not streaming). */
export interface OllamaChatResponse {
  model?: string;
  message?: {
    role?: string;
    content?: string;
    tool_calls?: { function?: { name?: string; arguments?: unknown } }[];
  };
  done?: boolean;
  done_reason?: string;
  prompt_eval_count?: number;
  eval_count?: number;
  error?: string;
}

/** OpenAI sampling parameters → Ollama `options`. */
const OPTION_MAP: readonly (readonly [keyof ChatCompletionRequest, string])[] = [
  ['temperature', 'temperature'],
  ['top_p', 'top_p'],
  ['seed', 'seed'],
  ['presence_penalty', 'presence_penalty'],
  ['frequency_penalty', 'frequency_penalty'],
];

export function toOllamaChatRequest(request: ChatCompletionRequest, stream: boolean): OllamaChatRequest {
  if (request.n != null && request.n > 1) {
    throw new InvalidRequestError('Ollama backends answer one choice only; send n: 1', { param: 'n' });
  }
  const options: Record<string, unknown> = {};
  for (const [from, to] of OPTION_MAP) {
    const value = request[from];
    if (value !== undefined && value !== null) options[to] = value;
  }
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens != null) options['num_predict'] = maxTokens;
  if (request.stop != null) options['stop'] = Array.isArray(request.stop) ? request.stop : [request.stop];

  const out: OllamaChatRequest = {
    model: request.model,
    messages: request.messages.map((message, index) => toOllamaMessage(message as ChatMessage, index)),
    stream,
  };
  if (Object.keys(options).length > 0) out.options = options;
  const format = request.response_format as { type: string; json_schema?: { schema?: unknown } } | undefined;
  if (format?.type === 'json_object') out.format = 'json';
  else if (format?.type === 'json_schema') out.format = format.json_schema?.schema ?? 'json';
  if (request.tools !== undefined && request.tools.length > 0) out.tools = request.tools;
  return out;
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
          throw new InvalidRequestError('Images must be sent as data: URLs with base64 content', {
            param: `messages[${index}].content[${partIndex}].image_url`,
          });
        }
        (out.images ??= []).push(match[1] as string);
      } else {
        throw new InvalidRequestError(
          `Content part type '${String(record['type'])}' is not supported by Ollama backends`,
          {
            param: `messages[${index}].content[${partIndex}].type`,
          },
        );
      }
    });
    out.content = texts.join('\n');
  }
  if (Array.isArray(message.tool_calls)) {
    out.tool_calls = message.tool_calls.map((call, callIndex) => {
      const fn = (call as { function?: { name?: unknown; arguments?: unknown } }).function;
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
        function: {
          name: typeof fn?.name === 'string' ? fn.name : '',
          arguments: args as Record<string, unknown>,
        },
      };
    });
  }
  if (message.role === 'tool' && typeof message.name === 'string') out.tool_name = message.name;
  return out;
}

function finishReason(response: OllamaChatResponse, hasToolCalls: boolean): string {
  if (hasToolCalls) return 'tool_calls';
  return response.done_reason === 'length' ? 'length' : 'stop';
}

function toToolCalls(response: OllamaChatResponse, idPrefix: string): ToolCall[] | undefined {
  const calls: unknown = response.message?.tool_calls;
  if (!Array.isArray(calls)) return undefined;
  // Tolerate what a misbehaving upstream sends: entries that are not objects are skipped.
  const valid = (calls as unknown[]).filter(
    (call): call is { function?: { name?: unknown; arguments?: unknown } } =>
      call !== null && typeof call === 'object',
  );
  if (valid.length === 0) return undefined;
  return valid.map((call, index) => ({
    id: `${idPrefix}-call-${index}`,
    type: 'function' as const,
    function: {
      name: typeof call.function?.name === 'string' ? call.function.name : '',
      arguments:
        typeof call.function?.arguments === 'string'
          ? call.function.arguments
          : JSON.stringify(call.function?.arguments ?? {}),
    },
  }));
}

export function toUsage(response: OllamaChatResponse): Usage {
  const prompt = response.prompt_eval_count ?? 0;
  const completion = response.eval_count ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function fromOllamaChatResponse(
  response: OllamaChatResponse,
  id: string,
  created: number,
  model: string,
): ChatCompletion {
  const toolCalls = toToolCalls(response, id);
  return {
    id,
    object: 'chat.completion',
    created,
    model: response.model ?? model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: response.message?.content ?? '',
          ...(toolCalls === undefined ? {} : { tool_calls: toolCalls }),
        },
        finish_reason: finishReason(response, toolCalls !== undefined),
      },
    ],
    usage: toUsage(response),
  };
}

/**
 * Translates one NDJSON line of a streamed /api/chat answer into OpenAI chunks: the content delta, and on
 * the last line the finish reason followed by a usage chunk.
 */
export function fromOllamaStreamLine(
  line: OllamaChatResponse,
  state: { id: string; created: number; model: string; sentRole: boolean },
): ChatCompletionChunk[] {
  const base = {
    id: state.id,
    object: 'chat.completion.chunk' as const,
    created: state.created,
    model: line.model ?? state.model,
  };
  const chunks: ChatCompletionChunk[] = [];
  const content = line.message?.content ?? '';
  const toolCalls = toToolCalls(line, state.id);
  if (content !== '' || toolCalls !== undefined || !state.sentRole) {
    const delta: ChatCompletionChunk['choices'][number]['delta'] = {};
    if (!state.sentRole) delta.role = 'assistant';
    delta.content = content;
    if (toolCalls !== undefined) delta.tool_calls = toolCalls.map((call, index) => ({ index, ...call }));
    state.sentRole = true;
    chunks.push({ ...base, choices: [{ index: 0, delta, finish_reason: null }] });
  }
  if (line.done === true) {
    chunks.push({
      ...base,
      choices: [{ index: 0, delta: {}, finish_reason: finishReason(line, toolCalls !== undefined) }],
    });
    chunks.push({ ...base, choices: [], usage: toUsage(line) });
  }
  return chunks;
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

/** OpenAI's base64 embedding encoding: little-endian float32. */
export function floatsToBase64(vector: readonly number[]): string {
  const buffer = Buffer.allocUnsafe(vector.length * 4);
  vector.forEach((value, index) => buffer.writeFloatLE(value, index * 4));
  return buffer.toString('base64');
}
