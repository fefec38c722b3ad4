import type { BackendAdapter } from '../backends/adapter.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { CircuitBreakers } from './circuit-breakers.js';

export type BackendHealth = 'unchecked' | 'healthy' | 'unhealthy';

/** A backend and what the active health check last concluded (shared by every target on it). */
export interface BackendState {
  readonly adapter: BackendAdapter;
  health: BackendHealth;
  /** Why the last check failed, for /health/ready. */
  healthDetail: string | null;
  /** The active health check's interval; null when there is none. */
  readonly checkIntervalMs: number | null;
  /** One circuit breaker per upstream model called on this backend. */
  readonly breakers: CircuitBreakers;
}

/**
 * One configured target (a backend plus a configured upstream model, or "the client's name") and its
 * requests in flight. Routes that name the same backend and model share one TargetState. Its circuit is
 * that of the upstream model it calls: fixed for a configured model, the client's for a pass-through.
 */
export class TargetState {
  outstanding = 0;
  /** The breaker of the configured model; null for a pass-through target. */
  private readonly own: CircuitBreaker | null;

  constructor(
    /** `backend/model`, or `backend/(client model)` for a target that passes the client's name on. */
    readonly id: string,
    readonly backend: BackendState,
    /** The configured upstream name; null: the name the client sent. */
    readonly model: string | null,
  ) {
    this.own = model === null ? null : backend.breakers.pin(model);
  }

  get adapter(): BackendAdapter {
    return this.backend.adapter;
  }

  /** The breaker of the upstream model this target calls for `clientModel`. */
  breaker(clientModel: string): CircuitBreaker {
    return this.own ?? this.backend.breakers.get(clientModel);
  }

  /** Can take an attempt for `clientModel` now: its circuit not open, the backend not failing its health check. */
  available(clientModel: string): boolean {
    return this.backend.health !== 'unhealthy' && this.breaker(clientModel).canAttempt();
  }
}

/** A target as a route uses it. */
export interface RouteTarget {
  readonly state: TargetState;
  readonly weight: number;
}
