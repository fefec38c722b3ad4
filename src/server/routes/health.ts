import type { FastifyInstance } from 'fastify';
import { LiveSchema, ReadySchema } from '../../api/schemas.js';
import type { GatewayContext } from '../context.js';

export function registerHealth(app: FastifyInstance, context: GatewayContext): void {
  app.get(
    '/health/live',
    {
      schema: {
        tags: ['Health'],
        summary: 'Liveness: 200 while the process serves',
        response: { 200: LiveSchema },
      },
    },
    async (_request, reply) => reply.type('application/json').send('{"status":"alive"}'),
  );
  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['Health'],
        summary: 'Readiness: 200 when every check passes, else 503',
        response: { 200: ReadySchema, 503: ReadySchema },
      },
    },
    async (_request, reply) => {
      const checks = await context.checkReadiness();
      const healthy = Object.values(checks).every(
        (check) => check.status !== 'error' && check.status !== 'shutting_down',
      );
      return reply
        .code(healthy ? 200 : 503)
        .type('application/json')
        .header('cache-control', 'no-store')
        .send(JSON.stringify({ status: healthy ? 'healthy' : 'unhealthy', checks }));
    },
  );
}
