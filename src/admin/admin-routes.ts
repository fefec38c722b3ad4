import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  KeyCreateSchema,
  KeyCreatedSchema,
  KeyIdParamsSchema,
  KeyListSchema,
  KeyPatchSchema,
  type KeyCreate,
  type KeyPatchBody,
  type KeyView,
} from '../api/admin-schemas.js';
import { createKey } from '../auth/key-factory.js';
import { parseTimestamp } from '../auth/timestamp.js';
import type { KeyRecord } from '../auth/key-record.js';
import type { KeyPatch } from '../auth/key-store.js';
import {
  InvalidRequestError,
  KeyNotFoundError,
  ServiceUnavailableError,
  StaticKeyError,
} from '../errors/errors.js';
import {
  budgetsFromInput,
  budgetView,
  checkRateLimit,
  fromStore,
  priorityFromInput,
} from './admin-fields.js';
import type { AdminAccess } from './admin-access.js';
import { registerRequestLogRoutes } from './requests-routes.js';
import { registerTeamRoutes } from './teams-routes.js';
import type { GatewayContext } from '../server/context.js';
import { errorResponses } from '../server/routes/openapi-fragments.js';

export function toKeyView(record: KeyRecord): KeyView {
  return {
    id: record.id,
    name: record.name,
    created_at: record.createdAt,
    expires_at: record.expiresAt,
    revoked_at: record.revokedAt,
    models: record.models === null ? null : [...record.models],
    rate_limit: record.rateLimit,
    metadata: { ...record.metadata },
    team: record.team,
    priority: record.priority,
    max_concurrency: record.maxConcurrency,
    budgets: record.budgets.map(budgetView),
    source: record.source,
  };
}

/** A key's team must exist (config or admin API) when set through the admin API: 400 naming `team`. */
async function checkTeam(context: GatewayContext, team: string | null | undefined): Promise<void> {
  if (team == null) return;
  const teams = context.authenticator.teams;
  const found = teams === null ? null : await fromStore(() => teams.find(team), 'team');
  if (found === null)
    throw new InvalidRequestError(`team: no team has the id '${team}'; create it first (POST /admin/teams)`, {
      param: 'team',
    });
}

/** A real RFC 3339 time in the future, as the same instant in UTC (what Date.parse reads back). */
function checkExpiry<T extends string | null | undefined>(expiresAt: T): T | string {
  if (expiresAt == null) return expiresAt;
  const time = parseTimestamp(expiresAt);
  if (time === null) {
    throw new InvalidRequestError(
      `expires_at: '${expiresAt.slice(0, 40)}' is not an RFC 3339 date-time that exists; write e.g. 2026-06-30T00:00:00Z (no leap second, no February 30, no hour 24)`,
      { param: 'expires_at' },
    );
  }
  if (time <= Date.now()) {
    throw new InvalidRequestError('expires_at: must be in the future', { param: 'expires_at' });
  }
  return new Date(time).toISOString();
}

const tags = ['Admin'];
const keyRef = Type.Ref('ApiKey');
const security = [{ adminToken: [] }];

/**
 * The admin API for keys. Guarded by `access` (the admin token, the read-only viewer token or a UI
 * session); without an admin token configured, every /admin route answers 404 as if it did not exist.
 */
export function registerAdminRoutes(
  app: FastifyInstance,
  context: GatewayContext,
  access: AdminAccess,
): void {
  const guard = access.guard;
  const store = context.keyStore;
  const staticKey = (id: string): KeyRecord | undefined =>
    context.authenticator.staticRecords.find((record) => record.id === id);

  app.post<{ Body: KeyCreate }>(
    '/admin/keys',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'Create an API key; the answer is the only time the key is shown',
        body: KeyCreateSchema,
        response: { 201: KeyCreatedSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      checkRateLimit(body.rate_limit);
      const expiresAt = checkExpiry(body.expires_at);
      const budgets = budgetsFromInput(body.budgets);
      await checkTeam(context, body.team);
      const { key, record } = createKey({
        name: body.name,
        models: body.models,
        rateLimit: body.rate_limit,
        expiresAt,
        metadata: body.metadata,
        team: body.team,
        priority: priorityFromInput(body.priority),
        maxConcurrency: body.max_concurrency,
        budgets,
      });
      await fromStore(() => store.create(record));
      request.log.info({ key_id: record.id, name: record.name }, 'api key created');
      return reply
        .code(201)
        .type('application/json')
        .send(JSON.stringify({ ...toKeyView(record), key }));
    },
  );

  app.get(
    '/admin/keys',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'List API keys (never their secrets)',
        response: { 200: KeyListSchema, ...errorResponses },
      },
    },
    async (_request, reply) => {
      const stored = await fromStore(() => store.list());
      const data = [...context.authenticator.staticRecords, ...stored].map(toKeyView);
      return reply.type('application/json').send(JSON.stringify({ data }));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/keys/:id',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'Show one API key',
        params: KeyIdParamsSchema,
        response: { 200: keyRef, ...errorResponses },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const record = staticKey(id) ?? (await fromStore(() => store.get(id)));
      if (record === null) throw new KeyNotFoundError(id);
      return reply.type('application/json').send(JSON.stringify(toKeyView(record)));
    },
  );

  app.patch<{ Params: { id: string }; Body: KeyPatchBody }>(
    '/admin/keys/:id',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary:
          'Change a key: name, models, rate_limit, expires_at, metadata, team, priority, max_concurrency, budgets (null clears)',
        params: KeyIdParamsSchema,
        body: KeyPatchSchema,
        response: { 200: keyRef, ...errorResponses },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      if (staticKey(id) !== undefined) throw new StaticKeyError(id);
      const body = request.body;
      checkRateLimit(body.rate_limit);
      const expiresAt = checkExpiry(body.expires_at);
      const budgets = budgetsFromInput(body.budgets);
      const priority = priorityFromInput(body.priority);
      await checkTeam(context, body.team);
      const patch: KeyPatch = {
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.models === undefined ? {} : { models: body.models }),
        ...(body.rate_limit === undefined ? {} : { rateLimit: body.rate_limit }),
        ...(expiresAt === undefined ? {} : { expiresAt }),
        ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
        ...(body.team === undefined ? {} : { team: body.team }),
        ...(priority === undefined ? {} : { priority }),
        ...(body.max_concurrency === undefined ? {} : { maxConcurrency: body.max_concurrency }),
        ...(budgets === undefined ? {} : { budgets }),
      };
      const record = await fromStore(() => store.update(id, patch));
      if (record === null) throw new KeyNotFoundError(id);
      context.authenticator.forget(record.sha256);
      request.log.info({ key_id: id, fields: Object.keys(body) }, 'api key updated');
      return reply.type('application/json').send(JSON.stringify(toKeyView(record)));
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/admin/keys/:id',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: 'Revoke a key: refused by every instance within 1 s',
        params: KeyIdParamsSchema,
        response: { 200: keyRef, ...errorResponses },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      if (staticKey(id) !== undefined) throw new StaticKeyError(id);
      const record = await fromStore(() => store.revoke(id, new Date().toISOString()));
      if (record === null) throw new KeyNotFoundError(id);
      context.authenticator.forget(record.sha256);
      request.log.info({ key_id: id }, 'api key revoked');
      return reply.type('application/json').send(JSON.stringify(toKeyView(record)));
    },
  );

  registerTeamRoutes(app, context, guard);
  registerRequestLogRoutes(app, context, guard);

  app.delete<{ Querystring: { key?: string } }>(
    '/admin/cache',
    {
      onRequest: guard,
      schema: {
        tags,
        security,
        summary: "Purge the response cache: all of it, or one key's scope (?key=ID)",
        querystring: Type.Object(
          { key: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ deleted: Type.Integer() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = request.query.key ?? null;
      let deleted: number;
      try {
        deleted = await context.cache.purge(scope);
      } catch (error) {
        throw new ServiceUnavailableError(
          `The cache store is unavailable (${(error as Error).message}); retry shortly`,
          1,
        );
      }
      request.log.info({ scope, deleted }, 'cache purged');
      return reply.type('application/json').send(JSON.stringify({ deleted }));
    },
  );
}
