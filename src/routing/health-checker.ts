import type { Logger } from 'pino';
import type { BackendConfig, HealthCheckConfig } from '../config/config.js';
import { UpstreamTimeoutError } from '../errors/errors.js';
import type { BackendState } from './targets.js';

/**
 * Active health checks: every `interval_ms`, GET the backend's check path with its own timeout.
 * `unhealthy_after` failures in a row take the backend out of rotation (its targets are skipped like
 * open circuits); `healthy_after` passes in a row put it back. Checks never overlap, and the timers do
 * not keep the process alive.
 */
export class HealthChecker {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  private stopped = false;

  constructor(
    private readonly backends: readonly BackendConfig[],
    private readonly states: ReadonlyMap<string, BackendState>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    for (const backend of this.backends) {
      const state = this.states.get(backend.name);
      if (backend.healthCheck === null || state === undefined) continue;
      this.loop(backend.name, backend.healthCheck, state, { passes: 0, failures: 0 });
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.inFlight) controller.abort(new Error('health checks stopped'));
  }

  private loop(
    name: string,
    config: HealthCheckConfig,
    state: BackendState,
    streak: { passes: number; failures: number },
  ): void {
    void this.check(config, state).then((failure) => {
      if (this.stopped) return;
      if (failure === null) {
        streak.passes++;
        streak.failures = 0;
        if (state.health !== 'healthy' && streak.passes >= config.healthyAfter) {
          if (state.health === 'unhealthy') this.logger.info({ backend: name }, 'backend healthy again');
          state.health = 'healthy';
          state.healthDetail = null;
        }
      } else {
        streak.failures++;
        streak.passes = 0;
        state.healthDetail = failure;
        if (state.health !== 'unhealthy' && streak.failures >= config.unhealthyAfter) {
          state.health = 'unhealthy';
          this.logger.warn({ backend: name, detail: failure }, 'backend failed its health check');
        }
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.loop(name, config, state, streak);
      }, config.intervalMs);
      timer.unref();
      this.timers.add(timer);
    });
  }

  /** Resolves to null when the check passed, else to what went wrong. */
  private async check(config: HealthCheckConfig, state: BackendState): Promise<string | null> {
    const controller = new AbortController();
    this.inFlight.add(controller);
    const timer = setTimeout(() => {
      controller.abort(new UpstreamTimeoutError(`no answer within ${config.timeoutMs} ms`));
    }, config.timeoutMs);
    try {
      await state.adapter.probe(config.path, {
        signal: controller.signal,
        requestId: 'health-check',
        abort: (reason) => {
          controller.abort(reason);
        },
      });
      return null;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
  }
}
