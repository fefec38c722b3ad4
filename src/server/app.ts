import { randomUUID } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ProblemSchema } from '../api/schemas.js';
import { Authenticator } from '../auth/authenticator.js';
import type { BackendAdapter } from '../backends/adapter.js';
import { createAdapter } from '../backends/create-adapter.js';
import type { GatewayConfig } from '../config/config.js';
import { ServiceUnavailableError } from '../errors/errors.js';
import { ModelRouter } from '../routing/model-router.js';
import { EmbeddedStore } from '../state/embedded/embedded-store.js';
import type { GatewayContext, ReadinessCheck } from './context.js';
import { buildErrorHandler } from './error-handler.js';
import { parseJsonBody } from './json-body.js';
import { installNotFound } from './not-found.js';
import { chooseRequestId, newRequestState } from './request-state.js';
import { registerChatCompletions } from './routes/chat-completions.js';
import { registerEmbeddings } from './routes/embeddings.js';
import { registerHealth } from './routes/health.js';
import { registerModels } from './routes/models.js';
import { UpstreamCalls } from './upstream-calls.js';

const READINESS_TIMEOUT_MS = 500;

export interface Gateway {
  readonly app: FastifyInstance;
  readonly context: GatewayContext;
  readonly store: EmbeddedStore;
  /** Starts listening; resolves to the address actually bound. */
  listen(): Promise<{ host: string; port: number }>;
  /** Graceful shutdown: readiness 503, streams ended, in-flight requests given the grace period. */
  shutdown(): Promise<void>;
}

export interface BuildGatewayOptions {
  readonly config: GatewayConfig;
  readonly logger: Logger;
}

export async function buildGateway(options: BuildGatewayOptions): Promise<Gateway> {
  const { config, logger } = options;
  const bodyLimit = config.server.bodyLimitBytes;
  // pino's Logger is wider than Fastify's logger type; Fastify only needs the base interface.
  const baseLogger: FastifyBaseLogger = logger;
  const app: FastifyInstance = fastify({
    loggerInstance: baseLogger,
    // The one request_complete line is ours (logCompletion); Fastify's own request logs are off.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: (raw) => chooseRequestId(raw.headers['x-request-id'], randomUUID),
    bodyLimit,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    ajv: {
      customOptions: { coerceTypes: false, allErrors: true, removeAdditional: false, useDefaults: false },
    },
  });
  // Response schemas document the API; bodies are serialised as they are, so that fields an upstream
  // adds (system_fingerprint, vendor extensions) are never silently dropped.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addSchema(ProblemSchema);

  const store = new EmbeddedStore(config.server.stateDir);
  const adapters = new Map<string, BackendAdapter>(
    config.backends.map((backend) => [backend.name, createAdapter(backend)]),
  );
  const router = new ModelRouter(config.models, adapters);
  const authenticator = new Authenticator(config.auth.keys, store);
  const calls = new UpstreamCalls();
  const lifecycle = { shuttingDown: false };
  const redis = config.redis === null ? null : connectRedis(config.redis.url, logger);

  const checkReadiness = async (): Promise<Record<string, ReadinessCheck>> => {
    const checks: Record<string, ReadinessCheck> = {};
    if (lifecycle.shuttingDown) checks['lifecycle'] = { status: 'shutting_down' };
    try {
      store.check();
      checks['state_store'] = { status: 'ok' };
    } catch {
      checks['state_store'] = { status: 'error', detail: 'the embedded store does not answer' };
    }
    if (redis !== null) checks['redis'] = await pingRedis(redis);
    if (config.backends.length === 0)
      checks['backends'] = { status: 'error', detail: 'no backend is configured' };
    return checks;
  };

  const authenticate = (
    request: FastifyRequest,
    _reply: FastifyReply,
    done: (error?: Error) => void,
  ): void => {
    try {
      request.gateway.key = authenticator.authenticate(request.headers);
      done();
    } catch (error) {
      done(error as Error);
    }
  };

  const context: GatewayContext = {
    config,
    router,
    authenticator,
    calls,
    lifecycle,
    checkReadiness,
    authenticate,
  };

  app.decorateRequest('gateway', null as never);
  app.addHook('onRequest', (request, reply, done) => {
    request.gateway = newRequestState();
    reply.header('x-request-id', request.id);
    reply.raw.once('close', () => {
      logCompletion(logger, request, reply);
      // app.close() closes the connections idle at that moment only; one whose answer ends later stays
      // open (keep-alive) and would hold the shutdown until the grace period.
      if (lifecycle.shuttingDown) app.server.closeIdleConnections();
    });
    if (lifecycle.shuttingDown && !request.url.startsWith('/health/')) {
      reply.header('connection', 'close');
      done(new ServiceUnavailableError('The gateway is shutting down; retry the request', 1));
      return;
    }
    done();
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
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
        },
      },
      tags: [
        { name: 'OpenAI-compatible', description: 'The routes OpenAI clients use' },
        { name: 'Health', description: 'Liveness and readiness' },
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
  registerEmbeddings(app, context);
  registerModels(app, context);
  registerHealth(app, context);

  const close = async (): Promise<void> => {
    await Promise.allSettled([...adapters.values()].map((adapter) => adapter.close()));
    redis?.disconnect();
    store.close();
  };

  return {
    app,
    context,
    store,
    async listen() {
      await app.listen({ host: config.server.host, port: config.server.port });
      const address = app.server.address();
      if (address === null || typeof address === 'string') throw new Error('server bound to no TCP address');
      return { host: address.address, port: address.port };
    },
    async shutdown() {
      if (lifecycle.shuttingDown) return;
      lifecycle.shuttingDown = true;
      const streams = calls.abortStreams();
      logger.info({ open_streams: streams, in_flight: calls.size }, 'shutting down');
      const grace = setTimeout(() => {
        logger.warn({ in_flight: calls.size }, 'grace period over; aborting what is left');
        calls.abortAll();
        app.server.closeAllConnections();
      }, config.server.shutdownGraceMs);
      grace.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(grace);
        await close();
      }
    },
  };
}

function connectRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    // Never queue commands while disconnected: they would be replayed later (RELIABILITY.md #2).
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
  let lastLog = 0;
  redis.on('error', (error: Error) => {
    const now = Date.now();
    if (now - lastLog > 10_000) {
      lastLog = now;
      logger.warn({ detail: error.message }, 'redis error');
    }
  });
  return redis;
}

async function pingRedis(redis: Redis): Promise<ReadinessCheck> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer within ${READINESS_TIMEOUT_MS} ms`));
        }, READINESS_TIMEOUT_MS);
      }),
    ]);
    return { status: 'ok' };
  } catch (error) {
    return { status: 'error', detail: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

function logCompletion(logger: Logger, request: FastifyRequest, reply: FastifyReply): void {
  const state = request.gateway;
  const response = reply.raw;
  const clientClosed = !response.writableFinished && state.outcome === null;
  const line: Record<string, unknown> = {
    request_id: request.id,
    method: request.method,
    path: request.url.split('?', 1)[0],
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
  if (state.outcome !== null) line['outcome'] = state.outcome;
  else if (clientClosed) line['outcome'] = 'client_closed';
  logger.info(line, 'request_complete');
}
