/**
 * A finished request as a request-log record (issue 21), from what the pipeline learned of it
 * (RequestState). Pure apart from reading the request; the prompt and answer only when
 * logging.prompts is on, redacted and capped as in the log line.
 */
import type { FastifyRequest } from 'fastify';
import type { GatewayConfig } from '../config/config.js';
import { promptForLog } from '../logging/prompt-log.js';
import type { RequestState } from '../server/request-state.js';
import type { RequestRecord } from './request-record.js';

/** The client protocol of an HTTP route. */
export function protocolOf(route: string): string {
  if (route === '/v1/chat/completions') return 'openai-chat';
  if (route.startsWith('/v1/responses')) return 'openai-responses';
  if (route.startsWith('/v1/messages')) return 'anthropic-messages';
  if (route === '/v1/completions') return 'openai-completions';
  if (route === '/v1/embeddings') return 'openai-embeddings';
  if (route.startsWith('/v1/models')) return 'openai-models';
  if (route.startsWith('/api/')) return 'ollama';
  return 'other';
}

/** Whether a request belongs in the request log: the model APIs, not health, metrics or admin. */
export function isLoggedRoute(route: string | undefined): route is string {
  return route !== undefined && (route.startsWith('/v1/') || route.startsWith('/api/'));
}

const NS_PER_MS = 1_000_000n;

export function recordOf(
  request: FastifyRequest,
  state: RequestState,
  status: number,
  costMicros: number | null,
  prompts: GatewayConfig['promptLogging'],
  now: number = Date.now(),
): RequestRecord {
  const route = request.routeOptions.url ?? 'unmatched';
  const end = process.hrtime.bigint();
  const ms = (from: bigint): number => Number(((end - from) * 1000n) / NS_PER_MS) / 1000;
  const duration = ms(state.startedAt);
  const answered = state.attempts.find((attempt) => attempt.outcome === 'ok');
  // On a failure no backend answered: the last one tried is the one to blame, as X-Gateway-Backend
  // says, and what the backend filter must find ("which backend is failing").
  const last = answered ?? state.attempts.at(-1);
  return {
    time: now,
    request_id: request.id,
    key_id: state.key?.id ?? null,
    team: state.team?.id ?? state.key?.team ?? null,
    protocol: protocolOf(route),
    route,
    model: state.model,
    route_name: state.routeName,
    backend: state.backend ?? last?.backend ?? null,
    upstream_model: last?.model ?? null,
    status,
    error_code: state.errorCode,
    // The request's own list, not a copy: the writer turns the record into its row (the attempts' fields
    // picked and bounded, as JSON) before anything else can touch it.
    attempts: state.attempts,
    cache: state.cache,
    // A whole answer's first byte is its last: the time to first byte of a JSON answer is its duration.
    ttfb_ms:
      state.firstByteAt === null
        ? duration
        : Number(((state.firstByteAt - state.startedAt) * 1000n) / NS_PER_MS) / 1000,
    duration_ms: duration,
    prompt_tokens: state.promptTokens,
    completion_tokens: state.completionTokens,
    cached_tokens: state.cachedTokens,
    reasoning_tokens: state.reasoningTokens,
    cost_micros: costMicros,
    client_address: request.ip,
    user_agent: request.headers['user-agent'] ?? null,
    prompt: state.loggedPrompt === null ? null : promptForLog(state.loggedPrompt, prompts),
    answer: state.loggedAnswer === null ? null : promptForLog(state.loggedAnswer, prompts),
  };
}
