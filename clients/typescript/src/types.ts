/**
 * The API's types: aliases into the types generated from the gateway's OpenAPI document
 * (src/generated/openapi.ts), plus what that document does not describe (the streamed chunks and the
 * response metadata this client reads from headers).
 */
import type { components, paths } from './generated/openapi.js';

type ChatPost = paths['/v1/chat/completions']['post'];
type EmbeddingsPost = paths['/v1/embeddings']['post'];
type KeysPost = paths['/admin/keys']['post'];
type KeyPatch = paths['/admin/keys/{id}']['patch'];
type UsageGet = paths['/admin/usage']['get'];

/**
 * Fields the gateway does not know are passed through to OpenAI-compatible backends unchanged
 * (top_k, repetition_penalty, ...), so a request may carry them.
 */
export interface ExtraFields {
  [field: string]: unknown;
}

/** POST /v1/chat/completions, as documented. */
export type ChatCompletionParams = ChatPost['requestBody']['content']['application/json'];
/** The body of `chat.completions.create`: a JSON answer, so `stream` is absent or false. */
export type ChatCompletionCreateParams = Omit<ChatCompletionParams, 'stream'> & {
  stream?: false | null;
} & ExtraFields;
/** The body of `chat.completions.stream`: `stream: true` is set by the client. */
export type ChatCompletionStreamParams = Omit<ChatCompletionParams, 'stream'> & {
  stream?: true;
} & ExtraFields;
export type ChatMessage = ChatCompletionParams['messages'][number];
export type ChatCompletion = ChatPost['responses'][200]['content']['application/json'];

/**
 * One server-sent event of a streamed chat completion. The OpenAPI document describes the stream only
 * as text/event-stream, so this type is written by hand (it mirrors the gateway's ChatCompletionChunk
 * schema and OpenAI's format).
 */
export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: {
      role?: 'assistant';
      content?: string | null;
      tool_calls?: Record<string, unknown>[];
    };
    finish_reason: string | null;
  }[];
  /** Only on the last chunk, and only when `stream_options.include_usage` asked for it. */
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

export type EmbeddingsParams = EmbeddingsPost['requestBody']['content']['application/json'] & ExtraFields;
export type EmbeddingsResponse = EmbeddingsPost['responses'][200]['content']['application/json'];

export type ModelList = paths['/v1/models']['get']['responses'][200]['content']['application/json'];

/** RFC 9457 problem details with an OpenAI-style `error` member: the body of every error. */
export type Problem = components['schemas']['Problem'];

/** An API key as the admin API shows it (never the secret). */
export type ApiKey = components['schemas']['ApiKey'];
/** POST /admin/keys: the key's record plus `key`, the secret, shown this once only. */
export type ApiKeyCreated = KeysPost['responses'][201]['content']['application/json'];
export type ApiKeyCreateParams = KeysPost['requestBody']['content']['application/json'];
export type ApiKeyUpdateParams = KeyPatch['requestBody']['content']['application/json'];
export type ApiKeyList = paths['/admin/keys']['get']['responses'][200]['content']['application/json'];

export type UsageQuery = NonNullable<UsageGet['parameters']['query']>;
export type UsageReport = UsageGet['responses'][200]['content']['application/json'];
export type UsageRow = components['schemas']['UsageRow'];

export type CachePurgeResult =
  paths['/admin/cache']['delete']['responses'][200]['content']['application/json'];

/** What `X-Cache` says: answered from the response cache, not, or the cache was skipped. */
export type CacheStatus = 'HIT' | 'MISS' | 'BYPASS';

/** One limit, from `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-10). */
export interface RateLimitItem {
  /** The policy's name, e.g. "requests" or "tokens". */
  name: string;
  /** `q`: requests or tokens allowed per window. */
  quota: number | null;
  /** `w`: the window, in seconds. */
  windowSeconds: number | null;
  /** `r`: what is left now. */
  remaining: number | null;
  /** `t`: seconds until the budget is whole again. */
  resetSeconds: number | null;
}

/** OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`: the tightest limit of a kind. */
export interface OpenAiRateLimit {
  limit: number | null;
  remaining: number | null;
  /** `x-ratelimit-reset-*` ("1m0s", "1.5s", "250ms") in milliseconds. */
  resetMs: number | null;
}

export interface RateLimitState {
  /** Every limit that applied, in the order the gateway listed them. */
  limits: RateLimitItem[];
  requests: OpenAiRateLimit | null;
  tokens: OpenAiRateLimit | null;
}

/** What the client read from the headers of a response (the last attempt's, after any retries). */
export interface ResponseMeta {
  status: number;
  /** `X-Request-ID`: quote it when reporting a problem; it is in the gateway's log line. */
  requestId: string | null;
  /** `X-Cache`, on chat completions and embeddings. */
  cache: CacheStatus | null;
  /** `X-Gateway-Backend`: the backend that answered (after any fallback). */
  backend: string | null;
  /** `X-Gateway-Attempts`: upstream attempts the gateway made (0 for a cache hit). */
  gatewayAttempts: number | null;
  /** HTTP requests this client sent for the call: 1, plus one per retry. */
  attempts: number;
  /** The rate-limit headers, when the response had any. */
  rateLimit: RateLimitState | null;
  headers: Headers;
}
