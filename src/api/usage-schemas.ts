/** Schemas of GET /admin/usage: validation of the query string, and OpenAPI. */
import { Type, type Static } from '@sinclair/typebox';

const Filter = (description: string) => Type.String({ minLength: 1, maxLength: 1000, description });
const Instant = (description: string) => Type.String({ minLength: 1, maxLength: 64, description });

export const UsageQuerySchema = Type.Object(
  {
    key: Type.Optional(Filter('Only this key id')),
    model: Type.Optional(
      Filter('Only this model (the name clients sent); a pattern as in models[].name: exact, prefix* or *'),
    ),
    from: Type.Optional(
      Instant(
        'Start, inclusive: an ISO 8601 date (2026-11-27, midnight UTC) or date-time (UTC without an offset), ' +
          'or a time before now (24h, 7d). Hours that start in [from, to) count. Default: 24 hours before to',
      ),
    ),
    to: Type.Optional(
      Instant('End, exclusive; same forms as from. Default: now. At most 400 days after from'),
    ),
    group_by: Type.Optional(
      Type.String({
        maxLength: 64,
        description:
          'key, model, day (UTC), hour (UTC), or several comma-separated (key,day); empty: one row of totals. Default: key,model',
      }),
    ),
  },
  { additionalProperties: false },
);
export type UsageQueryString = Static<typeof UsageQuerySchema>;

export const UsageRowSchema = Type.Object(
  {
    key: Type.Optional(Type.String({ description: 'The key id (grouped by key)' })),
    model: Type.Optional(Type.String({ description: 'The model the clients asked for (grouped by model)' })),
    day: Type.Optional(Type.String({ description: 'YYYY-MM-DD, UTC (grouped by day)' })),
    hour: Type.Optional(Type.String({ description: 'YYYY-MM-DDTHH:00:00Z (grouped by hour)' })),
    requests: Type.Integer(),
    errors: Type.Integer({ description: 'Answered with a status of 400 or more, or a stream that failed' }),
    cached: Type.Integer({ description: 'Answered from the response cache' }),
    prompt_tokens: Type.Integer(),
    completion_tokens: Type.Integer(),
    total_tokens: Type.Integer(),
    cost: Type.Union([Type.Number(), Type.Null()], {
      description: "Estimated from usage.prices, in the price table's currency; null when no price applies",
    }),
  },
  { $id: 'UsageRow' },
);

export const UsageListSchema = Type.Object({ data: Type.Array(Type.Ref('UsageRow')) });
