import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  UsageListSchema,
  UsageQuerySchema,
  UsageRowSchema,
  type UsageQueryString,
} from '../api/usage-schemas.js';
import { BudgetStatusSchema } from '../api/admin-schemas.js';
import { InvalidRequestError, ServiceUnavailableError } from '../errors/errors.js';
import { errorResponses } from '../server/routes/openapi-fragments.js';
import type { UsageRecorder } from '../usage/usage-recorder.js';
import { parseUsageParams, UsageParamError } from '../usage/usage-query.js';
import { usageCsv } from '../usage/usage-rows.js';
import type { UsageQuery, UsageRow, UsageStore } from '../usage/usage.js';

export interface UsageRouteDeps {
  /** The onRequest guard of every /admin route (src/admin/admin-access.ts). */
  readonly guard: (request: FastifyRequest) => Promise<void>;
  /** Where usage is kept (Stores.usage). */
  readonly store: UsageStore;
  /** This instance's recorder, flushed before each answer so that its own traffic shows at once; null when usage.enabled is false. */
  readonly recorder: UsageRecorder | null;
  /** The clock for the defaults of from and to (default Date.now). */
  readonly now?: () => number;
  /**
   * With `key=<id>`: the spending of that key's budgets and its team's in their current windows
   * (issue 20); null when no key has that id.
   */
  readonly budgets?: (keyId: string) => Promise<readonly unknown[] | null>;
}

const CSV_TYPE = 'text/csv; charset=utf-8; header=present';

/**
 * Whether the client prefers CSV to JSON: `Accept: text/csv` (with a q-value at least that of JSON; on a
 * tie, the type named explicitly wins, so `text/csv, *\/*` is CSV). Anything else gets JSON.
 */
export function prefersCsv(accept: string | undefined): boolean {
  if (accept === undefined || accept === '') return false;
  const q: Record<string, number> = {};
  for (const part of accept.split(',')) {
    const [type = '', ...parameters] = part.split(';').map((text) => text.trim().toLowerCase());
    const qParameter = parameters.find((parameter) => parameter.startsWith('q='));
    const value = qParameter === undefined ? 1 : Number(qParameter.slice(2));
    if (!Number.isFinite(value)) continue;
    q[type] = Math.max(q[type] ?? 0, value);
  }
  const csv = q['text/csv'] ?? q['text/*'] ?? q['*/*'] ?? 0;
  const json = q['application/json'] ?? q['application/*'] ?? q['*/*'] ?? 0;
  if (csv <= 0) return false;
  if (csv !== json) return csv > json;
  return q['text/csv'] !== undefined && q['application/json'] === undefined;
}

/**
 * GET /admin/usage: usage per key, model, day and hour, as JSON or CSV (Accept: text/csv). Guarded as
 * every /admin route (src/admin/admin-access.ts).
 */
export function registerUsageRoutes(app: FastifyInstance, deps: UsageRouteDeps): void {
  const now = deps.now ?? Date.now;
  const guard = deps.guard;
  app.addSchema(UsageRowSchema);
  app.addSchema(BudgetStatusSchema);

  app.get<{ Querystring: UsageQueryString }>(
    '/admin/usage',
    {
      onRequest: guard,
      schema: {
        tags: ['Admin'],
        security: [{ adminToken: [] }],
        summary: 'Usage per key, model, day or hour: requests, errors, cached answers, tokens, cost',
        description:
          'Counted per UTC hour by every instance (Redis) or this one (SQLite); an instance sends its ' +
          'counters every second, and this one sends its own before answering. `Accept: text/csv` gives ' +
          'CSV (RFC 4180) with the same columns: the group_by columns, then the counters.',
        querystring: UsageQuerySchema,
        response: {
          200: {
            description: 'The rows, sorted by the group_by columns (days and hours oldest first)',
            content: {
              'application/json': {
                schema: Type.Composite([
                  UsageListSchema,
                  Type.Object({
                    from: Type.String({ format: 'date-time', description: 'The start used, inclusive' }),
                    to: Type.String({ format: 'date-time', description: 'The end used, exclusive' }),
                    budgets: Type.Optional(
                      Type.Array(Type.Ref('BudgetStatus'), {
                        description:
                          'With key=<id>: the spending of the key’s budgets and its team’s in their current windows',
                      }),
                    ),
                  }),
                ]),
              },
              'text/csv': {
                schema: Type.String({
                  description: 'A header line (the group_by columns, then the counters), one line per row',
                }),
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      let query: UsageQuery;
      try {
        query = parseUsageParams(request.query, now());
      } catch (error) {
        if (error instanceof UsageParamError)
          throw new InvalidRequestError(`Invalid request: ${error.message}`, { param: error.param });
        throw error;
      }
      await deps.recorder?.flush();
      let rows: UsageRow[];
      try {
        rows = await deps.store.query(query);
      } catch (error) {
        throw new ServiceUnavailableError(
          `The usage store is unavailable (${error instanceof Error ? error.message : String(error)}); retry shortly`,
          1,
        );
      }
      // Added to what is there already (Vary: Origin when server.cors is set).
      const vary = reply.getHeader('vary');
      reply.header('vary', vary === undefined ? 'accept' : `${String(vary)}, accept`);
      if (prefersCsv(request.headers.accept)) return reply.type(CSV_TYPE).send(usageCsv(rows, query.groupBy));
      const budgets = query.key === null ? null : ((await deps.budgets?.(query.key)) ?? null);
      return reply.type('application/json').send(
        JSON.stringify({
          data: rows,
          from: new Date(query.from).toISOString(),
          to: new Date(query.to).toISOString(),
          ...(budgets === null ? {} : { budgets }),
        }),
      );
    },
  );
}
