import { setTimeout as sleep } from 'node:timers/promises';
import type { BackendAdapter, UpstreamCall } from '../backends/adapter.js';
import type { RoutingConfig } from '../config/config.js';
import type { RoutingStrategy } from '../config/schema.js';
import {
  GatewayError,
  ServiceUnavailableError,
  DeadlineExceededError,
  UpstreamClientError,
} from '../errors/errors.js';
import { fullJitterDelay } from './backoff.js';
import type { CircuitBreaker, CircuitPermit } from './circuit-breaker.js';
import { NO_METRICS, type MetricsSink } from '../observability/metrics.js';
import type { RequestTrace } from '../observability/tracing.js';
import { upstreamModelOf, type RoutePlan } from './model-router.js';
import { RetryBudget } from './retry-budget.js';
import type { BackendLoad } from './backend-load.js';
import { LatencyTracker } from './latency-tracker.js';
import type { RouteTarget, TargetState } from './targets.js';
import { backendScopes } from '../concurrency/slot-pool.js';
import { tryAcquireSoon, type Lease, type SlotPool } from '../concurrency/slots.js';

/** One upstream attempt, as the request's log line shows it. */
export interface AttemptRecord {
  backend: string;
  model: string;
  /** pending (no answer yet), ok, error, cancelled (the client went away or the gateway stopped). */
  outcome: 'pending' | 'ok' | 'error' | 'cancelled';
  error_code?: string;
  duration_ms: number;
}

/** Where the runner reports what it did (the request's state). */
export interface AttemptLog {
  attempts: AttemptRecord[];
  /** The backend that answered, once one has. */
  backend: string | null;
  /** Why retrying stopped early: budget (retry budget spent) or deadline. */
  retryStop: 'budget' | 'deadline' | null;
  /** The request's trace: each attempt is a client span of it (absent or null: not traced). */
  readonly trace?: RequestTrace | null;
  /** Without a trace: the caller's traceparent/tracestate, passed upstream as they are. */
  readonly traceHeaders?: Readonly<Record<string, string>> | null;
  /** For span names and attributes (gen_ai.operation.name). */
  readonly operation?: 'chat' | 'embeddings';
  /** The request's queue priority for a backend's slots (higher first; the key's `priority`). */
  priority?: number;
  /**
   * A slot of the first attempt's backend asked for ahead of time (AttemptRunner.prepareSlot), beside
   * the request's other admission calls: the first attempt takes it instead of asking again.
   */
  preparedSlot?: PreparedSlot | null;
}

/**
 * A backend slot asked for before the attempts start (so that with Redis it shares a round trip with
 * the budget reservation and the key's slot). The first attempt uses it when its target is still
 * available; otherwise, or when the request ends before, discard() gives it back.
 */
export interface PreparedSlot {
  readonly target: RouteTarget;
  /**
   * The slot, for the attempt that uses it (once); null: the backend was full, or a request of this
   * instance with the same priority or higher waits for it.
   */
  take(): Lease | null | Promise<Lease | null>;
  /** Gives the slot back unless an attempt took it. Idempotent; never rejects. */
  discard(): void;
}

/**
 * Backends' concurrency caps (max_concurrency, e.g. a GPU server's slots) and the pool that holds their
 * slots across instances (src/concurrency). An attempt holds one slot of its backend from before the
 * call until its answer is complete (a stream: its last byte).
 */
export interface BackendSlots {
  readonly pool: SlotPool;
  /** Slots per backend name; a backend not listed is not counted. */
  readonly limits: ReadonlyMap<string, number>;
  /** Longest wait for a slot when every target is full (concurrency.queue_timeout_ms). */
  readonly queueTimeoutMs: number;
}

/** An attempt that answered; for streams it stays open until the caller reports how the stream ended. */
export interface OpenAttempt<T> {
  readonly value: T;
  readonly backend: string;
  /** The answer came from the route's first tier (only those answers are cached). */
  readonly primary: boolean;
  /** The answer (a stream: once complete) is in; `usage` is what the backend reported, if anything. */
  succeed(usage?: { promptTokens: number | null; completionTokens: number | null }): void;
  /** The stream broke (counts against the target) or was cancelled (does not). */
  fail(error: unknown): void;
}

const EMPTY: ReadonlySet<TargetState> = new Set();
const NORMAL_PERMIT: CircuitPermit = { probe: false };

/** What one attempt needs of the request it serves. */
interface AttemptRequest<T> {
  readonly plan: RoutePlan;
  readonly parent: UpstreamCall;
  readonly log: AttemptLog;
  readonly perform: Perform<T>;
  /** The attempt is over when its first chunk arrives (time to first token is measured then). */
  readonly stream: boolean;
  /** Called once the attempt has answered: the request's deadline no longer applies. */
  readonly answered: () => void;
  /** The backend slot the attempt holds until it ends; null: none. */
  readonly lease: Lease | null;
}

type Perform<T> = (adapter: BackendAdapter, upstreamModel: string, call: UpstreamCall) => Promise<T>;

/**
 * Sends a request to a route's targets: the first tier first (load shared by the route's strategy:
 * weighted, least_outstanding, least_busy or latency; docs/routing.md), the next tier when a target
 * fails; retries with exponential backoff and full jitter; honours an upstream's Retry-After; skips
 * targets whose circuit is open or whose backend fails its health check; bounded by max_attempts, the
 * retry budget and the request deadline. Only failures before the answer started are retried: once
 * `perform` has resolved, the attempt is the answer.
 */
export class AttemptRunner {
  readonly budget: RetryBudget;
  /** Time to first token per target (measured for every strategy; `latency` chooses by it). */
  readonly latency: LatencyTracker<TargetState>;

  constructor(
    private readonly config: RoutingConfig,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
    private readonly metrics: MetricsSink = NO_METRICS,
    /** Requests in flight per backend across instances, for least_busy (null: this instance's counts). */
    private readonly load: BackendLoad | null = null,
    /** Backends' slots (null: no backend has max_concurrency). */
    private readonly slots: BackendSlots | null = null,
  ) {
    this.budget = new RetryBudget(config.retryBudget, now);
    this.latency = new LatencyTracker(now);
  }

  /** For a whole answer (JSON): the attempt is over when perform resolves. */
  async run<T>(
    plan: RoutePlan,
    parent: UpstreamCall,
    log: AttemptLog,
    perform: Perform<T>,
    usageOf?: (value: T) => { promptTokens: number | null; completionTokens: number | null },
  ): Promise<OpenAttempt<T>> {
    const attempt = await this.begin(plan, parent, log, perform, false);
    attempt.succeed(usageOf?.(attempt.value));
    return attempt;
  }

  /**
   * Starts taking a slot of the backend the first attempt will choose, when that backend has
   * max_concurrency; null otherwise. The request hands it to its attempts in `log.preparedSlot`.
   */
  prepareSlot(plan: RoutePlan, priority: number | undefined): PreparedSlot | null {
    const slots = this.slots;
    if (slots === null) return null;
    const target = this.choose(plan, EMPTY);
    if (target === null) return null;
    const limit = slots.limits.get(target.state.adapter.name);
    if (limit === undefined) return null;
    let taken = false;
    let discarded = false;
    const scopes = backendScopes(target.state.adapter.name, limit);
    const options = priority === undefined ? {} : { priority };
    let lease: Lease | null | Promise<Lease | null>;
    try {
      lease = tryAcquireSoon(slots.pool, scopes, options);
    } catch {
      // Closed (shutting down): the attempt asks again and answers with the pool's error.
      return null;
    }
    // Unobserved, a rejection (the store failing closed) would be unhandled until an attempt awaits it.
    if (lease instanceof Promise) lease.catch(() => undefined);
    return {
      target,
      take: () => {
        taken = true;
        return lease;
      },
      discard: () => {
        if (taken || discarded) return;
        discarded = true;
        if (lease instanceof Promise)
          lease.then(
            (held) => void held?.release(),
            () => undefined,
          );
        else void lease?.release();
      },
    };
  }

  /** Throws the 503 (with Retry-After) when no target of the plan can take a request now. */
  assertAvailable(plan: RoutePlan): void {
    if (this.choose(plan, EMPTY) === null) throw this.unavailable(plan, this.earliestWait(plan));
  }

  /** For a stream: perform resolves with its first chunk; the caller ends the attempt when it ends. */
  async open<T>(
    plan: RoutePlan,
    parent: UpstreamCall,
    log: AttemptLog,
    perform: Perform<T>,
  ): Promise<OpenAttempt<T>> {
    return this.begin(plan, parent, log, perform, true);
  }

  private async begin<T>(
    plan: RoutePlan,
    parent: UpstreamCall,
    log: AttemptLog,
    perform: Perform<T>,
    stream: boolean,
  ): Promise<OpenAttempt<T>> {
    this.budget.recordRequest();
    const config = this.config;
    const tried = new Set<TargetState>();
    /** Retry-After each target of this request asked for (made only when one does). */
    let notBefore: Map<TargetState, number> | undefined;
    let lastError: GatewayError | null = null;
    // What the client gets when no further attempt is made: the last attempt's error.
    const stop = (): GatewayError => lastError ?? this.unavailable(plan, this.earliestWait(plan));
    let current: AbortController | null = null;
    // The deadline runs from the first attempt (docs/routing.md): a wait in the queue for a backend's
    // slot comes before it and has its own bound (queue_timeout_ms). Armed when the wait had started
    // it, a deadline that passed during the wait found no attempt to end and was lost: the attempt
    // that followed ran without one.
    let deadlineAt = Infinity;
    let deadline: NodeJS.Timeout | undefined;
    const startDeadline = (): void => {
      if (deadline !== undefined) return;
      deadlineAt = this.now() + config.deadlineMs;
      deadline = setTimeout(() => {
        if (current === null) return;
        log.retryStop = 'deadline';
        current.abort(new DeadlineExceededError(config.deadlineMs));
      }, config.deadlineMs);
    };
    // Targets whose backend had no free slot for this request, and the first of them: when every
    // target is full, the request waits in the queue for that one (fallback on saturation first).
    let saturated: Set<TargetState> | null = null;
    let queueOn: RouteTarget | null = null;
    // A slot asked for ahead of time: the first attempt's, if its target can still take requests.
    let prepared = log.preparedSlot ?? null;
    log.preparedSlot = null;
    try {
      if (prepared !== null && !prepared.target.state.available(plan.clientModel)) {
        prepared.discard();
        prepared = null;
      }
      for (;;) {
        if (log.attempts.length >= config.maxAttempts) throw stop();
        let target = prepared?.target ?? this.choose(plan, tried, saturated);
        let waitForSlot = false;
        if (target === null && queueOn !== null && queueOn.state.available(plan.clientModel)) {
          target = queueOn;
          waitForSlot = true;
        }
        if (target === null) {
          if (lastError === null) throw this.unavailable(plan, this.earliestWait(plan));
          throw stop(); // every target's circuit opened during this request
        }
        if (log.attempts.length > 0) {
          // A new target is tried at once; the same one again after a backoff, and never before the
          // Retry-After it sent (when that is longer than the backoff ceiling, the client decides).
          let delay = tried.has(target.state)
            ? fullJitterDelay(log.attempts.length, config.backoffBaseMs, config.backoffMaxMs, this.random)
            : 0;
          const asked = notBefore?.get(target.state);
          if (asked !== undefined) {
            const wait = asked - this.now();
            if (wait > config.backoffMaxMs) throw stop();
            delay = Math.max(delay, wait);
          }
          if (this.now() + delay >= deadlineAt) {
            log.retryStop = 'deadline';
            throw stop();
          }
          if (!this.budget.tryRetry()) {
            log.retryStop = 'budget';
            throw stop();
          }
          if (delay > 0) {
            await sleep(delay, undefined, { signal: parent.signal }).catch(() => {
              throw parent.signal.reason;
            });
            if (!target.state.available(plan.clientModel)) target = this.choose(plan, tried, saturated);
            if (target === null) throw stop();
          }
        }
        let lease: Lease | null = null;
        const slots = this.slots;
        const limit = slots?.limits.get(target.state.adapter.name);
        if (slots !== null && limit !== undefined) {
          const scopes = backendScopes(target.state.adapter.name, limit);
          if (prepared !== null) {
            const taking = prepared.take();
            prepared = null;
            lease = taking instanceof Promise ? await taking : taking;
            if (lease === null) {
              (saturated ??= new Set()).add(target.state);
              queueOn ??= target;
              continue;
            }
          } else if (waitForSlot) {
            lease = await slots.pool.acquire(scopes, {
              ...(log.priority === undefined ? {} : { priority: log.priority }),
              signal: parent.signal,
              timeoutMs: slots.queueTimeoutMs,
            });
          } else {
            lease = await slots.pool.tryAcquire(
              scopes,
              log.priority === undefined ? {} : { priority: log.priority },
            );
            if (lease === null) {
              (saturated ??= new Set()).add(target.state);
              queueOn ??= target;
              continue;
            }
          }
          // The wait may have outlasted the target's health or circuit: choose again.
          if (waitForSlot && !target.state.available(plan.clientModel)) {
            void lease.release();
            continue;
          }
        }
        // Not used (the backend's cap was removed by a reload since): given back.
        prepared?.discard();
        prepared = null;
        const breaker = target.state.breaker(plan.clientModel);
        const permit = breaker.tryAcquire();
        if (permit === null) {
          void lease?.release();
          continue;
        }
        tried.add(target.state);
        startDeadline();
        const controller = new AbortController();
        current = controller;
        try {
          return await this.attempt(target.state, breaker, permit, controller, {
            plan,
            parent,
            log,
            perform,
            stream,
            answered: () => {
              clearTimeout(deadline);
            },
            lease,
          });
        } catch (error) {
          if (parent.signal.aborted) throw parent.signal.reason;
          if (!(error instanceof GatewayError) || !error.retryable) throw error;
          lastError = error;
          if (error.retryAfterMs !== null) {
            notBefore ??= new Map();
            notBefore.set(target.state, this.now() + error.retryAfterMs);
          }
        } finally {
          current = null;
        }
      }
    } finally {
      clearTimeout(deadline);
      // Not taken (nothing was attempted): given back.
      prepared?.discard();
    }
  }

  private async attempt<T>(
    state: TargetState,
    /** The circuit of the upstream model called: it takes this attempt's outcome. */
    breaker: CircuitBreaker,
    admitted: CircuitPermit,
    controller: AbortController,
    request: AttemptRequest<T>,
  ): Promise<OpenAttempt<T>> {
    const { plan, parent, log, perform, stream, answered, lease } = request;
    let permit = admitted;
    if (parent.signal.aborted) {
      breaker.onNeutral(permit);
      void lease?.release();
      throw parent.signal.reason;
    }
    const onParentAbort = (): void => {
      controller.abort(parent.signal.reason);
    };
    parent.signal.addEventListener('abort', onParentAbort, { once: true });
    const upstreamModel = upstreamModelOf(state, plan.clientModel);
    const operation = log.operation ?? 'chat';
    const span =
      log.trace?.child(
        `${operation} ${upstreamModel}`,
        {
          'gen_ai.operation.name': operation,
          'gen_ai.provider.name': state.adapter.type,
          'gen_ai.request.model': upstreamModel,
          'ai_gateway.backend': state.adapter.name,
          'ai_gateway.attempt': log.attempts.length + 1,
        },
        'client',
      ) ?? null;
    const call: UpstreamCall = {
      signal: controller.signal,
      requestId: parent.requestId,
      abort: (reason) => {
        controller.abort(reason);
      },
      traceHeaders: span?.propagationHeaders() ?? log.traceHeaders ?? null,
    };
    const record: AttemptRecord = {
      backend: state.adapter.name,
      model: upstreamModel,
      outcome: 'pending',
      duration_ms: 0,
    };
    log.attempts.push(record);
    state.outstanding++;
    this.latency.sent(state);
    const sentAt = this.now();
    const started = performance.now();
    let ended = false;
    const end = (error: unknown): void => {
      if (ended) return;
      ended = true;
      state.outstanding--;
      void lease?.release();
      parent.signal.removeEventListener('abort', onParentAbort);
      const elapsed = performance.now() - started;
      record.duration_ms = Math.round(elapsed * 100) / 100;
      if (span !== null) {
        if (error !== null) {
          span.fail(
            error instanceof GatewayError ? error.code : parent.signal.aborted ? 'cancelled' : 'error',
          );
        }
        span.end();
      }
      if (error === null) {
        record.outcome = 'ok';
        this.metrics.attemptFinished(record.backend, plan.route.name, 'ok', elapsed / 1000);
        breaker.onSuccess(permit);
        return;
      }
      const cancelled = parent.signal.aborted;
      record.outcome = cancelled ? 'cancelled' : 'error';
      this.metrics.attemptFinished(record.backend, plan.route.name, record.outcome, elapsed / 1000);
      if (error instanceof GatewayError) record.error_code = error.code;
      if (cancelled) breaker.onNeutral(permit);
      else {
        this.judge(breaker, permit, error);
        if (countsAsSlow(error)) this.latency.failed(state, this.now() - sentAt);
      }
    };
    let value: T;
    try {
      value = await perform(state.adapter, upstreamModel, call);
    } catch (error) {
      end(error);
      throw error;
    }
    answered();
    record.outcome = 'ok';
    this.latency.answered(state, this.now() - sentAt);
    if (stream)
      this.metrics.firstToken(record.backend, plan.route.name, (performance.now() - started) / 1000);
    if (permit.probe) {
      // A probe that answered has shown the target works: the circuit closes now, not when a long
      // stream ends (which would hold every other request to this target until then).
      breaker.onSuccess(permit);
      permit = NORMAL_PERMIT;
    }
    log.backend = state.adapter.name;
    return {
      value,
      backend: state.adapter.name,
      primary: plan.compiled.primary.has(state),
      succeed: (usage) => {
        if (span !== null && usage !== undefined) {
          if (usage.promptTokens !== null)
            span.setAttributes({ 'gen_ai.usage.input_tokens': usage.promptTokens });
          if (usage.completionTokens !== null)
            span.setAttributes({ 'gen_ai.usage.output_tokens': usage.completionTokens });
        }
        end(null);
      },
      fail: (error) => {
        end(error);
      },
    };
  }

  /** What a failed attempt says about the upstream model it called. */
  private judge(breaker: CircuitBreaker, permit: CircuitPermit, error: unknown): void {
    if (error instanceof DeadlineExceededError) {
      // The request ran out of time (perhaps on earlier attempts): says nothing about this target.
      breaker.onNeutral(permit);
      return;
    }
    if (error instanceof UpstreamClientError) {
      // The upstream works and refused this request (or is busy: 429); its circuit is not at fault.
      if (error.status === 429) breaker.onNeutral(permit);
      else breaker.onSuccess(permit);
      return;
    }
    if (
      error instanceof GatewayError &&
      (error.code === 'upstream_error' || error.code === 'upstream_timeout')
    ) {
      breaker.onFailure(permit);
      return;
    }
    breaker.onNeutral(permit);
  }

  /**
   * The next target: the first tier with an available target not yet tried, else one tried before;
   * never one whose backend was full for this request (`saturated`).
   */
  private choose(
    plan: RoutePlan,
    tried: ReadonlySet<TargetState>,
    saturated: ReadonlySet<TargetState> | null = null,
  ): RouteTarget | null {
    const tiers = plan.compiled.tiers;
    const strategy = plan.route.strategy;
    const untried = saturated === null ? tried : new Set([...tried, ...saturated]);
    for (const tier of tiers) {
      const pick = this.pick(tier, untried, strategy, plan.clientModel);
      if (pick !== null) return pick;
    }
    if (tried.size === 0) return null;
    for (const tier of tiers) {
      const pick = this.pick(tier, saturated, strategy, plan.clientModel);
      if (pick !== null) return pick;
    }
    return null;
  }

  private pick(
    tier: readonly RouteTarget[],
    exclude: ReadonlySet<TargetState> | null,
    strategy: RoutingStrategy,
    clientModel: string,
  ): RouteTarget | null {
    const usable = (target: RouteTarget): boolean =>
      target.state.available(clientModel) && (exclude === null || !exclude.has(target.state));
    if (tier.length === 1) {
      const only = tier[0] as RouteTarget;
      return usable(only) ? only : null;
    }
    const candidates = tier.filter(usable);
    if (candidates.length <= 1) return candidates[0] ?? null;
    switch (strategy) {
      case 'weighted':
        return this.weighted(candidates);
      case 'least_outstanding':
        return this.leastLoaded(candidates, (state) => state.outstanding);
      case 'least_busy':
        return this.leastLoaded(
          candidates,
          (state) => this.load?.inFlight(state.adapter.name) ?? state.outstanding,
        );
      case 'latency':
        return this.fasterOfTwo(candidates);
    }
  }

  private weighted(candidates: readonly RouteTarget[]): RouteTarget {
    let total = 0;
    for (const candidate of candidates) total += candidate.weight;
    let point = this.random() * total;
    for (const candidate of candidates) {
      point -= candidate.weight;
      if (point < 0) return candidate;
    }
    return candidates[candidates.length - 1] as RouteTarget;
  }

  /** Fewest requests in flight (as `inFlight` counts them) per unit of weight; ties at random by weight. */
  private leastLoaded(
    candidates: readonly RouteTarget[],
    inFlight: (state: TargetState) => number,
  ): RouteTarget {
    let best = Infinity;
    let ties: RouteTarget[] = [];
    for (const candidate of candidates) {
      const load = inFlight(candidate.state) / candidate.weight;
      if (load < best) {
        best = load;
        ties = [candidate];
      } else if (load === best) ties.push(candidate);
    }
    return ties.length === 1 ? (ties[0] as RouteTarget) : this.weighted(ties);
  }

  /**
   * Power of two choices: two distinct candidates drawn at random by weight, and the one expected to
   * answer first wins: the lower average time to first token times (1 + its attempts in flight here),
   * so that two equally fast targets share the load instead of the faster by a hair taking all of it.
   * Unmeasured and stale targets score 0 (see LatencyTracker); a tie goes to the first drawn.
   */
  private fasterOfTwo(candidates: readonly RouteTarget[]): RouteTarget {
    const first = this.weighted(candidates);
    const second = this.weighted(candidates.filter((candidate) => candidate !== first));
    const cost = ({ state }: RouteTarget): number => this.latency.score(state) * (1 + state.outstanding);
    return cost(second) < cost(first) ? second : first;
  }

  /** How long until some target of the plan can take an attempt (Infinity: none will by itself). */
  private earliestWait(plan: RoutePlan): number {
    let wait = Infinity;
    for (const tier of plan.compiled.tiers) {
      for (const { state } of tier) {
        if (state.backend.health === 'unhealthy') {
          wait = Math.min(wait, state.backend.checkIntervalMs ?? Infinity);
          continue;
        }
        wait = Math.min(wait, state.breaker(plan.clientModel).retryAfterMs());
      }
    }
    return wait;
  }

  private unavailable(plan: RoutePlan, waitMs: number): ServiceUnavailableError {
    const seconds = Number.isFinite(waitMs) ? Math.max(1, Math.ceil(waitMs / 1000)) : 10;
    return new ServiceUnavailableError(
      `Every backend for model '${plan.clientModel}' is unavailable (circuit open, or failing its health check); retry after ${seconds} s`,
      seconds,
    );
  }
}

/**
 * A failure that says the target is slow or unwell (what opens its circuit, and 429: busy), and so a
 * penalty sample in its time to first token. Not the request's deadline, not a refusal of the request.
 */
function countsAsSlow(error: unknown): boolean {
  if (error instanceof DeadlineExceededError) return false;
  if (error instanceof UpstreamClientError) return error.status === 429;
  return (
    error instanceof GatewayError && (error.code === 'upstream_error' || error.code === 'upstream_timeout')
  );
}
