import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../../api/schemas.js';
import type { BackendConfig } from '../../config/config.js';
import type { BackendType } from '../../config/schema.js';
import { UpstreamError } from '../../errors/errors.js';
import type { BackendAdapter, UpstreamCall } from '../adapter.js';
import { base64ToFloats, floatsToBase64 } from '../embedding-encoding.js';
import { UpstreamClient, type UpstreamResponse } from '../http/upstream-client.js';
import { completionId, nowSeconds } from '../ids.js';
import { withoutCacheControl } from './cache-control.js';

/** Longer comments from an upstream are cut: they are keep-alives, not content. */
const MAX_COMMENT_LENGTH = 200;

/**
 * Any OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio, OpenAI itself, ...). Requests pass
 * through with every field kept; only `model` is replaced, on streams usage is always requested so that
 * the gateway can count tokens, and prompt-cache breakpoints (`cache_control`, for Anthropic's caching)
 * are left out, as OpenAI refuses them (cache-control.ts).
 *
 * A provider that speaks this API at other paths or with other credentials (Azure OpenAI) extends it:
 * the protected methods below are where it differs, the wire format stays this class's.
 */
export class OpenAiAdapter implements BackendAdapter {
  readonly type: BackendType = 'openai';
  readonly name: string;
  protected readonly client: UpstreamClient;

  constructor(backend: BackendConfig, client: UpstreamClient = new UpstreamClient(backend)) {
    this.name = backend.name;
    this.client = client;
  }

  /** Where a chat completion is POSTed, relative to the backend's url. */
  protected chatPath(_request: ChatCompletionRequest): string {
    return '/chat/completions';
  }

  /** Where embeddings are POSTed, relative to the backend's url. */
  protected embeddingsPath(_request: EmbeddingsRequest): string {
    return '/embeddings';
  }

  /** Headers of one request besides the client's own (a credential that changes, such as a token). */
  protected requestHeaders(_call: UpstreamCall): Promise<Readonly<Record<string, string>> | undefined> {
    return Promise.resolve(undefined);
  }

  /**
   * Whether a parsed stream event carries nothing for the client and is left out (an OpenAI-compatible
   * server's events are all passed on; Azure's content filter annotations are not chunks of the answer).
   */
  protected isAnnotationOnly(_chunk: Record<string, unknown>): boolean {
    return false;
  }

  async chat(request: ChatCompletionRequest, call: UpstreamCall): Promise<ChatCompletion> {
    const body = JSON.stringify({
      ...withoutCacheControl(request),
      stream: false,
      stream_options: undefined,
    });
    const response = await this.client.postJson(
      this.chatPath(request),
      body,
      call,
      'application/json',
      await this.requestHeaders(call),
    );
    const answer = await this.client.readJson(response, call);
    if (!isObject(answer) || !Array.isArray(answer['choices'])) {
      throw new UpstreamError(`Backend '${this.name}' answered without choices`);
    }
    fillIdentity(answer, 'chat.completion', null);
    return answer as unknown as ChatCompletion;
  }

  async chatStream(
    request: ChatCompletionRequest,
    call: UpstreamCall,
  ): Promise<AsyncIterable<ChatCompletionChunk>> {
    const body = JSON.stringify({
      ...withoutCacheControl(request),
      stream: true,
      stream_options: { ...(request.stream_options ?? {}), include_usage: true },
    });
    const response = await this.client.postJson(
      this.chatPath(request),
      body,
      call,
      'text/event-stream',
      await this.requestHeaders(call),
    );
    return this.readEvents(response, call);
  }

  async embeddings(request: EmbeddingsRequest, call: UpstreamCall): Promise<EmbeddingsResponse> {
    const response = await this.client.postJson(
      this.embeddingsPath(request),
      JSON.stringify(request),
      call,
      'application/json',
      await this.requestHeaders(call),
    );
    const answer = await this.client.readJson(response, call);
    if (!isObject(answer) || !Array.isArray(answer['data'])) {
      throw new UpstreamError(`Backend '${this.name}' answered without data`);
    }
    const failed = toEncoding(answer['data'], request.encoding_format === 'base64' ? 'base64' : 'float');
    if (failed !== null) {
      throw new UpstreamError(
        `Backend '${this.name}' sent embedding ${failed} as a string that is not base64 float32`,
      );
    }
    return answer as unknown as EmbeddingsResponse;
  }

  async listModels(call: UpstreamCall): Promise<string[]> {
    const answer = await this.client.readJson(
      await this.client.get('/models', call, await this.requestHeaders(call)),
      call,
    );
    const data = isObject(answer) ? answer['data'] : undefined;
    if (!Array.isArray(data)) throw new UpstreamError(`Backend '${this.name}' listed no models`);
    return data.flatMap((model: unknown) =>
      isObject(model) && typeof model['id'] === 'string' ? [model['id']] : [],
    );
  }

  async probe(path: string, call: UpstreamCall): Promise<void> {
    const response = await this.client.get(path, call, await this.requestHeaders(call));
    await response.body.dump();
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async *readEvents(
    response: UpstreamResponse,
    call: UpstreamCall,
  ): AsyncGenerator<ChatCompletionChunk> {
    const pending: ChatCompletionChunk[] = [];
    // Written by the parser's callback, read by the loop below.
    const state: { done: boolean; finished: boolean; failure: Error | null } = {
      done: false,
      finished: false,
      failure: null,
    };
    const onComment = call.onComment;
    // What fills in a chunk's missing id and created: the same for every chunk of the stream.
    const identity: StreamIdentity = { id: null, created: null };
    const parser = createParser({
      // Keep-alive comments (`: ...`) are passed on, so that proxies before the client see a live stream.
      ...(onComment === undefined
        ? {}
        : {
            onComment: (comment: string) => {
              onComment(this.client.redact(comment).slice(0, MAX_COMMENT_LENGTH));
            },
          }),
      onEvent: (event: EventSourceMessage) => {
        if (state.done || state.failure !== null) return;
        if (event.data === '[DONE]') {
          state.done = true;
          return;
        }
        let chunk: unknown;
        try {
          chunk = JSON.parse(event.data);
        } catch {
          state.failure = new UpstreamError(`Backend '${this.name}' sent a stream event that is not JSON`);
          return;
        }
        if (!isObject(chunk) || event.event === 'error' || 'error' in chunk) {
          const message = this.client.messageOf(event.data) ?? 'unknown error';
          state.failure = new UpstreamError(`Backend '${this.name}' failed during the stream: ${message}`);
          return;
        }
        if (this.isAnnotationOnly(chunk)) return;
        fillIdentity(chunk, 'chat.completion.chunk', identity);
        const typed = chunk as unknown as ChatCompletionChunk;
        if (Array.isArray(typed.choices) && typed.choices.some((choice) => choice.finish_reason != null))
          state.finished = true;
        pending.push(typed);
      },
    });
    try {
      const decoder = new TextDecoder();
      for await (const bytes of this.client.streamBody(response, call)) {
        parser.feed(decoder.decode(bytes, { stream: true }));
        while (pending.length > 0) yield pending.shift() as ChatCompletionChunk;
        if (state.failure !== null) throw state.failure;
        if (state.done) break;
      }
    } catch (error) {
      throw this.client.mapTransportError(error, call, 'answer');
    } finally {
      if (!response.body.destroyed) response.body.destroy();
    }
    if (!state.done && !state.finished) {
      throw new UpstreamError(`Backend '${this.name}' ended the stream before the answer was complete`);
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The id and created a stream's chunks share: the first chunk's, or made up once. */
interface StreamIdentity {
  id: string | null;
  created: number | null;
}

/**
 * Fills in what llama.cpp's server and some proxies leave out and strict clients require (the AI SDK's
 * schemas, say): `id` (a made-up `chatcmpl-...`), `object`, `created` (now) and each choice's `index`
 * (its position); `choices` of a chunk, when missing, is empty. Values that are there are kept as they
 * are, and an answer that has them all is left untouched. A stream's chunks get one id and one created.
 */
function fillIdentity(answer: Record<string, unknown>, object: string, stream: StreamIdentity | null): void {
  if (typeof answer['id'] === 'string') {
    if (stream !== null) stream.id ??= answer['id'];
  } else if (stream === null) answer['id'] = completionId();
  else answer['id'] = stream.id ??= completionId();
  if (typeof answer['created'] === 'number') {
    if (stream !== null) stream.created ??= answer['created'];
  } else if (stream === null) answer['created'] = nowSeconds();
  else answer['created'] = stream.created ??= nowSeconds();
  if (typeof answer['object'] !== 'string') answer['object'] = object;
  const choices = answer['choices'];
  if (!Array.isArray(choices)) {
    if (choices == null) answer['choices'] = [];
    return;
  }
  choices.forEach((choice: unknown, position) => {
    if (isObject(choice) && typeof choice['index'] !== 'number') choice['index'] = position;
  });
}

/**
 * Puts every embedding of `data` in the encoding the client asked for: an upstream that ignores
 * `encoding_format` (the `openai` SDK asks for base64 by default) would otherwise hand the client float
 * arrays it decodes as base64, or base64 it never decodes. Returns the index of an embedding that is a
 * string but not base64 float32, else null.
 */
function toEncoding(data: unknown[], encoding: 'float' | 'base64'): number | null {
  for (let position = 0; position < data.length; position++) {
    const item = data[position];
    if (!isObject(item)) continue;
    const embedding = item['embedding'];
    if (encoding === 'base64' && Array.isArray(embedding)) {
      item['embedding'] = floatsToBase64(embedding as number[]);
    } else if (encoding === 'float' && typeof embedding === 'string') {
      const vector = base64ToFloats(embedding);
      if (vector === null) return typeof item['index'] === 'number' ? item['index'] : position;
      item['embedding'] = vector;
    }
  }
  return null;
}
