import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

/** The methods the gateway's routes use (the admin API has PATCH and DELETE). */
const ALLOW_METHODS = 'GET, HEAD, POST, PATCH, DELETE';

/** What browser clients send: credentials, JSON, a request id, cache control, trace context. */
const ALLOW_HEADERS = [
  'authorization',
  'x-api-key',
  'content-type',
  'x-request-id',
  'cache-control',
  'traceparent',
  'tracestate',
  'anthropic-version',
];

/**
 * The SDKs add headers of their own (x-stainless-os, x-stainless-retry-count, anthropic-beta, ...) that
 * change with each release: those families are allowed by name when a preflight asks for them.
 */
const SDK_HEADER = /^(x-stainless-|anthropic-)[a-z0-9-]{1,64}$/;

/**
 * Response headers a page may read besides the CORS-safelisted ones (Fetch §3.2.2): the request id,
 * cache and routing outcome, the rate limits (draft-ietf-httpapi-ratelimit-headers and OpenAI's), and
 * how long to wait after a 429 or 503.
 */
const EXPOSE_HEADERS = [
  'x-request-id',
  'x-cache',
  'x-gateway-backend',
  'x-gateway-attempts',
  'x-gateway-dropped-fields',
  'ratelimit',
  'ratelimit-policy',
  'retry-after',
  'retry-after-ms',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
  'allow',
].join(', ');

/** How long a browser may reuse a preflight's answer: a changed allow-list is seen within 10 minutes. */
export const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * The Access-Control-Allow-Headers of a preflight: the gateway's own list, plus the SDK headers among
 * those the browser asked for (Access-Control-Request-Headers, a comma-separated list of names).
 */
export function allowedRequestHeaders(requested: string | undefined): string {
  if (requested === undefined || requested === '') return ALLOW_HEADERS.join(', ');
  const allowed = [...ALLOW_HEADERS];
  for (const part of requested.split(',', 64)) {
    const name = part.trim().toLowerCase();
    if (SDK_HEADER.test(name) && !allowed.includes(name)) allowed.push(name);
  }
  return allowed.join(', ');
}

/**
 * CORS for browser apps (server.cors): a request whose Origin is on the list gets that origin echoed
 * back, never `*`, and no Access-Control-Allow-Credentials: the gateway authenticates with headers that
 * the page sets, never with cookies, so a page cannot borrow a user's ambient credentials. A preflight
 * from a listed origin is answered 204 here, before any route's authentication; any other origin gets no
 * CORS header at all and the browser keeps the answer from the page.
 *
 * The headers are set in onRequest, before authentication and validation, so that errors (401, 404,
 * 429) carry them too and the page can read why it was refused. With no origin listed nothing is
 * registered: the requests of a gateway without CORS pay nothing for it.
 */
export function registerCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const allowed = new Set(origins);
  app.addHook(
    'onRequest',
    (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
      // The answer depends on Origin whatever it is: a shared cache must not serve one origin's answer
      // (with or without CORS headers) to another (Fetch §3.2.5, "CORS protocol and HTTP caches").
      reply.header('vary', 'Origin');
      const origin = request.headers.origin;
      if (origin === undefined || !allowed.has(origin)) {
        done();
        return;
      }
      reply.header('access-control-allow-origin', origin);
      const preflightMethod = request.headers['access-control-request-method'];
      if (request.method !== 'OPTIONS' || preflightMethod === undefined) {
        reply.header('access-control-expose-headers', EXPOSE_HEADERS);
        done();
        return;
      }
      const requestedHeaders = request.headers['access-control-request-headers'];
      reply
        .code(204)
        .header('vary', 'Origin, Access-Control-Request-Headers')
        .header('access-control-allow-methods', ALLOW_METHODS)
        .header('access-control-allow-headers', allowedRequestHeaders(requestedHeaders))
        .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS))
        .send();
    },
  );
}
