/** GatewayClient: chat completions (JSON and streamed), embeddings, models, and the admin API. */
import { ChatCompletionStream } from './stream.js';
import { Transport, type GatewayClientOptions, type RequestOptions } from './transport.js';
import type {
  ApiKey,
  ApiKeyCreated,
  ApiKeyCreateParams,
  ApiKeyList,
  ApiKeyUpdateParams,
  CachePurgeResult,
  ChatCompletion,
  ChatCompletionCreateParams,
  ChatCompletionStreamParams,
  EmbeddingsParams,
  EmbeddingsResponse,
  ModelList,
  ResponseMeta,
  UsageQuery,
  UsageReport,
} from './types.js';

const JSON_TYPE = 'application/json';

class ChatCompletions {
  constructor(private readonly transport: Transport) {}

  /** POST /v1/chat/completions: the whole answer as one JSON object. */
  create(body: ChatCompletionCreateParams, options?: RequestOptions): Promise<ChatCompletion> {
    return this.transport.json<ChatCompletion>(
      { method: 'POST', path: '/v1/chat/completions', body, auth: 'key', accept: JSON_TYPE },
      options,
    );
  }

  /**
   * POST /v1/chat/completions with `stream: true`. Resolves once the answer's headers have arrived
   * (errors before that, such as a 401 or a 429 after its retries, reject here); iterate the result
   * for the chunks.
   */
  async stream(body: ChatCompletionStreamParams, options?: RequestOptions): Promise<ChatCompletionStream> {
    const open = await this.transport.stream(
      {
        method: 'POST',
        path: '/v1/chat/completions',
        body: { ...body, stream: true },
        auth: 'key',
        accept: 'text/event-stream',
      },
      options,
    );
    return new ChatCompletionStream(open);
  }
}

class Embeddings {
  constructor(private readonly transport: Transport) {}

  /** POST /v1/embeddings. */
  create(body: EmbeddingsParams, options?: RequestOptions): Promise<EmbeddingsResponse> {
    return this.transport.json<EmbeddingsResponse>(
      { method: 'POST', path: '/v1/embeddings', body, auth: 'key', accept: JSON_TYPE },
      options,
    );
  }
}

class Models {
  constructor(private readonly transport: Transport) {}

  /** GET /v1/models: the models this key may use. */
  list(options?: RequestOptions): Promise<ModelList> {
    return this.transport.json<ModelList>(
      { method: 'GET', path: '/v1/models', auth: 'key', accept: JSON_TYPE },
      options,
    );
  }
}

class AdminKeys {
  constructor(private readonly transport: Transport) {}

  /** POST /admin/keys: the answer's `key` is the secret, shown this once only. */
  create(body: ApiKeyCreateParams, options?: RequestOptions): Promise<ApiKeyCreated> {
    return this.transport.json<ApiKeyCreated>(
      { method: 'POST', path: '/admin/keys', body, auth: 'admin', accept: JSON_TYPE },
      options,
    );
  }

  /** GET /admin/keys: every key (static ones with `source: "config"`), never a secret. */
  list(options?: RequestOptions): Promise<ApiKeyList> {
    return this.transport.json<ApiKeyList>(
      { method: 'GET', path: '/admin/keys', auth: 'admin', accept: JSON_TYPE },
      options,
    );
  }

  /** GET /admin/keys/{id}. */
  get(id: string, options?: RequestOptions): Promise<ApiKey> {
    return this.transport.json<ApiKey>(
      { method: 'GET', path: keyPath(id), auth: 'admin', accept: JSON_TYPE },
      options,
    );
  }

  /** PATCH /admin/keys/{id}: name, models, rate_limit, expires_at, metadata (`null` clears). */
  update(id: string, body: ApiKeyUpdateParams, options?: RequestOptions): Promise<ApiKey> {
    return this.transport.json<ApiKey>(
      { method: 'PATCH', path: keyPath(id), body, auth: 'admin', accept: JSON_TYPE },
      options,
    );
  }

  /** DELETE /admin/keys/{id}: revokes the key (refused everywhere within 1 s); resolves to its record. */
  revoke(id: string, options?: RequestOptions): Promise<ApiKey> {
    return this.transport.json<ApiKey>(
      { method: 'DELETE', path: keyPath(id), auth: 'admin', accept: JSON_TYPE },
      options,
    );
  }
}

class Admin {
  readonly keys: AdminKeys;

  constructor(private readonly transport: Transport) {
    this.keys = new AdminKeys(transport);
  }

  /** GET /admin/usage: requests, errors, cached answers, tokens and cost per key, model, day or hour. */
  usage(query: UsageQuery = {}, options?: RequestOptions): Promise<UsageReport> {
    return this.transport.json<UsageReport>(
      { method: 'GET', path: '/admin/usage', query, auth: 'admin', accept: JSON_TYPE },
      options,
    );
  }

  /** GET /admin/usage as CSV (RFC 4180): a header line, then one line per row. */
  usageCsv(query: UsageQuery = {}, options?: RequestOptions): Promise<string> {
    return this.transport.text(
      { method: 'GET', path: '/admin/usage', query, auth: 'admin', accept: 'text/csv' },
      options,
    );
  }

  /** DELETE /admin/cache: purges the response cache, or one key's scope with `{ key: id }`. */
  purgeCache(query: { key?: string } = {}, options?: RequestOptions): Promise<CachePurgeResult> {
    return this.transport.json<CachePurgeResult>(
      { method: 'DELETE', path: '/admin/cache', query, auth: 'admin', accept: JSON_TYPE },
      options,
    );
  }
}

function keyPath(id: string): string {
  return `/admin/keys/${encodeURIComponent(id)}`;
}

export class GatewayClient {
  readonly chat: { readonly completions: ChatCompletions };
  readonly embeddings: Embeddings;
  readonly models: Models;
  readonly admin: Admin;
  /**
   * The metadata of the last response this client received (success or error, after retries): request
   * id, cache status, backend, rate limits. With concurrent calls, prefer `onResponse` per call, or a
   * stream's own `response`.
   */
  lastResponse: ResponseMeta | undefined;

  constructor(options: GatewayClientOptions) {
    const transport = new Transport(options, (meta) => {
      this.lastResponse = meta;
    });
    this.chat = { completions: new ChatCompletions(transport) };
    this.embeddings = new Embeddings(transport);
    this.models = new Models(transport);
    this.admin = new Admin(transport);
  }
}
