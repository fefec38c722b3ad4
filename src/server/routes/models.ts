import type { FastifyInstance } from 'fastify';
import { ModelListSchema, type ModelList } from '../../api/schemas.js';
import type { GatewayContext } from '../context.js';
import { errorResponses } from './openapi-fragments.js';

const STARTED = Math.floor(Date.now() / 1000);

export function registerModels(app: FastifyInstance, context: GatewayContext): void {
  app.get(
    '/v1/models',
    {
      onRequest: context.authenticate,
      schema: {
        tags: ['OpenAI-compatible'],
        summary: 'List the models this key may use',
        security: [{ apiKey: [] }],
        response: { 200: ModelListSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const names = await context.discovery.listModels(request.gateway.key?.models ?? null);
      const list: ModelList = {
        object: 'list',
        data: names.map((id) => ({ id, object: 'model', created: STARTED, owned_by: 'ai-gateway' })),
      };
      return reply.type('application/json').send(JSON.stringify(list));
    },
  );
}
