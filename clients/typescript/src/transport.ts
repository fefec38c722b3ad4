/**
 * One call to the gateway: the request, its timeout and cancellation, and retries with jittered
 * exponential backoff on 429/502/503/504 and connection errors, honouring Retry-After, bounded in count
 * and in time. fetch only (no Node-only API), so it runs in browsers as well as on Node 20+.
 */
import { GatewayConnectionError, GatewayError, GatewayTimeoutError } from './errors.js';
import { parseRetryAfter, responseMeta } from './headers.js';
import type { ResponseMeta } from './types.js';

/** The part of `fetch` the client uses. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface GatewayClientOptions {
  /** The gateway's root, e.g. http://127.0.0.1:8080 (a trailing /v1 is dropped). */
  baseUrl: string;
  /** An API key (sk-gw-...), for /v1/chat/completions, /v1/embeddings and /v1/models. */
  apiKey?: string | undefined;
  /** The admin token, for the admin API (admin.*). */
  adminToken?: string | undefined;
  /** Retries after the first attempt (429, 502, 503, 504, connection errors, timeouts). Default 2. */
  maxRetries?: number | undefined;
  /** Time for one attempt: until the whole JSON answer, or a stream's headers, have arrived. Default 60 s. */
  timeoutMs?: number | undefined;
  /** No retry is made that would start later than this after the call began. Default 60 s. */
  maxRetryTimeMs?: number | undefined;
  /** A fetch to use instead of the global one (a proxy agent, a test double). */
  fetch?: FetchLike | undefined;
  /** Headers sent with every request. */
  defaultHeaders?: Record<string, string> | undefined;
}

/** Options of one call; each overrides the client's own. */
export interface RequestOptions {
  /** Cancels the call (and the stream, for a stream): the call rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  maxRetries?: number | undefined;
  maxRetryTimeMs?: number | undefined;
  /** Sent as X-Request-ID (1-128 characters of [A-Za-z0-9._:-]); the gateway makes one up otherwise. */
  requestId?: string | undefined;
  headers?: Record<string, string> | undefined;
  /** Called with the metadata of the response (request id, cache, rate limits) before the call resolves. */
  onResponse?: ((response: ResponseMeta) => void) | undefined;
}

export interface Call {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Starts with "/". */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
  /** Which credential goes in Authorization. */
  readonly auth: 'key' | 'admin';
  readonly accept: string;
}

/** A streamed answer whose headers have arrived (status 2xx): the body is the caller's to read. */
export interface OpenStream {
  readonly body: ReadableStream<Uint8Array> | null;
  readonly meta: ResponseMeta;
  /** Aborted, with the reason, when the caller's signal is or `abort` is called. */
  readonly signal: AbortSignal;
  /** Closes the connection: reading the body fails with `reason`. */
  abort(reason: unknown): void;
  /** Lets go of the caller's signal; call once the stream is finished with. */
  release(): void;
}

const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const DEFAULT_MAX_RETRIES = 2;
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_RETRY_TIME_MS = 60_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 8_000;

/** The backoff before retry number `retry` (1, 2, ...): exponential, capped, with full jitter in its upper half. */
export function backoffMs(retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (retry - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * The wait before a retry: what the gateway asked for (Retry-After / retry-after-ms), plus a little
 * jitter so that clients told the same instant do not all come back at once; else the backoff.
 */
export function retryDelayMs(retry: number, retryAfterMs: number | null, random = Math.random): number {
  if (retryAfterMs === null) return backoffMs(retry, random);
  return retryAfterMs + random() * Math.min(250, retryAfterMs * 0.1);
}

/** One attempt's signal: the caller's, plus the timeout. */
class AttemptSignal {
  readonly controller = new AbortController();
  timedOut = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly unlink: (() => void) | undefined;

  constructor(parent: AbortSignal | undefined, timeoutMs: number) {
    if (parent !== undefined) {
      const onAbort = (): void => {
        this.controller.abort(parent.reason);
      };
      parent.addEventListener('abort', onAbort, { once: true });
      this.unlink = () => {
        parent.removeEventListener('abort', onAbort);
      };
    }
    if (Number.isFinite(timeoutMs) && timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.controller.abort(new GatewayTimeoutError(timeoutMs));
      }, timeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    this.stopTimer();
    this.unlink?.();
  }
}

/** Waits `ms`, or rejects with the signal's reason when it is aborted first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

type Attempt =
  | { kind: 'answer'; response: Response; text: string; meta: ResponseMeta }
  | { kind: 'stream'; response: Response; meta: ResponseMeta; attempt: AttemptSignal }
  | { kind: 'no-answer'; error: GatewayError };

export class Transport {
  private readonly baseUrl: string;
  private readonly fetch: FetchLike;

  constructor(
    private readonly options: GatewayClientOptions,
    /** Told of every final response, success or error (GatewayClient.lastResponse). */
    private readonly onMeta: (meta: ResponseMeta) => void,
  ) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    // The global fetch, bound: a browser's refuses to be called as a method of another object.
    this.fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** A call answered with JSON: the parsed body of a 2xx answer, or a GatewayError. */
  async json<T>(call: Call, options: RequestOptions = {}): Promise<T> {
    const { text, meta } = await this.send(call, options);
    const parsed = parseJson(text);
    if (parsed === undefined) {
      throw new GatewayError({
        status: meta.status,
        code: 'invalid_response',
        message: `The gateway's answer is not JSON: ${text.slice(0, 200)}`,
        requestId: meta.requestId,
        response: meta,
      });
    }
    return parsed as T;
  }

  /** A call answered with text (CSV). */
  async text(call: Call, options: RequestOptions = {}): Promise<string> {
    return (await this.send(call, options)).text;
  }

  private async send(call: Call, options: RequestOptions): Promise<{ text: string; meta: ResponseMeta }> {
    const result = await this.run(call, options, false);
    if (result.kind !== 'answer') throw new Error('unreachable: a JSON call got a stream');
    return result;
  }

  /** A streamed call: resolves once a 2xx answer's headers have arrived; retries only until then. */
  async stream(call: Call, options: RequestOptions = {}): Promise<OpenStream> {
    const result = await this.run(call, options, true);
    if (result.kind !== 'stream') throw new Error('unreachable: a stream call got no stream');
    const { response, meta, attempt } = result;
    return {
      body: response.body,
      meta,
      signal: attempt.signal,
      abort: (reason) => {
        attempt.controller.abort(reason);
      },
      release: () => {
        attempt.dispose();
      },
    };
  }

  private async run(
    call: Call,
    options: RequestOptions,
    streaming: boolean,
  ): Promise<Extract<Attempt, { kind: 'answer' | 'stream' }>> {
    const started = Date.now();
    const maxRetries = options.maxRetries ?? this.options.maxRetries ?? DEFAULT_MAX_RETRIES;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxRetryTimeMs = options.maxRetryTimeMs ?? this.options.maxRetryTimeMs ?? DEFAULT_MAX_RETRY_TIME_MS;
    const url = this.url(call);
    const init = this.init(call, options);
    for (let attempt = 1; ; attempt++) {
      if (options.signal?.aborted === true) throw options.signal.reason;
      const result = await this.attempt(url, init, options, timeoutMs, attempt, streaming);
      let error: GatewayError;
      if (result.kind === 'no-answer') {
        error = result.error;
      } else if (result.kind === 'stream' || result.response.ok) {
        this.report(result.meta, options);
        return result;
      } else {
        error = GatewayError.fromBody(result.response.status, parseJson(result.text) ?? result.text, {
          requestId: result.meta.requestId,
          retryAfterMs: parseRetryAfter(result.response.headers),
          response: result.meta,
        });
      }
      const retryable = error.status === undefined || RETRY_STATUSES.has(error.status);
      const delay = retryDelayMs(attempt, error.retryAfterMs);
      if (!retryable || attempt > maxRetries || Date.now() - started + delay > maxRetryTimeMs) {
        if (error.response !== undefined) this.report(error.response, options);
        throw error;
      }
      await sleep(delay, options.signal);
    }
  }

  private report(meta: ResponseMeta, options: RequestOptions): void {
    this.onMeta(meta);
    options.onResponse?.(meta);
  }

  /** One HTTP request. Throws only the caller's abort reason; every other failure is returned. */
  private async attempt(
    url: string,
    init: RequestInit,
    options: RequestOptions,
    timeoutMs: number,
    attempt: number,
    streaming: boolean,
  ): Promise<Attempt> {
    const signal = new AttemptSignal(options.signal, timeoutMs);
    try {
      const response = await this.fetch(url, { ...init, signal: signal.signal });
      const meta = responseMeta(response, attempt);
      if (streaming && response.ok) {
        // The stream has started: from here on only the caller's signal may end it.
        signal.stopTimer();
        return { kind: 'stream', response, meta, attempt: signal };
      }
      const text = await response.text();
      signal.dispose();
      return { kind: 'answer', response, text, meta };
    } catch (cause) {
      signal.dispose();
      if (options.signal?.aborted === true) throw options.signal.reason;
      if (signal.timedOut) return { kind: 'no-answer', error: new GatewayTimeoutError(timeoutMs) };
      const reason = cause instanceof Error ? cause.message : String(cause);
      return {
        kind: 'no-answer',
        error: new GatewayConnectionError(`Could not reach the gateway at ${this.baseUrl}: ${reason}`, {
          cause,
        }),
      };
    }
  }

  private url(call: Call): string {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined) query.set(name, value);
    }
    const search = query.toString();
    return `${this.baseUrl}${call.path}${search === '' ? '' : `?${search}`}`;
  }

  private init(call: Call, options: RequestOptions): RequestInit {
    const headers: Record<string, string> = { accept: call.accept, ...this.options.defaultHeaders };
    const credential = call.auth === 'admin' ? this.options.adminToken : this.options.apiKey;
    if (credential !== undefined) headers['authorization'] = `Bearer ${credential}`;
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    if (options.requestId !== undefined) headers['x-request-id'] = options.requestId;
    Object.assign(headers, options.headers);
    return {
      method: call.method,
      headers,
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
    };
  }
}
