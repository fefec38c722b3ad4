import { setTimeout as delay } from 'node:timers/promises';
import cluster from 'node:cluster';
import * as crypto from 'node:crypto';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { KeyViewSchema } from '../api/admin-schemas.js';
import { ProblemSchema } from '../api/schemas.js';
import { Authenticator } from '../auth/authenticator.js';
import { TeamDirectory } from '../auth/team-directory.js';
import type { BackendAdapter } from '../backends/adapter.js';
import { createAdapter } from '../backends/create-adapter.js';
import type { GatewayConfig } from '../config/config.js';
import { ServiceUnavailableError } from '../errors/errors.js';
import { AttemptRunner } from '../routing/attempt-runner.js';
import { ModelDiscovery } from '../routing/discovery.js';
import { HealthChecker } from '../routing/health-checker.js';
import { ModelRouter } from '../routing/model-router.js';
import type { KeyRecord } from '../auth/key-record.js';
import type { KeyStore } from '../auth/key-store.js';
import { openStores } from '../state/stores.js';
import { RateLimiter } from '../rate-limit/rate-limiter.js';
import { KEY_MEMO_MAX_CHARS, ResponseCache } from '../cache/response-cache.js';
import type { GatewayContext, ReadinessCheck } from './context.js';
import { boundedValidatorFactory, rememberBodySize } from './bounded-validator.js';
import { clientErrorHandler } from './client-error.js';
import { buildErrorHandler } from './error-handler.js';
import { parseJsonText } from './json-body.js';
import { installNotFound } from './not-found.js';
import { refuseUnusualTargets } from './request-target.js';
import { registerCors } from './cors.js';
import { frameworkErrorHandler } from './framework-errors.js';
import { chooseRequestId, newRequestState, requestPath, type RequestState } from './request-state.js';
import { registerAdminRoutes } from '../admin/admin-routes.js';
import { registerChatCompletions } from './routes/chat-completions.js';
import { registerMessages } from '../protocols/anthropic-messages/route.js';
import { registerOllamaApi } from '../protocols/ollama/route.js';
import { registerOpenAiCompletions } from '../protocols/openai-completions/route.js';
import { registerResponses } from '../protocols/openai-responses/route.js';
import { registerEmbeddings } from './routes/embeddings.js';
import { registerHealth } from './routes/health.js';
import { registerModels } from './routes/models.js';
import { UpstreamCalls } from './upstream-calls.js';
import { NO_METRICS, PrometheusMetrics, type MetricsSink } from '../observability/metrics.js';
import { listenMetrics, registerMetricsRoute } from '../observability/metrics-endpoint.js';
import { createTracing, inSpan } from '../observability/tracing.js';
import { workerMetrics } from '../observability/cluster-metrics.js';
import { droppedLogLines } from '../logging/log-buffer.js';
import { promptForLog } from '../logging/prompt-log.js';
import { UsageRecorder } from '../usage/usage-recorder.js';
import { PriceTable } from '../usage/pricing.js';
import { requestCost } from '../pipeline/request-cost.js';
import { Spending } from '../pipeline/spending.js';
import type { BudgetLedger } from '../budgets/ledger.js';
import { MemoryBudgetLedger } from '../budgets/memory-ledger.js';
import { RedisBudgetLedger } from '../budgets/redis-ledger.js';
import { BudgetAlerts, MemoryAlertClaims, RedisAlertClaims } from '../budgets/alerts.js';
import { WebhookSender } from '../budgets/webhook.js';
import { createSlotPool } from '../concurrency/slot-pool.js';
import { openRequestLog } from '../request-log/request-log.js';
import { isLoggedRoute, recordOf } from '../request-log/record-of.js';
import { usageModel } from '../usage/usage-model.js';
import { preloadTokenizer } from '../rate-limit/token-estimate.js';
import { registerUsageRoutes } from '../admin/usage-routes.js';
import { AdminAccess } from '../admin/admin-access.js';
import { registerOperationsRoutes, type ReloadOutcome } from '../admin/operations-routes.js';
import { registerUiRoutes } from '../ui/ui-routes.js';
import { UiSessions } from '../ui/ui-sessions.js';

/** When the grace period ends: how long the requests it cut off have to send their 503. */
const ANSWER_AFTER_GRACE_MS = 1_000;
/**
 * How long listen() waits for the Redis connections' first attempt. The first requests would otherwise
 * find them still connecting: their Redis calls fail at once (nothing is queued while connecting), and
 * rate_limit.on_store_error admits them per instance or refuses them with 503.
 */
const REDIS_FIRST_CONNECTION_MS = 5_000;

/** Who a request is from when auth.enabled is false. */
const ANONYMOUS: KeyRecord = {
  id: 'anonymous',
  name: 'anonymous',
  sha256: '',
  createdAt: null,
  expiresAt: null,
  revokedAt: null,
  models: null,
  rateLimit: null,
  metadata: {},
  team: null,
  priority: 100,
  maxConcurrency: null,
  budgets: [],
  source: 'config',
};

export interface Gateway {
  readonly app: FastifyInstance;
  readonly context: GatewayContext;
  readonly keyStore: KeyStore;
  /** Starts listening; resolves to the address actually bound. */
  listen(): Promise<{ host: string; port: number }>;
  /**
   * Applies a new config (already validated) to what can change without a restart; returns the
   * sections that changed but need one (server, redis, metrics, usage, auth.enabled, the admin and viewer tokens, ui).
   */
  reload(config: GatewayConfig): string[];
  /** What POST /admin/reload runs: the CLI's reload of the config file (as on SIGHUP). */
  setReloader(run: () => ReloadOutcome): void;
  /**
   * Graceful shutdown: readiness 503, requests still served for server.shutdown_delay_ms, then streams
   * ended and in-flight requests given the grace period (503 for those still running after it).
   */
  shutdown(): Promise<void>;
}

export interface BuildGatewayOptions {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  /** Where OTEL_* variables are read (tracing); process.env by default. */
  readonly env?: NodeJS.ProcessEnv;
  /** The budgets' clock (their windows and reservations' expiry); Date.now by default. Tests move it. */
  readonly now?: () => number;
}

/**
 * A new request id: a UUIDv7 (RFC 9562), time-ordered, so that the request log's request_id index grows
 * at its end rather than at random places: with random (v4) ids, that index alone was three quarters
 * of what the SQLite store spent writing a record (about 20 of 28 µs, measured 2026-12-03). Node
 * versions without randomUUIDv7 make v4 ids.
 */
const newRequestId: () => string =
  (crypto as Partial<typeof crypto>).randomUUIDv7 ?? (() => crypto.randomUUID());

export async function buildGateway(options: BuildGatewayOptions): Promise<Gateway> {
  const { config, logger } = options;
  const bodyLimit = config.server.bodyLimitBytes;
  const serverOptions = config.server;
  // pino's Logger is wider than Fastify's logger type; Fastify only needs the base interface.
  const baseLogger: FastifyBaseLogger = logger;
  const app: FastifyInstance = fastify({
    loggerInstance: baseLogger,
    // The one request_complete line is ours (logCompletion); Fastify's own request logs are off.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: (raw) => chooseRequestId(raw.headers['x-request-id'], newRequestId),
    bodyLimit,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    frameworkErrors: frameworkErrorHandler(bodyLimit),
    // Who the client is: the socket's address unless a trusted proxy says otherwise (server.trust_proxy).
    trustProxy: trustProxyOption(serverOptions.trustProxy),
    // A request (headers and body) that does not arrive in time is cut off: a body dripped a byte at a
    // time would otherwise hold its socket for ever (issue 16, finding 3).
    requestTimeout: serverOptions.requestTimeoutMs,
    http: {
      headersTimeout: serverOptions.headersTimeoutMs,
      // Node checks the two timeouts on this interval (30 s by default, which would double a short one).
      connectionsCheckingInterval: Math.min(
        30_000,
        Math.max(
          250,
          Math.floor(
            Math.min(serverOptions.requestTimeoutMs || Infinity, serverOptions.headersTimeoutMs) / 4,
          ),
        ),
      ),
    },
    clientErrorHandler: clientErrorHandler(logger),
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false },
    },
    schemaController: { compilersFactory: { buildValidator: boundedValidatorFactory() } },
  });
  // Connections past the cap are closed as they arrive, before they cost a parser or a file for long.
  if (serverOptions.maxConnections > 0) app.server.maxConnections = serverOptions.maxConnections;
  // Response schemas document the API; bodies are serialised as they are, so that fields an upstream
  // adds (system_fingerprint, vendor extensions) are never silently dropped.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addSchema(ProblemSchema);
  app.addSchema(KeyViewSchema);

  const stores = openStores(config, logger);
  const requestLog = openRequestLog(config, logger);
  const calls = new UpstreamCalls();
  let routing = buildRouting(config, logger);
  // Token limits in the config: load the tokenizer now rather than on the first request that needs it.
  if (
    [
      config.rateLimit.default,
      ...config.auth.keys.map((key) => key.rateLimit),
      ...config.models.map((m) => m.rateLimit),
    ].some((policy) => policy?.tokens !== undefined)
  )
    preloadTokenizer();
  const prometheus = config.metrics.enabled
    ? new PrometheusMetrics({
        circuits: () => circuitStates(routing.router),
        backends: () =>
          [...routing.router.backends].map(([name, backend]) => ({
            backend: name,
            healthy: backend.health !== 'unhealthy',
          })),
        streamsInFlight: () => calls.streamCount,
        logLinesDropped: droppedLogLines,
        requestLogDropped: () =>
          requestLog === null ? 0 : requestLog.writer.dropped + requestLog.writer.failed,
      })
    : null;
  if (prometheus !== null && cluster.isWorker) prometheus.renderer = workerMetrics(prometheus.registry);
  const metrics: MetricsSink = prometheus ?? NO_METRICS;
  const usage = config.usage.enabled ? new UsageRecorder(stores.usage, logger) : null;
  // Prices reload with the config (backends and usage.prices); the usage store does not.
  let prices = new PriceTable(config.usage.prices, config.backends, config.usage.listPrices);
  const authenticator = new Authenticator(
    config.auth.keys,
    stores.keys,
    logger,
    metrics,
    new TeamDirectory(config.teams, stores.teams, logger, metrics),
  );
  const lifecycle = { notReady: false, shuttingDown: false };

  const checkReadiness = async (): Promise<Record<string, ReadinessCheck>> => {
    const checks: Record<string, ReadinessCheck> = {};
    if (lifecycle.notReady || lifecycle.shuttingDown) checks['lifecycle'] = { status: 'shutting_down' };
    Object.assign(checks, await stores.check());
    Object.assign(checks, backendChecks(routing.router));
    return checks;
  };

  const tracing = await createTracing(options.env ?? process.env, logger);
  const authenticate = config.auth.enabled
    ? async (request: FastifyRequest): Promise<void> => {
        const trace = request.gateway.trace;
        request.gateway.key =
          trace === null
            ? await authenticator.authenticate(request.headers, request.ip)
            : await inSpan(trace, 'authenticate', () =>
                authenticator.authenticate(request.headers, request.ip),
              );
        // The key's team (issue 20): its allow-list, limits, budgets and cap apply as well as the key's.
        if (request.gateway.key.team !== null)
          request.gateway.team = await authenticator.teamOf(request.gateway.key);
      }
    : (request: FastifyRequest): Promise<void> => {
        request.gateway.key = ANONYMOUS;
        return Promise.resolve();
      };

  // Budgets (issue 20): in Redis (stores.spendingRedis, which pipelines scripts), else in process.
  const ledgerOptions = {
    timeZone: () => context.config.budget.timezone,
    timeoutMs: () => context.config.rateLimit.storeTimeoutMs,
  };
  const ledger: BudgetLedger =
    stores.spendingRedis === null
      ? new MemoryBudgetLedger(ledgerOptions)
      : new RedisBudgetLedger(stores.spendingRedis, {
          ...ledgerOptions,
          onSyncError: (error) => {
            logger.warn(
              { detail: error instanceof Error ? error.message : String(error) },
              'budget store unavailable: allowances not synced (requests reserve in Redis once they are stale)',
            );
          },
        });
  const webhook = new WebhookSender({
    url: () => context.config.alerts.webhookUrl,
    secret: () => context.config.alerts.secret,
    logger,
  });
  const alerts = new BudgetAlerts({
    claims:
      stores.spendingRedis === null
        ? new MemoryAlertClaims()
        : new RedisAlertClaims(stores.spendingRedis, {
            logger,
            timeoutMs: () => context.config.rateLimit.storeTimeoutMs,
          }),
    logger,
    thresholds: () => context.config.alerts.thresholds,
    onAlert: (alert) => {
      metrics.budgetAlert(alert.scope, alert.threshold);
    },
    webhook,
  });
  const spending = new Spending({
    ledger,
    logger,
    now: options.now ?? Date.now,
    onSettled: (result) => {
      void alerts.observe(result);
    },
    onReserveError: (admitted) => {
      metrics.storeError('budgets');
      metrics.budgetReservation(admitted ? 'store_error_admitted' : 'store_error_refused');
    },
    onReserved: (held) => {
      metrics.budgetReservation(held ? 'held' : 'refused');
    },
  });
  // Concurrency slots of keys, teams and backends (issue 20), shared through Redis when there is one.
  const slots = createSlotPool({
    config,
    redis: stores.spendingRedis,
    ...(stores.subscriber === null ? {} : { subscriber: stores.subscriber }),
    logger,
    metrics: {
      queueLength: (scope, length) => {
        metrics.slotQueueLength(scope, length);
      },
      waited: (scope, waitedMs, outcome) => {
        metrics.slotWait(scope, waitedMs / 1000, outcome);
      },
      storeError: (admitted) => {
        metrics.storeError('concurrency');
        if (admitted) metrics.failOpen();
      },
    },
  });
  const attemptRunner = (next: GatewayConfig): AttemptRunner => {
    const limits = backendSlotLimits(next);
    return new AttemptRunner(
      next.routing,
      Date.now,
      Math.random,
      metrics,
      { inFlight: (backend) => (limits.has(backend) ? slots.inFlight(`backend:${backend}`) : null) },
      limits.size === 0 ? null : { pool: slots, limits, queueTimeoutMs: next.concurrency.queueTimeoutMs },
    );
  };

  const context: GatewayContext = {
    config,
    router: routing.router,
    attempts: attemptRunner(config),
    discovery: new ModelDiscovery(routing.router, config.routing.discovery, logger),
    cache: new ResponseCache(config.cache, stores.cache, logger, metrics),
    rateLimiter: new RateLimiter(config.rateLimit, stores.limiterRedis, logger, metrics),
    metrics,
    keyStore: stores.keys,
    kv: stores.kv,
    authenticator,
    calls,
    prices,
    spending,
    slots,
    requestLog,
    lifecycle,
    checkReadiness,
    authenticate,
  };

  // Connections that never sent a request are not "idle" to Node (closeIdleConnections leaves them), so
  // they would hold a shutdown for the whole grace period: they are tracked and closed at shutdown.
  const connections = new Set<Socket>();
  const usedConnections = new WeakSet<Socket>();
  app.server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });

  app.decorateRequest('gateway', null as never);
  app.addHook('onRequest', (request, reply, done) => {
    request.gateway = newRequestState();
    usedConnections.add(request.raw.socket);
    metrics.requestStarted();
    if (tracing.enabled) {
      const route = request.routeOptions.url ?? 'unmatched';
      request.gateway.trace = tracing.startRequest(request.headers, `${request.method} ${route}`, {
        'http.request.method': request.method,
        'http.route': route,
        'url.path': requestPath(request),
        'ai_gateway.request_id': request.id,
      });
    } else if (request.headers.traceparent !== undefined) {
      request.gateway.traceHeaders = tracing.passThrough(request.headers);
    }
    reply.header('x-request-id', request.id);
    reply.raw.once('close', () => {
      metrics.requestEnded();
      const status = logCompletion(logger, request, reply, context.config.promptLogging);
      countCompletion(metrics, request, status);
      const state = request.gateway;
      const cost = state.key === null || state.model === null ? null : requestCost(prices, state);
      if (cost !== null && state.routeName !== null && state.key !== null)
        metrics.spend(state.routeName, state.key.id, cost);
      if (usage !== null) recordUsage(usage, cost, state, status);
      if (requestLog !== null && isLoggedRoute(request.routeOptions.url))
        requestLog.writer.add(recordOf(request, state, status, cost, context.config.promptLogging));
      if (request.gateway.trace !== null) endRequestSpan(request.gateway, status);
      // app.close() closes the connections idle at that moment only; one whose answer ends later stays
      // open (keep-alive) and would hold the shutdown until the grace period.
      if (lifecycle.shuttingDown) app.server.closeIdleConnections();
    });
    if (lifecycle.shuttingDown && !request.url.startsWith('/health/')) {
      reply.header('connection', 'close');
      done(new ServiceUnavailableError('The gateway is shutting down; retry the request', 1));
      return;
    }
    // Not ready but still serving (server.shutdown_delay_ms): a keep-alive client reconnects through the
    // load balancer, which no longer picks this instance.
    if (lifecycle.notReady) reply.header('connection', 'close');
    done();
  });
  // CORS first, so that a refusal of the target below is readable by a browser page too.
  registerCors(app, config.server.cors);
  refuseUnusualTargets(app);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      const { value, text } = parseJsonText(body as Buffer);
      rememberBodySize(value, (body as Buffer).length);
      // The text of a small request as sent: identical requests share their cache key's computation.
      request.gateway.bodyText = text.length <= KEY_MEMO_MAX_CHARS ? text : null;
      done(null, value);
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.setErrorHandler(buildErrorHandler(bodyLimit));
  installNotFound(app);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'ai-gateway',
        version: '0.1.0',
        description:
          'An OpenAI-compatible gateway in front of Ollama and OpenAI-compatible servers. Errors are RFC 9457 problem details with an OpenAI-style `error` member.',
      },
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'A gateway API key: Authorization: Bearer sk-gw-...',
          },
          metricsToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'The metrics token (metrics.token_sha256 or METRICS_TOKEN), when one is configured',
          },
          adminToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'The admin token (auth.admin_token_sha256 or GATEWAY_ADMIN_TOKEN)',
          },
        },
      },
      tags: [
        { name: 'OpenAI-compatible', description: 'The routes OpenAI clients use' },
        { name: 'Health', description: 'Liveness and readiness' },
        { name: 'Admin', description: 'Key management; 404 unless an admin token is configured' },
        { name: 'UI', description: 'The admin web UI and its sign-in (ui.enabled)' },
      ],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) =>
        typeof json['$id'] === 'string' ? json['$id'] : `def-${index}`,
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('application/json').send(JSON.stringify(app.swagger())),
  );

  registerChatCompletions(app, context);
  registerMessages(app, context);
  registerOllamaApi(app, context);
  registerOpenAiCompletions(app, context);
  registerResponses(app, context);
  registerEmbeddings(app, context);
  registerModels(app, context);
  // Who may use /admin (issue 22): the admin token, the viewer token (reading only) or a UI session.
  const uiSessions = config.ui.enabled
    ? new UiSessions({ store: stores.kv, ttlMs: config.ui.sessionTtlMs })
    : null;
  const access = new AdminAccess({
    adminTokenSha256: config.auth.adminTokenSha256,
    viewerTokenSha256: config.auth.viewerTokenSha256,
    authenticator,
    sessions: uiSessions,
  });
  let reloader: (() => ReloadOutcome) | null = null;
  registerHealth(app, context, access);
  registerAdminRoutes(app, context, access);
  registerOperationsRoutes(app, { context, guard: access.guard, reload: () => reloader?.() ?? null });
  if (uiSessions !== null)
    await registerUiRoutes(app, {
      adminTokenSha256: config.auth.adminTokenSha256,
      viewerTokenSha256: config.auth.viewerTokenSha256,
      authenticator,
      sessions: uiSessions,
    });
  registerUsageRoutes(app, {
    guard: access.guard,
    store: stores.usage,
    recorder: usage,
    budgets: async (keyId) => {
      const key =
        context.config.auth.keys.find((candidate) => candidate.id === keyId) ??
        (await stores.keys.get(keyId).catch(() => null));
      if (key === null) return null;
      const team = key.team === null ? null : await authenticator.teams?.find(key.team);
      return [
        ...(await spending.status(`key:${key.id}`, key.budgets)),
        ...(team == null ? [] : await spending.status(`team:${team.id}`, team.budgets)),
      ];
    },
  });
  if (prometheus !== null && config.metrics.port === null)
    registerMetricsRoute(app, prometheus, config.metrics.tokenSha256);
  let metricsServer: Server | null = null;
  let listening = false;

  /**
   * Config reload: backends, models, routing, rate limits, the cache's settings, prices, static keys
   * and prompt logging change at once; requests in flight finish with what they started with (old backends are
   * closed gracefully: undici lets their requests and streams end). What needs a restart is reported.
   */
  const reload = (next: GatewayConfig): string[] => {
    const needsRestart = restartOnlyChanges(context.config, next);
    const previous = routing;
    routing = buildRouting(next, logger);
    context.config = next;
    context.router = routing.router;
    context.attempts = attemptRunner(next);
    context.discovery = new ModelDiscovery(routing.router, next.routing.discovery, logger);
    context.rateLimiter.reconfigure(next.rateLimit);
    context.cache.reconfigure(next.cache);
    prices = new PriceTable(next.usage.prices, next.backends, next.usage.listPrices);
    context.prices = prices;
    authenticator.setStaticKeys(next.auth.keys);
    authenticator.teams?.setConfigTeams(next.teams);
    previous.healthChecker.stop();
    if (listening) routing.healthChecker.start();
    void closeAdapters(previous);
    return needsRestart;
  };

  const close = async (): Promise<void> => {
    routing.healthChecker.stop();
    await tracing.shutdown().catch((error: unknown) => {
      logger.warn({ detail: (error as Error).message }, 'traces could not be flushed');
    });
    if (metricsServer !== null) {
      const server = metricsServer;
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      server.closeAllConnections();
    }
    await closeAdapters(routing);
    await context.rateLimiter.flush();
    // Queued requests were answered by the drain; held slots lapse with their leases.
    await slots.close();
    // The budgets' allowances go back, with what their requests spent (requests have ended by now).
    await ledger.close?.();
    // Budget alerts still being posted get up to 2 s to go out; what is left then is dropped.
    await Promise.race([webhook.drained(), delay(2000, undefined, { ref: false })]);
    webhook.close();
    // What the request log still holds goes out (bounded by its close timeout).
    await requestLog?.close();
    // Before the stores close: on SQLite the usage table shares the key store's database.
    await usage?.close();
    await stores.close();
  };

  return {
    app,
    context,
    keyStore: stores.keys,
    reload,
    setReloader(run) {
      reloader = run;
    },
    async listen() {
      const connecting = await stores.connected(REDIS_FIRST_CONNECTION_MS);
      if (connecting.length > 0)
        logger.warn(
          { connections: connecting, on_store_error: config.rateLimit.onStoreError },
          'Redis is not ready: serving anyway; rate_limit.on_store_error decides until it is',
        );
      await app.listen({ host: config.server.host, port: config.server.port });
      if (prometheus !== null && config.metrics.port !== null) {
        const listening = await listenMetrics(
          prometheus,
          config.metrics.tokenSha256,
          config.server.host,
          config.metrics.port,
        );
        metricsServer = listening.server;
        logger.info({ port: listening.port }, 'metrics listening on their own port');
      }
      routing.healthChecker.start();
      listening = true;
      const address = app.server.address();
      if (address === null || typeof address === 'string') throw new Error('server bound to no TCP address');
      return { host: address.address, port: address.port };
    },
    async shutdown() {
      if (lifecycle.notReady || lifecycle.shuttingDown) return;
      lifecycle.notReady = true;
      // Readiness says 503 while everything is served as before, so that a load balancer's probe sees
      // it and stops sending requests before the listener closes (issue 17, item 4).
      const delay = config.server.shutdownDelayMs;
      if (delay > 0) {
        logger.info({ shutdown_delay_ms: delay }, 'not ready: serving until server.shutdown_delay_ms ends');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
      lifecycle.shuttingDown = true;
      const streams = calls.abortStreams();
      logger.info({ open_streams: streams, in_flight: calls.size }, 'shutting down');
      let cut: NodeJS.Timeout | undefined;
      const grace = setTimeout(() => {
        logger.warn({ in_flight: calls.size }, 'grace period over; aborting what is left');
        // Each request still waiting on its upstream is answered 503 by its handler, and its connection
        // closes after that answer (issue 17, item 6); whatever still holds a connection then is cut.
        calls.abortAll();
        cut = setTimeout(() => {
          app.server.closeAllConnections();
        }, ANSWER_AFTER_GRACE_MS);
        cut.unref();
      }, config.server.shutdownGraceMs);
      grace.unref();
      for (const socket of connections) if (!usedConnections.has(socket)) socket.destroy();
      try {
        await app.close();
      } finally {
        clearTimeout(grace);
        clearTimeout(cut);
        await close();
      }
    },
  };
}

/** server.trust_proxy as Fastify takes it: a hop count is the same as trusting the nearest N hops. */
function trustProxyOption(
  setting: false | number | readonly string[],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (setting === false) return false;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return [...setting];
}

/** Writes the request_complete line; returns the status it logged (499 when the client left). */
function logCompletion(
  logger: Logger,
  request: FastifyRequest,
  reply: FastifyReply,
  prompts: GatewayConfig['promptLogging'],
): number {
  const state = request.gateway;
  const response = reply.raw;
  const clientClosed = !response.writableFinished && state.outcome === null;
  const line: Record<string, unknown> = {
    request_id: request.id,
    method: request.method,
    path: requestPath(request),
    status: clientClosed || state.outcome === 'client_closed' ? 499 : response.statusCode,
    duration_ms: Math.round(Number(process.hrtime.bigint() - state.startedAt) / 10_000) / 100,
  };
  if (state.key !== null) line['key_id'] = state.key.id;
  if (state.model !== null) line['model'] = state.model;
  if (state.backend !== null) line['backend'] = state.backend;
  if (state.cache !== null) line['cache'] = state.cache;
  if (state.stream) line['stream'] = true;
  if (state.promptTokens !== null) line['prompt_tokens'] = state.promptTokens;
  if (state.completionTokens !== null) line['completion_tokens'] = state.completionTokens;
  if (state.errorCode !== null) line['error_code'] = state.errorCode;
  if (state.attempts.length > 0) line['attempts'] = state.attempts;
  if (state.loggedPrompt !== null) line['prompt'] = promptForLog(state.loggedPrompt, prompts);
  if (state.loggedAnswer !== null) line['answer'] = promptForLog(state.loggedAnswer, prompts);
  if (state.retryStop !== null) line['retry_stopped'] = state.retryStop;
  if (state.outcome !== null) line['outcome'] = state.outcome;
  else if (clientClosed) line['outcome'] = 'client_closed';
  logger.info(line, 'request_complete');
  return line['status'] as number;
}

/**
 * One finished chat or embeddings request of a known key into the usage counters (a request refused by
 * authentication or validation is not counted). Its model name is the client's only once that name is
 * known to be served; else the route's pattern, or `other` (usage-model.ts, issue 16 finding 5).
 */
function recordUsage(usage: UsageRecorder, cost: number | null, state: RequestState, status: number): void {
  if (state.key === null || state.model === null) return;
  usage.record({
    keyId: state.key.id,
    model: usageModel({
      model: state.model,
      routeName: state.routed ? state.routeName : null,
      answered: state.backend !== null || state.cache === 'HIT',
    }),
    at: Date.now(),
    error: status >= 400 || state.outcome === 'stream_error',
    cached: state.cache === 'HIT' && status < 400,
    promptTokens: state.promptTokens ?? 0,
    completionTokens: state.completionTokens ?? 0,
    costMicros: cost,
  });
}

function countCompletion(metrics: MetricsSink, request: FastifyRequest, status: number): void {
  const state = request.gateway;
  const seconds = Number(process.hrtime.bigint() - state.startedAt) / 1e9;
  metrics.requestFinished(request.routeOptions.url ?? 'unmatched', request.method, status, seconds);
  if (state.cache !== null)
    metrics.cache(state.cache === 'HIT' ? 'hit' : state.cache === 'MISS' ? 'miss' : 'bypass');
  if (state.routeName !== null && state.key !== null) {
    if (state.promptTokens !== null)
      metrics.tokens('prompt', state.routeName, state.key.id, state.promptTokens);
    if (state.completionTokens !== null)
      metrics.tokens('completion', state.routeName, state.key.id, state.completionTokens);
  }
}

function endRequestSpan(state: RequestState, status: number): void {
  const span = state.trace?.root;
  if (span === undefined) return;
  const attributes: Record<string, string | number | boolean> = { 'http.response.status_code': status };
  if (state.model !== null) attributes['gen_ai.request.model'] = state.model;
  if (state.key !== null) attributes['ai_gateway.key_id'] = state.key.id;
  if (state.cache !== null) attributes['ai_gateway.cache'] = state.cache;
  if (state.backend !== null) attributes['ai_gateway.backend'] = state.backend;
  if (state.promptTokens !== null) attributes['gen_ai.usage.input_tokens'] = state.promptTokens;
  if (state.completionTokens !== null) attributes['gen_ai.usage.output_tokens'] = state.completionTokens;
  span.setAttributes(attributes);
  if (status >= 500 || state.outcome === 'stream_error') span.fail(state.errorCode ?? String(status));
  span.end();
}

interface Routing {
  readonly adapters: ReadonlyMap<string, BackendAdapter>;
  readonly router: ModelRouter;
  readonly healthChecker: HealthChecker;
}

function buildRouting(config: GatewayConfig, logger: Logger): Routing {
  const adapters = new Map<string, BackendAdapter>(
    config.backends.map((backend) => [backend.name, createAdapter(backend)]),
  );
  const router = new ModelRouter(config.models, adapters, config.routing, config.backends);
  return { adapters, router, healthChecker: new HealthChecker(config.backends, router.backends, logger) };
}

async function closeAdapters(routing: Routing): Promise<void> {
  await Promise.allSettled([...routing.adapters.values()].map((adapter) => adapter.close()));
}

/** The sections of a new config that differ from the running one and only take effect on a restart. */
function restartOnlyChanges(current: GatewayConfig, next: GatewayConfig): string[] {
  const sections: [string, unknown, unknown][] = [
    ['server', current.server, next.server],
    ['redis', current.redis, next.redis],
    ['metrics', current.metrics, next.metrics],
    [
      'usage',
      { enabled: current.usage.enabled, retention: current.usage.retentionDays },
      { enabled: next.usage.enabled, retention: next.usage.retentionDays },
    ],
    ['auth.enabled', current.auth.enabled, next.auth.enabled],
    ['auth.admin_token_sha256', current.auth.adminTokenSha256, next.auth.adminTokenSha256],
    ['auth.viewer_token_sha256', current.auth.viewerTokenSha256, next.auth.viewerTokenSha256],
    ['ui', current.ui, next.ui],
    ['logging.level', current.logLevel, next.logLevel],
    ['logging.max_buffer_bytes', current.logMaxBufferBytes, next.logMaxBufferBytes],
  ];
  return sections
    .filter(([, before, after]) => JSON.stringify(before) !== JSON.stringify(after))
    .map(([name]) => name);
}

/**
 * One series per configured target, bounded by the config: a target with a configured model shows its
 * breaker; a pass-through target the most open of its backend's breakers for client-chosen names.
 */
function circuitStates(router: ModelRouter): { target: string; backend: string; state: 0 | 1 | 2 }[] {
  return [...router.targets.values()].map((target) => {
    const state =
      target.model === null ? target.backend.breakers.mostOpen() : target.breaker(target.model).state;
    return {
      target: target.id,
      backend: target.adapter.name,
      state: state === 'closed' ? 0 : state === 'half_open' ? 1 : 2,
    };
  });
}

/** How many circuits that are not closed a backend's readiness detail names (then: "and N more"). */
const READINESS_CIRCUITS = 10;

/**
 * Readiness of the backends: `backends` fails when none is configured or every one fails its health
 * check; one `backend:<name>` entry each says ok, degraded (a target's circuit is open) or unhealthy
 * (failing its active health check). A single backend down does not make the gateway unready: its
 * traffic fails over, and taking every instance out of a load balancer would help nobody.
 */
function backendChecks(router: ModelRouter): Record<string, ReadinessCheck> {
  const checks: Record<string, ReadinessCheck> = {};
  if (router.backends.size === 0) {
    checks['backends'] = { status: 'error', detail: 'no backend is configured' };
    return checks;
  }
  let usable = 0;
  for (const [name, backend] of router.backends) {
    // A breaker per upstream model: the first few that are not closed by name, then how many more.
    const circuits = backend.breakers.notClosed(READINESS_CIRCUITS);
    const open = circuits.listed.map(
      ([model, state]) => `${name}/${model ?? '(models past the breaker bound)'} ${state}`,
    );
    if (circuits.total > circuits.listed.length)
      open.push(`and ${circuits.total - circuits.listed.length} more`);
    if (backend.health !== 'unhealthy') usable++;
    const detail = [
      `health check: ${backend.health}${backend.healthDetail === null ? '' : ` (${backend.healthDetail})`}`,
      ...(open.length === 0 ? [] : [`circuits: ${open.join(', ')}`]),
    ].join('; ');
    checks[`backend:${name}`] = {
      status: backend.health === 'unhealthy' ? 'unhealthy' : open.length > 0 ? 'degraded' : 'ok',
      detail,
    };
  }
  checks['backends'] =
    usable > 0
      ? { status: 'ok', detail: `${usable} of ${router.backends.size} can take requests` }
      : { status: 'error', detail: 'every backend fails its health check' };
  return checks;
}

/** Backends without a cap still counted, for least_busy: a limit no request count reaches. */
const UNCAPPED = 1_000_000_000;

/**
 * The backends whose slots the attempt runner holds: those with max_concurrency, and for least_busy
 * routes every target's backend (counted across instances, without a real cap).
 */
function backendSlotLimits(config: GatewayConfig): Map<string, number> {
  const limits = new Map<string, number>();
  for (const backend of config.backends)
    if (backend.maxConcurrency !== null) limits.set(backend.name, backend.maxConcurrency);
  for (const route of config.models) {
    if (route.strategy !== 'least_busy') continue;
    for (const target of route.targets) if (!limits.has(target.backend)) limits.set(target.backend, UNCAPPED);
  }
  return limits;
}
