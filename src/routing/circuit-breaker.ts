import type { RoutingConfig } from '../config/config.js';
import { SlidingWindow } from './sliding-window.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

/** Given by tryAcquire to the attempt it admits; handed back with the attempt's outcome. */
export interface CircuitPermit {
  /** This attempt is the one probe of a half-open circuit. */
  readonly probe: boolean;
}

const ATTEMPTS = 0;
const FAILURES = 1;
const NORMAL: CircuitPermit = { probe: false };
const PROBE: CircuitPermit = { probe: true };

/**
 * A circuit breaker for one upstream model of one backend (see CircuitBreakers). Closed: attempts pass; `failures` consecutive failures (or, when
 * configured, a share of failures of at least `errorRatio` over the window with `minRequests` attempts)
 * open it. Open: attempts are refused at once for `cooldownMs`. Then half-open: one attempt at a time
 * goes through as a probe; its success closes the circuit, its failure opens it for another cooldown.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private openUntil = 0;
  private probing = false;
  private readonly window: SlidingWindow | null;

  constructor(
    private readonly config: RoutingConfig['circuitBreaker'],
    private readonly now: () => number = Date.now,
  ) {
    this.window = config.errorRatio === null ? null : new SlidingWindow(config.windowSeconds, 2, this.now);
  }

  get state(): CircuitState {
    if (!this.config.enabled) return 'closed';
    if (this.current === 'open' && this.now() >= this.openUntil) return 'half_open';
    return this.current;
  }

  /** Whether an attempt would be admitted now (takes nothing). */
  canAttempt(): boolean {
    if (!this.config.enabled) return true;
    const state = this.state;
    return state === 'closed' || (state === 'half_open' && !this.probing);
  }

  /** Admits an attempt (taking the probe slot when half-open), or returns null. */
  tryAcquire(): CircuitPermit | null {
    if (!this.config.enabled) return NORMAL;
    const state = this.state;
    if (state === 'closed') return NORMAL;
    if (state === 'open' || this.probing) return null;
    this.current = 'half_open';
    this.probing = true;
    return PROBE;
  }

  /**
   * What forgetting this breaker at `now` would lose (CircuitBreakers bounds how many exist): `closed`,
   * at most a few failures; `stale`, a verdict whose cooldown is over (half-open, no probe in flight);
   * `live`, a verdict that still holds (open in its cooldown, or its probe in flight).
   */
  forgettable(now: number): 'closed' | 'stale' | 'live' {
    if (this.current === 'closed' || !this.config.enabled) return 'closed';
    return this.probing || (this.current === 'open' && now < this.openUntil) ? 'live' : 'stale';
  }

  /** Milliseconds until an open circuit lets a probe through (0 when it would now). */
  retryAfterMs(): number {
    if (this.current !== 'open') return 0;
    return Math.max(0, this.openUntil - this.now());
  }

  onSuccess(permit: CircuitPermit): void {
    if (!this.config.enabled) return;
    if (permit.probe) {
      this.probing = false;
      this.close();
      return;
    }
    if (this.current !== 'closed') return;
    this.consecutiveFailures = 0;
    this.window?.add(ATTEMPTS);
  }

  onFailure(permit: CircuitPermit): void {
    if (!this.config.enabled) return;
    if (permit.probe) {
      this.probing = false;
      this.open();
      return;
    }
    if (this.current !== 'closed') return;
    this.consecutiveFailures++;
    let trip = this.consecutiveFailures >= this.config.failures;
    if (this.window !== null && this.config.errorRatio !== null) {
      this.window.add(ATTEMPTS);
      this.window.add(FAILURES);
      const attempts = this.window.sum(ATTEMPTS);
      trip ||=
        attempts >= this.config.minRequests && this.window.sum(FAILURES) / attempts >= this.config.errorRatio;
    }
    if (trip) this.open();
  }

  /** The attempt ended without telling anything about the target (the client went away). */
  onNeutral(permit: CircuitPermit): void {
    if (permit.probe) this.probing = false;
  }

  private open(): void {
    this.current = 'open';
    this.openUntil = this.now() + this.config.cooldownMs;
  }

  private close(): void {
    this.current = 'closed';
    this.consecutiveFailures = 0;
    this.window?.clear();
  }
}
