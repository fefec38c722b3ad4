import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../../api/schemas.js';
import type { BackendConfig } from '../../config/config.js';
import type { StreamEvent } from '../../conversation/model.js';
import type { GatewayError } from '../../errors/errors.js';
import { InvalidRequestError, UpstreamClientError, UpstreamError } from '../../errors/errors.js';
import { ChunkEncoder } from '../../protocols/openai-chat/chunk-encoder.js';
import { fromAnswer, fromChatRequest } from '../../protocols/openai-chat/to-conversation.js';
import type { BackendAdapter, UpstreamCall } from '../adapter.js';
import { parseRetryAfter, UpstreamClient, type UpstreamResponse } from '../http/upstream-client.js';
import { nowSeconds } from '../ids.js';
import { AnthropicStreamDecoder, AnthropicStreamError, fromAnthropicMessage } from './from-provider.js';
import { toAnthropicRequest, type AnthropicPolicy, type AnthropicTranslation } from './to-provider.js';

/** The API version every request names (Anthropic's header; the Messages API has had no other). */
export const ANTHROPIC_VERSION = '2023-06-01';

/** Pages of GET /v1/models read at most (1000 models each): the list is bounded whatever the upstream says. */
const MAX_MODEL_PAGES = 20;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Anthropic's error `type` from an error body (`{"type":"error","error":{"type":...,"message":...}}`). */
function errorType(text: string): string | null {
  try {
    const parsed = JSON.parse(text) as unknown;
    const error = isObject(parsed) ? parsed['error'] : null;
    return isObject(error) && typeof error['type'] === 'string' ? error['type'] : null;
  } catch {
    return null;
  }
}

/**
 * Anthropic's Messages API (`type: anthropic`): POST /v1/messages with `x-api-key` and
 * `anthropic-version`, through the conversation model (to-provider.ts, from-provider.ts). Answers and
 * streams leave as OpenAI chat completions, the pipeline's carrier.
 */
export class AnthropicAdapter implements BackendAdapter {
  readonly type = 'anthropic';
  readonly name: string;
  private readonly client: UpstreamClient;
  private readonly policy: AnthropicPolicy;

  constructor(backend: BackendConfig) {
    this.name = backend.name;
    this.client = new UpstreamClient(backend, {
      authHeaders: {
        ...(backend.apiKey === null ? {} : { 'x-api-key': backend.apiKey }),
        'anthropic-version': ANTHROPIC_VERSION,
      },
      mapError: (status, text, headers) => this.mapError(status, text, headers),
    });
    this.policy = { backend: backend.name, dropUnsupported: backend.dropUnsupported };
  }

  async chat(request: ChatCompletionRequest, call: UpstreamCall): Promise<ChatCompletion> {
    const translation = this.translate(request, false, call);
    const response = await this.client.postJson('/v1/messages', JSON.stringify(translation.request), call);
    const message = await this.client.readJson(response, call);
    if (!isObject(message) || message['type'] !== 'message' || !Array.isArray(message['content'])) {
      throw new UpstreamError(`Backend '${this.name}' answered without a message`);
    }
    return fromAnswer(fromAnthropicMessage(message, nowSeconds(), request.model, translation.structuredTool));
  }

  async chatStream(
    request: ChatCompletionRequest,
    call: UpstreamCall,
  ): Promise<AsyncIterable<ChatCompletionChunk>> {
    const translation = this.translate(request, true, call);
    const response = await this.client.postJson(
      '/v1/messages',
      JSON.stringify(translation.request),
      call,
      'text/event-stream',
    );
    return this.readEvents(response, request.model, translation, call);
  }

  /** The Anthropic request; fields dropped under drop_unsupported are reported to the caller. */
  private translate(
    request: ChatCompletionRequest,
    stream: boolean,
    call: UpstreamCall,
  ): AnthropicTranslation {
    const conversation = { ...fromChatRequest(request), stream };
    const translation = toAnthropicRequest(conversation, this.policy);
    if (translation.dropped.length > 0) call.onDropped?.(translation.dropped);
    return translation;
  }

  embeddings(_request: EmbeddingsRequest, _call: UpstreamCall): Promise<EmbeddingsResponse> {
    return Promise.reject(
      new InvalidRequestError(
        `Backend '${this.name}' is Anthropic's Messages API, which has no embeddings; route embedding models to another backend`,
        { param: 'model' },
      ),
    );
  }

  /** GET /v1/models, page by page (`has_more`, `last_id` → `after_id`). */
  async listModels(call: UpstreamCall): Promise<string[]> {
    const models: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < MAX_MODEL_PAGES; page++) {
      const query = `?limit=1000${after === null ? '' : `&after_id=${encodeURIComponent(after)}`}`;
      const answer = await this.client.readJson(await this.client.get(`/v1/models${query}`, call), call);
      const data = isObject(answer) ? answer['data'] : undefined;
      if (!Array.isArray(data)) throw new UpstreamError(`Backend '${this.name}' listed no models`);
      for (const model of data)
        if (isObject(model) && typeof model['id'] === 'string') models.push(model['id']);
      const last = isObject(answer) ? answer['last_id'] : null;
      if (!isObject(answer) || answer['has_more'] !== true || typeof last !== 'string' || last === after)
        break;
      after = last;
    }
    return models;
  }

  async probe(path: string, call: UpstreamCall): Promise<void> {
    const response = await this.client.get(path, call);
    await response.body.dump();
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /**
   * Anthropic's errors (https://docs.anthropic.com/en/api/errors): 529 overloaded_error is a retryable
   * 503 with the upstream's Retry-After; a 404 not_found_error for a model is the client's unknown
   * model. The rest keep the generic mapping (5xx retryable 502, 429 retryable with Retry-After, 400 with
   * Anthropic's message, 401/403 as the backend's refused credentials).
   */
  private mapError(
    status: number,
    text: string,
    headers: UpstreamResponse['headers'],
  ): GatewayError | undefined {
    const type = errorType(text);
    if (status === 529 || type === 'overloaded_error') {
      const retryAfterMs = parseRetryAfter(headers['retry-after']);
      return new UpstreamError(`Backend '${this.name}' is overloaded (${status}); retry later`, {
        status: 503,
        retryable: true,
        retryAfterMs,
        headers: retryAfterMs === null ? {} : { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) },
      });
    }
    // Anthropic's unknown model: `not_found_error` with "model: <name>" (a wrong path says no model).
    const message = status === 404 && type === 'not_found_error' ? this.client.messageOf(text) : null;
    if (message !== null && /\bmodel\b/i.test(message))
      return new UpstreamClientError('model_not_found', 404, `Backend '${this.name}': ${message}`, {});
    return undefined;
  }

  /** Translates each server-sent event as it arrives. */
  private async *readEvents(
    response: UpstreamResponse,
    model: string,
    translation: AnthropicTranslation,
    call: UpstreamCall,
  ): AsyncGenerator<ChatCompletionChunk> {
    const decoder = new AnthropicStreamDecoder(nowSeconds(), model, translation.structuredTool);
    const encoder = new ChunkEncoder();
    const pending: StreamEvent[] = [];
    const state: { failure: Error | null } = { failure: null };
    const parser = createParser({
      onEvent: (event: EventSourceMessage) => {
        if (state.failure !== null || decoder.done) return;
        let data: unknown;
        try {
          data = JSON.parse(event.data);
        } catch {
          state.failure = new UpstreamError(`Backend '${this.name}' sent a stream event that is not JSON`);
          return;
        }
        if (!isObject(data)) {
          state.failure = new UpstreamError(
            `Backend '${this.name}' sent a stream event that is not an object`,
          );
          return;
        }
        try {
          pending.push(...decoder.decode(event.event ?? '', data));
        } catch (error) {
          state.failure = this.streamFailure(error);
        }
      },
    });
    try {
      const text = new TextDecoder();
      for await (const bytes of this.client.streamBody(response, call)) {
        parser.feed(text.decode(bytes, { stream: true }));
        while (pending.length > 0) yield* encoder.encode(pending.shift() as StreamEvent);
        if (state.failure !== null) throw state.failure;
        if (decoder.done) break;
      }
    } catch (error) {
      throw this.client.mapTransportError(error, call, 'answer');
    } finally {
      if (!response.body.destroyed) response.body.destroy();
    }
    if (!decoder.done)
      throw new UpstreamError(`Backend '${this.name}' ended the stream before the answer was complete`);
  }

  private streamFailure(error: unknown): Error {
    if (!(error instanceof AnthropicStreamError)) return error as Error;
    const message = this.client.redact(error.message).slice(0, 500);
    const overloaded = error.errorType === 'overloaded_error';
    return new UpstreamError(
      `Backend '${this.name}' failed during the stream (${error.errorType.slice(0, 64)})${message === '' ? '' : `: ${message}`}`,
      overloaded ? { status: 503, retryable: true } : {},
    );
  }
}
