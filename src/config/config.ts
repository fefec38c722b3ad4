import type { BackendType, RateLimitPolicyConfig, RoutingStrategy } from './schema.js';

/** The validated, defaulted configuration every other module reads. Built only by loadConfig. */
export interface GatewayConfig {
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimitBytes: number;
    readonly shutdownGraceMs: number;
    /**
     * On SIGTERM, how long readiness answers 503 while requests are still served normally, so that a
     * load balancer stops sending new ones before the drain begins; 0: drain at once.
     */
    readonly shutdownDelayMs: number;
    readonly stateDir: string;
    /** Processes serving the port (node:cluster); more than one needs Redis. */
    readonly workers: number;
    /** Reload the config file when it changes (as on SIGHUP). */
    readonly watchConfig: boolean;
    /**
     * Which hops may set X-Forwarded-For (Fastify's trustProxy): false (the default: the socket's
     * address is the client's), a hop count, or a list of addresses and CIDRs.
     */
    readonly trustProxy: false | number | readonly string[];
    /** Origins allowed to call from a browser; empty: no CORS headers at all. */
    readonly cors: readonly string[];
    /** Longest time to receive a whole request (headers and body); 0: none. */
    readonly requestTimeoutMs: number;
    /** Longest time to receive a request's headers. */
    readonly headersTimeoutMs: number;
    /** Open connections at most; those past it are closed at once. 0: no cap. */
    readonly maxConnections: number;
  };
  /** Shared state (keys, limits, cache, usage); null: the embedded store, one instance only. */
  readonly redis: RedisConfig | null;
  readonly backends: readonly BackendConfig[];
  readonly models: readonly ModelRoute[];
  readonly auth: {
    /** false: no API key is asked for (local development, benchmarks). Logged loudly at start. */
    readonly enabled: boolean;
    readonly adminTokenSha256: string | null;
    /** The read-only viewer token's SHA-256 (GET and HEAD on /admin, the UI without changes); null: none. */
    readonly viewerTokenSha256: string | null;
    readonly keys: readonly StaticKey[];
  };
  readonly rateLimit: {
    readonly default: RateLimitPolicyConfig | null;
    readonly onStoreError: 'open' | 'closed';
    /** Longest wait for Redis on the request path before on_store_error decides. */
    readonly storeTimeoutMs: number;
    /** Completion tokens reserved when a request sets no max_tokens. */
    readonly defaultCompletionTokens: number;
  };
  readonly routing: RoutingConfig;
  readonly cache: {
    readonly enabled: boolean;
    readonly ttlSeconds: number;
    readonly scope: 'key' | 'global';
    /** Store only answers to requests with temperature 0 or a seed. */
    readonly onlyDeterministic: boolean;
    /** Larger answers (after compression) are not stored. */
    readonly maxEntryBytes: number;
    /** The in-process cache's size bound (without Redis). */
    readonly memoryMaxBytes: number;
  };
  readonly logLevel: string;
  /** Bytes of log lines held while stdout is not read (logging.max_buffer_bytes); past it lines are dropped. */
  readonly logMaxBufferBytes: number;
  /** Optional logging of prompts and answers (off by default): capped and redacted. */
  readonly promptLogging: {
    readonly enabled: boolean;
    readonly maxBytes: number;
    readonly redact: readonly RegExp[];
  };
  readonly metrics: {
    readonly enabled: boolean;
    /** GET /metrics then needs `Authorization: Bearer <token>`; null: open. */
    readonly tokenSha256: string | null;
    /** Serve /metrics on this port (on server.host) instead of the main one; null: the main port. */
    readonly port: number | null;
  };
  /** Teams (issue 20): keys that belong to one share its allow-list, limits, budgets and cap. */
  readonly teams: readonly TeamConfig[];
  readonly budget: {
    /** IANA time zone of calendar windows (day, week, month); default UTC. */
    readonly timezone: string;
    /** A model with no price: allow (costs 0) or refuse with budget_exceeded. */
    readonly unpriced: 'allow' | 'refuse';
  };
  readonly concurrency: {
    /** Longest wait in the queue for a slot before concurrency_limit_exceeded (default 30 s). */
    readonly queueTimeoutMs: number;
    /** Requests waiting at most per instance (default 10,000); beyond it refused at once. */
    readonly maxQueue: number;
    /** A slot's lease in Redis lives this long without renewal (default 15 s). */
    readonly leaseMs: number;
  };
  readonly alerts: {
    readonly webhookUrl: string | null;
    readonly secret: string | null;
    /** Shares of a budget at which an alert fires, once per window (default 0.5, 0.8, 1.0). */
    readonly thresholds: readonly number[];
  };
  readonly usage: {
    readonly enabled: boolean;
    /** Usage counters expire this long after their hour. */
    readonly retentionDays: number;
    /** First matching pattern prices a model; no match: the list prices, if on; else no cost. */
    readonly prices: readonly ModelPrice[];
    /** The providers' list prices for cloud backends' models (src/usage/list-prices.ts). */
    readonly listPrices: boolean;
  };
  /** The request log (issue 21): one record per request, in SQLite (state_dir) or PostgreSQL. */
  readonly requestLog: {
    readonly enabled: boolean;
    readonly store: 'sqlite' | 'postgres';
    /** Set when store is postgres. Never logged. */
    readonly postgresUrl: string | null;
    readonly retentionDays: number;
    readonly batchSize: number;
    readonly flushIntervalMs: number;
    readonly maxBuffered: number;
  };
  /** The admin web UI at /ui (issue 22). */
  readonly ui: {
    readonly enabled: boolean;
    /** How long a sign-in lasts (the session cookie's and the stored session's life). */
    readonly sessionTtlMs: number;
  };
  /** The Responses API (POST /v1/responses): how long a stored response can be read and continued. */
  readonly responses: {
    readonly storeTtlSeconds: number;
  };
}

/**
 * One Redis server (`url`, as written or from REDIS_URL), a Redis Cluster (its seed nodes) or a master
 * found through Redis Sentinel. Credentials are only present when set; none is ever logged.
 */
export type RedisConfig = RedisUrlConfig | RedisClusterConfig | RedisSentinelConfig;

export interface RedisUrlConfig {
  /** redis:// or rediss://, credentials and database number included. */
  readonly url: string;
  /** Used when the URL carries none. */
  readonly username?: string;
  readonly password?: string;
}

export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

export interface RedisClusterConfig {
  /** Seed nodes: any reachable one tells the client the whole cluster. */
  readonly cluster: readonly RedisNodeAddress[];
  /** Credentials of every node (from redis.username/password, else from the seed URLs). */
  readonly username?: string;
  readonly password?: string;
  /** rediss:// seeds: TLS to every node. */
  readonly tls: boolean;
}

export interface RedisSentinelConfig {
  readonly sentinel: {
    readonly sentinels: readonly RedisNodeAddress[];
    /** The master's name in the sentinels' configuration. */
    readonly name: string;
    /** Credentials of the master and its replicas. */
    readonly username?: string;
    readonly password?: string;
    /** Credentials of the sentinels themselves (sentinel_*, else from the sentinel URLs). */
    readonly sentinelUsername?: string;
    readonly sentinelPassword?: string;
    readonly db: number;
    /** TLS to the master (sentinel.tls). */
    readonly tls: boolean;
    /** rediss:// sentinels: TLS to the sentinels. */
    readonly sentinelTls: boolean;
  };
}

export interface ModelPrice {
  /**
   * A model pattern as in models[].name: exact, `prefix*` or `*`, matched against the model the client
   * asked for and the model the backend was asked for.
   */
  readonly model: string;
  /** Only for requests this backend answered. */
  readonly backend?: string;
  readonly promptPerMillion: number;
  readonly completionPerMillion: number;
  /** Prompt tokens read from the provider's prompt cache (default: the prompt price). */
  readonly cachedPromptPerMillion?: number;
  /** Prompt tokens written to the provider's prompt cache (default: the prompt price). */
  readonly cacheWritePerMillion?: number;
}

export interface BackendConfig {
  readonly name: string;
  readonly type: BackendType;
  /** Base URL without a trailing slash; empty for the in-process demo backend. */
  readonly url: string;
  readonly apiKey: string | null;
  /** vertex: the Google Cloud project, location and service account key file (null: the metadata server / ADC). */
  readonly project: string | null;
  readonly location: string | null;
  readonly credentialsFile: string | null;
  /** bedrock: the AWS region (credentials come from the AWS chain). */
  readonly region: string | null;
  /** azure_openai: the api-version query parameter. */
  readonly apiVersion: string | null;
  /** Longest wait for the upstream's response headers (the first byte). */
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Longest silence between two chunks of an upstream body. */
  readonly idleTimeoutMs: number;
  /**
   * Request fields the backend cannot honour (Ollama: logit_bias, tool_choice "required", ...): false,
   * a 400 naming the field; true, left out and reported to the caller (UpstreamCall.onDropped).
   */
  readonly dropUnsupported: boolean;
  /** Active health checks; null: none (the circuit breakers alone judge the backend). */
  readonly healthCheck: HealthCheckConfig | null;
  /** Requests in flight at most, across instances; null: no cap. */
  readonly maxConcurrency: number | null;
  /**
   * Strings removed from anything taken from this backend's answers (error messages, stream errors,
   * health check details): its api_key and every other secret of the config, longest first.
   */
  readonly secrets: readonly string[];
}

export interface HealthCheckConfig {
  /** GET this path (relative to the backend's url); any 2xx is healthy. */
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Consecutive failed checks before the backend is taken out of rotation. */
  readonly unhealthyAfter: number;
  /** Consecutive passed checks before it is put back. */
  readonly healthyAfter: number;
}

export interface RoutingConfig {
  readonly strategy: RoutingStrategy;
  /** Upstream attempts per client request, all targets together (1: no retry). */
  readonly maxAttempts: number;
  /** Bounds the whole request: no attempt starts after it, and one still waiting for its answer is ended. */
  readonly deadlineMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly retryBudget: {
    /** Retries allowed per client request in the window (0.2: at most 20% more attempts than requests). */
    readonly ratio: number;
    readonly windowSeconds: number;
    /** Retries always allowed per window, so that a quiet gateway can still fail over. */
    readonly minRetries: number;
  };
  readonly circuitBreaker: {
    readonly enabled: boolean;
    /** Consecutive failures that open the circuit. */
    readonly failures: number;
    /** Or: this share of failed attempts in the window (with at least minRequests attempts); null: off. */
    readonly errorRatio: number | null;
    readonly minRequests: number;
    readonly windowSeconds: number;
    readonly cooldownMs: number;
  };
  readonly discovery: {
    readonly enabled: boolean;
    readonly ttlSeconds: number;
    readonly timeoutMs: number;
  };
}

export interface ModelTarget {
  readonly backend: string;
  /** The upstream's model name; null means "the name the client sent". */
  readonly model: string | null;
  /**
   * Set: this target shares load by weight with the weighted targets next to it in the list (one
   * tier). Null: a tier of its own. Tiers are tried in list order; the next tier is the fallback.
   */
  readonly weight: number | null;
}

export interface ModelRoute {
  readonly name: string;
  readonly targets: readonly ModelTarget[];
  readonly rateLimit: RateLimitPolicyConfig | null;
  /** Overrides of the cache config for this route. */
  readonly cache: { readonly enabled?: boolean; readonly ttlSeconds?: number } | null;
  /** How targets of one tier share load (routing.strategy unless set on the route). */
  readonly strategy: RoutingStrategy;
}

export interface StaticKey {
  readonly id: string;
  readonly name: string;
  readonly sha256: string;
  readonly models: readonly string[] | null;
  readonly rateLimit: RateLimitPolicyConfig | null;
  readonly metadata: Readonly<Record<string, string>>;
  /** The team the key belongs to (a teams[].id or an admin API team); null: none. */
  readonly team: string | null;
  /** Queue priority: higher first (interactive 100, batch 10). */
  readonly priority: number;
  readonly maxConcurrency: number | null;
  readonly budgets: readonly Budget[];
}

export type BudgetWindow = 'hour' | 'day' | 'week' | 'month' | 'total';

/** A budget: at most `limit` US dollars or tokens per window; a soft one only alerts. */
export interface Budget {
  readonly unit: 'usd' | 'tokens';
  readonly limit: number;
  readonly window: BudgetWindow;
  readonly soft: boolean;
}

export interface TeamConfig {
  readonly id: string;
  readonly name: string;
  readonly models: readonly string[] | null;
  readonly rateLimit: RateLimitPolicyConfig | null;
  readonly budgets: readonly Budget[];
  readonly maxConcurrency: number | null;
  readonly metadata: Readonly<Record<string, string>>;
}

export const PRIORITY = { interactive: 100, batch: 10 } as const;
