import type { FastifyReply, FastifyRequest } from 'fastify';
import type { KeyRecord } from '../auth/key-record.js';
import type { TeamRecord } from '../auth/team-record.js';
import type { AttemptLog, AttemptRecord } from '../routing/attempt-runner.js';
import type { RequestTrace } from '../observability/tracing.js';

/** What the pipeline learns about a request as it goes; the request_complete log line reads it. */
export interface RequestState extends AttemptLog {
  readonly startedAt: bigint;
  key: KeyRecord | null;
  /** The key's team, resolved with the key (issue 20); null for a key without one. */
  team: TeamRecord | null;
  /**
   * The model name the client sent, once its body is valid. Any string: logs and traces show it, but
   * usage counts it only once it is known to be served and metrics never label with it (usage-model.ts).
   */
  model: string | null;
  /** The configured route the model matched (the `model` label of metrics). */
  routeName: string | null;
  /** The backend that answered (2xx), or whose stored answer a cache hit served. */
  backend: string | null;
  cache: 'HIT' | 'MISS' | 'BYPASS' | null;
  promptTokens: number | null;
  completionTokens: number | null;
  /** Of the prompt tokens, read from and written to the provider's prompt cache, when reported. */
  cachedTokens: number | null;
  cacheWriteTokens: number | null;
  /** Of the completion tokens, reasoning, when reported. */
  reasoningTokens: number | null;
  /** When the first byte of the answer went out (a stream's headers and first event); null: not yet. */
  firstByteAt: bigint | null;
  stream: boolean;
  /** How a request that did not end normally ended: client_closed, stream_error, ... */
  outcome: string | null;
  errorCode: string | null;
  /** The request reached a route's targets (X-Gateway-Attempts is sent from then on). */
  routed: boolean;
  trace: RequestTrace | null;
  traceHeaders: Readonly<Record<string, string>> | null;
  operation: 'chat' | 'embeddings';
  /** With logging.prompts on: what the client sent and what it got, for the log line. */
  loggedPrompt: string | null;
  loggedAnswer: string | null;
  attempts: AttemptRecord[];
  /** The JSON body's text as the client sent it (null without one). */
  bodyText: string | null;
  retryStop: 'budget' | 'deadline' | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    gateway: RequestState;
  }
}

export function newRequestState(): RequestState {
  return {
    startedAt: process.hrtime.bigint(),
    key: null,
    team: null,
    model: null,
    routeName: null,
    backend: null,
    cache: null,
    promptTokens: null,
    completionTokens: null,
    cachedTokens: null,
    cacheWriteTokens: null,
    reasoningTokens: null,
    firstByteAt: null,
    stream: false,
    outcome: null,
    errorCode: null,
    routed: false,
    trace: null,
    traceHeaders: null,
    operation: 'chat',
    loggedPrompt: null,
    loggedAnswer: null,
    attempts: [],
    bodyText: null,
    retryStop: null,
  };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The contract's X-Request-ID rule: keep the client's when it is well-formed, else a new UUID. */
export function chooseRequestId(header: string | string[] | undefined, generate: () => string): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : generate();
}

/** The request's path without its query: the problem's `instance` and the log line's `path`. */
export function requestPath(request: FastifyRequest): string {
  return request.url.split('?', 1)[0] ?? request.url;
}

/** X-Gateway-Attempts (and X-Gateway-Backend: who answered, or was tried last) once a request was routed. */
export function setRoutingHeaders(reply: FastifyReply, state: RequestState): void {
  if (!state.routed) return;
  reply.header('x-gateway-attempts', String(state.attempts.length));
  const backend = state.backend ?? state.attempts[state.attempts.length - 1]?.backend;
  if (backend !== undefined) reply.header('x-gateway-backend', backend);
}
