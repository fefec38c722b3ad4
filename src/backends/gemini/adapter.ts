/**
 * Google's generateContent API, in its two homes: the Gemini API (`gemini`, Google AI Studio's key) and
 * Vertex AI (`vertex`, a Google Cloud project's OAuth credentials). One translator (to-provider.ts,
 * from-provider.ts) serves both; they differ in paths, auth (auth.ts) and embeddings.
 *
 *   gemini: {url}/v1beta/models/{model}:generateContent, :streamGenerateContent?alt=sse
 *   vertex: {url}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:...
 */
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
import { InvalidRequestError, UpstreamError } from '../../errors/errors.js';
import { ChunkEncoder } from '../../protocols/openai-chat/chunk-encoder.js';
import { fromAnswer } from '../../protocols/openai-chat/to-conversation.js';
import type { BackendAdapter, UpstreamCall } from '../adapter.js';
import { UpstreamClient, type UpstreamResponse } from '../http/upstream-client.js';
import { completionId, nowSeconds } from '../ids.js';
import {
  apiKeyCredentials,
  oauthCredentials,
  type AccessTokenSource,
  type GoogleCredentials,
} from './auth.js';
import {
  embeddingInputs,
  fromBatchEmbedResponse,
  fromPredictResponse,
  GEMINI_EMBED_BATCH,
  toBatchEmbedRequest,
  toEmbeddingsResponse,
  toPredictRequest,
  vertexEmbedBatch,
} from './embeddings.js';
import { mapGoogleError, parseGoogleError } from './errors.js';
import { fromGeminiResponse, GeminiStreamDecoder } from './from-provider.js';
import { toGeminiRequestFromChat, type GeminiRequestPolicy } from './to-provider.js';
import type { GeminiResponse } from './wire.js';

/** Pages of GET /v1beta/models read at most (1,000 names each). */
const MAX_MODEL_PAGES = 10;
/** Upstream calls of one embeddings request under way at once (Vertex takes one input per call for gemini-embedding). */
const EMBED_CONCURRENCY = 4;
/** A model name as it may stand in a path segment: Google's names (gemini-2.5-flash, text-embedding-005, ...). */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

export interface GeminiAdapterOptions {
  /** vertex: where tokens come from (google-auth-library's GoogleAuth unless a test says otherwise). */
  readonly tokenSource?: AccessTokenSource;
}

export class GeminiAdapter implements BackendAdapter {
  readonly type: 'gemini' | 'vertex';
  readonly name: string;
  private readonly client: UpstreamClient;
  private readonly credentials: GoogleCredentials & { token?: (call: UpstreamCall) => Promise<string> };
  private readonly policy: GeminiRequestPolicy;
  /** The path before `{model}:method`. */
  private readonly modelsPath: string;

  constructor(backend: BackendConfig, options: GeminiAdapterOptions = {}) {
    if (backend.type !== 'gemini' && backend.type !== 'vertex') {
      throw new Error(`GeminiAdapter serves gemini and vertex backends, not ${backend.type}`);
    }
    this.type = backend.type;
    this.name = backend.name;
    if (backend.type === 'gemini') {
      this.credentials = apiKeyCredentials(backend);
      this.modelsPath = '/v1beta/models/';
    } else {
      if (backend.project === null || backend.location === null) {
        throw new Error(`backend '${backend.name}' of type vertex needs a project and a location`);
      }
      this.credentials = oauthCredentials(backend, options.tokenSource);
      this.modelsPath = `/v1/projects/${encodeURIComponent(backend.project)}/locations/${encodeURIComponent(backend.location)}/publishers/google/models/`;
    }
    const context = {
      backend: backend.name,
      credentials: this.credentials.hint,
      redact: (text: string) => this.client.redact(text),
    };
    this.client = new UpstreamClient(backend, {
      authHeaders: this.credentials.staticHeaders,
      mapError: (status, text, headers) => mapGoogleError(status, text, headers['retry-after'], context),
    });
    this.policy = { backend: backend.name, dropUnsupported: backend.dropUnsupported };
  }

  async chat(request: ChatCompletionRequest, call: UpstreamCall): Promise<ChatCompletion> {
    const body = JSON.stringify(this.translate(request, call));
    const response = await this.post(this.methodPath(request.model, 'generateContent'), body, call);
    const answer = await this.client.readJson(response, call);
    if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) {
      throw new UpstreamError(
        `Backend '${this.name}' answered with something other than a GenerateContentResponse`,
      );
    }
    const meta = { id: completionId(), created: nowSeconds(), model: request.model, backend: this.name };
    return fromAnswer(fromGeminiResponse(answer, meta));
  }

  /**
   * Resolves once Google's first event is in: a prompt Google blocks answers 200 with an event that says
   * so, and must become an ordinary error response, not a broken stream.
   */
  async chatStream(
    request: ChatCompletionRequest,
    call: UpstreamCall,
  ): Promise<AsyncIterable<ChatCompletionChunk>> {
    const body = JSON.stringify(this.translate(request, call));
    const path = `${this.methodPath(request.model, 'streamGenerateContent')}?alt=sse`;
    const response = await this.post(path, body, call, 'text/event-stream');
    const chunks = this.readEvents(response, request.model, call);
    const first = await chunks.next();
    return (async function* () {
      if (first.done === true) return;
      yield first.value;
      yield* chunks;
    })();
  }

  async embeddings(request: EmbeddingsRequest, call: UpstreamCall): Promise<EmbeddingsResponse> {
    const inputs = embeddingInputs(request);
    const model = this.modelName(request.model);
    const batch = this.type === 'gemini' ? GEMINI_EMBED_BATCH : vertexEmbedBatch(model);
    const batches: string[][] = [];
    for (let start = 0; start < inputs.length; start += batch)
      batches.push(inputs.slice(start, start + batch));
    const results = new Array<{ vectors: number[][]; tokens: number }>(batches.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < batches.length) {
        const at = next++;
        results[at] = await this.embedBatch(model, batches[at] as string[], request.dimensions, call);
      }
    };
    await Promise.all(Array.from({ length: Math.min(EMBED_CONCURRENCY, batches.length) }, worker));
    const vectors = results.flatMap((result) => result.vectors);
    const tokens = results.reduce((sum, result) => sum + result.tokens, 0);
    return toEmbeddingsResponse(vectors, request.model, tokens, request.encoding_format ?? 'float');
  }

  private async embedBatch(
    model: string,
    inputs: string[],
    dimensions: number | undefined,
    call: UpstreamCall,
  ): Promise<{ vectors: number[][]; tokens: number }> {
    if (this.type === 'gemini') {
      const body = JSON.stringify(toBatchEmbedRequest(model, inputs, dimensions));
      const response = await this.post(`${this.modelsPath}${model}:batchEmbedContents`, body, call);
      const vectors = fromBatchEmbedResponse(
        await this.client.readJson(response, call),
        inputs.length,
        this.name,
      );
      return { vectors, tokens: 0 };
    }
    const body = JSON.stringify(toPredictRequest(inputs, dimensions));
    const response = await this.post(`${this.modelsPath}${model}:predict`, body, call);
    return fromPredictResponse(await this.client.readJson(response, call), inputs.length, this.name);
  }

  /**
   * gemini: GET /v1beta/models, page by page (names "models/x" → "x"). vertex: none; Vertex AI has no
   * list of the Google models a project may call (Model Garden's listing is a v1beta1 catalogue).
   */
  async listModels(call: UpstreamCall): Promise<string[]> {
    if (this.type === 'vertex') return [];
    const names: string[] = [];
    let pageToken: string | null = null;
    for (let page = 0; page < MAX_MODEL_PAGES; page++) {
      const query: string = pageToken === null ? '' : `&pageToken=${encodeURIComponent(pageToken)}`;
      const answer = await this.client.readJson(
        await this.client.get(`/v1beta/models?pageSize=1000${query}`, call),
        call,
      );
      const models = (answer as { models?: unknown } | null)?.models;
      if (!Array.isArray(models)) throw new UpstreamError(`Backend '${this.name}' listed no models`);
      for (const model of models) {
        const name = (model as { name?: unknown } | null)?.name;
        if (typeof name === 'string' && name !== '')
          names.push(name.startsWith('models/') ? name.slice(7) : name);
      }
      const nextToken = (answer as { nextPageToken?: unknown }).nextPageToken;
      if (typeof nextToken !== 'string' || nextToken === '') break;
      pageToken = nextToken;
    }
    return names;
  }

  /**
   * gemini: GETs `path` (by default a one-model page of /v1beta/models: checks the key, costs nothing).
   * vertex: obtains an access token (from the library's cache while it is valid: checks the credentials
   * and Google's token service, costs nothing), then GETs `path` when one is configured; by default
   * there is none, as Vertex has no free endpoint every project may read.
   */
  async probe(path: string, call: UpstreamCall): Promise<void> {
    const headers = await this.credentials.requestHeaders(call);
    if (path === '') return;
    const response = await this.client.get(path, call, headers);
    await response.body.dump();
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** The Google request; fields dropped under drop_unsupported are reported to the caller. */
  private translate(request: ChatCompletionRequest, call: UpstreamCall): unknown {
    const translation = toGeminiRequestFromChat(request, this.policy);
    if (translation.dropped.length > 0) call.onDropped?.(translation.dropped);
    return translation.request;
  }

  private async post(
    path: string,
    body: string,
    call: UpstreamCall,
    accept?: string,
  ): Promise<UpstreamResponse> {
    const headers = await this.credentials.requestHeaders(call);
    return this.client.postJson(path, body, call, accept, headers);
  }

  /** A model's name as it stands in a path ("models/x" as "x"); a name that could change the path is refused. */
  private modelName(model: string): string {
    const name = model.startsWith('models/') ? model.slice(7) : model;
    if (!MODEL_NAME.test(name)) {
      throw new InvalidRequestError(
        `Backend '${this.name}' takes Google model names (letters, digits, '.', '-', '_', '@'), not '${name.slice(0, 64)}'`,
        { param: 'model' },
      );
    }
    return name;
  }

  private methodPath(model: string, method: string): string {
    return `${this.modelsPath}${this.modelName(model)}:${method}`;
  }

  /** Translates each SSE event as it arrives; a stream that ends before every choice finished is an error. */
  private async *readEvents(
    response: UpstreamResponse,
    model: string,
    call: UpstreamCall,
  ): AsyncGenerator<ChatCompletionChunk> {
    const decoder = new GeminiStreamDecoder({
      id: completionId(),
      created: nowSeconds(),
      model,
      backend: this.name,
    });
    const encoder = new ChunkEncoder();
    const pending: StreamEvent[] = [];
    const state: { failure: Error | null } = { failure: null };
    const parser = createParser({
      onEvent: (event: EventSourceMessage) => {
        if (state.failure !== null) return;
        try {
          pending.push(...decoder.decode(this.parseEvent(event.data)));
        } catch (error) {
          state.failure =
            error instanceof Error
              ? error
              : new UpstreamError(`Backend '${this.name}' sent an unreadable event`);
        }
      },
    });
    try {
      const text = new TextDecoder();
      for await (const bytes of this.client.streamBody(response, call)) {
        parser.feed(text.decode(bytes, { stream: true }));
        while (pending.length > 0) yield* encoder.encode(pending.shift() as StreamEvent);
        if (state.failure !== null) throw state.failure;
      }
    } catch (error) {
      throw this.client.mapTransportError(error, call, 'answer');
    } finally {
      if (!response.body.destroyed) response.body.destroy();
    }
    if (!decoder.complete) {
      throw new UpstreamError(`Backend '${this.name}' ended the stream before the answer was complete`);
    }
    for (const event of decoder.finish()) yield* encoder.encode(event);
  }

  private parseEvent(data: string): GeminiResponse {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      throw new UpstreamError(`Backend '${this.name}' sent a stream event that is not JSON`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new UpstreamError(`Backend '${this.name}' sent a stream event that is not an object`);
    }
    if ('error' in parsed) {
      const status = parseGoogleError(data);
      const message = this.client.redact(status?.message ?? 'unknown error').slice(0, 500);
      throw new UpstreamError(
        `Backend '${this.name}' failed during the stream (${status?.status ?? 'error'}): ${message}`,
        { retryable: status?.code === 429 || (status?.code ?? 500) >= 500 },
      );
    }
    return parsed;
  }
}
