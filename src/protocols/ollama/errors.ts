/**
 * Ollama's error body: `{"error": "..."}` as application/json, with the gateway's status (Ollama's own
 * server answers 400, 404, 500 the same way; api/types.go StatusError). ollama-js and ollama-python
 * raise it as ResponseError with this message and the status. Headers the gateway sets on an error
 * (Retry-After, the rate-limit headers, X-Request-ID) are kept by the error handler.
 */
import type { GatewayError } from '../../errors/errors.js';
import type { ErrorShape } from '../../server/error-handler.js';

export const OLLAMA_JSON = 'application/json; charset=utf-8';

export function ollamaErrorBody(error: GatewayError): string {
  return JSON.stringify({ error: error.message });
}

/** The route's `config.errorShape`: every error on an Ollama route, in Ollama's body. */
export const ollamaErrorShape: ErrorShape = (error) => ({
  contentType: OLLAMA_JSON,
  body: ollamaErrorBody(error),
});

/** An error after the stream started: a last NDJSON line, as Ollama writes it. */
export function ollamaErrorLine(error: GatewayError): string {
  return `${ollamaErrorBody(error)}\n`;
}
