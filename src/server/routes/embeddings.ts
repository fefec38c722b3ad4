import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  EmbeddingsRequestSchema,
  EmbeddingsResponseSchema,
  type EmbeddingsRequest,
  type EmbeddingsResponse,
} from '../../api/schemas.js';
import type { KeyRecord } from '../../auth/key-record.js';
import { estimateEmbeddingTokens } from '../../rate-limit/token-estimate.js';
import type { GatewayContext } from '../context.js';
import { errorResponses } from './openapi-fragments.js';
import { setRoutingHeaders } from '../request-state.js';
import { inSpan } from '../../observability/tracing.js';
import { allowedModels } from '../../auth/team-models.js';

export function registerEmbeddings(app: FastifyInstance, context: GatewayContext): void {
  app.post<{ Body: EmbeddingsRequest }>(
    '/v1/embeddings',
    {
      onRequest: context.authenticate,
      schema: {
        tags: ['OpenAI-compatible'],
        summary: 'Create embeddings',
        security: [{ apiKey: [] }],
        body: EmbeddingsRequestSchema,
        response: { 200: EmbeddingsResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) =>
      serveEmbeddings(request, reply, context, request.body, request.gateway.bodyText, openAiEmbeddings),
  );
}

/** Writes an embeddings answer in a protocol's form; `cached` for a stored one. */
export type EmbeddingsWriter = (answer: EmbeddingsResponse, cached: boolean) => string;

/** OpenAI's form: the answer as the backend gave it, a stored one marked "cached": true. */
export const openAiEmbeddings: EmbeddingsWriter = (answer, cached) =>
  JSON.stringify(cached ? { ...answer, cached: true } : answer);

/**
 * Serves one embeddings request, whatever protocol it came in (OpenAI's /v1/embeddings, Ollama's
 * /api/embed): the key's allow-list, the cache, limits, routing with retries, usage. `body` is the
 * request in OpenAI's form; `bodyText` the JSON it was parsed from when the client sent exactly that.
 */
export async function serveEmbeddings(
  request: FastifyRequest,
  reply: FastifyReply,
  context: GatewayContext,
  body: EmbeddingsRequest,
  bodyText: string | null,
  write: EmbeddingsWriter,
): Promise<FastifyReply> {
  const state = request.gateway;
  const key = state.key as KeyRecord;
  state.model = body.model;
  const plan = context.router.resolve(body.model, allowedModels(key, state.team));
  state.routed = true;
  state.routeName = plan.route.name;
  state.operation = 'embeddings';
  if (context.config.promptLogging.enabled) state.loggedPrompt = JSON.stringify(body.input);
  const lookup = await inSpan(state.trace, 'cache_lookup', () =>
    context.cache.lookup({
      endpoint: 'embeddings',
      route: plan.route,
      backend: plan.cacheBackend,
      upstreamModel: plan.cacheModel,
      body,
      bodyText,
      keyId: key.id,
      cacheControl: request.headers['cache-control'],
    }),
  );
  try {
    const shared = lookup.entry ?? (lookup.status === 'MISS' ? await lookup.joinInFlight() : null);
    if (shared !== null) {
      state.cache = 'HIT';
      state.backend = shared.backend;
      reply.header('x-cache', 'HIT');
      setRoutingHeaders(reply, state);
      const grant = await inSpan(state.trace, 'rate_limit', () =>
        context.rateLimiter.acquire({ key, team: state.team, route: plan.route, tokens: null }),
      );
      reply.headers(grant.headers);
      return await reply.type('application/json').send(write(shared.body as EmbeddingsResponse, true));
    }
    state.cache = lookup.status;
    reply.header('x-cache', lookup.status);
    context.attempts.assertAvailable(plan);
    const grant = await inSpan(state.trace, 'rate_limit', () =>
      context.rateLimiter.acquire({
        key,
        team: state.team,
        route: plan.route,
        tokens: () => estimateEmbeddingTokens(body),
      }),
    );
    reply.headers(grant.headers);
    const call = context.calls.open(request, reply, { stream: false });
    try {
      const attempt = await context.attempts.run(
        plan,
        call,
        state,
        (adapter, upstreamModel, attemptCall) =>
          adapter.embeddings({ ...body, model: upstreamModel }, attemptCall),
        (answer) => ({ promptTokens: answer.usage.prompt_tokens, completionTokens: null }),
      );
      const answer = attempt.value;
      state.promptTokens = answer.usage.prompt_tokens;
      if (lookup.collects && attempt.primary) lookup.complete(answer, attempt.backend);
      setRoutingHeaders(reply, state);
      return await reply.type('application/json').send(write(answer, false));
    } finally {
      call.close();
      grant.settle(state.promptTokens ?? 0);
    }
  } finally {
    lookup.abandon();
  }
}
