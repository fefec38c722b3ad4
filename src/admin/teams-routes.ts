import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  TeamCreateSchema,
  TeamDetailSchema,
  TeamIdParamsSchema,
  TeamListSchema,
  TeamPatchSchema,
  TeamViewSchema,
  type TeamCreate,
  type TeamPatchBody,
  type TeamView,
} from '../api/admin-schemas.js';
import type { TeamDirectory } from '../auth/team-directory.js';
import type { TeamRecord } from '../auth/team-record.js';
import { TeamExistsError, type TeamPatch } from '../auth/team-store.js';
import { GatewayError, InvalidRequestError } from '../errors/errors.js';
import type { GatewayContext } from '../server/context.js';
import { errorResponses } from '../server/routes/openapi-fragments.js';
import { budgetsFromInput, budgetView, checkRateLimit, fromStore } from './admin-fields.js';

export function toTeamView(record: TeamRecord): TeamView {
  return {
    id: record.id,
    name: record.name,
    models: record.models === null ? null : [...record.models],
    rate_limit: record.rateLimit,
    budgets: record.budgets.map(budgetView),
    max_concurrency: record.maxConcurrency,
    metadata: { ...record.metadata },
    created_at: record.createdAt,
    source: record.source,
  };
}

export class TeamNotFoundError extends GatewayError {
  constructor(id: string) {
    super('not_found', `No team has the id '${id}'`, { param: 'id' });
  }
}

/** A team of the config file cannot be changed or deleted through the admin API. */
export class StaticTeamError extends InvalidRequestError {
  constructor(id: string) {
    super(`The team '${id}' is defined in the config file (teams); change it there`, {
      status: 409,
      param: 'id',
    });
  }
}

export class TeamConflictError extends InvalidRequestError {
  constructor(detail: string) {
    super(detail, { status: 409, param: 'id' });
  }
}

const tags = ['Admin'];
const teamRef = { $ref: 'Team' } as const;
const security = [{ adminToken: [] }];

/**
 * The admin API for teams (issue 20), as for keys: the admin token, problem+json errors, 404 for an
 * unknown id, 409 for a duplicate id, for a config team (read-only here) and for deleting a team that
 * keys still belong to.
 */
export function registerTeamRoutes(
  app: FastifyInstance,
  context: GatewayContext,
  guard: (request: FastifyRequest) => Promise<void>,
): void {
  app.addSchema(TeamViewSchema);
  const directory = (): TeamDirectory => {
    const teams = context.authenticator.teams;
    // Every gateway made by createGateway has one; a bare Authenticator (tests) may not.
    if (teams === null) throw new GatewayError('not_found', 'This gateway has no team store');
    return teams;
  };

  app.post<{ Body: TeamCreate }>(
    '/admin/teams',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'Create a team',
        body: TeamCreateSchema,
        response: { 201: teamRef, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      checkRateLimit(body.rate_limit);
      const budgets = budgetsFromInput(body.budgets) ?? [];
      const teams = directory();
      if (teams.configTeam(body.id) !== undefined)
        throw new TeamConflictError(`A team with the id '${body.id}' is defined in the config file`);
      const record: TeamRecord = {
        id: body.id,
        name: body.name ?? body.id,
        models: body.models ?? null,
        rateLimit: body.rate_limit ?? null,
        budgets,
        maxConcurrency: body.max_concurrency ?? null,
        metadata: body.metadata ?? {},
        createdAt: new Date().toISOString(),
        source: 'store',
      };
      await fromStore(async () => {
        try {
          await teams.store.create(record);
        } catch (error) {
          // Not a store failure: the id is taken (a GatewayError passes fromStore as it is).
          if (error instanceof TeamExistsError)
            throw new TeamConflictError(`A team with the id '${body.id}' exists already`);
          throw error;
        }
      }, 'team');
      teams.forget(record.id);
      request.log.info({ team: record.id }, 'team created');
      return reply
        .code(201)
        .type('application/json')
        .send(JSON.stringify(toTeamView(record)));
    },
  );

  app.get(
    '/admin/teams',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'List teams: the config file’s, then those created at run time',
        response: { 200: TeamListSchema, ...errorResponses },
      },
    },
    async (_request, reply) => {
      const teams = directory();
      const stored = await fromStore(() => teams.store.list(), 'team');
      const data = [...teams.configRecords, ...stored].map(toTeamView);
      return reply.type('application/json').send(JSON.stringify({ data }));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/teams/:id',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'Show one team, with the spending of each of its budgets in the current window',
        params: TeamIdParamsSchema,
        response: { 200: TeamDetailSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const teams = directory();
      const record = teams.configTeam(id) ?? (await fromStore(() => teams.store.get(id), 'team'));
      if (record === null) throw new TeamNotFoundError(id);
      const spend = await context.spending.status(`team:${record.id}`, record.budgets);
      return reply.type('application/json').send(JSON.stringify({ ...toTeamView(record), spend }));
    },
  );

  app.patch<{ Params: { id: string }; Body: TeamPatchBody }>(
    '/admin/teams/:id',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'Change a team: name, models, rate_limit, budgets, max_concurrency, metadata (null clears)',
        params: TeamIdParamsSchema,
        body: TeamPatchSchema,
        response: { 200: teamRef, ...errorResponses },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const teams = directory();
      if (teams.configTeam(id) !== undefined) throw new StaticTeamError(id);
      const body = request.body;
      checkRateLimit(body.rate_limit);
      const budgets = budgetsFromInput(body.budgets);
      const patch: TeamPatch = {
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.models === undefined ? {} : { models: body.models }),
        ...(body.rate_limit === undefined ? {} : { rateLimit: body.rate_limit }),
        ...(budgets === undefined ? {} : { budgets }),
        ...(body.max_concurrency === undefined ? {} : { maxConcurrency: body.max_concurrency }),
        ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
      };
      const record = await fromStore(() => teams.store.update(id, patch), 'team');
      if (record === null) throw new TeamNotFoundError(id);
      teams.forget(id);
      request.log.info({ team: id, fields: Object.keys(body) }, 'team updated');
      return reply.type('application/json').send(JSON.stringify(toTeamView(record)));
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/admin/teams/:id',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'Delete a team that no key belongs to',
        params: TeamIdParamsSchema,
        response: { 200: teamRef, ...errorResponses },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const teams = directory();
      if (teams.configTeam(id) !== undefined) throw new StaticTeamError(id);
      const record = await fromStore(() => teams.store.get(id), 'team');
      if (record === null) throw new TeamNotFoundError(id);
      // Revoked keys never authenticate again: their team no longer matters.
      const stored = await fromStore(() => context.keyStore.list());
      const members = [...context.authenticator.staticRecords, ...stored].filter(
        (key) => key.team === id && key.revokedAt === null,
      );
      if (members.length > 0)
        throw new TeamConflictError(
          `The team '${id}' still has ${members.length} key${members.length === 1 ? '' : 's'}; move or delete ${members.length === 1 ? 'it' : 'them'} first (PATCH /admin/keys/{id} with "team": null)`,
        );
      const deleted = await fromStore(() => teams.store.delete(id), 'team');
      if (!deleted) throw new TeamNotFoundError(id);
      teams.forget(id);
      request.log.info({ team: id }, 'team deleted');
      return reply.type('application/json').send(JSON.stringify(toTeamView(record)));
    },
  );
}
