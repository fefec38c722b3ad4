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

/** A key or a team, as far as concurrency caps go. */
export interface Capped {
  readonly id: string;
  /** Its max_concurrency; null: no cap. */
  readonly maxConcurrency: number | null;
}

/** callerScopes' answer per key record, for the team and caps it was worked out with. */
const callerScopesOf = new WeakMap<
  Capped,
  { team: Capped | null; keyMax: number | null; teamMax: number | null; scopes: readonly SlotScope[] }
>();

/**
 * The key's and the team's scopes of a request: only those with a cap. The same array for the same
 * key record, team record and caps (the pools work out what a lease of it needs once per array).
 */
export function callerScopes(key: Capped, team: Capped | null): readonly SlotScope[] {
  const teamMax = team?.maxConcurrency ?? null;
  const known = callerScopesOf.get(key);
  if (
    known !== undefined &&
    known.team === team &&
    known.keyMax === key.maxConcurrency &&
    known.teamMax === teamMax
  )
    return known.scopes;
  const scopes: SlotScope[] = [];
  if (key.maxConcurrency !== null) scopes.push({ id: `key:${key.id}`, limit: key.maxConcurrency });
  if (team !== null && teamMax !== null) scopes.push({ id: `team:${team.id}`, limit: teamMax });
  callerScopesOf.set(key, { team, keyMax: key.maxConcurrency, teamMax, scopes });
  return scopes;
}

/** backendScopes' arrays by backend name (as many as backends configured). */
const backendScopesOf = new Map<string, readonly SlotScope[]>();

/** A backend's scope, as a lease asks for it: the same array for the same name and limit. */
export function backendScopes(name: string, limit: number): readonly SlotScope[] {
  const known = backendScopesOf.get(name);
  if (known?.[0]?.limit === limit) return known;
  const scopes = [{ id: `backend:${name}`, limit }];
  backendScopesOf.set(name, scopes);
  return scopes;
}
