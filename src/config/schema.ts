import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** Config objects reject unknown fields: a typo must stop the start, not be ignored. */
function Strict<T extends Parameters<typeof Type.Object>[0]>(properties: T) {
  return Type.Object(properties, { additionalProperties: false });
}

function Optional<T extends TSchema>(schema: T) {
  return Type.Optional(schema);
}

const Name = Type.String({ minLength: 1, maxLength: 200 });
const PositiveInt = Type.Integer({ minimum: 1 });
const RateString = Type.String({ minLength: 3, description: 'N/second | N/minute | N/hour | N/day' });

export const RateLimitPolicyObjectSchema = Strict({
  requests: Optional(Type.Union([RateString, Type.Array(RateString, { minItems: 1 })])),
  tokens: Optional(Type.Union([RateString, Type.Array(RateString, { minItems: 1 })])),
});

/** A policy object, or the seed's shorthand: a rate string alone limits requests ("100/minute"). */
const ConfigRateLimitPolicySchema = Type.Union([RateString, RateLimitPolicyObjectSchema]);
/** The admin API takes the object form only. */
export const RateLimitPolicySchema = RateLimitPolicyObjectSchema;

/** A spend or token budget over a window (issue 20): exactly one of usd and tokens. */
export const BudgetSchema = Strict({
  usd: Optional(Type.Number({ exclusiveMinimum: 0 })),
  tokens: Optional(Type.Integer({ minimum: 1 })),
  window: Type.Union([
    Type.Literal('hour'),
    Type.Literal('day'),
    Type.Literal('week'),
    Type.Literal('month'),
    Type.Literal('total'),
  ]),
  /** Only alerts; never refuses a request. */
  soft: Optional(Type.Boolean()),
});
export const BudgetsSchema = Type.Array(BudgetSchema, { maxItems: 16 });

/** Queue priority of a key's requests: higher first; interactive = 100, batch = 10. */
export const PrioritySchema = Type.Union([
  Type.Literal('interactive'),
  Type.Literal('batch'),
  Type.Integer({ minimum: 0, maximum: 1000 }),
]);

export const BackendConfigSchema = Strict({
  name: Name,
  type: Type.Union([
    Type.Literal('openai'),
    Type.Literal('ollama'),
    Type.Literal('demo'),
    Type.Literal('anthropic'),
    Type.Literal('gemini'),
    Type.Literal('vertex'),
    Type.Literal('bedrock'),
    Type.Literal('azure_openai'),
  ]),
  url: Optional(Type.String()),
  api_key: Optional(Type.String()),
  /** vertex: the Google Cloud project and location (region), and a service account key file. */
  project: Optional(Type.String({ minLength: 1 })),
  location: Optional(Type.String({ minLength: 1, pattern: '^[a-z0-9-]+$' })),
  credentials_file: Optional(Type.String({ minLength: 1 })),
  /** bedrock: the AWS region. */
  region: Optional(Type.String({ minLength: 1, pattern: '^[a-z0-9-]+$' })),
  /** azure_openai: the api-version query parameter. */
  api_version: Optional(Type.String({ minLength: 1, pattern: '^[0-9a-z.-]+$' })),
  timeout_ms: Optional(PositiveInt),
  connect_timeout_ms: Optional(PositiveInt),
  idle_timeout_ms: Optional(PositiveInt),
  drop_unsupported: Optional(Type.Boolean()),
  /** Requests in flight at most, across instances (a GPU server's slots, e.g. vLLM's max_num_seqs). */
  max_concurrency: Optional(PositiveInt),
  health_check: Optional(
    Strict({
      path: Optional(Type.String({ pattern: '^/' })),
      interval_ms: Optional(Type.Integer({ minimum: 100 })),
      timeout_ms: Optional(PositiveInt),
      unhealthy_after: Optional(PositiveInt),
      healthy_after: Optional(PositiveInt),
    }),
  ),
});

const StrategySchema = Type.Union([
  Type.Literal('weighted'),
  Type.Literal('least_outstanding'),
  Type.Literal('least_busy'),
  Type.Literal('latency'),
]);

export const ModelTargetSchema = Strict({
  backend: Name,
  model: Optional(Name),
  weight: Optional(Type.Number({ exclusiveMinimum: 0 })),
});

export const ModelRouteSchema = Strict({
  name: Name,
  targets: Type.Array(ModelTargetSchema, { minItems: 1 }),
  rate_limit: Optional(ConfigRateLimitPolicySchema),
  cache: Optional(Strict({ enabled: Optional(Type.Boolean()), ttl_seconds: Optional(PositiveInt) })),
  strategy: Optional(StrategySchema),
});

export const StaticKeySchema = Strict({
  id: Name,
  sha256: Type.String(),
  name: Optional(Name),
  models: Optional(Type.Array(Name)),
  rate_limit: Optional(ConfigRateLimitPolicySchema),
  metadata: Optional(Type.Record(Type.String(), Type.String())),
  team: Optional(Name),
  priority: Optional(PrioritySchema),
  max_concurrency: Optional(PositiveInt),
  budgets: Optional(BudgetsSchema),
});

export const TeamConfigSchema = Strict({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
  name: Optional(Name),
  models: Optional(Type.Array(Name)),
  rate_limit: Optional(ConfigRateLimitPolicySchema),
  budgets: Optional(BudgetsSchema),
  max_concurrency: Optional(PositiveInt),
  metadata: Optional(Type.Record(Type.String(), Type.String())),
});

/**
 * Where shared state lives: exactly one of `url` (one server), `cluster` (seed nodes of a Redis Cluster)
 * and `sentinel` (a master found through Redis Sentinel). Checked further in redis-config.ts.
 */
const RedisSchema = Strict({
  url: Optional(Type.String()),
  cluster: Optional(Type.Array(Type.String(), { minItems: 1 })),
  sentinel: Optional(
    Strict({
      sentinels: Type.Array(Type.String(), { minItems: 1 }),
      name: Type.String({ minLength: 1 }),
      username: Optional(Type.String()),
      password: Optional(Type.String()),
      sentinel_username: Optional(Type.String()),
      sentinel_password: Optional(Type.String()),
      db: Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
      tls: Optional(Type.Boolean()),
    }),
  ),
  username: Optional(Type.String()),
  password: Optional(Type.String()),
});

export const ConfigFileSchema = Strict({
  server: Optional(
    Strict({
      host: Optional(Type.String({ minLength: 1 })),
      port: Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
      body_limit_bytes: Optional(PositiveInt),
      shutdown_grace_ms: Optional(Type.Integer({ minimum: 0 })),
      shutdown_delay_ms: Optional(Type.Integer({ minimum: 0 })),
      state_dir: Optional(Type.String({ minLength: 1 })),
      watch_config: Optional(Type.Boolean()),
      workers: Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 256 }), Type.Literal('auto')])),
      trust_proxy: Optional(
        Type.Union([
          Type.Boolean(),
          Type.Integer({ minimum: 0, maximum: 100 }),
          Type.Array(Type.String({ minLength: 1 }), { maxItems: 1000 }),
        ]),
      ),
      cors: Optional(Type.Array(Type.String({ minLength: 1 }), { maxItems: 1000 })),
      request_timeout_ms: Optional(Type.Integer({ minimum: 0 })),
      headers_timeout_ms: Optional(Type.Integer({ minimum: 0 })),
      max_connections: Optional(Type.Integer({ minimum: 0 })),
    }),
  ),
  redis: Optional(RedisSchema),
  backends: Optional(Type.Array(BackendConfigSchema)),
  models: Optional(Type.Array(ModelRouteSchema)),
  auth: Optional(
    Strict({
      enabled: Optional(Type.Boolean()),
      admin_token_sha256: Optional(Type.String()),
      /** A read-only token (issue 22): GET and HEAD on /admin and the web UI, no change. */
      viewer_token_sha256: Optional(Type.String()),
      keys: Optional(Type.Array(StaticKeySchema)),
    }),
  ),
  rate_limit: Optional(
    Strict({
      default: Optional(ConfigRateLimitPolicySchema),
      on_store_error: Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')])),
      store_timeout_ms: Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
      default_completion_tokens: Optional(PositiveInt),
    }),
  ),
  routing: Optional(
    Strict({
      strategy: Optional(StrategySchema),
      max_attempts: Optional(Type.Integer({ minimum: 1, maximum: 10 })),
      deadline_ms: Optional(PositiveInt),
      backoff_base_ms: Optional(Type.Integer({ minimum: 0 })),
      backoff_max_ms: Optional(Type.Integer({ minimum: 0 })),
      retry_budget: Optional(
        Strict({
          ratio: Optional(Type.Number({ minimum: 0, maximum: 10 })),
          window_seconds: Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
          min_retries: Optional(Type.Integer({ minimum: 0 })),
        }),
      ),
      circuit_breaker: Optional(
        Strict({
          enabled: Optional(Type.Boolean()),
          failures: Optional(PositiveInt),
          error_ratio: Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
          min_requests: Optional(PositiveInt),
          window_seconds: Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
          cooldown_ms: Optional(PositiveInt),
        }),
      ),
      discovery: Optional(
        Strict({
          enabled: Optional(Type.Boolean()),
          ttl_seconds: Optional(PositiveInt),
          timeout_ms: Optional(PositiveInt),
        }),
      ),
    }),
  ),
  cache: Optional(
    Strict({
      enabled: Optional(Type.Boolean()),
      ttl_seconds: Optional(PositiveInt),
      scope: Optional(Type.Union([Type.Literal('key'), Type.Literal('global')])),
      only_deterministic: Optional(Type.Boolean()),
      max_entry_bytes: Optional(PositiveInt),
      memory_max_bytes: Optional(PositiveInt),
    }),
  ),
  logging: Optional(
    Strict({
      level: Optional(
        Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
        ),
      ),
      prompts: Optional(
        Strict({
          enabled: Optional(Type.Boolean()),
          max_bytes: Optional(PositiveInt),
          redact: Optional(Type.Array(Type.String({ minLength: 1 }))),
        }),
      ),
      /** Log lines held while stdout is not read, at most; past it lines are dropped and counted. */
      max_buffer_bytes: Optional(Type.Integer({ minimum: 65_536 })),
    }),
  ),
  metrics: Optional(
    Strict({
      enabled: Optional(Type.Boolean()),
      token_sha256: Optional(Type.String()),
      /** The token itself, usually as ${METRICS_TOKEN}; only its SHA-256 is kept. */
      token: Optional(Type.String()),
      port: Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    }),
  ),
  usage: Optional(
    Strict({
      enabled: Optional(Type.Boolean()),
      retention_days: Optional(Type.Integer({ minimum: 1, maximum: 3660 })),
      prices: Optional(
        Type.Array(
          Strict({
            model: Name,
            backend: Optional(Name),
            prompt_per_million: Type.Number({ minimum: 0 }),
            completion_per_million: Type.Number({ minimum: 0 }),
            cached_prompt_per_million: Optional(Type.Number({ minimum: 0 })),
            cache_write_per_million: Optional(Type.Number({ minimum: 0 })),
          }),
        ),
      ),
      list_prices: Optional(Type.Boolean()),
    }),
  ),
  teams: Optional(Type.Array(TeamConfigSchema)),
  budget: Optional(
    Strict({
      /** Calendar windows (day, week, month) start at midnight in this IANA time zone. */
      timezone: Optional(Type.String({ minLength: 1, maxLength: 64 })),
      /** A request of a model with no price: allow (cost 0, with a config warning) or refuse. */
      unpriced: Optional(Type.Union([Type.Literal('allow'), Type.Literal('refuse')])),
    }),
  ),
  concurrency: Optional(
    Strict({
      queue_timeout_ms: Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
      /** Requests waiting at most, per instance; beyond it a request is refused at once. */
      max_queue: Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
      /** How long a slot's lease lives without renewal (an instance that dies frees its slots then). */
      lease_ms: Optional(Type.Integer({ minimum: 1000, maximum: 600_000 })),
    }),
  ),
  alerts: Optional(
    Strict({
      webhook_url: Optional(Type.String({ minLength: 1 })),
      /** Signs each webhook body: X-Gateway-Signature: sha256=<hex HMAC-SHA256 of the body>. */
      secret: Optional(Type.String({ minLength: 1 })),
      thresholds: Optional(
        Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 10 }), { minItems: 1, maxItems: 10 }),
      ),
    }),
  ),
  request_log: Optional(
    Strict({
      enabled: Optional(Type.Boolean()),
      store: Optional(Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')])),
      /** postgres://user:password@host:5432/database, usually ${REQUEST_LOG_POSTGRES_URL}. */
      postgres_url: Optional(Type.String({ minLength: 1 })),
      retention_days: Optional(Type.Integer({ minimum: 1, maximum: 3660 })),
      batch: Optional(
        Strict({
          /** Records per write. */
          size: Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          /** A partial batch is written after this long. */
          interval_ms: Optional(Type.Integer({ minimum: 10, maximum: 60_000 })),
          /** Records waiting at most; past it new ones are dropped and counted. */
          max_buffered: Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
        }),
      ),
    }),
  ),
  ui: Optional(
    Strict({
      /** The admin web UI at /ui (issue 22). */
      enabled: Optional(Type.Boolean()),
      /** How long a UI sign-in lasts. */
      session_ttl_ms: Optional(Type.Integer({ minimum: 1000, maximum: 30 * 86_400_000 })),
    }),
  ),
  responses: Optional(
    Strict({
      store_ttl_seconds: Optional(Type.Integer({ minimum: 1, maximum: 366 * 86400 })),
    }),
  ),
});

export type ConfigFile = Static<typeof ConfigFileSchema>;
export type BudgetConfigFile = Static<typeof BudgetSchema>;
export type RateLimitPolicyConfig = Static<typeof RateLimitPolicyObjectSchema>;
export type ConfigRateLimitPolicy = Static<typeof ConfigRateLimitPolicySchema>;
export type RoutingStrategy = Static<typeof StrategySchema>;
export type BackendType = Static<typeof BackendConfigSchema>['type'];
export type RedisConfigFile = Static<typeof RedisSchema>;
