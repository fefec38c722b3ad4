/**
 * Read-only views for the admin UI's Backends and Config pages, and a reload (issue 22):
 * GET /admin/backends, GET /admin/config (secrets masked), POST /admin/reload (what SIGHUP does).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServiceUnavailableError } from '../errors/errors.js';
import type { GatewayContext } from '../server/context.js';
import { errorResponses } from '../server/routes/openapi-fragments.js';
import { maskedConfig, maskUrl } from './masked-config.js';

/** What a reload did: applied (and what needs a restart), refused (the config's problems), or asked of every worker. */
export type ReloadOutcome =
  | { readonly status: 'reloaded'; readonly restart_required: readonly string[] }
  | { readonly status: 'refused'; readonly problems: readonly string[] }
  | { readonly status: 'requested' };

export interface OperationsRouteDeps {
  readonly context: GatewayContext;
  readonly guard: (request: FastifyRequest) => Promise<void>;
  /** Reloads the config file as SIGHUP does; null when this gateway was not started from one (tests). */
  readonly reload: () => ReloadOutcome | null;
}

const tags = ['Admin'];
const security = [{ adminToken: [] }];

/** Circuits of a backend listed by name at most (then counted). */
const CIRCUITS_LISTED = 20;

export function backendsView(context: GatewayContext): Record<string, unknown>[] {
  const router = context.router;
  return context.config.backends.map((config) => {
    const state = router.backends.get(config.name);
    let outstanding = 0;
    for (const target of router.targets.values())
      if (target.adapter.name === config.name) outstanding += target.outstanding;
    const circuits = state?.breakers.notClosed(CIRCUITS_LISTED) ?? { listed: [], total: 0 };
    return {
      name: config.name,
      type: config.type,
      url: maskUrl(config.url),
      health: state?.health ?? 'unchecked',
      health_detail: state?.healthDetail ?? null,
      circuit: state?.breakers.mostOpen() ?? 'closed',
      open_circuits: circuits.listed.map(([model, circuit]) => ({ model, state: circuit })),
      open_circuits_total: circuits.total,
      in_flight: outstanding,
      in_flight_all_instances:
        config.maxConcurrency === null ? null : context.slots.inFlight(`backend:${config.name}`),
      queued: context.slots.queueLength(`backend:${config.name}`),
      max_concurrency: config.maxConcurrency,
    };
  });
}

export function registerOperationsRoutes(app: FastifyInstance, deps: OperationsRouteDeps): void {
  const { context, guard } = deps;

  app.get(
    '/admin/backends',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary:
          "Each backend's health check, circuit state, requests in flight and queued (this instance's; in_flight_all_instances for a capped backend)",
        response: {
          200: Type.Object({ data: Type.Array(Type.Object({}, { additionalProperties: true })) }),
          ...errorResponses,
        },
      },
    },
    async (_request, reply) =>
      reply
        .header('cache-control', 'no-store')
        .type('application/json')
        .send(JSON.stringify({ data: backendsView(context) })),
  );

  app.get(
    '/admin/config',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'The effective config (defaults filled in) with every secret masked',
        response: { 200: Type.Object({}, { additionalProperties: true }), ...errorResponses },
      },
    },
    async (_request, reply) =>
      reply
        .header('cache-control', 'no-store')
        .type('application/json')
        .send(JSON.stringify(maskedConfig(context.config))),
  );

  app.post(
    '/admin/reload',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary:
          'Reload the config file as SIGHUP does: applied, or refused with its problems (the running config stays)',
        response: { 200: Type.Object({}, { additionalProperties: true }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const outcome = deps.reload();
      if (outcome === null)
        throw new ServiceUnavailableError(
          'This gateway was not started by `ai-gateway serve`, so there is no config file to reload',
        );
      request.log.info({ status: outcome.status }, 'config reload through the admin API');
      return reply.type('application/json').send(JSON.stringify(outcome));
    },
  );
}
