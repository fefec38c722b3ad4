import type { FastifyInstance } from 'fastify';
import type { AdminAccess } from '../../admin/admin-access.js';
import { LiveSchema, ReadySchema } from '../../api/schemas.js';
import type { GatewayContext, ReadinessCheck } from '../context.js';

export function registerHealth(app: FastifyInstance, context: GatewayContext, access: AdminAccess): void {
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
        summary:
          'Readiness: 200 when every check passes, else 503; each check with its detail for an operator only (admin or viewer token, UI session)',
        response: { 200: ReadySchema, 503: ReadySchema },
      },
    },
    async (request, reply) => {
      const checks = await context.checkReadiness();
      const healthy = Object.values(checks).every(
        (check) => check.status !== 'error' && check.status !== 'shutting_down',
      );
      const shown = (await access.roleOf(request)) === null ? statesOnly(checks) : checks;
      return reply
        .code(healthy ? 200 : 503)
        .type('application/json')
        .header('cache-control', 'no-store')
        .send(JSON.stringify({ status: healthy ? 'healthy' : 'unhealthy', checks: shown }));
    },
  );
}

/**
 * Details quote backends and stores (an upstream's error text, a Redis message): the unauthenticated
 * probe gets each check's status only (issue 16, finding 6).
 */
function statesOnly(checks: Record<string, ReadinessCheck>): Record<string, ReadinessCheck> {
  const states: Record<string, ReadinessCheck> = {};
  for (const [name, check] of Object.entries(checks)) states[name] = { status: check.status };
  return states;
}
