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
      state.model = body.model;
      const decision = context.router.resolve(body.model, state.key?.models ?? null);
      state.backend = decision.adapter.name;
      reply.header('x-gateway-backend', decision.adapter.name);
      const grant = await context.rateLimiter.acquire({
        key: state.key as KeyRecord,
        route: decision.route,
        tokens: () => estimateEmbeddingTokens(body),
      });
      reply.headers(grant.headers);
      const call = context.calls.open(request, reply, { stream: false });
      try {
        const answer = await decision.adapter.embeddings({ ...body, model: decision.upstreamModel }, call);
        state.promptTokens = answer.usage.prompt_tokens;
        return await reply.type('application/json').send(JSON.stringify(answer));
      } finally {
        call.close();
        grant.settle(state.promptTokens ?? 0);
      }
    },
  );
}
