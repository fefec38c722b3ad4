/**
 * Azure OpenAI's own error answers, read before the generic mapping of the upstream client
 * (src/backends/http/upstream-client.ts): a prompt its content filter refused (400 `content_filter`),
 * a deployment that does not exist (404 `DeploymentNotFound`), throttling (429) and overload (5xx)
 * with Azure's `retry-after-ms` besides `retry-after`. Pure functions of the status, body and headers.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError, UpstreamClientError, UpstreamError } from '../../errors/errors.js';
import { parseRetryAfter, upstreamMessage } from '../http/upstream-client.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The `error` object of Azure's error body, or null when the body is not one. */
function errorObject(text: string): Json | null {
  try {
    const parsed = JSON.parse(text) as unknown;
    return isObject(parsed) && isObject(parsed['error']) ? parsed['error'] : null;
  } catch {
    return null;
  }
}

/** Categories are Azure's names; more than this many are summarised (a body is capped, not trusted). */
const MAX_CATEGORIES = 12;
const CATEGORY_NAME = /^[a-z][a-z0-9_]{0,40}$/;
const SEVERITIES = new Set(['safe', 'low', 'medium', 'high']);

/**
 * The categories that caused a filter, from a content filter result object (`hate`, `sexual`,
 * `violence`, `self_harm` with a severity; `jailbreak`, `profanity`, `protected_material_*`
 * detected; `custom_blocklists`), e.g. `violence (medium)`, `jailbreak`. Only Azure's category names
 * and severities are repeated: nothing else of the body reaches the message.
 */
export function filteredCategories(result: unknown): string[] {
  if (!isObject(result)) return [];
  const found: string[] = [];
  for (const [category, value] of Object.entries(result)) {
    if (!CATEGORY_NAME.test(category) || !isObject(value) || value['filtered'] !== true) continue;
    const severity = value['severity'];
    found.push(
      typeof severity === 'string' && SEVERITIES.has(severity) && severity !== 'safe'
        ? `${category} (${severity})`
        : category,
    );
  }
  return found.length > MAX_CATEGORIES
    ? [...found.slice(0, MAX_CATEGORIES), `${found.length - MAX_CATEGORIES} more`]
    : found;
}

/**
 * A 400 whose `error.code` is `content_filter`: the prompt was refused by the deployment's content
 * filter. Azure names the categories in `innererror.content_filter_result` (the 2024-10-21 reference
 * spells it `inner_error.content_filter_results`: both are read).
 */
export function promptFilteredError(backend: string, error: Json): GatewayError {
  const inner = isObject(error['innererror'])
    ? error['innererror']
    : isObject(error['inner_error'])
      ? error['inner_error']
      : {};
  const categories = filteredCategories(inner['content_filter_result'] ?? inner['content_filter_results']);
  const which = categories.length === 0 ? 'no category given' : categories.join(', ');
  return new UpstreamClientError(
    'invalid_request',
    400,
    `Backend '${backend}': the prompt was filtered by Azure OpenAI's content filter (${which}); change the prompt or the deployment's content filter configuration`,
    {},
  );
}

/**
 * How long Azure asks to wait: `retry-after-ms` (or `x-ms-retry-after-ms`), milliseconds, else
 * `retry-after` (seconds or a date); null when none is usable.
 */
export function azureRetryAfterMs(headers: IncomingHttpHeaders, now = Date.now()): number | null {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const value = headers[name];
    if (typeof value === 'string' && /^\d{1,9}(\.\d+)?$/.test(value.trim())) {
      return Math.ceil(Number(value.trim()));
    }
  }
  return parseRetryAfter(headers['retry-after'], now);
}

/**
 * Azure's reading of an error answer, or undefined for the upstream client's generic one. `secrets`
 * (the api key, recent Entra ID tokens, the config's secrets) are removed from any message passed on.
 */
export function azureError(
  backend: string,
  status: number,
  text: string,
  headers: IncomingHttpHeaders,
  secrets: readonly string[],
): GatewayError | undefined {
  const error = errorObject(text);
  const message = upstreamMessage(text, secrets);
  if (status === 400 && error?.['code'] === 'content_filter') return promptFilteredError(backend, error);
  if (status === 404 && error?.['code'] === 'DeploymentNotFound') {
    return new UpstreamClientError(
      'model_not_found',
      404,
      `Backend '${backend}' has no such deployment (the target's model is the deployment name): ${message ?? 'DeploymentNotFound'}`,
      {},
    );
  }
  if (status !== 429 && status < 500) return undefined;
  const retryAfterMs = azureRetryAfterMs(headers);
  const retryAfter: Record<string, string> =
    retryAfterMs === null ? {} : { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) };
  if (status === 429) {
    return new UpstreamClientError(
      'rate_limit_exceeded',
      429,
      `Backend '${backend}': ${message ?? 'too many requests (429)'}`,
      retryAfter,
      { retryable: true, retryAfterMs },
    );
  }
  if (status === 503) {
    // Azure's "The service is temporarily unable to process your request" / overloaded: a 503 the
    // client may retry, as Azure asks, rather than a 502 that blames the gateway's upstream.
    return new GatewayError(
      'service_unavailable',
      `Backend '${backend}' is overloaded (503)${message === null ? '' : `: ${message}`}`,
      { retryable: true, retryAfterMs, headers: retryAfter },
    );
  }
  return new UpstreamError(
    `Backend '${backend}' failed with status ${status}${message === null ? '' : `: ${message}`}`,
    { retryable: true, retryAfterMs, headers: retryAfter },
  );
}
