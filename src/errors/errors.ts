/**
 * The one error hierarchy of the gateway. Every failure that reaches a client is a GatewayError with a
 * stable code; only the global error handler (src/server/error-handler.ts) turns it into a response.
 * Problem type URIs and titles live here so that each code is documented in exactly one place
 * (docs/errors.md mirrors this table).
 */

export type ErrorCode =
  | 'invalid_request'
  | 'invalid_api_key'
  | 'model_not_allowed'
  | 'forbidden'
  | 'not_found'
  | 'model_not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limit_exceeded'
  | 'budget_exceeded'
  | 'concurrency_limit_exceeded'
  | 'internal_error'
  | 'upstream_error'
  | 'service_unavailable'
  | 'upstream_timeout';

/** The `error.type` values OpenAI's SDKs know. */
export type OpenAiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'insufficient_quota'
  | 'server_error';

interface ProblemKind {
  readonly status: number;
  readonly title: string;
  readonly openAiType: OpenAiErrorType;
}

export const PROBLEM_BASE_URI = 'https://ai-gateway.dev/problems/';

export const PROBLEM_KINDS: Readonly<Record<ErrorCode, ProblemKind>> = {
  invalid_request: { status: 400, title: 'Bad Request', openAiType: 'invalid_request_error' },
  invalid_api_key: { status: 401, title: 'Unauthorized', openAiType: 'authentication_error' },
  model_not_allowed: { status: 403, title: 'Forbidden', openAiType: 'permission_error' },
  forbidden: { status: 403, title: 'Forbidden', openAiType: 'permission_error' },
  not_found: { status: 404, title: 'Not Found', openAiType: 'not_found_error' },
  model_not_found: { status: 404, title: 'Model Not Found', openAiType: 'not_found_error' },
  method_not_allowed: { status: 405, title: 'Method Not Allowed', openAiType: 'invalid_request_error' },
  payload_too_large: { status: 413, title: 'Payload Too Large', openAiType: 'invalid_request_error' },
  unsupported_media_type: {
    status: 415,
    title: 'Unsupported Media Type',
    openAiType: 'invalid_request_error',
  },
  rate_limit_exceeded: { status: 429, title: 'Too Many Requests', openAiType: 'rate_limit_error' },
  budget_exceeded: { status: 429, title: 'Budget Exceeded', openAiType: 'insufficient_quota' },
  concurrency_limit_exceeded: {
    status: 429,
    title: 'Too Many Concurrent Requests',
    openAiType: 'rate_limit_error',
  },
  internal_error: { status: 500, title: 'Internal Server Error', openAiType: 'server_error' },
  upstream_error: { status: 502, title: 'Bad Gateway', openAiType: 'server_error' },
  service_unavailable: { status: 503, title: 'Service Unavailable', openAiType: 'server_error' },
  upstream_timeout: { status: 504, title: 'Gateway Timeout', openAiType: 'server_error' },
};

export function problemTypeUri(code: ErrorCode): string {
  return PROBLEM_BASE_URI + code.replaceAll('_', '-');
}

export interface GatewayErrorOptions {
  /** The request field at fault, as OpenAI's `error.param` (e.g. `messages[0].role`). */
  readonly param?: string | null;
  /** Extra response headers (Retry-After, Allow, ...). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Overrides the code's usual status: an upstream 4xx keeps its own status. */
  readonly status?: number;
  readonly cause?: unknown;
  /** An upstream failure that another attempt may fix (connection refused, 5xx, 429, a stall). */
  readonly retryable?: boolean;
  /** The upstream's Retry-After, in milliseconds. */
  readonly retryAfterMs?: number | null;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly retryable: boolean;
  readonly retryAfterMs: number | null;

  constructor(code: ErrorCode, detail: string, options: GatewayErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? PROBLEM_KINDS[code].status;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}

export class InvalidRequestError extends GatewayError {
  constructor(detail: string, options: GatewayErrorOptions = {}) {
    super('invalid_request', detail, options);
  }
}

export class AuthenticationError extends GatewayError {
  constructor(detail: string) {
    super('invalid_api_key', detail);
  }
}

export class ModelNotAllowedError extends GatewayError {
  constructor(model: string) {
    super('model_not_allowed', `This API key may not use model '${model}'`, { param: 'model' });
  }
}

export class ModelNotFoundError extends GatewayError {
  constructor(detail: string) {
    super('model_not_found', detail, { param: 'model' });
  }
}

export class RouteNotFoundError extends GatewayError {
  constructor(method: string, path: string) {
    super(
      'not_found',
      `No route for ${method} ${path}; see /openapi.json for the routes this gateway serves`,
    );
  }
}

export class MethodNotAllowedError extends GatewayError {
  constructor(method: string, path: string, allowed: readonly string[]) {
    super('method_not_allowed', `${path} does not accept ${method}; use ${allowed.join(' or ')}`, {
      headers: { allow: allowed.join(', ') },
    });
  }
}

export class PayloadTooLargeError extends GatewayError {
  constructor(limitBytes: number) {
    super('payload_too_large', `Request body exceeds the limit of ${limitBytes} bytes`);
  }
}

export class UnsupportedMediaTypeError extends GatewayError {
  constructor(contentType: string | undefined) {
    super(
      'unsupported_media_type',
      contentType === undefined
        ? 'Missing Content-Type; send the body as application/json'
        : `Content-Type '${contentType}' is not supported; send the body as application/json`,
    );
  }
}

export class ServiceUnavailableError extends GatewayError {
  constructor(detail: string, retryAfterSeconds?: number, headers: Readonly<Record<string, string>> = {}) {
    super('service_unavailable', detail, {
      headers:
        retryAfterSeconds === undefined ? headers : { ...headers, 'retry-after': String(retryAfterSeconds) },
    });
  }
}

/** Too many failed authentications from one address. */
export class RateLimitedAuthError extends GatewayError {
  constructor(retryAfterSeconds: number) {
    super(
      'rate_limit_exceeded',
      'Too many failed authentications from this address; wait before trying again',
      {
        headers: { 'retry-after': String(retryAfterSeconds) },
      },
    );
  }
}

/**
 * An authenticated operator may not do this: a change with the read-only viewer token, or a change by a
 * UI session without its CSRF token (issue 22).
 */
export class ForbiddenError extends GatewayError {
  constructor(detail: string) {
    super('forbidden', detail);
  }
}

export class KeyNotFoundError extends GatewayError {
  constructor(id: string) {
    super('not_found', `No API key has the id '${id}'`, { param: 'id' });
  }
}

/** A static key (from the config file) cannot be changed through the admin API. */
export class StaticKeyError extends InvalidRequestError {
  constructor(id: string) {
    super(`The key '${id}' is defined in the config file; change it there`, { status: 409, param: 'id' });
  }
}

/** Raised into open streams when the gateway shuts down; the client gets it as a last error event. */
/** A request cut off by the shutdown: its 503 closes the connection (the listener is closing too). */
export class ShuttingDownError extends ServiceUnavailableError {
  constructor() {
    super('The gateway is shutting down; retry the request', 1, { connection: 'close' });
  }
}

/** A rate limit of the gateway refused the request; the headers say which and for how long. */
export class RateLimitExceededError extends GatewayError {
  constructor(detail: string, headers: Readonly<Record<string, string>>) {
    super('rate_limit_exceeded', detail, { headers });
  }
}

/**
 * A budget of the key or its team has no room for the request until its window resets. OpenAI's SDKs
 * retry a 429 unless told not to: `x-should-retry: false`; Retry-After says when the window resets.
 */
export class BudgetExceededError extends GatewayError {
  /** `retryAfterSeconds` null: the budget never resets (a `total` one), so no Retry-After. */
  constructor(
    detail: string,
    retryAfterSeconds: number | null,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super('budget_exceeded', detail, {
      headers: {
        ...headers,
        ...(retryAfterSeconds === null
          ? {}
          : { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) }),
        'x-should-retry': 'false',
      },
    });
  }
}

/** Every slot a request needs stayed taken for the whole queue timeout (or the queue was full). */
export class ConcurrencyLimitError extends GatewayError {
  constructor(detail: string, retryAfterSeconds: number) {
    super('concurrency_limit_exceeded', detail, {
      headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}

/** The upstream could not be reached or gave an answer the gateway cannot use. */
export class UpstreamError extends GatewayError {
  constructor(detail: string, options: GatewayErrorOptions = {}) {
    super('upstream_error', detail, options);
  }
}

/** The upstream refused the request with a 4xx of its own: the client sees that status and message. */
export class UpstreamClientError extends GatewayError {
  constructor(
    code: ErrorCode,
    status: number,
    detail: string,
    headers: Readonly<Record<string, string>>,
    retry: { retryable: boolean; retryAfterMs: number | null } = { retryable: false, retryAfterMs: null },
  ) {
    super(code, detail, { status, headers, ...retry });
  }
}

export class UpstreamTimeoutError extends GatewayError {
  constructor(detail: string, options: GatewayErrorOptions = {}) {
    super('upstream_timeout', detail, options);
  }
}

/** The request's own deadline (routing.deadline_ms) passed: no fault of the target that was running. */
export class DeadlineExceededError extends UpstreamTimeoutError {
  constructor(deadlineMs: number) {
    super(`No answer within the gateway's deadline of ${deadlineMs} ms`);
  }
}

export class InternalError extends GatewayError {
  constructor(cause: unknown) {
    super('internal_error', 'An unexpected error occurred; the request id identifies it in the logs', {
      cause,
    });
  }
}

/** Thrown when the client went away: nothing is sent back, the log says 499. */
export class ClientClosedError extends Error {
  constructor() {
    super('client closed the connection');
    this.name = 'ClientClosedError';
  }
}

/** RFC 9457 problem details, with OpenAI's `error` member so that OpenAI's SDKs show the message. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  request_id: string;
  error: { message: string; type: OpenAiErrorType; code: ErrorCode; param: string | null };
}

export function toProblem(error: GatewayError, instance: string, requestId: string): ProblemDetails {
  const kind = PROBLEM_KINDS[error.code];
  return {
    type: problemTypeUri(error.code),
    title: kind.title,
    status: error.status,
    detail: error.message,
    instance,
    request_id: requestId,
    error: { message: error.message, type: kind.openAiType, code: error.code, param: error.param },
  };
}
