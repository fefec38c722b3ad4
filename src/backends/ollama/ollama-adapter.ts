import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../../api/schemas.js';
import type { BackendConfig } from '../../config/config.js';
import { InvalidRequestError, UpstreamError } from '../../errors/errors.js';
import type { BackendAdapter, UpstreamCall } from '../adapter.js';
import { UpstreamClient, type UpstreamResponse } from '../http/upstream-client.js';
import { completionId, nowSeconds } from '../ids.js';
import {
  fromOllamaChatResponse,
  fromOllamaEmbedResponse,
  fromOllamaStreamLine,
  newStreamState,
  toOllamaChatRequest,
  type OllamaChatRequest,
  type OllamaChatResponse,
  type OllamaEmbedResponse,
  type OllamaRequestPolicy,
} from './convert.js';

/** Ollama's native API: /api/chat (NDJSON when streaming) and /api/embed. */
export class OllamaAdapter implements BackendAdapter {
  readonly type = 'ollama';
  readonly name: string;
  private readonly client: UpstreamClient;
  private readonly policy: OllamaRequestPolicy;

  constructor(backend: BackendConfig) {
    this.name = backend.name;
    this.client = new UpstreamClient(backend);
    this.policy = { backend: backend.name, dropUnsupported: backend.dropUnsupported };
  }

  async chat(request: ChatCompletionRequest, call: UpstreamCall): Promise<ChatCompletion> {
    const body = JSON.stringify(this.translate(request, false, call));
    const response = await this.client.postJson('/api/chat', body, call);
    const answer = (await this.client.readJson(response, call)) as OllamaChatResponse | null;
    if (answer === null || typeof answer !== 'object' || answer.message === undefined) {
      throw new UpstreamError(`Backend '${this.name}' answered without a message`);
    }
    return fromOllamaChatResponse(answer, completionId(), nowSeconds(), request.model);
  }

  async chatStream(
    request: ChatCompletionRequest,
    call: UpstreamCall,
  ): Promise<AsyncIterable<ChatCompletionChunk>> {
    const body = JSON.stringify(this.translate(request, true, call));
    const response = await this.client.postJson('/api/chat', body, call, 'application/x-ndjson');
    return this.readLines(response, request.model, call);
  }

  /** The Ollama request; fields dropped under drop_unsupported are reported to the caller. */
  private translate(request: ChatCompletionRequest, stream: boolean, call: UpstreamCall): OllamaChatRequest {
    const translation = toOllamaChatRequest(request, stream, this.policy);
    if (translation.dropped.length > 0) call.onDropped?.(translation.dropped);
    return translation.request;
  }

  async embeddings(request: EmbeddingsRequest, call: UpstreamCall): Promise<EmbeddingsResponse> {
    if (typeof request.input !== 'string' && typeof request.input[0] !== 'string') {
      throw new InvalidRequestError('Ollama backends take text input, not token arrays', { param: 'input' });
    }
    const upstream: Record<string, unknown> = { model: request.model, input: request.input };
    if (request.dimensions !== undefined) upstream['dimensions'] = request.dimensions;
    const response = await this.client.postJson('/api/embed', JSON.stringify(upstream), call);
    const answer = (await this.client.readJson(response, call)) as OllamaEmbedResponse | null;
    if (answer === null || typeof answer !== 'object' || !Array.isArray(answer.embeddings)) {
      throw new UpstreamError(`Backend '${this.name}' answered without embeddings`);
    }
    return fromOllamaEmbedResponse(answer, request.model, request.encoding_format ?? 'float');
  }

  async listModels(call: UpstreamCall): Promise<string[]> {
    const answer = await this.client.readJson(await this.client.get('/api/tags', call), call);
    const models =
      answer !== null && typeof answer === 'object' ? (answer as { models?: unknown }).models : null;
    if (!Array.isArray(models)) throw new UpstreamError(`Backend '${this.name}' listed no models`);
    return models.flatMap((model: unknown) => {
      const name = model !== null && typeof model === 'object' ? (model as { name?: unknown }).name : null;
      return typeof name === 'string' ? [name] : [];
    });
  }

  async probe(path: string, call: UpstreamCall): Promise<void> {
    const response = await this.client.get(path, call);
    await response.body.dump();
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Translates each NDJSON line as it arrives; nothing is buffered beyond one incomplete line. */
  private async *readLines(
    response: UpstreamResponse,
    model: string,
    call: UpstreamCall,
  ): AsyncGenerator<ChatCompletionChunk> {
    const state = newStreamState(completionId(), nowSeconds(), model);
    let carry = '';
    let done = false;
    try {
      const decoder = new TextDecoder();
      for await (const bytes of this.client.streamBody(response, call)) {
        const lines = (carry + decoder.decode(bytes, { stream: true })).split('\n');
        carry = lines.pop() ?? '';
        for (const line of lines) {
          if (line.trim() === '') continue;
          const parsed = this.parseLine(line);
          yield* fromOllamaStreamLine(parsed, state);
          if (parsed.done === true) done = true;
        }
        if (done) break;
      }
      if (!done && carry.trim() !== '') {
        const parsed = this.parseLine(carry);
        yield* fromOllamaStreamLine(parsed, state);
        done = parsed.done === true;
      }
    } catch (error) {
      throw this.client.mapTransportError(error, call, 'answer');
    } finally {
      if (!response.body.destroyed) response.body.destroy();
    }
    if (!done)
      throw new UpstreamError(`Backend '${this.name}' ended the stream before the answer was complete`);
  }

  private parseLine(line: string): OllamaChatResponse {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new UpstreamError(`Backend '${this.name}' sent a stream line that is not JSON`);
    }
    if (parsed === null || typeof parsed !== 'object') {
      throw new UpstreamError(`Backend '${this.name}' sent a stream line that is not an object`);
    }
    const record = parsed as OllamaChatResponse;
    if (typeof record.error === 'string') {
      throw new UpstreamError(
        `Backend '${this.name}' failed during the stream: ${this.client.redact(record.error).slice(0, 500)}`,
      );
    }
    return record;
  }
}
