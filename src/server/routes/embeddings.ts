import type { FastifyInstance } from 'fastify';
import {
  EmbeddingsRequestSchema,
  EmbeddingsResponseSchema,
  type EmbeddingsRequest,
} from '../../api/schemas.js';
import type { KeyRecord } from '../../auth/key-record.js';
import { estimateEmbeddingTokens } from '../../rate-limit/token-estimate.js';
import type { GatewayContext } from '../context.js';
import { errorResponses } from './openapi-fragments.js';

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
    async (request, reply) => {
      const body = request.body;
      const state = request.gateway;
      const key = state.key as KeyRecord;
      state.model = body.model;
      const decision = context.router.resolve(body.model, key.models);
      state.backend = decision.adapter.name;
      reply.header('x-gateway-backend', decision.adapter.name);
      const lookup = await context.cache.lookup({
        endpoint: 'embeddings',
        route: decision.route,
        backend: decision.adapter.name,
        upstreamModel: decision.upstreamModel,
        body,
        keyId: key.id,
        cacheControl: request.headers['cache-control'],
      });
      try {
        const shared = lookup.entry?.body ?? (lookup.status === 'MISS' ? await lookup.joinInFlight() : null);
        if (shared !== null) {
          state.cache = 'HIT';
          reply.header('x-cache', 'HIT');
          const grant = await context.rateLimiter.acquire({ key, route: decision.route, tokens: null });
          reply.headers(grant.headers);
          return await reply.type('application/json').send(JSON.stringify({ ...shared, cached: true }));
        }
        state.cache = lookup.status;
        reply.header('x-cache', lookup.status);
        const grant = await context.rateLimiter.acquire({
          key,
          route: decision.route,
          tokens: () => estimateEmbeddingTokens(body),
        });
        reply.headers(grant.headers);
        const call = context.calls.open(request, reply, { stream: false });
        try {
          const answer = await decision.adapter.embeddings({ ...body, model: decision.upstreamModel }, call);
          state.promptTokens = answer.usage.prompt_tokens;
          if (lookup.collects) lookup.complete(answer);
          return await reply.type('application/json').send(JSON.stringify(answer));
        } finally {
          call.close();
          grant.settle(state.promptTokens ?? 0);
        }
      } finally {
        lookup.abandon();
      }
    },
  );
}
