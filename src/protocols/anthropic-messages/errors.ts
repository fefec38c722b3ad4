/**
 * Errors in Anthropic's shape: `{"type":"error","error":{"type":...,"message":...},"request_id":...}`,
 * the body Anthropic's SDKs read `error.type` and the message from. The status stays the gateway's
 * (docs/errors.md): the SDKs pick their error class from the status (401 AuthenticationError, 429
 * RateLimitError, ...), and a 503 is still a 503, not Anthropic's own 529.
 */
import type { ErrorCode, GatewayError } from '../../errors/errors.js';
import type { ErrorShape } from '../../server/error-handler.js';

/** `error.type` values of Anthropic's API reference and SDK (shared.d.ts ErrorType, plus request_too_large). */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

const BY_CODE: Readonly<Record<ErrorCode, AnthropicErrorType>> = {
  invalid_request: 'invalid_request_error',
  invalid_api_key: 'authentication_error',
  model_not_allowed: 'permission_error',
  forbidden: 'permission_error',
  not_found: 'not_found_error',
  model_not_found: 'not_found_error',
  method_not_allowed: 'invalid_request_error',
  payload_too_large: 'request_too_large',
  unsupported_media_type: 'invalid_request_error',
  rate_limit_exceeded: 'rate_limit_error',
  // Both are 429s; the SDK retries by status, the message says which limit and Retry-After when.
  budget_exceeded: 'rate_limit_error',
  concurrency_limit_exceeded: 'rate_limit_error',
  internal_error: 'api_error',
  upstream_error: 'api_error',
  // The gateway's 503s (shutting down, every target's circuit open, a store down) are what Anthropic
  // calls overload: retry later.
  service_unavailable: 'overloaded_error',
  upstream_timeout: 'timeout_error',
};

export function anthropicErrorType(error: GatewayError): AnthropicErrorType {
  // Fastify's own 413 (a body over the limit seen while parsing) arrives as an invalid_request.
  if (error.status === 413) return 'request_too_large';
  // An upstream's overload (an anthropic backend's 529) is an upstream_error with the status 503.
  if (error.status === 503) return 'overloaded_error';
  return BY_CODE[error.code];
}

/** The error object, as a response body and as the data of a stream's `event: error`. */
export function anthropicError(
  error: GatewayError,
  requestId: string,
): { type: 'error'; error: { type: AnthropicErrorType; message: string }; request_id: string } {
  return {
    type: 'error',
    error: { type: anthropicErrorType(error), message: error.message },
    request_id: requestId,
  };
}

export const anthropicErrorShape: ErrorShape = (error, _instance, requestId) => ({
  contentType: 'application/json',
  body: JSON.stringify(anthropicError(error, requestId)),
});
