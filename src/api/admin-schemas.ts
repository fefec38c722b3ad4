/** Schemas of the admin API (/admin/...): validation, types and OpenAPI, as for the public API. */
import { Type, type Static } from '@sinclair/typebox';
import { BudgetSchema, PrioritySchema, RateLimitPolicySchema } from '../config/schema.js';

const KeyName = Type.String({ minLength: 1, maxLength: 200 });
const ModelPatterns = Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 1000 });
const Metadata = Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 1000 }), {
  description: 'Free-form labels such as team or owner',
  maxProperties: 100,
});
const Timestamp = Type.String({ format: 'date-time' });
// The rate strings are checked by the schema (not only by the handler), so that a bad rate is listed in
// the same 400 as every other bad field.
const Rate = Type.String({
  pattern: '^\\s*\\d+\\s*/\\s*(second|minute|hour|day)\\s*$',
  description: 'N/second | N/minute | N/hour | N/day',
});
const Rates = Type.Union([Rate, Type.Array(Rate, { minItems: 1 })]);
const RateLimitInput = Type.Object(
  { requests: Type.Optional(Rates), tokens: Type.Optional(Rates) },
  { additionalProperties: false },
);

/** Issue 20's fields, as in the config file: a team id, a priority, a concurrency cap, budgets. */
const TeamId = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
  description: 'The id of a team (config or admin API)',
});
const Priority = Type.Union(PrioritySchema.anyOf, {
  description: 'Queue priority: interactive (100), batch (10) or 0-1000; higher goes first',
});
const MaxConcurrency = Type.Integer({
  minimum: 1,
  description: 'Requests in flight at most, across instances',
});
const Budgets = Type.Array(BudgetSchema, {
  maxItems: 16,
  description: 'Budgets: {usd: 5, window: day} or {tokens: 2000000, window: month, soft: true}',
});
const BudgetView = Type.Object({
  usd: Type.Optional(Type.Number()),
  tokens: Type.Optional(Type.Integer()),
  window: Type.String(),
  soft: Type.Boolean(),
});

export const KeyCreateSchema = Type.Object(
  {
    name: KeyName,
    models: Type.Optional(
      Type.Union([ModelPatterns, Type.Null()], { description: 'Allow-list of model patterns' }),
    ),
    rate_limit: Type.Optional(Type.Union([RateLimitInput, Type.Null()])),
    expires_at: Type.Optional(Type.Union([Timestamp, Type.Null()])),
    metadata: Type.Optional(Metadata),
    team: Type.Optional(Type.Union([TeamId, Type.Null()])),
    priority: Type.Optional(Priority),
    max_concurrency: Type.Optional(Type.Union([MaxConcurrency, Type.Null()])),
    budgets: Type.Optional(Budgets),
  },
  { additionalProperties: false },
);
export type KeyCreate = Static<typeof KeyCreateSchema>;

export const KeyPatchSchema = Type.Object(
  {
    name: Type.Optional(KeyName),
    models: Type.Optional(Type.Union([ModelPatterns, Type.Null()])),
    rate_limit: Type.Optional(Type.Union([RateLimitInput, Type.Null()])),
    expires_at: Type.Optional(Type.Union([Timestamp, Type.Null()])),
    metadata: Type.Optional(Metadata),
    team: Type.Optional(Type.Union([TeamId, Type.Null()])),
    priority: Type.Optional(Priority),
    max_concurrency: Type.Optional(Type.Union([MaxConcurrency, Type.Null()])),
    budgets: Type.Optional(Type.Union([Budgets, Type.Null()], { description: 'null or [] clears' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type KeyPatchBody = Static<typeof KeyPatchSchema>;

export const KeyViewSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    created_at: Type.Union([Timestamp, Type.Null()]),
    expires_at: Type.Union([Timestamp, Type.Null()]),
    revoked_at: Type.Union([Timestamp, Type.Null()]),
    models: Type.Union([Type.Array(Type.String()), Type.Null()]),
    rate_limit: Type.Union([RateLimitPolicySchema, Type.Null()]),
    metadata: Type.Record(Type.String(), Type.String()),
    team: Type.Union([Type.String(), Type.Null()]),
    priority: Type.Integer({ description: 'interactive = 100, batch = 10' }),
    max_concurrency: Type.Union([Type.Integer(), Type.Null()]),
    budgets: Type.Array(BudgetView),
    source: Type.Union([Type.Literal('config'), Type.Literal('store')], {
      description: 'config: a static key of the config file (read-only here); store: created at run time',
    }),
  },
  { $id: 'ApiKey' },
);
export type KeyView = Static<typeof KeyViewSchema>;

export const KeyCreatedSchema = Type.Composite([
  Type.Omit(KeyViewSchema, []),
  Type.Object({ key: Type.String({ description: 'The secret: shown in this answer only, never again' }) }),
]);

export const KeyListSchema = Type.Object({ data: Type.Array(Type.Ref('ApiKey')) });

export const KeyIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

export const TeamCreateSchema = Type.Object(
  {
    id: TeamId,
    name: Type.Optional(KeyName),
    models: Type.Optional(
      Type.Union([ModelPatterns, Type.Null()], {
        description: "Allow-list of model patterns (and the key's)",
      }),
    ),
    rate_limit: Type.Optional(Type.Union([RateLimitInput, Type.Null()])),
    budgets: Type.Optional(Budgets),
    max_concurrency: Type.Optional(Type.Union([MaxConcurrency, Type.Null()])),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);
export type TeamCreate = Static<typeof TeamCreateSchema>;

export const TeamPatchSchema = Type.Object(
  {
    name: Type.Optional(KeyName),
    models: Type.Optional(Type.Union([ModelPatterns, Type.Null()])),
    rate_limit: Type.Optional(Type.Union([RateLimitInput, Type.Null()])),
    budgets: Type.Optional(Type.Union([Budgets, Type.Null()], { description: 'null or [] clears' })),
    max_concurrency: Type.Optional(Type.Union([MaxConcurrency, Type.Null()])),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type TeamPatchBody = Static<typeof TeamPatchSchema>;

export const TeamViewSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    models: Type.Union([Type.Array(Type.String()), Type.Null()]),
    rate_limit: Type.Union([RateLimitPolicySchema, Type.Null()]),
    budgets: Type.Array(BudgetView),
    max_concurrency: Type.Union([Type.Integer(), Type.Null()]),
    metadata: Type.Record(Type.String(), Type.String()),
    created_at: Type.Union([Timestamp, Type.Null()]),
    source: Type.Union([Type.Literal('config'), Type.Literal('store')], {
      description: 'config: a team of the config file (read-only here); store: created at run time',
    }),
  },
  { $id: 'Team' },
);
export type TeamView = Static<typeof TeamViewSchema>;

/** A budget's spending in its current window (issue 20): amounts in US dollars or tokens. */
export const BudgetStatusSchema = Type.Object(
  {
    scope: Type.String({ description: 'key:<id> or team:<id>' }),
    unit: Type.Union([Type.Literal('usd'), Type.Literal('tokens')]),
    limit: Type.Number(),
    window: Type.String(),
    soft: Type.Boolean(),
    spent: Type.Number({ description: 'Settled in the window' }),
    reserved: Type.Number({ description: 'Held by requests in flight (their worst case)' }),
    remaining: Type.Number({ description: 'limit − spent − reserved, at least 0' }),
    window_start: Timestamp,
    window_end: Type.Union([Timestamp, Type.Null()], { description: 'null: a total budget' }),
  },
  { $id: 'BudgetStatus' },
);

/** One team with its budgets' spending now. */
export const TeamDetailSchema = Type.Composite([
  TeamViewSchema,
  Type.Object({ spend: Type.Array(BudgetStatusSchema) }),
]);

export const TeamListSchema = Type.Object({ data: Type.Array(Type.Ref('Team')) });

export const TeamIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
