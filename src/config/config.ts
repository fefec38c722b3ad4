import type { BackendType, RateLimitPolicyConfig } from './schema.js';

/** The validated, defaulted configuration every other module reads. Built only by loadConfig. */
export interface GatewayConfig {
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimitBytes: number;
    readonly shutdownGraceMs: number;
    readonly stateDir: string;
  };
  readonly redis: { readonly url: string } | null;
  readonly backends: readonly BackendConfig[];
  readonly models: readonly ModelRoute[];
  readonly auth: {
    /** false: no API key is asked for (local development, benchmarks). Logged loudly at start. */
    readonly enabled: boolean;
    readonly adminTokenSha256: string | null;
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
}

export interface BackendConfig {
  readonly name: string;
  readonly type: BackendType;
  /** Base URL without a trailing slash; empty for the in-process demo backend. */
  readonly url: string;
  readonly apiKey: string | null;
  /** Longest wait for the upstream's response headers (the first byte). */
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Longest silence between two chunks of an upstream body. */
  readonly idleTimeoutMs: number;
}

export interface ModelTarget {
  readonly backend: string;
  /** The upstream's model name; null means "the name the client sent". */
  readonly model: string | null;
  readonly weight: number;
}

export interface ModelRoute {
  readonly name: string;
  readonly targets: readonly ModelTarget[];
  readonly rateLimit: RateLimitPolicyConfig | null;
  /** Overrides of the cache config for this route. */
  readonly cache: { readonly enabled?: boolean; readonly ttlSeconds?: number } | null;
}

export interface StaticKey {
  readonly id: string;
  readonly name: string;
  readonly sha256: string;
  readonly models: readonly string[] | null;
  readonly rateLimit: RateLimitPolicyConfig | null;
  readonly metadata: Readonly<Record<string, string>>;
}
