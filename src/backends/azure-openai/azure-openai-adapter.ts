import type { ChatCompletionRequest, EmbeddingsRequest } from '../../api/schemas.js';
import type { BackendConfig } from '../../config/config.js';
import { DEFAULT_AZURE_API_VERSION } from '../../config/load.js';
import type { BackendType } from '../../config/schema.js';
import type { UpstreamCall } from '../adapter.js';
import { UpstreamClient } from '../http/upstream-client.js';
import { OpenAiAdapter } from '../openai/openai-adapter.js';
import { defaultAzureTokenProvider, tokenFor, type TokenProvider } from './entra-token.js';
import { azureError } from './errors.js';

/** Entra ID tokens kept for redaction (one an hour is handed out; older ones are long expired). */
const RECENT_TOKENS = 4;

export interface AzureOpenAiOptions {
  /** Where tokens come from when the backend has no api_key; DefaultAzureCredential by default. */
  readonly tokenProvider?: TokenProvider;
}

/**
 * Azure OpenAI: OpenAI's chat completions and embeddings at
 * `{url}/openai/deployments/{deployment}/...?api-version=...`, where the target's `model` is the
 * deployment's name (the `model` field of the body is sent too and ignored by Azure). The wire format is
 * OpenAI's, so everything else is the OpenAI adapter's; what differs:
 *
 * - auth: `api-key: <api_key>`, or without an api_key a Microsoft Entra ID bearer token
 *   (DefaultAzureCredential, entra-token.ts);
 * - errors (errors.ts): a prompt refused by the content filter is a 400 naming the categories;
 *   `retry-after-ms` is honoured on 429 and 5xx; 503 stays a retryable 503; an unknown deployment is 404;
 * - streams: Azure's events that only annotate (the prompt's filter results before the first chunk,
 *   the asynchronous filter's results after the last) are left out; `content_filter` finish reasons
 *   and the `content_filter_results` of chunks pass as they are.
 * - listModels: none. The data plane lists no deployments since 2023 (only the management API does),
 *   and GET /openai/models lists base models the resource could deploy, not names a request can use.
 */
export class AzureOpenAiAdapter extends OpenAiAdapter {
  override readonly type: BackendType = 'azure_openai';
  private readonly apiVersion: string;
  private readonly tokenProvider: TokenProvider | null;
  /** The last tokens handed out, for redaction; shared with the client's error mapping. */
  private readonly recentTokens: string[];

  constructor(backend: BackendConfig, options: AzureOpenAiOptions = {}) {
    const recentTokens: string[] = [];
    const secrets = backend.apiKey === null ? backend.secrets : [...backend.secrets, backend.apiKey];
    super(
      backend,
      new UpstreamClient(backend, {
        // Without an api_key no header of the client's own: each request gets its token.
        authHeaders: backend.apiKey === null ? {} : { 'api-key': backend.apiKey },
        mapError: (status, text, headers) =>
          azureError(
            backend.name,
            status,
            text,
            headers,
            [...secrets, ...recentTokens].sort((a, b) => b.length - a.length),
          ),
      }),
    );
    this.recentTokens = recentTokens;
    this.apiVersion = backend.apiVersion ?? DEFAULT_AZURE_API_VERSION;
    this.tokenProvider =
      backend.apiKey === null ? (options.tokenProvider ?? defaultAzureTokenProvider()) : null;
  }

  protected override chatPath(request: ChatCompletionRequest): string {
    return this.withVersion(`${this.deploymentPath(request.model)}/chat/completions`);
  }

  protected override embeddingsPath(request: EmbeddingsRequest): string {
    return this.withVersion(`${this.deploymentPath(request.model)}/embeddings`);
  }

  protected override async requestHeaders(
    call: UpstreamCall,
  ): Promise<Readonly<Record<string, string>> | undefined> {
    if (this.tokenProvider === null) return undefined;
    const token = await tokenFor(this.name, this.tokenProvider, call.signal);
    if (!this.recentTokens.includes(token)) {
      this.recentTokens.push(token);
      if (this.recentTokens.length > RECENT_TOKENS) this.recentTokens.shift();
    }
    return { authorization: `Bearer ${token}` };
  }

  /**
   * The prompt's filter results (`choices: []`, no usage, before the first chunk) and the asynchronous
   * filter's annotations (choices without a delta or a finish reason) carry nothing of the answer.
   */
  protected override isAnnotationOnly(chunk: Record<string, unknown>): boolean {
    if (chunk['usage'] != null) return false;
    const choices = chunk['choices'];
    if (!Array.isArray(choices)) return false;
    return choices.every((choice: unknown) => {
      if (choice === null || typeof choice !== 'object') return false;
      const { delta, finish_reason: finish } = choice as Record<string, unknown>;
      const empty = delta == null || (typeof delta === 'object' && Object.keys(delta).length === 0);
      return finish == null && empty;
    });
  }

  /** Azure lists no deployments on its data plane (see the class comment): discovery adds nothing. */
  override listModels(_call: UpstreamCall): Promise<string[]> {
    return Promise.resolve([]);
  }

  /** GET `path` with the api-version (by default /openai/models: a listing that costs no tokens). */
  override async probe(path: string, call: UpstreamCall): Promise<void> {
    await super.probe(this.withVersion(path), call);
  }

  private deploymentPath(deployment: string): string {
    return `/openai/deployments/${encodeURIComponent(deployment)}`;
  }

  private withVersion(path: string): string {
    return `${path}${path.includes('?') ? '&' : '?'}api-version=${encodeURIComponent(this.apiVersion)}`;
  }
}
