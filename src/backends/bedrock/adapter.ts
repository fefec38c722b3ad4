import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../../api/schemas.js';
import type { BackendConfig } from '../../config/config.js';
import type { StreamEvent } from '../../conversation/model.js';
import {
  GatewayError,
  InvalidRequestError,
  UpstreamClientError,
  UpstreamError,
} from '../../errors/errors.js';
import { ChunkEncoder } from '../../protocols/openai-chat/chunk-encoder.js';
import { fromAnswer, fromChatRequest } from '../../protocols/openai-chat/to-conversation.js';
import type { BackendAdapter, UpstreamCall } from '../adapter.js';
import { floatsToBase64 } from '../embedding-encoding.js';
import { UpstreamClient, parseRetryAfter, type UpstreamResponse } from '../http/upstream-client.js';
import { redactSecrets } from '../http/redact.js';
import { completionId, nowSeconds } from '../ids.js';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { decodeEventStream } from './event-stream.js';
import {
  ConverseStreamTranslator,
  fromCohereEmbeddings,
  fromConverseResponse,
  fromTitanEmbedding,
  httpError,
  streamExceptionError,
} from './from-provider.js';
import { BedrockSigner } from './sign.js';
import {
  COHERE_MAX_TEXTS,
  cohereEmbeddingBody,
  conversePath,
  embeddingFamily,
  invokePath,
  titanEmbeddingBody,
  toConverseRequest,
  type BedrockRequestPolicy,
} from './to-provider.js';

/** Titan embeds one text a request: this many requests at once for one client request. */
export const TITAN_CONCURRENCY = 4;

const EVENT_STREAM = 'application/vnd.amazon.eventstream';
const MAX_MESSAGE = 500;

export interface BedrockAdapterOptions {
  /** Replaces the AWS credential chain (tests only). */
  readonly credentials?: AwsCredentialIdentityProvider;
}

/**
 * AWS Bedrock Runtime: chat through the Converse API (ConverseStream's binary event stream when
 * streaming), embeddings through InvokeModel (Titan Text Embeddings, Cohere Embed), every request
 * signed with SigV4 for the backend's region. docs/providers.md, Bedrock.
 */
export class BedrockAdapter implements BackendAdapter {
  readonly type = 'bedrock';
  readonly name: string;
  private readonly client: UpstreamClient;
  private readonly signer: BedrockSigner;
  private readonly policy: BedrockRequestPolicy;
  /** The AWS credentials last signed with, longest first: removed from whatever Bedrock sends back. */
  private credentialSecrets: string[] = [];

  constructor(
    private readonly backend: BackendConfig,
    options: BedrockAdapterOptions = {},
  ) {
    this.name = backend.name;
    if (backend.region === null) throw new Error(`backend '${backend.name}' of type bedrock has no region`);
    this.signer = new BedrockSigner(backend.region, options.credentials);
    this.client = new UpstreamClient(backend, {
      authHeaders: {},
      mapError: (status, text, headers) => this.errorOf(status, text, headers),
    });
    this.policy = { backend: backend.name, dropUnsupported: backend.dropUnsupported };
  }

  async chat(request: ChatCompletionRequest, call: UpstreamCall): Promise<ChatCompletion> {
    const body = this.converseBody(request, call);
    const response = await this.post(conversePath(request.model, false), body, call, 'application/json');
    const answer = fromConverseResponse(await this.client.readJson(response, call), {
      id: completionId(),
      created: nowSeconds(),
      model: request.model,
    });
    if (answer === null) throw new UpstreamError(`Backend '${this.name}' answered without an output message`);
    return fromAnswer(answer);
  }

  /**
   * Resolves with the first chunk read, so that an exception Bedrock sends as the stream's first event
   * (a throttlingException, say) is an ordinary error response, retried like an HTTP 429.
   */
  async chatStream(
    request: ChatCompletionRequest,
    call: UpstreamCall,
  ): Promise<AsyncIterable<ChatCompletionChunk>> {
    const body = this.converseBody(request, call);
    const response = await this.post(conversePath(request.model, true), body, call, EVENT_STREAM);
    const chunks = this.readStream(response, request.model, call);
    const first = await chunks.next();
    return (async function* () {
      if (first.done === true) return;
      yield first.value;
      yield* chunks;
    })();
  }

  async embeddings(request: EmbeddingsRequest, call: UpstreamCall): Promise<EmbeddingsResponse> {
    const family = embeddingFamily(request.model);
    if (family === null) {
      throw new InvalidRequestError(
        `Backend '${this.name}' embeds with Titan Text Embeddings (amazon.titan-embed-*) and Cohere Embed (cohere.embed-*) models only, not '${request.model.slice(0, 128)}'`,
        { param: 'model' },
      );
    }
    const input = request.input;
    const texts = typeof input === 'string' ? [input] : (input as unknown[]);
    if (!texts.every((text): text is string => typeof text === 'string'))
      throw new InvalidRequestError('Bedrock embedding models take text input, not token arrays', {
        param: 'input',
      });
    const dimensions = typeof request.dimensions === 'number' ? request.dimensions : undefined;
    const path = invokePath(request.model);
    let vectors: number[][];
    let tokens = 0;
    if (family === 'titan') {
      const bodies = texts.map((text) => JSON.stringify(titanEmbeddingBody(text, dimensions)));
      const results = await mapBounded(bodies, TITAN_CONCURRENCY, async (body) => {
        const response = await this.post(path, body, call, 'application/json');
        const answer = fromTitanEmbedding(await this.client.readJson(response, call));
        if (answer === null) throw new UpstreamError(`Backend '${this.name}' answered without an embedding`);
        return answer;
      });
      vectors = results.map((result) => result.vector);
      tokens = results.reduce((sum, result) => sum + result.tokens, 0);
    } else {
      vectors = [];
      for (let start = 0; start < texts.length; start += COHERE_MAX_TEXTS) {
        const batch = texts.slice(start, start + COHERE_MAX_TEXTS);
        const body = JSON.stringify(cohereEmbeddingBody(batch, dimensions));
        const response = await this.post(path, body, call, 'application/json');
        tokens += Number(response.headers['x-amzn-bedrock-input-token-count'] ?? 0) || 0;
        const answer = fromCohereEmbeddings(await this.client.readJson(response, call), batch.length);
        if (answer === null) throw new UpstreamError(`Backend '${this.name}' answered without embeddings`);
        vectors.push(...answer);
      }
    }
    const base64 = request.encoding_format === 'base64';
    return {
      object: 'list',
      data: vectors.map((vector, index) => ({
        object: 'embedding' as const,
        index,
        embedding: base64 ? floatsToBase64(vector) : vector,
      })),
      model: request.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  }

  /**
   * Bedrock lists its models on another host (bedrock.{region}.amazonaws.com, ListFoundationModels),
   * with another permission: discovery is not offered, and a pattern route to a bedrock backend passes
   * client names on unlisted.
   */
  listModels(): Promise<string[]> {
    return Promise.resolve([]);
  }

  /**
   * A health check that costs nothing: the credentials must resolve, and a signed GET of `path` must get
   * an answer from Bedrock that is not a refusal of those credentials. Bedrock answers a path it has no
   * operation for with a 4xx of its own after checking the signature, so any 4xx but 401/403 passes.
   */
  async probe(path: string, call: UpstreamCall): Promise<void> {
    try {
      const response = await this.client.get(path, call, await this.signedHeaders('GET', path, null, {}));
      await response.body.dump();
    } catch (error) {
      if (error instanceof UpstreamClientError && error.status !== 429) return;
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private converseBody(request: ChatCompletionRequest, call: UpstreamCall): string {
    const conversation = fromChatRequest(request);
    const translation = toConverseRequest({ ...conversation, model: request.model }, this.policy);
    if (translation.dropped.length > 0) call.onDropped?.(translation.dropped);
    return JSON.stringify(translation.request);
  }

  private async post(
    path: string,
    body: string,
    call: UpstreamCall,
    accept: string,
  ): Promise<UpstreamResponse> {
    const headers = await this.signedHeaders('POST', path, body, { 'content-type': 'application/json' });
    return this.client.postJson(path, body, call, accept, headers);
  }

  /** The signature headers; a chain that finds no credentials is the gateway's fault, said as such. */
  private async signedHeaders(
    method: 'GET' | 'POST',
    path: string,
    body: string | null,
    headers: Record<string, string>,
  ): Promise<Record<string, string>> {
    try {
      const credentials = await this.signer.credentials();
      this.credentialSecrets = [
        credentials.sessionToken,
        credentials.secretAccessKey,
        credentials.accessKeyId,
      ]
        .filter((value): value is string => typeof value === 'string' && value.length >= 8)
        .sort((a, b) => b.length - a.length);
      return await this.signer.sign({ method, url: this.backend.url, path, headers, body });
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      throw new UpstreamError(
        `Backend '${this.name}' has no usable AWS credentials (${this.redact(error instanceof Error ? error.message : String(error)).slice(0, 200)}); give the gateway credentials through the AWS chain: environment, shared profile, web identity or an instance/container role`,
      );
    }
  }

  private redact(text: string): string {
    return redactSecrets(this.client.redact(text), this.credentialSecrets);
  }

  private messageOf(text: string): string | null {
    let message: unknown = null;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed !== null && typeof parsed === 'object')
        message =
          (parsed as Record<string, unknown>)['message'] ?? (parsed as Record<string, unknown>)['Message'];
    } catch {
      message = text.trim();
    }
    if (typeof message !== 'string' || message === '') return null;
    const redacted = this.redact(message);
    return redacted.length > MAX_MESSAGE ? `${redacted.slice(0, MAX_MESSAGE)}…` : redacted;
  }

  private errorOf(status: number, text: string, headers: UpstreamResponse['headers']): GatewayError {
    const type = headers['x-amzn-errortype'];
    const retryAfterMs = parseRetryAfter(headers['retry-after']);
    const credentialRefusal = status === 401 || status === 403;
    return httpError(
      this.name,
      status,
      typeof type === 'string' ? this.redact(type) : null,
      // A refusal of the credentials may quote them: its message is not passed on.
      credentialRefusal ? null : this.messageOf(text),
      retryAfterMs,
    );
  }

  /** ConverseStream's frames → the model's events → chat completion chunks, as they arrive. */
  private async *readStream(
    response: UpstreamResponse,
    model: string,
    call: UpstreamCall,
  ): AsyncGenerator<ChatCompletionChunk> {
    const translator = new ConverseStreamTranslator({ id: completionId(), created: nowSeconds(), model });
    const encoder = new ChunkEncoder();
    let usageSeen = false;
    try {
      for await (const message of decodeEventStream(this.client.streamBody(response, call))) {
        if (message.kind === 'exception') {
          throw streamExceptionError(this.name, message.type, this.messageOf(message.payload));
        }
        if (message.kind === 'error') {
          throw new UpstreamError(
            `Backend '${this.name}' failed during the stream (${message.type.slice(0, 64)})${message.payload === '' ? '' : `: ${this.redact(message.payload).slice(0, MAX_MESSAGE)}`}`,
          );
        }
        let payload: unknown;
        try {
          payload = JSON.parse(message.payload === '' ? '{}' : message.payload);
        } catch {
          throw new UpstreamError(`Backend '${this.name}' sent a stream event that is not JSON`);
        }
        const events: StreamEvent[] = translator.event(message.type, payload);
        for (const event of events) {
          if (event.type === 'usage') usageSeen = true;
          yield* encoder.encode(event);
        }
        if (translator.complete && usageSeen) break;
      }
    } catch (error) {
      throw this.client.mapTransportError(error, call, 'answer');
    } finally {
      if (!response.body.destroyed) response.body.destroy();
    }
    if (!translator.complete)
      throw new UpstreamError(`Backend '${this.name}' ended the stream before the answer was complete`);
  }
}

/** `map` with at most `limit` calls in flight; results in input order; the first failure rejects. */
async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
