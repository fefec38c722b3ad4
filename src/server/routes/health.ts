import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LiveSchema, ReadySchema } from '../../api/schemas.js';
import type { GatewayContext, ReadinessCheck } from '../context.js';

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
        summary:
          'Readiness: 200 when every check passes, else 503; each check with its detail for the admin token only',
        response: { 200: ReadySchema, 503: ReadySchema },
      },
    },
    async (request, reply) => {
      const checks = await context.checkReadiness();
      const healthy = Object.values(checks).every(
        (check) => check.status !== 'error' && check.status !== 'shutting_down',
      );
      const shown = isAdmin(request, context) ? checks : statesOnly(checks);
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

/**
 * The admin token asks for details. A missing or wrong token still gets the states (a probe is never
 * refused), though a wrong one counts as a failed admin authentication like anywhere else.
 */
function isAdmin(request: FastifyRequest, context: GatewayContext): boolean {
  const expected = context.config.auth.adminTokenSha256;
  if (expected === null || request.headers.authorization === undefined) return false;
  try {
    context.authenticator.authenticateAdmin(request.headers, request.ip, expected);
    return true;
  } catch {
    return false;
  }
}
