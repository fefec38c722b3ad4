import type { RoutingConfig } from '../config/config.js';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';

/** How many breakers one backend keeps for model names that clients choose (pass-through targets). */
export const MAX_BREAKERS_PER_BACKEND = 1_000;

const RANK: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

/**
 * The circuit breakers of one backend: one per upstream model called, so that a model that fails opens
 * its own circuit and no other (issue 17: on a pass-through route every client model shared one).
 *
 * Models named in the config have theirs for as long as the config stands (`pin`). Names that clients
 * choose through a pass-through target get one at their first request, at most `capacity` of them;
 * a new name past that replaces the least recently used breaker that can be forgotten:
 * - a closed one first (it knows at most a few failures, which the next attempts learn again);
 * - else a half-open one with no probe in flight (its cooldown is over: its verdict is spent);
 * - never an open one in its cooldown or one whose probe is in flight, so that a flood of new names
 *   cannot push a failing model's circuit out and reach that model again. While every breaker is of
 *   that kind, new names share one overflow breaker (`other`), until some cooldown ends.
 */
export class CircuitBreakers {
  private readonly pinned = new Map<string, CircuitBreaker>();
  /** Breakers of client-chosen names; the first entry is the least recently used. */
  private readonly recent = new Map<string, CircuitBreaker>();
  /** Shared by new names while every entry of `recent` holds a live verdict; made when first needed. */
  private other: CircuitBreaker | null = null;
  /** What every name gets when breakers are switched off (it admits everything, records nothing). */
  private readonly disabled: CircuitBreaker | null;

  constructor(
    private readonly config: RoutingConfig['circuitBreaker'],
    private readonly now: () => number = Date.now,
    private readonly capacity: number = MAX_BREAKERS_PER_BACKEND,
  ) {
    this.disabled = config.enabled ? null : new CircuitBreaker(config, now);
  }

  /** The breaker of a model named in the config; never forgotten. */
  pin(model: string): CircuitBreaker {
    let breaker = this.pinned.get(model);
    if (breaker === undefined) {
      breaker = this.recent.get(model) ?? new CircuitBreaker(this.config, this.now);
      this.recent.delete(model);
      this.pinned.set(model, breaker);
    }
    return breaker;
  }

  /** The breaker for attempts on `model`: its own (made now if it has none), or the overflow one. */
  get(model: string): CircuitBreaker {
    if (this.disabled !== null) return this.disabled;
    const pinned = this.pinned.get(model);
    if (pinned !== undefined) return pinned;
    const known = this.recent.get(model);
    if (known !== undefined) {
      // Most recently used last: a Map keeps insertion order.
      this.recent.delete(model);
      this.recent.set(model, known);
      return known;
    }
    if (this.recent.size >= this.capacity && !this.forgetOne()) {
      this.other ??= new CircuitBreaker(this.config, this.now);
      return this.other;
    }
    // The overflow breaker's verdict is spent once its cooldown is over: no name needs it any more.
    if (this.other !== null && this.other.forgettable(this.now()) !== 'live') this.other = null;
    const breaker = new CircuitBreaker(this.config, this.now);
    this.recent.set(model, breaker);
    return breaker;
  }

  /** Breakers of client-chosen names held now (pinned ones and the overflow one not counted). */
  get size(): number {
    return this.recent.size;
  }

  /** The most open state among the breakers of client-chosen names (the overflow one included). */
  mostOpen(): CircuitState {
    let worst: CircuitState = this.other?.state ?? 'closed';
    for (const breaker of this.recent.values()) {
      if (worst === 'open') break;
      const state = breaker.state;
      if (RANK[state] > RANK[worst]) worst = state;
    }
    return worst;
  }

  /**
   * Every breaker that is not closed, as [model, state]; the overflow breaker's model is null. Pinned
   * ones first, then the least recently used; at most `limit`, and how many there are in all.
   */
  notClosed(limit: number): { listed: [string | null, CircuitState][]; total: number } {
    const listed: [string | null, CircuitState][] = [];
    let total = 0;
    const visit = (model: string | null, breaker: CircuitBreaker): void => {
      const state = breaker.state;
      if (state === 'closed') return;
      total++;
      if (listed.length < limit) listed.push([model, state]);
    };
    for (const [model, breaker] of this.pinned) visit(model, breaker);
    if (this.other !== null) visit(null, this.other);
    for (const [model, breaker] of this.recent) visit(model, breaker);
    return { listed, total };
  }

  /** Drops the least recently used breaker that may be forgotten; false when none may. */
  private forgetOne(): boolean {
    const now = this.now();
    let stale: string | null = null;
    for (const [model, breaker] of this.recent) {
      const kind = breaker.forgettable(now);
      if (kind === 'closed') {
        this.recent.delete(model);
        return true;
      }
      if (kind === 'stale') stale ??= model;
    }
    if (stale === null) return false;
    this.recent.delete(stale);
    return true;
  }
}
