import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { TypeGuard, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { SetErrorFunction, DefaultErrorFunction } from '@sinclair/typebox/errors';
import {
  PRIORITY,
  type BackendConfig,
  type Budget,
  type GatewayConfig,
  type HealthCheckConfig,
  type ModelRoute,
  type RoutingConfig,
  type StaticKey,
  type TeamConfig,
} from './config.js';
import {
  ConfigFileSchema,
  type BackendType,
  type BudgetConfigFile,
  type ConfigFile,
  type ConfigRateLimitPolicy,
  type RateLimitPolicyConfig,
} from './schema.js';
import { parseRate } from './rate-string.js';
import { redisConfigOf } from './redis-config.js';
import { sha256Hex } from '../auth/api-key.js';
import { forbiddenKeyProblem, isForbiddenKey, parseConfigDocument } from './config-document.js';

/** A mistake in the configuration; the CLI prints it and exits with status 2. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export const DEFAULT_BODY_LIMIT_BYTES = 10 * 1024 * 1024;
/** A whole request (headers and body) must arrive within this; a slow-drip body is cut off. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** Log lines held while stdout is not read, at most (issue 17: a stuck log collector grew memory). */
export const DEFAULT_LOG_BUFFER_BYTES = 16 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

SetErrorFunction((parameter) => {
  const schema = parameter.schema as TSchema & { anyOf?: TSchema[] };
  if (TypeGuard.IsUnion(schema) && schema.anyOf.every((member) => TypeGuard.IsLiteral(member))) {
    return `must be one of: ${schema.anyOf.map((member) => String(member.const)).join(', ')}`;
  }
  const message = DefaultErrorFunction(parameter);
  return message === 'Unexpected property'
    ? 'unknown field'
    : message.charAt(0).toLowerCase() + message.slice(1);
});

/**
 * A union's own error says only "expected union value". When the value is an object and the union
 * has one object member (a rate-limit policy: a string or an object), that member's errors say more.
 */
function explain(schema: TSchema, path: string, value: unknown, message: string): [string, string][] {
  if (TypeGuard.IsUnion(schema) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const objects = schema.anyOf.filter((member) => TypeGuard.IsObject(member));
    if (objects.length === 1 && objects[0] !== undefined) {
      return [...Value.Errors(objects[0], value)].map((inner) => [path + inner.path, inner.message]);
    }
  }
  if (TypeGuard.IsUnion(schema)) {
    const kinds = schema.anyOf.map((member) =>
      TypeGuard.IsObject(member) ? 'an object' : TypeGuard.IsString(member) ? 'a string' : null,
    );
    if (kinds.every((kind) => kind !== null)) return [[path, `must be ${[...new Set(kinds)].join(' or ')}`]];
  }
  return [[path, message]];
}

/** "/backends/1/url" → "backends[1].url" */
function formatPath(pointer: string): string {
  let out = '';
  for (const part of pointer.split('/').slice(1)) {
    const segment = part.replaceAll('~1', '/').replaceAll('~0', '~');
    out += /^\d+$/.test(segment) ? `[${segment}]` : out === '' ? segment : `.${segment}`;
  }
  return out === '' ? '(root)' : out;
}

type Environment = Readonly<Record<string, string | undefined>>;

/** Values from the environment shorter than this are not treated as secrets ("8080", "true"). */
const MIN_SECRET_LENGTH = 8;

/**
 * Replaces ${NAME} and ${NAME:-default} in every string of the parsed document; every value taken from
 * the environment that could be a secret is added to `secrets`.
 */
function interpolate(
  value: unknown,
  path: string,
  env: Environment,
  problems: string[],
  secrets: Set<string>,
): unknown {
  if (typeof value === 'string') {
    return value.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}/g,
      (_whole, name: string, hasDefault, fallback) => {
        const found = env[name];
        if (found !== undefined && found !== '') {
          if (found.length >= MIN_SECRET_LENGTH) secrets.add(found);
          return found;
        }
        if (hasDefault !== undefined) return String(fallback);
        problems.push(
          `${path}: environment variable ${name} is not set (write \${${name}:-} to make it optional)`,
        );
        return '';
      },
    );
  }
  if (Array.isArray(value))
    return value.map((item, index) => interpolate(item, `${path}[${index}]`, env, problems, secrets));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const where = path === '' ? key : `${path}.${key}`;
      // A document built in code (or from JSON) can carry them as own keys too.
      if (isForbiddenKey(key)) problems.push(forbiddenKeyProblem(where, key));
      else out[key] = interpolate(item, where, env, problems, secrets);
    }
    return out;
  }
  return value;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === ''
    );
  } catch {
    return false;
  }
}

/** The seed's "100/minute" alone means a requests limit. */
function normalizePolicy(policy: ConfigRateLimitPolicy | undefined): RateLimitPolicyConfig | null {
  if (policy === undefined) return null;
  return typeof policy === 'string' ? { requests: policy } : policy;
}

/** A priority as a number: higher first (interactive 100, the default; batch 10). */
export function priorityOf(value: 'interactive' | 'batch' | number | undefined): number {
  if (value === undefined || value === 'interactive') return PRIORITY.interactive;
  if (value === 'batch') return PRIORITY.batch;
  return value;
}

/** Budgets as the gateway reads them: exactly one of usd and tokens each. */
export function budgetsOf(
  raw: readonly BudgetConfigFile[] | undefined,
  path: string,
  problems: string[],
): Budget[] {
  const budgets: Budget[] = [];
  (raw ?? []).forEach((budget, index) => {
    if ((budget.usd === undefined) === (budget.tokens === undefined)) {
      problems.push(`${path}[${index}]: give exactly one of usd and tokens`);
      return;
    }
    budgets.push({
      unit: budget.usd === undefined ? 'tokens' : 'usd',
      limit: budget.usd ?? (budget.tokens as number),
      window: budget.window,
      soft: budget.soft ?? false,
    });
  });
  return budgets;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function checkPolicy(raw: ConfigRateLimitPolicy | undefined, path: string, problems: string[]): void {
  const policy = normalizePolicy(raw);
  if (policy === null) return;
  for (const kind of ['requests', 'tokens'] as const) {
    const value = policy[kind];
    if (value === undefined) continue;
    const list = Array.isArray(value) ? value : [value];
    list.forEach((text, index) => {
      if (parseRate(text) === null) {
        const where = Array.isArray(value) ? `${path}.${kind}[${index}]` : `${path}.${kind}`;
        problems.push(`${where}: '${text}' is not a rate; write N/second, N/minute, N/hour or N/day`);
      }
    });
  }
}

function checkModelPattern(name: string, path: string, problems: string[]): void {
  if (name.indexOf('*') !== -1 && name.indexOf('*') !== name.length - 1) {
    problems.push(`${path}: '*' may only end a model name ("prefix*") or stand alone ("*")`);
  }
}

/** The configuration used when no file is given: the demo model plus Ollama for every other name. */
export function embeddedDefaults(env: Environment): ConfigFile {
  return {
    backends: [
      { name: 'demo', type: 'demo' },
      { name: 'ollama', type: 'ollama', url: env['OLLAMA_URL'] || 'http://127.0.0.1:11434' },
    ],
    models: [
      { name: 'demo', targets: [{ backend: 'demo' }] },
      { name: '*', targets: [{ backend: 'ollama' }] },
    ],
  };
}

export interface LoadConfigOptions {
  /** Path of the YAML file; null for the embedded defaults. */
  readonly path: string | null;
  readonly env: Environment;
}

export function loadConfig(options: LoadConfigOptions): GatewayConfig {
  const { env } = options;
  let raw: unknown;
  if (options.path === null) {
    raw = embeddedDefaults(env);
  } else {
    let text: string;
    try {
      text = readFileSync(options.path, 'utf8');
    } catch (error) {
      throw new ConfigError([`${options.path}: cannot read the config file (${(error as Error).message})`]);
    }
    const document = parseConfigDocument(text, options.path);
    if ('problems' in document) throw new ConfigError(document.problems);
    raw = document.value ?? {};
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ConfigError([`${options.path}: the config file must be a YAML mapping`]);
    }
  }
  return validateConfig(raw, env);
}

/** Checks a parsed config document in full, reporting every problem at once, and applies defaults. */
export function validateConfig(raw: unknown, env: Environment): GatewayConfig {
  const problems: string[] = [];
  const fromEnvironment = new Set<string>();
  const interpolated = interpolate(raw, '', env, problems, fromEnvironment);
  if (problems.length > 0) throw new ConfigError(problems);

  const structural = [...Value.Errors(ConfigFileSchema, interpolated)];
  if (structural.length > 0) {
    const seen = new Set<string>();
    for (const error of structural) {
      for (const [path, message] of explain(error.schema, error.path, error.value, error.message)) {
        const line = `${formatPath(path)}: ${message}`;
        if (!seen.has(line)) problems.push(line);
        seen.add(line);
      }
    }
    throw new ConfigError(problems);
  }
  const file = interpolated as ConfigFile;
  const secrets = configuredSecrets(file, env, fromEnvironment);

  const backendNames = new Set<string>();
  const backends: BackendConfig[] = (file.backends ?? []).map((backend, index) => {
    const path = `backends[${index}]`;
    if (backendNames.has(backend.name))
      problems.push(`${path}.name: '${backend.name}' is used by another backend`);
    backendNames.add(backend.name);
    let url = '';
    checkProviderFields(backend, path, problems);
    const defaultUrl = defaultUrlOf(backend);
    if (backend.type === 'demo') {
      if (backend.url !== undefined)
        problems.push(`${path}.url: a demo backend runs in process and takes no url`);
    } else if (backend.url === undefined && defaultUrl !== null) {
      url = defaultUrl;
    } else if (backend.url === undefined) {
      problems.push(`${path}.url: required for a backend of type ${backend.type}`);
    } else if (!isHttpUrl(backend.url)) {
      problems.push(`${path}.url: must be an http(s) URL without credentials`);
    } else {
      url = backend.url.replace(/\/+$/, '');
    }
    return {
      name: backend.name,
      type: backend.type,
      url,
      apiKey: backend.api_key === undefined || backend.api_key === '' ? null : backend.api_key,
      project: backend.project ?? null,
      location: backend.location ?? null,
      credentialsFile: backend.credentials_file ?? null,
      region: backend.region ?? null,
      apiVersion: backend.api_version ?? (backend.type === 'azure_openai' ? DEFAULT_AZURE_API_VERSION : null),
      timeoutMs: backend.timeout_ms ?? DEFAULT_TIMEOUT_MS,
      connectTimeoutMs: backend.connect_timeout_ms ?? DEFAULT_CONNECT_TIMEOUT_MS,
      idleTimeoutMs: backend.idle_timeout_ms ?? DEFAULT_IDLE_TIMEOUT_MS,
      dropUnsupported: backend.drop_unsupported ?? false,
      healthCheck: healthCheckOf(backend, `${path}.health_check`, problems),
      maxConcurrency: backend.max_concurrency ?? null,
      secrets,
    };
  });

  const strategy = file.routing?.strategy ?? 'weighted';
  const routeNames = new Set<string>();
  const models: ModelRoute[] = (file.models ?? []).map((route, index) => {
    const path = `models[${index}]`;
    if (routeNames.has(route.name))
      problems.push(`${path}.name: '${route.name}' is already routed by an earlier entry (first match wins)`);
    routeNames.add(route.name);
    checkModelPattern(route.name, `${path}.name`, problems);
    checkPolicy(route.rate_limit, `${path}.rate_limit`, problems);
    return {
      name: route.name,
      strategy: route.strategy ?? strategy,
      rateLimit: normalizePolicy(route.rate_limit),
      cache:
        route.cache === undefined
          ? null
          : {
              ...(route.cache.enabled === undefined ? {} : { enabled: route.cache.enabled }),
              ...(route.cache.ttl_seconds === undefined ? {} : { ttlSeconds: route.cache.ttl_seconds }),
            },
      targets: route.targets.map((target, targetIndex) => {
        if (!backendNames.has(target.backend)) {
          problems.push(
            `${path}.targets[${targetIndex}].backend: no backend named '${target.backend}' (known: ${[...backendNames].join(', ') || 'none'})`,
          );
        }
        return {
          backend: target.backend,
          model: target.model ?? null,
          weight: target.weight ?? null,
        };
      }),
    };
  });

  const keyIds = new Set<string>();
  const keyHashes = new Set<string>();
  const keys: StaticKey[] = (file.auth?.keys ?? []).map((key, index) => {
    const path = `auth.keys[${index}]`;
    if (keyIds.has(key.id)) problems.push(`${path}.id: '${key.id}' is used by another key`);
    keyIds.add(key.id);
    const sha256 = key.sha256.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(sha256)) {
      problems.push(`${path}.sha256: must be 64 hex characters (run: ai-gateway keys hash)`);
    } else if (keyHashes.has(sha256)) {
      problems.push(`${path}.sha256: the same key is configured twice`);
    }
    keyHashes.add(sha256);
    key.models?.forEach((pattern, patternIndex) => {
      checkModelPattern(pattern, `${path}.models[${patternIndex}]`, problems);
    });
    checkPolicy(key.rate_limit, `${path}.rate_limit`, problems);
    return {
      id: key.id,
      name: key.name ?? key.id,
      sha256,
      models: key.models ?? null,
      rateLimit: normalizePolicy(key.rate_limit),
      metadata: key.metadata ?? {},
      team: key.team ?? null,
      priority: priorityOf(key.priority),
      maxConcurrency: key.max_concurrency ?? null,
      budgets: budgetsOf(key.budgets, `${path}.budgets`, problems),
    };
  });

  const teamIds = new Set<string>();
  const teams: TeamConfig[] = (file.teams ?? []).map((team, index) => {
    const path = `teams[${index}]`;
    if (teamIds.has(team.id)) problems.push(`${path}.id: '${team.id}' is used by another team`);
    teamIds.add(team.id);
    team.models?.forEach((pattern, patternIndex) => {
      checkModelPattern(pattern, `${path}.models[${patternIndex}]`, problems);
    });
    checkPolicy(team.rate_limit, `${path}.rate_limit`, problems);
    return {
      id: team.id,
      name: team.name ?? team.id,
      models: team.models ?? null,
      rateLimit: normalizePolicy(team.rate_limit),
      budgets: budgetsOf(team.budgets, `${path}.budgets`, problems),
      maxConcurrency: team.max_concurrency ?? null,
      metadata: team.metadata ?? {},
    };
  });
  // A config key's team must be a config team: the admin API's teams are not known at load time.
  keys.forEach((key, index) => {
    if (key.team !== null && !teamIds.has(key.team))
      problems.push(
        `auth.keys[${index}].team: no team named '${key.team}' in teams (known: ${[...teamIds].join(', ') || 'none'})`,
      );
  });
  const timezone = file.budget?.timezone ?? 'UTC';
  if (!isTimeZone(timezone))
    problems.push(`budget.timezone: '${timezone}' is not an IANA time zone (e.g. UTC, Europe/Berlin)`);
  const requestLogStore = file.request_log?.store ?? 'sqlite';
  const postgresUrl = file.request_log?.postgres_url ?? null;
  if (requestLogStore === 'postgres' && postgresUrl === null)
    problems.push(
      'request_log.postgres_url: required with store: postgres (postgres://user:password@host:5432/database)',
    );
  else if (postgresUrl !== null && !/^postgres(ql)?:\/\//.test(postgresUrl))
    problems.push('request_log.postgres_url: must be a postgres:// or postgresql:// URL');
  const requestLog = {
    enabled: file.request_log?.enabled ?? false,
    store: requestLogStore,
    postgresUrl,
    retentionDays: file.request_log?.retention_days ?? 30,
    batchSize: file.request_log?.batch?.size ?? 500,
    flushIntervalMs: file.request_log?.batch?.interval_ms ?? 500,
    maxBuffered: file.request_log?.batch?.max_buffered ?? 10_000,
  };
  const alertUrl = file.alerts?.webhook_url ?? null;
  if (alertUrl !== null && !isHttpUrl(alertUrl))
    problems.push('alerts.webhook_url: must be an http(s) URL without credentials');

  let adminTokenSha256 = file.auth?.admin_token_sha256?.toLowerCase() ?? null;
  if (adminTokenSha256 !== null && !/^[0-9a-f]{64}$/.test(adminTokenSha256)) {
    problems.push('auth.admin_token_sha256: must be 64 hex characters (printf %s "$TOKEN" | sha256sum)');
  }
  const adminToken = env['GATEWAY_ADMIN_TOKEN'];
  if (adminToken !== undefined && adminToken !== '') {
    if (adminToken.length < 16) problems.push('GATEWAY_ADMIN_TOKEN: must be at least 16 characters');
    else adminTokenSha256 = sha256Hex(adminToken);
  }
  const viewerTokenSha256 = file.auth?.viewer_token_sha256?.toLowerCase() ?? null;
  if (viewerTokenSha256 !== null && !/^[0-9a-f]{64}$/.test(viewerTokenSha256))
    problems.push('auth.viewer_token_sha256: must be 64 hex characters (printf %s "$TOKEN" | sha256sum)');
  else if (viewerTokenSha256 !== null && viewerTokenSha256 === adminTokenSha256)
    problems.push('auth.viewer_token_sha256: must differ from the admin token');
  checkPolicy(file.rate_limit?.default, 'rate_limit.default', problems);

  const redis = redisConfigOf(file.redis, env, problems);

  let port = file.server?.port ?? 8080;
  const portOverride = env['PORT'];
  if (portOverride !== undefined && portOverride !== '') {
    const parsed = Number(portOverride);
    if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535)
      problems.push('PORT: must be an integer from 0 to 65535');
    else port = parsed;
  }
  const logLevel = env['LOG_LEVEL'] ?? file.logging?.level ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push('LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent');
  }

  const routing = routingOf(file.routing, problems);
  const workersSetting = file.server?.workers ?? 1;
  const workers = workersSetting === 'auto' ? (redis === null ? 1 : availableParallelism()) : workersSetting;
  if (workers > 1 && redis === null) {
    problems.push(
      `server.workers: ${workers} workers need redis (rate limits, the response cache and key changes live in each process without it); set redis.url (or redis.cluster, redis.sentinel) or use one worker`,
    );
  }
  const redact = (file.logging?.prompts?.redact ?? []).flatMap((pattern, index) => {
    try {
      return [new RegExp(pattern, 'g')];
    } catch (error) {
      problems.push(
        `logging.prompts.redact[${index}]: not a valid regular expression (${(error as Error).message})`,
      );
      return [];
    }
  });
  let metricsTokenSha256 = file.metrics?.token_sha256?.toLowerCase() ?? null;
  if (metricsTokenSha256 !== null && !/^[0-9a-f]{64}$/.test(metricsTokenSha256))
    problems.push('metrics.token_sha256: must be 64 hex characters (printf %s "$TOKEN" | sha256sum)');
  const configuredMetricsToken = file.metrics?.token;
  if (configuredMetricsToken !== undefined && configuredMetricsToken !== '') {
    if (metricsTokenSha256 !== null) problems.push('metrics.token: set token or token_sha256, not both');
    else if (configuredMetricsToken.length < 16)
      problems.push('metrics.token: must be at least 16 characters');
    else metricsTokenSha256 = sha256Hex(configuredMetricsToken);
  }
  const metricsToken = env['METRICS_TOKEN'];
  if (metricsToken !== undefined && metricsToken !== '') {
    if (metricsToken.length < 16) problems.push('METRICS_TOKEN: must be at least 16 characters');
    else metricsTokenSha256 = sha256Hex(metricsToken);
  }
  const prices = (file.usage?.prices ?? []).map((price, index) => {
    checkModelPattern(price.model, `usage.prices[${index}].model`, problems);
    if (price.backend !== undefined && !backendNames.has(price.backend))
      problems.push(
        `usage.prices[${index}].backend: no backend named '${price.backend}' (known: ${[...backendNames].join(', ') || 'none'})`,
      );
    return {
      model: price.model,
      ...(price.backend === undefined ? {} : { backend: price.backend }),
      promptPerMillion: price.prompt_per_million,
      completionPerMillion: price.completion_per_million,
      ...(price.cached_prompt_per_million === undefined
        ? {}
        : { cachedPromptPerMillion: price.cached_prompt_per_million }),
      ...(price.cache_write_per_million === undefined
        ? {}
        : { cacheWritePerMillion: price.cache_write_per_million }),
    };
  });

  const trustProxy = trustProxyOf(file.server?.trust_proxy, problems);
  const cors = (file.server?.cors ?? []).map((origin, index) => {
    const normalized = corsOriginOf(origin);
    if (normalized === null)
      problems.push(
        `server.cors[${index}]: must be an origin such as https://app.example (scheme, host and optional port; no path, no "*")`,
      );
    return normalized ?? origin;
  });
  const requestTimeoutMs = file.server?.request_timeout_ms ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const headersTimeoutMs = file.server?.headers_timeout_ms ?? DEFAULT_HEADERS_TIMEOUT_MS;
  if (requestTimeoutMs !== 0 && headersTimeoutMs > requestTimeoutMs)
    problems.push('server.headers_timeout_ms: must not be larger than server.request_timeout_ms');

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    server: {
      host:
        env['HOST'] !== undefined && env['HOST'] !== '' ? env['HOST'] : (file.server?.host ?? '127.0.0.1'),
      port,
      bodyLimitBytes: file.server?.body_limit_bytes ?? DEFAULT_BODY_LIMIT_BYTES,
      shutdownGraceMs: file.server?.shutdown_grace_ms ?? 10_000,
      shutdownDelayMs: file.server?.shutdown_delay_ms ?? 0,
      stateDir: file.server?.state_dir ?? '.gateway',
      workers,
      watchConfig: file.server?.watch_config ?? false,
      trustProxy,
      cors,
      requestTimeoutMs,
      headersTimeoutMs,
      maxConnections: file.server?.max_connections ?? DEFAULT_MAX_CONNECTIONS,
    },
    redis,
    backends,
    models,
    auth: { enabled: file.auth?.enabled ?? true, adminTokenSha256, viewerTokenSha256, keys },
    ui: {
      enabled: file.ui?.enabled ?? true,
      sessionTtlMs: file.ui?.session_ttl_ms ?? 12 * 3_600_000,
    },
    rateLimit: {
      default: normalizePolicy(file.rate_limit?.default),
      onStoreError: file.rate_limit?.on_store_error ?? 'open',
      storeTimeoutMs: file.rate_limit?.store_timeout_ms ?? 50,
      defaultCompletionTokens: file.rate_limit?.default_completion_tokens ?? 1024,
    },
    routing,
    cache: {
      enabled: file.cache?.enabled ?? true,
      ttlSeconds: file.cache?.ttl_seconds ?? 3600,
      scope: file.cache?.scope ?? 'key',
      onlyDeterministic: file.cache?.only_deterministic ?? false,
      maxEntryBytes: file.cache?.max_entry_bytes ?? 1024 * 1024,
      memoryMaxBytes: file.cache?.memory_max_bytes ?? 64 * 1024 * 1024,
    },
    logLevel,
    logMaxBufferBytes: file.logging?.max_buffer_bytes ?? DEFAULT_LOG_BUFFER_BYTES,
    promptLogging: {
      enabled: file.logging?.prompts?.enabled ?? false,
      maxBytes: file.logging?.prompts?.max_bytes ?? 4096,
      redact,
    },
    metrics: {
      enabled: file.metrics?.enabled ?? true,
      tokenSha256: metricsTokenSha256,
      port: file.metrics?.port ?? null,
    },
    usage: {
      enabled: file.usage?.enabled ?? true,
      retentionDays: file.usage?.retention_days ?? 90,
      prices,
      listPrices: file.usage?.list_prices ?? true,
    },
    teams,
    requestLog,
    budget: { timezone, unpriced: file.budget?.unpriced ?? 'allow' },
    concurrency: {
      queueTimeoutMs: file.concurrency?.queue_timeout_ms ?? 30_000,
      maxQueue: file.concurrency?.max_queue ?? 10_000,
      leaseMs: file.concurrency?.lease_ms ?? 15_000,
    },
    alerts: {
      webhookUrl: alertUrl,
      secret: file.alerts?.secret ?? null,
      thresholds: [...new Set(file.alerts?.thresholds ?? [0.5, 0.8, 1])].sort((a, b) => a - b),
    },
    responses: {
      storeTtlSeconds: file.responses?.store_ttl_seconds ?? 30 * 86400,
    },
  };
}

/** Azure OpenAI's GA api-version the contract names (2024-10-21). */
export const DEFAULT_AZURE_API_VERSION = '2024-10-21';

type BackendFile = NonNullable<ConfigFile['backends']>[number];

/** Which provider fields each backend type takes, and which it requires. */
const PROVIDER_FIELDS: Readonly<
  Record<string, { readonly takes: readonly string[]; readonly requires: readonly string[] }>
> = {
  anthropic: { takes: ['api_key'], requires: ['api_key'] },
  gemini: { takes: ['api_key'], requires: ['api_key'] },
  vertex: { takes: ['project', 'location', 'credentials_file'], requires: ['project', 'location'] },
  bedrock: { takes: ['region'], requires: ['region'] },
  azure_openai: { takes: ['api_key', 'api_version'], requires: [] },
  openai: { takes: ['api_key'], requires: [] },
  ollama: { takes: ['api_key'], requires: [] },
  demo: { takes: [], requires: [] },
};

function checkProviderFields(backend: BackendFile, path: string, problems: string[]): void {
  const fields = PROVIDER_FIELDS[backend.type] ?? { takes: [], requires: [] };
  const record = backend as unknown as Record<string, unknown>;
  for (const field of ['api_key', 'project', 'location', 'credentials_file', 'region', 'api_version']) {
    const given = record[field] !== undefined;
    if (given && !fields.takes.includes(field))
      problems.push(`${path}.${field}: a backend of type ${backend.type} takes no ${field}`);
    if (!given && fields.requires.includes(field))
      problems.push(`${path}.${field}: required for a backend of type ${backend.type}`);
  }
  if (backend.type === 'azure_openai' && backend.url === undefined)
    problems.push(
      `${path}.url: required for a backend of type azure_openai (https://RESOURCE.openai.azure.com)`,
    );
}

/** The provider's public endpoint, used when `url` is not set (tests and proxies set it). */
function defaultUrlOf(backend: BackendFile): string | null {
  switch (backend.type) {
    case 'anthropic':
      return 'https://api.anthropic.com';
    case 'gemini':
      return 'https://generativelanguage.googleapis.com';
    case 'vertex':
      return backend.location === undefined
        ? null
        : backend.location === 'global'
          ? 'https://aiplatform.googleapis.com'
          : `https://${backend.location}-aiplatform.googleapis.com`;
    case 'bedrock':
      return backend.region === undefined ? null : `https://bedrock-runtime.${backend.region}.amazonaws.com`;
    case 'azure_openai':
    case 'openai':
    case 'ollama':
    case 'demo':
      return null;
  }
}

/** What an active health check GETs by default: a listing that costs no tokens. */
const DEFAULT_HEALTH_PATHS: Record<BackendType, string> = {
  openai: '/models',
  ollama: '/api/tags',
  demo: '/',
  anthropic: '/v1/models',
  gemini: '/v1beta/models?pageSize=1',
  // None: a vertex backend's check obtains an OAuth token (GeminiAdapter.probe), as Vertex AI has no
  // free endpoint every project may read.
  vertex: '',
  bedrock: '/',
  azure_openai: '/openai/models',
};

function healthCheckOf(
  backend: NonNullable<ConfigFile['backends']>[number],
  path: string,
  problems: string[],
): HealthCheckConfig | null {
  const check = backend.health_check;
  if (check === undefined) return null;
  if (backend.type === 'demo') {
    problems.push(`${path}: a demo backend runs in process and has nothing to check`);
    return null;
  }
  const intervalMs = check.interval_ms ?? 10_000;
  const timeoutMs = check.timeout_ms ?? Math.min(2_000, intervalMs);
  if (timeoutMs > intervalMs)
    problems.push(`${path}.timeout_ms: must not exceed interval_ms (${intervalMs})`);
  return {
    path: check.path ?? DEFAULT_HEALTH_PATHS[backend.type],
    intervalMs,
    timeoutMs,
    unhealthyAfter: check.unhealthy_after ?? 2,
    healthyAfter: check.healthy_after ?? 1,
  };
}

function routingOf(routing: ConfigFile['routing'], problems: string[]): RoutingConfig {
  const backoffBaseMs = routing?.backoff_base_ms ?? 100;
  const backoffMaxMs = routing?.backoff_max_ms ?? Math.max(2_000, backoffBaseMs);
  if (backoffMaxMs < backoffBaseMs)
    problems.push(`routing.backoff_max_ms: must be at least backoff_base_ms (${backoffBaseMs})`);
  const breaker = routing?.circuit_breaker;
  return {
    strategy: routing?.strategy ?? 'weighted',
    maxAttempts: routing?.max_attempts ?? 3,
    deadlineMs: routing?.deadline_ms ?? 120_000,
    backoffBaseMs,
    backoffMaxMs,
    retryBudget: {
      ratio: routing?.retry_budget?.ratio ?? 0.2,
      windowSeconds: routing?.retry_budget?.window_seconds ?? 10,
      minRetries: routing?.retry_budget?.min_retries ?? 3,
    },
    circuitBreaker: {
      enabled: breaker?.enabled ?? true,
      failures: breaker?.failures ?? 5,
      errorRatio: breaker?.error_ratio ?? null,
      minRequests: breaker?.min_requests ?? 20,
      windowSeconds: breaker?.window_seconds ?? 30,
      cooldownMs: breaker?.cooldown_ms ?? 30_000,
    },
    discovery: {
      enabled: routing?.discovery?.enabled ?? true,
      ttlSeconds: routing?.discovery?.ttl_seconds ?? 30,
      timeoutMs: routing?.discovery?.timeout_ms ?? 1_000,
    },
  };
}

/**
 * server.trust_proxy: false (default), true (every hop: only behind a proxy that overwrites the
 * header), a number of hops, or addresses and CIDRs (as Fastify's trustProxy, checked here so that a
 * typo stops the start instead of trusting nothing or everything).
 */
function trustProxyOf(
  setting: boolean | number | readonly string[] | undefined,
  problems: string[],
): false | number | readonly string[] {
  if (setting === undefined || setting === false || setting === 0) return false;
  if (setting === true) return ['0.0.0.0/0', '::/0'];
  if (typeof setting === 'number') return setting;
  setting.forEach((entry, index) => {
    if (!isAddressOrCidr(entry))
      problems.push(
        `server.trust_proxy[${index}]: must be an IP address or CIDR such as 10.0.0.0/8 (got ${JSON.stringify(entry)})`,
      );
  });
  return setting;
}

function isAddressOrCidr(entry: string): boolean {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return false;
  if (slash === -1) return true;
  const bits = entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** "https://App.example:443/" → "https://app.example"; null when it is not a bare origin. */
function corsOriginOf(origin: string): string | null {
  if (origin.includes('*')) return null;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') return null;
  if (origin.replace(/\/$/, '').length !== origin.replace(/\/$/, '').trim().length) return null;
  return url.origin;
}

/**
 * What must never be passed on from an upstream's answer (issue 16, finding 6): every backend's
 * api_key, the tokens read from the environment, and each value a `${NAME}` brought in. Longest first,
 * so that a secret containing another is removed whole.
 */
function configuredSecrets(file: ConfigFile, env: Environment, fromEnvironment: Set<string>): string[] {
  const secrets = new Set(fromEnvironment);
  for (const backend of file.backends ?? []) {
    if (backend.api_key !== undefined && backend.api_key.length >= MIN_SECRET_LENGTH)
      secrets.add(backend.api_key);
  }
  const metricsToken = file.metrics?.token;
  if (metricsToken !== undefined && metricsToken.length >= MIN_SECRET_LENGTH) secrets.add(metricsToken);
  const postgresUrl = file.request_log?.postgres_url;
  if (postgresUrl !== undefined && postgresUrl.length >= MIN_SECRET_LENGTH) {
    secrets.add(postgresUrl);
    // The password alone too: a driver's error may quote it without the rest of the URL.
    try {
      const password = decodeURIComponent(new URL(postgresUrl).password);
      if (password.length >= MIN_SECRET_LENGTH) secrets.add(password);
    } catch {
      // Not a URL: the check in validateConfig names it.
    }
  }
  const alertSecret = file.alerts?.secret;
  if (alertSecret !== undefined && alertSecret.length >= MIN_SECRET_LENGTH) secrets.add(alertSecret);
  for (const name of ['GATEWAY_ADMIN_TOKEN', 'METRICS_TOKEN', 'REDIS_URL']) {
    const value = env[name];
    if (value !== undefined && value.length >= MIN_SECRET_LENGTH) secrets.add(value);
  }
  return [...secrets].sort((a, b) => b.length - a.length);
}
