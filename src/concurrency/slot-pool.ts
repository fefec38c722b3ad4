import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/config.js';
import type { ChangeSubscriber } from '../state/redis/cluster-subscriber.js';
import type { RedisClient } from '../state/redis/redis-client.js';
import { MemorySlots } from './memory-slots.js';
import { RedisSlots } from './redis-slots.js';
import type { SlotMetrics, SlotPool, SlotScope } from './slots.js';

export interface SlotPoolOptions {
  readonly config: Pick<GatewayConfig, 'concurrency' | 'rateLimit'>;
  /** The state client; null: slots in process (one instance). */
  readonly redis: RedisClient | null;
  /** A pub/sub connection, so that releases elsewhere wake the queue at once (else it polls). */
  readonly subscriber?: ChangeSubscriber;
  readonly logger: Logger;
  readonly metrics?: SlotMetrics;
}

/**
 * The pool for a config: in Redis when there is one, else in process. Redis' failures follow
 * rate_limit.on_store_error within rate_limit.store_timeout_ms, as the rate limiter's do.
 */
export function createSlotPool(options: SlotPoolOptions): SlotPool {
  const { concurrency, rateLimit } = options.config;
  const metrics = options.metrics === undefined ? {} : { metrics: options.metrics };
  if (options.redis === null) {
    return new MemorySlots({
      maxQueue: concurrency.maxQueue,
      queueTimeoutMs: concurrency.queueTimeoutMs,
      ...metrics,
    });
  }
  return new RedisSlots({
    redis: options.redis,
    logger: options.logger,
    leaseMs: concurrency.leaseMs,
    maxQueue: concurrency.maxQueue,
    queueTimeoutMs: concurrency.queueTimeoutMs,
    storeTimeoutMs: rateLimit.storeTimeoutMs,
    onStoreError: rateLimit.onStoreError,
    ...(options.subscriber === undefined ? {} : { subscriber: options.subscriber }),
    ...metrics,
  });
}

/** What caps a request's concurrency: its key and the key's team (null fields: no cap). */
export interface CallerCaps {
  readonly keyId: string;
  readonly keyMaxConcurrency: number | null;
  readonly teamId: string | null;
  readonly teamMaxConcurrency: number | null;
}

/** The key's and the team's scopes of a request: only those with a cap. */
export function callerScopes(caps: CallerCaps): SlotScope[] {
  const scopes: SlotScope[] = [];
  if (caps.keyMaxConcurrency !== null)
    scopes.push({ id: `key:${caps.keyId}`, limit: caps.keyMaxConcurrency });
  if (caps.teamId !== null && caps.teamMaxConcurrency !== null)
    scopes.push({ id: `team:${caps.teamId}`, limit: caps.teamMaxConcurrency });
  return scopes;
}

/** A backend's scope, or null when it has no cap. */
export function backendScope(backend: {
  readonly name: string;
  readonly maxConcurrency: number | null;
}): SlotScope | null {
  return backend.maxConcurrency === null
    ? null
    : { id: `backend:${backend.name}`, limit: backend.maxConcurrency };
}
