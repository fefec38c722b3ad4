/**
 * Google's error answers (`{error: {code, message, status, details}}`, google.rpc.Status) → the
 * gateway's errors. Pure. https://ai.google.dev/gemini-api/docs/troubleshooting,
 * https://cloud.google.com/apis/design/errors
 *
 * - 429 RESOURCE_EXHAUSTED: a retryable 429, its Retry-After from the header or from the body's
 *   google.rpc.RetryInfo `retryDelay` ("37s"), which is where Google puts it.
 * - 503 UNAVAILABLE (the model is overloaded): a retryable 503 (service_unavailable), like a 429 not
 *   held against the backend's circuit. 500 INTERNAL and other 5xx: the generic mapping (retryable 502).
 * - 504 DEADLINE_EXCEEDED: a retryable upstream timeout.
 * - 401/403, and the Gemini API's 400 for a key it does not know (API_KEY_INVALID): 502, the gateway's
 *   credentials were refused; Google's message is not passed on (it may describe the key).
 * - 400 FAILED_PRECONDITION (billing, a region the API does not serve): 502, the backend's setup.
 * - 404 NOT_FOUND: model_not_found. Other 4xx (INVALID_ARGUMENT, ...): that status, Google's message.
 */
import {
  GatewayError,
  UpstreamClientError,
  UpstreamError,
  UpstreamTimeoutError,
} from '../../errors/errors.js';
import { parseRetryAfter } from '../http/upstream-client.js';

const MAX_MESSAGE = 500;
/** Longest retry delay believed from a body: a day. */
const MAX_RETRY_DELAY_MS = 86_400_000;

export interface GoogleErrorContext {
  /** The backend's name. */
  readonly backend: string;
  /** Which credentials to check, for the message of a refusal ('its api_key', ...). */
  readonly credentials: string;
  /** Removes the configured secrets from text taken from the answer. */
  readonly redact: (text: string) => string;
}

interface GoogleStatus {
  code: number | null;
  message: string | null;
  status: string | null;
  details: unknown[];
}

/** Google's error body, or null when the text is not one. */
export function parseGoogleError(text: string): GoogleStatus | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  // Streamed errors and some proxies wrap the status in a one-element array.
  if (Array.isArray(parsed) && parsed.length === 1) parsed = parsed[0];
  if (parsed === null || typeof parsed !== 'object') return null;
  const error = (parsed as { error?: unknown }).error;
  if (error === null || typeof error !== 'object') return null;
  const record = error as Record<string, unknown>;
  return {
    code: typeof record['code'] === 'number' ? record['code'] : null,
    message: typeof record['message'] === 'string' ? record['message'] : null,
    status: typeof record['status'] === 'string' ? record['status'] : null,
    details: Array.isArray(record['details']) ? record['details'] : [],
  };
}

/** google.rpc.RetryInfo's retryDelay (a protobuf Duration in JSON: "37s", "1.5s"), in ms. */
export function retryDelayOf(details: readonly unknown[]): number | null {
  for (const detail of details) {
    if (detail === null || typeof detail !== 'object') continue;
    const record = detail as Record<string, unknown>;
    if (typeof record['@type'] !== 'string' || !record['@type'].endsWith('google.rpc.RetryInfo')) continue;
    const delay = record['retryDelay'];
    const match = typeof delay === 'string' ? /^(\d{1,9})(?:\.(\d{1,9}))?s$/.exec(delay) : null;
    if (match === null) continue;
    const ms = Number(match[1]) * 1000 + Math.round(Number(`0.${match[2] ?? '0'}`) * 1000);
    return Math.min(ms, MAX_RETRY_DELAY_MS);
  }
  return null;
}

function hasReason(details: readonly unknown[], reason: string): boolean {
  return details.some(
    (detail) =>
      detail !== null && typeof detail === 'object' && (detail as { reason?: unknown }).reason === reason,
  );
}

function messageOf(status: GoogleStatus, context: GoogleErrorContext): string {
  const message = context.redact((status.message ?? '').trim());
  if (message === '') return status.status ?? 'no message';
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
}

/**
 * The gateway's error for Google's error answer; undefined when the body is not Google's (a proxy's
 * HTML page, say), for the generic mapping of the upstream client.
 */
export function mapGoogleError(
  httpStatus: number,
  text: string,
  retryAfterHeader: string | string[] | undefined,
  context: GoogleErrorContext,
): GatewayError | undefined {
  const parsed = parseGoogleError(text);
  if (parsed === null) return undefined;
  const name = context.backend;
  const label = parsed.status ?? String(httpStatus);
  const retryAfterMs = parseRetryAfter(retryAfterHeader) ?? retryDelayOf(parsed.details);
  const retryHeaders: Record<string, string> =
    retryAfterMs === null ? {} : { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) };
  const keyInvalid =
    hasReason(parsed.details, 'API_KEY_INVALID') || /\bAPI key not valid\b/i.test(parsed.message ?? '');
  if (httpStatus === 401 || httpStatus === 403 || keyInvalid) {
    return new UpstreamError(
      `Backend '${name}' refused the gateway's credentials (${httpStatus} ${label}); check ${context.credentials}`,
    );
  }
  const message = messageOf(parsed, context);
  if (httpStatus === 429) {
    return new UpstreamClientError(
      'rate_limit_exceeded',
      429,
      `Backend '${name}' is rate limited by Google (${label}): ${message}`,
      retryHeaders,
      { retryable: true, retryAfterMs },
    );
  }
  if (httpStatus === 503) {
    return new GatewayError(
      'service_unavailable',
      `Backend '${name}' is unavailable (${label}): ${message}`,
      {
        retryable: true,
        retryAfterMs,
        headers: retryHeaders,
      },
    );
  }
  if (httpStatus === 504) {
    return new UpstreamTimeoutError(`Backend '${name}' timed out (${label}): ${message}`, {
      retryable: true,
      retryAfterMs,
    });
  }
  if (httpStatus >= 500) return undefined; // the generic mapping: a retryable 502 with the message
  if (parsed.status === 'FAILED_PRECONDITION') {
    return new UpstreamClientError(
      'upstream_error',
      502,
      `Backend '${name}' cannot serve requests (${label}): ${message}`,
      {},
    );
  }
  if (httpStatus === 404) {
    return new UpstreamClientError('model_not_found', 404, `Backend '${name}' (${label}): ${message}`, {});
  }
  return new UpstreamClientError(
    httpStatus === 413 ? 'payload_too_large' : 'invalid_request',
    httpStatus,
    `Backend '${name}' (${label}): ${message}`,
    {},
  );
}
