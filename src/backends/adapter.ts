import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../api/schemas.js';
import type { BackendType } from '../config/schema.js';

/** What one upstream call needs besides the request itself. */
export interface UpstreamCall {
  /** Aborted when the client goes away or the gateway shuts down; the upstream request is cancelled. */
  readonly signal: AbortSignal;
  readonly requestId: string;
  /** Ends the call with this reason (an upstream timeout, say): the signal aborts with it. */
  abort(reason: Error): void;
  /** Trace context for the upstream (traceparent, tracestate); nothing else is ever added. */
  readonly traceHeaders?: Readonly<Record<string, string>> | null;
  /** Told of each comment line of a streamed answer (an SSE keep-alive), its text without secrets. */
  readonly onComment?: ((text: string) => void) | undefined;
  /** Told of the request fields a backend with drop_unsupported left out, as it could not honour them. */
  readonly onDropped?: (fields: readonly string[]) => void;
}

/**
 * The seam every backend type implements (one folder per type under src/backends/). Requests arrive in
 * OpenAI's format with `model` already set to the upstream's name; answers leave in OpenAI's format.
 * Adapters throw GatewayErrors (or the signal's reason when aborted), never raw transport errors.
 */
export interface BackendAdapter {
  readonly name: string;
  readonly type: BackendType;
  chat(request: ChatCompletionRequest, call: UpstreamCall): Promise<ChatCompletion>;
  /**
   * Resolves once the upstream has accepted the request, so that failures before the first token still
   * become ordinary error responses. The chunks include a final usage chunk (`choices: []`) whenever the
   * upstream reports usage, whatever the client asked for; the caller drops it if unwanted.
   */
  chatStream(request: ChatCompletionRequest, call: UpstreamCall): Promise<AsyncIterable<ChatCompletionChunk>>;
  embeddings(request: EmbeddingsRequest, call: UpstreamCall): Promise<EmbeddingsResponse>;
  /** The model names the backend reports (OpenAI's GET /models, Ollama's GET /api/tags). */
  listModels(call: UpstreamCall): Promise<string[]>;
  /** An active health check: GETs `path` (relative to the backend's url); resolves on a 2xx. */
  probe(path: string, call: UpstreamCall): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}
