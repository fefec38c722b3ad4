import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import type { BackendConfig } from '../../config/config.js';
import {
  GatewayError,
  UpstreamClientError,
  UpstreamError,
  UpstreamTimeoutError,
  type ErrorCode,
} from '../../errors/errors.js';
import type { UpstreamCall } from '../adapter.js';
import { redactSecrets } from './redact.js';

const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const MAX_UPSTREAM_MESSAGE = 500;

export type UpstreamResponse = Dispatcher.ResponseData;

/** What a provider whose API is not OpenAI's changes about the client (gemini, vertex, ...). */
export interface UpstreamClientOptions {
  /**
   * Sent with every request instead of `authorization: Bearer <api_key>` (Google's `x-goog-api-key`, say);
   * `{}` sends no credentials of the client's own (a request passes them per call).
   */
  readonly authHeaders?: Readonly<Record<string, string>>;
  /**
   * The provider's own reading of an error answer (status >= 400, its body capped at 64 KiB, secrets not
   * yet removed): a GatewayError to throw, or undefined for the generic mapping below.
   */
  readonly mapError?: (
    status: number,
    text: string,
    headers: UpstreamResponse['headers'],
  ) => GatewayError | undefined;
}

/**
 * HTTP to one configured backend: its own connection pool, its timeouts (connect, first byte, idle
 * body), no redirects, and a fixed set of headers. Nothing from the client's request headers is
 * forwarded: the client's credentials and cookies can never reach an upstream.
 */
export class UpstreamClient {
  private readonly agent: Agent;
  private readonly baseHeaders: Record<string, string>;
  private readonly origin: string;
  /** The configured URL's path (e.g. `/v1`), prefixed to every request path. */
  private readonly pathPrefix: string;
  /** Removed from every text taken from the upstream's answers (longest first). */
  private readonly secrets: readonly string[];

  constructor(
    private readonly backend: BackendConfig,
    private readonly options: UpstreamClientOptions = {},
  ) {
    this.agent = new Agent({
      connect: { timeout: backend.connectTimeoutMs },
      headersTimeout: backend.timeoutMs,
      bodyTimeout: backend.idleTimeoutMs,
      keepAliveTimeout: 4_000,
      maxResponseSize: MAX_RESPONSE_BYTES,
    });
    const url = new URL(backend.url);
    this.origin = url.origin;
    this.pathPrefix = url.pathname.replace(/\/+$/, '');
    this.baseHeaders = { 'user-agent': 'ai-gateway' };
    if (options.authHeaders !== undefined) Object.assign(this.baseHeaders, options.authHeaders);
    else if (backend.apiKey !== null) this.baseHeaders['authorization'] = `Bearer ${backend.apiKey}`;
    // Its own key whatever its length (backend.secrets leaves out short values).
    this.secrets =
      backend.apiKey === null || backend.secrets.includes(backend.apiKey)
        ? backend.secrets
        : [...backend.secrets, backend.apiKey].sort((a, b) => b.length - a.length);
  }

  /**
   * The human message of an upstream error body (see upstreamMessage), with every configured secret
   * removed: an upstream may echo the request's Authorization header in its error text.
   */
  messageOf(text: string): string | null {
    return upstreamMessage(text, this.secrets);
  }

  /** `text` from the upstream without any configured secret. */
  redact(text: string): string {
    return redactSecrets(text, this.secrets);
  }

  /**
   * POSTs JSON and returns the response once its headers are in; any status >= 300 is thrown. `headers`
   * are added to this request only (a credential that changes, such as an OAuth token).
   */
  async postJson(
    path: string,
    body: string,
    call: UpstreamCall,
    accept = 'application/json',
    headers?: Readonly<Record<string, string>>,
  ): Promise<UpstreamResponse> {
    return this.send('POST', path, body, call, accept, headers);
  }

  async get(
    path: string,
    call: UpstreamCall,
    headers?: Readonly<Record<string, string>>,
  ): Promise<UpstreamResponse> {
    return this.send('GET', path, null, call, 'application/json', headers);
  }

  /** Reads a whole JSON body, mapping transport failures and invalid JSON. */
  async readJson(response: UpstreamResponse, call: UpstreamCall): Promise<unknown> {
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      throw this.mapTransportError(error, call, 'answer');
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new UpstreamError(`Backend '${this.backend.name}' answered with a body that is not JSON`);
    }
  }

  /**
   * A streamed body's chunks; the call ends with upstream_timeout when the upstream sends nothing for
   * idle_timeout_ms while the gateway waits for it (RELIABILITY.md #9). undici's bodyTimeout runs on its
   * coarse timer and fired 22-50% late (issue 17): this native timer, refreshed as each chunk is asked
   * for, keeps the time as the first-byte timeout does. The time the reader holds a chunk (a slow
   * client) is not silence.
   */
  async *streamBody(response: UpstreamResponse, call: UpstreamCall): AsyncGenerator<Buffer> {
    const idleMs = this.backend.idleTimeoutMs;
    let waiting = false;
    const timer = setTimeout(() => {
      if (!waiting) return; // refreshed (and so armed again) when the next chunk is asked for
      call.abort(
        new UpstreamTimeoutError(`Backend '${this.backend.name}' went silent for more than ${idleMs} ms`),
      );
    }, idleMs);
    const chunks = response.body[Symbol.asyncIterator]();
    try {
      for (;;) {
        timer.refresh();
        waiting = true;
        const next = await chunks.next();
        waiting = false;
        if (next.done === true) return;
        yield next.value as Buffer;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Turns an error thrown while reading or streaming a body into a GatewayError (or the abort reason). */
  mapTransportError(error: unknown, call: UpstreamCall, phase: 'request' | 'answer' = 'request'): unknown {
    if (call.signal.aborted) return call.signal.reason;
    if (error instanceof GatewayError) return error;
    const name = this.backend.name;
    if (error instanceof undiciErrors.HeadersTimeoutError) {
      return new UpstreamTimeoutError(
        `Backend '${name}' sent no answer within ${this.backend.timeoutMs} ms`,
        {
          retryable: true,
        },
      );
    }
    if (error instanceof undiciErrors.BodyTimeoutError) {
      return new UpstreamTimeoutError(
        `Backend '${name}' went silent for more than ${this.backend.idleTimeoutMs} ms`,
      );
    }
    if (error instanceof undiciErrors.ConnectTimeoutError) {
      return new UpstreamTimeoutError(
        `Could not connect to backend '${name}' within ${this.backend.connectTimeoutMs} ms`,
        { retryable: true },
      );
    }
    if (error instanceof undiciErrors.ResponseExceededMaxSizeError) {
      return new UpstreamError(`Backend '${name}' sent an answer larger than ${MAX_RESPONSE_BYTES} bytes`);
    }
    if (!isTransportError(error)) return error; // a bug of ours: the error handler answers 500 and logs it
    // The connection failed or broke: nothing of this answer reached the client through this call yet
    // (the caller decides whether anything reached the client at all).
    const code = transportCode(error);
    return phase === 'answer'
      ? new UpstreamError(`Backend '${name}' broke off its answer (${code})`, {
          cause: error,
          retryable: true,
        })
      : new UpstreamError(`Could not reach backend '${name}' (${code})`, { cause: error, retryable: true });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: string | null,
    call: UpstreamCall,
    accept: string,
    extraHeaders?: Readonly<Record<string, string>>,
  ): Promise<UpstreamResponse> {
    const headers: Record<string, string> = {
      ...this.baseHeaders,
      ...extraHeaders,
      accept,
      'x-request-id': call.requestId,
    };
    const trace = call.traceHeaders;
    if (trace != null) {
      if (trace['traceparent'] !== undefined) headers['traceparent'] = trace['traceparent'];
      if (trace['tracestate'] !== undefined) headers['tracestate'] = trace['tracestate'];
    }
    if (body !== null) headers['content-type'] = 'application/json';
    // undici's headersTimeout runs on its coarse timer (about 0.5 to 1 s late), so timeout_ms is also kept
    // by a native timer: the 504 comes at the configured time (RELIABILITY.md #6).
    // Aborting the call itself (not a second signal merged with AbortSignal.any, which is slow and
    // retains listeners on Node 20) ends the upstream request with the timeout as its reason.
    const timer = setTimeout(() => {
      call.abort(
        new UpstreamTimeoutError(
          `Backend '${this.backend.name}' sent no answer within ${this.backend.timeoutMs} ms`,
          { retryable: true },
        ),
      );
    }, this.backend.timeoutMs);
    let response: UpstreamResponse;
    try {
      response = await this.agent.request({
        origin: this.origin,
        path: this.pathPrefix + path,
        method,
        headers,
        body,
        signal: call.signal,
      });
    } catch (error) {
      throw this.mapTransportError(error, call);
    } finally {
      clearTimeout(timer);
    }
    if (response.statusCode >= 300) throw await this.statusError(response, call, this.pathPrefix + path);
    return response;
  }

  private async statusError(response: UpstreamResponse, call: UpstreamCall, path: string): Promise<unknown> {
    const status = response.statusCode;
    let text = '';
    try {
      text = await readCapped(response, MAX_ERROR_BODY_BYTES);
    } catch (error) {
      return this.mapTransportError(error, call);
    }
    const name = this.backend.name;
    const own = status >= 400 ? this.options.mapError?.(status, text, response.headers) : undefined;
    if (own !== undefined) return own;
    const message = this.messageOf(text);
    if (status < 400) {
      return new UpstreamError(
        `Backend '${name}' answered with a redirect (${status}); redirects are not followed`,
      );
    }
    if (status === 401 || status === 403) {
      // The upstream refused the gateway's own credentials: not the client's fault, and its message may
      // echo a key, so it is not passed on.
      return new UpstreamError(
        `Backend '${name}' refused the gateway's credentials (${status}); check its api_key`,
      );
    }
    if (status === 404 && !isModelNotFound(text)) {
      // A server without this endpoint (no /v1/embeddings, a wrong url path): the client's model is not
      // at fault. Raised as the upstream's own refusal so that its circuit is not blamed: it answered.
      return new UpstreamClientError(
        'upstream_error',
        502,
        `Backend '${name}' does not serve ${this.redact(path)} (it answered 404)`,
        {},
      );
    }
    const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
    const retryAfterHeader: Record<string, string> =
      retryAfterMs === null ? {} : { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) };
    if (status === 408)
      return new UpstreamTimeoutError(`Backend '${name}' timed out (408)`, { retryable: true, retryAfterMs });
    if (status >= 500) {
      return new UpstreamError(
        `Backend '${name}' failed with status ${status}${message === null ? '' : `: ${message}`}`,
        { retryable: true, retryAfterMs, headers: retryAfterHeader },
      );
    }
    const code: ErrorCode =
      status === 404
        ? 'model_not_found'
        : status === 413
          ? 'payload_too_large'
          : status === 429
            ? 'rate_limit_exceeded'
            : 'invalid_request';
    return new UpstreamClientError(
      code,
      status,
      `Backend '${name}': ${message ?? `status ${status}`}`,
      status === 429 ? retryAfterHeader : {},
      status === 429 ? { retryable: true, retryAfterMs } : { retryable: false, retryAfterMs: null },
    );
  }
}

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), in ms; null when absent or unusable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | null {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date) || !/[a-z]/i.test(text)) return null;
  return Math.max(0, date - now);
}

async function readCapped(response: UpstreamResponse, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    const buffer = chunk as Buffer;
    parts.push(buffer);
    size += buffer.length;
    if (size >= limit) {
      response.body.destroy();
      break;
    }
  }
  return Buffer.concat(parts).subarray(0, limit).toString('utf8');
}

/**
 * The human message of an upstream error body: OpenAI's `error.message`, Ollama's `error`, or text;
 * `secrets` (longest first) removed before it is shortened, so that no part of one survives a cut.
 */
export function upstreamMessage(text: string, secrets: readonly string[]): string | null {
  let message: unknown = null;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed !== null && typeof parsed === 'object') {
      const record = parsed as Record<string, unknown>;
      const error = record['error'];
      if (typeof error === 'string') message = error;
      else if (error !== null && typeof error === 'object')
        message = (error as Record<string, unknown>)['message'];
      message ??= record['message'] ?? record['detail'];
    }
  } catch {
    message = text.trim();
  }
  if (typeof message !== 'string' || message === '') return null;
  const redacted = redactSecrets(message, secrets);
  return redacted.length > MAX_UPSTREAM_MESSAGE ? `${redacted.slice(0, MAX_UPSTREAM_MESSAGE)}…` : redacted;
}

/**
 * Whether a 404's body says that the model does not exist, as opposed to the path: OpenAI's
 * `code: "model_not_found"`, vLLM's "The model `x` does not exist.", Ollama's "model 'x' not found" (and
 * its newer `model "x" not found, try pulling it first`), "no such model", in OpenAI's or Ollama's error shape. A body that
 * is not JSON (an HTML 404 page) or does not speak of a model (`{"detail":"Not Found"}`) is a missing path.
 */
export function isModelNotFound(text: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return false;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return false;
  const record = parsed as Record<string, unknown>;
  const error = record['error'];
  const inner = error !== null && typeof error === 'object' ? (error as Record<string, unknown>) : {};
  if (inner['code'] === 'model_not_found' || record['code'] === 'model_not_found') return true;
  const message =
    typeof error === 'string' ? error : (inner['message'] ?? record['message'] ?? record['detail']);
  return typeof message === 'string' && MODEL_MISSING.test(message.slice(0, MAX_UPSTREAM_MESSAGE));
}

/** "model" as a word, then (on the same line) "does not exist" or "not found"; or "no such model". */
const MODEL_MISSING = /\bmodel\b[^\n]*?\b(?:does not exist|doesn't exist|not found)\b|\bno such model\b/i;

/** Errors of the connection (undici's, or the system's ECONNREFUSED and friends), not of our code. */
function isTransportError(error: unknown): boolean {
  if (error instanceof undiciErrors.UndiciError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

function transportCode(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && !code.startsWith('UND_ERR_SOCKET')) return code;
    current = (current as { cause?: unknown }).cause;
  }
  if (error instanceof undiciErrors.SocketError) return 'connection closed by the backend';
  return 'connection failed';
}
