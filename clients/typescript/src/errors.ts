/** Errors: every failure of a call is a GatewayError (or, for a call the caller aborted, the abort reason). */
import type { ResponseMeta } from './types.js';

/** The problem code the gateway uses for each status, for an error body that is not problem+json. */
const CODE_OF_STATUS: Record<number, string> = {
  400: 'invalid_request',
  401: 'invalid_api_key',
  403: 'model_not_allowed',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'invalid_request',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limit_exceeded',
  500: 'internal_error',
  502: 'upstream_error',
  503: 'service_unavailable',
  504: 'upstream_timeout',
};

export interface GatewayErrorInit {
  /** The HTTP status; undefined when no response arrived (connection error, timeout). */
  status: number | undefined;
  /** The gateway's error code (`error.code`): invalid_api_key, rate_limit_exceeded, ... */
  code: string;
  message: string;
  /** The problem's `type` URI, e.g. https://ai-gateway.dev/problems/rate-limit-exceeded. */
  type?: string | undefined;
  /** OpenAI's `error.type`: invalid_request_error, authentication_error, rate_limit_error, ... */
  errorType?: string | undefined;
  title?: string | undefined;
  detail?: string | undefined;
  instance?: string | undefined;
  /** OpenAI's `error.param`: the first offending request field, when there is one. */
  param?: string | null | undefined;
  requestId?: string | null | undefined;
  retryAfterMs?: number | null | undefined;
  /** The error body as received (a problem object), when there was one. */
  body?: unknown;
  response?: ResponseMeta | undefined;
  cause?: unknown;
}

/**
 * An error answer of the gateway (RFC 9457 problem details: status 400 or more, or an error event in
 * the middle of a stream), or a failure to get one (GatewayConnectionError, GatewayTimeoutError).
 */
export class GatewayError extends Error {
  readonly status: number | undefined;
  readonly code: string;
  readonly type: string | undefined;
  readonly errorType: string | undefined;
  readonly title: string | undefined;
  readonly detail: string | undefined;
  readonly instance: string | undefined;
  readonly param: string | null;
  /** `request_id` of the problem, else the X-Request-ID header: quote it when reporting a problem. */
  readonly requestId: string | null;
  /** How long the gateway asked to wait before trying again (Retry-After / retry-after-ms). */
  readonly retryAfterMs: number | null;
  readonly body: unknown;
  /** The response's metadata, when there was a response. */
  readonly response: ResponseMeta | undefined;

  constructor(init: GatewayErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'GatewayError';
    this.status = init.status;
    this.code = init.code;
    this.type = init.type;
    this.errorType = init.errorType;
    this.title = init.title;
    this.detail = init.detail;
    this.instance = init.instance;
    this.param = init.param ?? null;
    this.requestId = init.requestId ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
    this.body = init.body;
    this.response = init.response;
  }

  /**
   * From a problem+json body (or any JSON or text error body: the fields that are missing are derived
   * from the status). `status` is the HTTP status, or the problem's own for an error event in a stream.
   */
  static fromBody(
    status: number | undefined,
    body: unknown,
    context: { requestId?: string | null; retryAfterMs?: number | null; response?: ResponseMeta } = {},
  ): GatewayError {
    const problem = isObject(body) ? body : {};
    const error = isObject(problem['error']) ? problem['error'] : {};
    const problemStatus = typeof problem['status'] === 'number' ? problem['status'] : undefined;
    const effectiveStatus = status ?? problemStatus;
    const detail = stringField(problem, 'detail') ?? stringField(error, 'message');
    const title = stringField(problem, 'title');
    const code =
      stringField(error, 'code') ??
      (effectiveStatus === undefined ? undefined : CODE_OF_STATUS[effectiveStatus]) ??
      'http_error';
    const text = typeof body === 'string' && body.trim() !== '' ? body.trim().slice(0, 500) : undefined;
    const param = error['param'];
    return new GatewayError({
      status: effectiveStatus,
      code,
      message:
        detail ??
        title ??
        text ??
        (effectiveStatus === undefined ? 'Gateway error' : `HTTP ${effectiveStatus}`),
      type: stringField(problem, 'type'),
      errorType: stringField(error, 'type'),
      title,
      detail,
      instance: stringField(problem, 'instance'),
      param: typeof param === 'string' ? param : null,
      requestId: stringField(problem, 'request_id') ?? context.requestId ?? null,
      retryAfterMs: context.retryAfterMs ?? null,
      body,
      response: context.response,
    });
  }
}

/** No answer: the connection failed or broke (DNS, refused, reset, a stream cut short). */
export class GatewayConnectionError extends GatewayError {
  constructor(message: string, options: { cause?: unknown; code?: string; response?: ResponseMeta } = {}) {
    super({
      status: options.response?.status,
      code: options.code ?? 'connection_error',
      message,
      cause: options.cause,
      requestId: options.response?.requestId,
      response: options.response,
    });
    this.name = 'GatewayConnectionError';
  }
}

/** No answer within the call's timeout. */
export class GatewayTimeoutError extends GatewayConnectionError {
  constructor(timeoutMs: number) {
    super(`No answer from the gateway within ${timeoutMs} ms`, { code: 'timeout' });
    this.name = 'GatewayTimeoutError';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(object: Record<string, unknown>, name: string): string | undefined {
  const value = object[name];
  return typeof value === 'string' ? value : undefined;
}
