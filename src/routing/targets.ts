import type { BackendAdapter } from '../backends/adapter.js';
import type { RoutingConfig } from '../config/config.js';
import { CircuitBreaker } from './circuit-breaker.js';

export type BackendHealth = 'unchecked' | 'healthy' | 'unhealthy';

/** A backend and what the active health check last concluded (shared by every target on it). */
export interface BackendState {
  readonly adapter: BackendAdapter;
  health: BackendHealth;
  /** Why the last check failed, for /health/ready. */
  healthDetail: string | null;
  /** The active health check's interval; null when there is none. */
  readonly checkIntervalMs: number | null;
}

/**
 * One configured target (a backend plus a configured upstream model, or "the client's name"): its
 * circuit breaker and its requests in flight. Routes that name the same backend and model share one TargetState.
 */
export class TargetState {
  readonly breaker: CircuitBreaker;
  outstanding = 0;

  constructor(
    /** `backend/model`, or `backend/(client model)` for a target that passes the client's name on. */
    readonly id: string,
    readonly backend: BackendState,
    /** The configured upstream name; null: the name the client sent. */
    readonly model: string | null,
    breakerConfig: RoutingConfig['circuitBreaker'],
    now: () => number,
  ) {
    this.breaker = new CircuitBreaker(breakerConfig, now);
  }

  get adapter(): BackendAdapter {
    return this.backend.adapter;
  }

  /** Can take an attempt now: circuit not open, backend not failing its health check. */
  available(): boolean {
    return this.backend.health !== 'unhealthy' && this.breaker.canAttempt();
  }
}

/** A target as a route uses it. */
export interface RouteTarget {
  readonly state: TargetState;
  readonly weight: number;
}
