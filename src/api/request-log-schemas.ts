/**
 * Schemas of the request log's admin routes (issue 21): validation of the query strings, and OpenAPI.
 * Every filter is a string here and parsed by src/admin/requests-routes.ts, so that a bad value is a
 * 400 that names its parameter and says what is expected.
 */
import { Type, type Static } from '@sinclair/typebox';

const Text = (description: string) => Type.String({ minLength: 1, maxLength: 256, description });

/** The filters every request-log route takes (the page, export, live tail and stats). */
export const requestLogFilterProperties = {
  key: Type.Optional(Text('Only this key id')),
  team: Type.Optional(Text('Only this team')),
  model: Type.Optional(Text('Only this model (the name the client sent, exactly)')),
  backend: Type.Optional(Text('Only this backend (the one that answered last)')),
  status: Type.Optional(
    Type.String({ maxLength: 3, description: 'An exact HTTP status (429) or a class: 2xx, 4xx, 5xx' }),
  ),
  error_code: Type.Optional(Text("Only this gateway error code, e.g. 'upstream_error'")),
  cache: Type.Optional(Type.String({ maxLength: 6, description: 'HIT, MISS or BYPASS' })),
  from: Type.Optional(
    Type.String({
      maxLength: 64,
      description: 'Start, inclusive: an ISO 8601 date-time (UTC without an offset) or ms since the epoch',
    }),
  ),
  to: Type.Optional(Type.String({ maxLength: 64, description: 'End, exclusive; the same forms as from' })),
  min_duration_ms: Type.Optional(
    Type.String({ maxLength: 12, description: 'Only requests that took at least this many ms' }),
  ),
  request_id: Type.Optional(Text('Only the request with this id (X-Request-ID)')),
};

export const RequestLogQuerySchema = Type.Object(
  {
    ...requestLogFilterProperties,
    limit: Type.Optional(Type.String({ maxLength: 5, description: 'Records per page, 1–1000 (default 50)' })),
    cursor: Type.Optional(
      Type.String({ maxLength: 200, description: "The previous page's next_cursor, as it was" }),
    ),
  },
  { additionalProperties: false },
);
export type RequestLogQueryString = Static<typeof RequestLogQuerySchema>;

export const RequestLogExportQuerySchema = Type.Object(
  {
    ...requestLogFilterProperties,
    format: Type.Optional(
      Type.String({ maxLength: 8, description: 'ndjson (one JSON record per line; default) or csv' }),
    ),
  },
  { additionalProperties: false },
);
export type RequestLogExportQueryString = Static<typeof RequestLogExportQuerySchema>;

export const RequestLogStreamQuerySchema = Type.Object(requestLogFilterProperties, {
  additionalProperties: false,
});
export type RequestLogStreamQueryString = Static<typeof RequestLogStreamQuerySchema>;

export const RequestLogStatsQuerySchema = Type.Object(
  {
    ...requestLogFilterProperties,
    bucket: Type.Optional(Type.String({ maxLength: 8, description: 'minute or hour (default hour)' })),
    group_by: Type.Optional(
      Type.String({ maxLength: 8, description: 'model, key or backend; absent: one row per bucket' }),
    ),
  },
  { additionalProperties: false },
);
export type RequestLogStatsQueryString = Static<typeof RequestLogStatsQuerySchema>;

export const RequestLogIdParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128, description: 'The request id (X-Request-ID)' }),
});

const NullableInteger = Type.Union([Type.Integer(), Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);

export const RequestAttemptSchema = Type.Object({
  backend: Type.String(),
  model: Type.String(),
  outcome: Type.String({ description: 'ok, or what went wrong: error, timeout, cancelled, …' }),
  error_code: Type.Optional(Type.String()),
  duration_ms: Type.Number(),
});

export const RequestRecordSchema = Type.Object(
  {
    id: Type.Integer({ description: "The store's own id" }),
    time: Type.Integer({ description: 'When the request completed, ms since the epoch' }),
    request_id: Type.String(),
    key_id: NullableString,
    team: NullableString,
    protocol: Type.String({ description: 'e.g. openai-chat, anthropic-messages, ollama' }),
    route: Type.String({ description: 'e.g. /v1/chat/completions' }),
    model: Type.Union([Type.String(), Type.Null()], { description: 'The model the client asked for' }),
    route_name: NullableString,
    backend: NullableString,
    upstream_model: NullableString,
    status: Type.Integer(),
    error_code: NullableString,
    attempts: Type.Array(RequestAttemptSchema),
    cache: Type.Union([Type.Literal('HIT'), Type.Literal('MISS'), Type.Literal('BYPASS'), Type.Null()]),
    ttfb_ms: NullableInteger,
    duration_ms: Type.Integer(),
    prompt_tokens: NullableInteger,
    completion_tokens: NullableInteger,
    cached_tokens: NullableInteger,
    reasoning_tokens: NullableInteger,
    cost_micros: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Cost in micro-dollars; null when the model has no price',
    }),
    client_address: NullableString,
    user_agent: NullableString,
    prompt: Type.Union([Type.String(), Type.Null()], { description: 'Only when logging.prompts is on' }),
    answer: Type.Union([Type.String(), Type.Null()], { description: 'Only when logging.prompts is on' }),
  },
  { $id: 'RequestRecord' },
);

export const RequestLogPageSchema = Type.Object({
  data: Type.Array(Type.Ref('RequestRecord'), { description: 'Newest first' }),
  next_cursor: Type.Union([Type.String(), Type.Null()], {
    description: 'Pass as cursor for the next (older) page; null on the last page',
  }),
});

const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

export const RequestLogStatsSchema = Type.Object({
  source: Type.Union([Type.Literal('rollup'), Type.Literal('records')], {
    description: 'rollup: read from the hourly rollups; records: aggregated from the records',
  }),
  from: Type.Integer({ description: 'The start used, inclusive, ms since the epoch' }),
  to: Type.Integer({ description: 'The end used, exclusive, ms since the epoch' }),
  bucket: Type.Union([Type.Literal('minute'), Type.Literal('hour')]),
  group_by: Type.Union([Type.Literal('model'), Type.Literal('key'), Type.Literal('backend'), Type.Null()]),
  data: Type.Array(
    Type.Object({
      bucket_start: Type.Integer({ description: 'Start of the minute or hour, ms since the epoch' }),
      group: NullableString,
      requests: Type.Integer(),
      errors: Type.Integer({ description: 'Status 400 or more, or an error code (a stream cut off)' }),
      duration_p50_ms: NullableNumber,
      duration_p95_ms: NullableNumber,
      ttfb_p50_ms: NullableNumber,
      ttfb_p95_ms: NullableNumber,
      prompt_tokens: Type.Integer(),
      completion_tokens: Type.Integer(),
      cached_tokens: Type.Integer(),
      reasoning_tokens: Type.Integer(),
      cost_micros: Type.Integer(),
      cache_hit_ratio: Type.Union([Type.Number(), Type.Null()], {
        description: 'HIT / (HIT + MISS); null when no request consulted the cache',
      }),
    }),
    { description: 'Oldest bucket first; within a bucket, by group' },
  ),
});
