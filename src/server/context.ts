import type { FastifyRequest } from 'fastify';
import type { KeyStore } from '../auth/key-store.js';
import type { RateLimiter } from '../rate-limit/rate-limiter.js';
import type { ResponseCache } from '../cache/response-cache.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { GatewayConfig } from '../config/config.js';
import type { AttemptRunner } from '../routing/attempt-runner.js';
import type { ModelDiscovery } from '../routing/discovery.js';
import type { ModelRouter } from '../routing/model-router.js';
import type { UpstreamCalls } from './upstream-calls.js';
import type { MetricsSink } from '../observability/metrics.js';
import type { KeyValueStore } from '../state/kv-store.js';
import type { Spending } from '../pipeline/spending.js';
import type { SlotPool } from '../concurrency/slots.js';
import type { PriceTable } from '../usage/pricing.js';
import type { RequestLog } from '../request-log/request-log.js';

export interface ReadinessCheck {
  /** error and shutting_down make the gateway unready; degraded and unhealthy (one backend) do not. */
  status: 'ok' | 'error' | 'shutting_down' | 'degraded' | 'unhealthy';
  detail?: string;
}

/** Everything a route needs, built once by buildGateway. */
export interface GatewayContext {
  // Replaced as a whole on a config reload; a request reads each once and keeps what it got.
  config: GatewayConfig;
  router: ModelRouter;
  attempts: AttemptRunner;
  discovery: ModelDiscovery;
  readonly authenticator: Authenticator;
  readonly keyStore: KeyStore;
  readonly rateLimiter: RateLimiter;
  readonly cache: ResponseCache;
  /** Entries with a TTL in the state store (the Responses API's stored responses). */
  readonly kv: KeyValueStore;
  readonly metrics: MetricsSink;
  readonly calls: UpstreamCalls;
  /** Prices of usage.prices and the list prices (replaced on a config reload). */
  prices: PriceTable;
  /** Budgets of keys and teams: reserve before the upstream call, settle after (issue 20). */
  readonly spending: Spending;
  /** Concurrency slots of keys, teams and backends, with the fair queue (issue 20). */
  readonly slots: SlotPool;
  /** The request log (issue 21); null when request_log.enabled is false. */
  readonly requestLog: RequestLog | null;
  /**
   * notReady: readiness answers 503 (from the signal on, also while server.shutdown_delay_ms lets
   * requests be served); shuttingDown: new requests get 503 and the gateway drains.
   */
  readonly lifecycle: { notReady: boolean; shuttingDown: boolean };
  readonly checkReadiness: () => Promise<Record<string, ReadinessCheck>>;
  /** onRequest hook for /v1 routes: runs before the body is read. */
  readonly authenticate: (request: FastifyRequest) => Promise<void>;
}
