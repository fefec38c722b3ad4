import type { RoutingConfig } from '../config/config.js';
import { SlidingWindow } from './sliding-window.js';

const REQUESTS = 0;
const RETRIES = 1;

/**
 * Bounds retries across all requests of this instance (Finagle's and Envoy's retry budgets): over the
 * window, retries never exceed `ratio` × client requests + `minRetries`. With the defaults (0.2, 10 s,
 * 3), upstream attempts stay within 120% of client requests plus 3, however badly upstreams fail, so a
 * failing backend never turns the gateway into a multiplier of its own load.
 */
export class RetryBudget {
  private readonly window: SlidingWindow;

  constructor(
    private readonly config: RoutingConfig['retryBudget'],
    now: () => number = Date.now,
  ) {
    this.window = new SlidingWindow(config.windowSeconds, 2, now);
  }

  /** A client request arrived (deposits `ratio` retries). */
  recordRequest(): void {
    this.window.add(REQUESTS);
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryRetry(): boolean {
    const allowed = this.config.ratio * this.window.sum(REQUESTS) + this.config.minRetries;
    if (this.window.sum(RETRIES) + 1 > allowed) return false;
    this.window.add(RETRIES);
    return true;
  }
}
