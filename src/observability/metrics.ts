import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { CellCounter, CellHistogram } from './cell-metrics.js';

/**
 * What the gateway reports to Prometheus. The request path calls these methods; with metrics off it
 * gets NO_METRICS, whose methods do nothing. Every label value comes from a bounded set: route
 * patterns, configured route and backend names, key ids, status classes, outcomes; never a request id
 * or a model name a client made up (requests are labelled with the configured route they matched).
 */
export interface MetricsSink {
  requestFinished(route: string, method: string, status: number, seconds: number): void;
  attemptFinished(backend: string, model: string, outcome: string, seconds: number): void;
  firstToken(backend: string, model: string, seconds: number): void;
  tokens(kind: 'prompt' | 'completion', model: string, keyId: string, count: number): void;
  cache(result: 'hit' | 'miss' | 'bypass'): void;
  rateLimited(policy: string): void;
  storeError(store: 'rate_limit' | 'cache' | 'keys' | 'budgets' | 'concurrency'): void;
  failOpen(): void;
  requestStarted(): void;
  requestEnded(): void;
  /** What answered requests cost (issue 20), in micro-dollars, by route (model) and key id. */
  spend(model: string, keyId: string, usdMicros: number): void;
  /** A budget reservation: held, refused (budget_exceeded), or the budget store failed (admitted or refused). */
  budgetReservation(outcome: 'held' | 'refused' | 'store_error_admitted' | 'store_error_refused'): void;
  /** A budget alert fired: its scope (key:<id> or team:<id>) and threshold. */
  budgetAlert(scope: string, threshold: number): void;
  /** Requests of this instance waiting for a concurrency slot of a scope (key, team or backend). */
  slotQueueLength(scope: string, length: number): void;
  /** A request done waiting for a slot, how long, and how it ended (acquired, timeout, aborted, refused). */
  slotWait(scope: string, seconds: number, outcome: string): void;
}

export const NO_METRICS: MetricsSink = {
  requestFinished: () => undefined,
  attemptFinished: () => undefined,
  firstToken: () => undefined,
  tokens: () => undefined,
  cache: () => undefined,
  rateLimited: () => undefined,
  storeError: () => undefined,
  failOpen: () => undefined,
  requestStarted: () => undefined,
  requestEnded: () => undefined,
  spend: () => undefined,
  budgetReservation: () => undefined,
  budgetAlert: () => undefined,
  slotQueueLength: () => undefined,
  slotWait: () => undefined,
};

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Read at scrape time: the state that lives elsewhere (circuits, streams). */
export interface MetricsSources {
  /** Each target's circuit: 0 closed, 1 half-open, 2 open. */
  circuits(): Iterable<{ target: string; backend: string; state: 0 | 1 | 2 }>;
  /** Each backend's active health check: 1 healthy or unchecked, 0 failing. */
  backends(): Iterable<{ backend: string; healthy: boolean }>;
  streamsInFlight(): number;
  /** Log lines dropped because stdout was not read (see logging/log-buffer.ts); none when absent. */
  logLinesDropped?(): number;
  /** Request-log records dropped: the buffer full (store slow or down) or a batch that failed every try. */
  requestLogDropped?(): number;
}

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

function statusClass(status: number): string {
  return STATUS_CLASSES[Math.floor(status / 100) - 1] ?? 'other';
}

export class PrometheusMetrics implements MetricsSink {
  readonly registry = new Registry();
  private readonly requests = new CellCounter(
    'gateway_http_requests_total',
    'HTTP requests answered, by route pattern, method and status class',
    ['route', 'method', 'status_class'],
  );
  private readonly requestDuration = new CellHistogram(
    'gateway_http_request_duration_seconds',
    'Time from the request to the end of its answer (a stream: its last event)',
    ['route', 'method', 'status_class'],
    LATENCY_BUCKETS,
  );
  private readonly attempts = new CellCounter(
    'gateway_upstream_attempts_total',
    'Upstream attempts by backend, route (model) and outcome: ok, error, cancelled',
    ['backend', 'model', 'outcome'],
  );
  private readonly attemptDuration = new CellHistogram(
    'gateway_upstream_duration_seconds',
    'Duration of upstream attempts (a stream: until it ended)',
    ['backend', 'model'],
    LATENCY_BUCKETS,
  );
  private readonly timeToFirstToken = new CellHistogram(
    'gateway_upstream_time_to_first_token_seconds',
    'Streams: from the start of the attempt to its first chunk',
    ['backend', 'model'],
    LATENCY_BUCKETS,
  );
  private readonly tokenCount = new CellCounter(
    'gateway_tokens_total',
    'Tokens the backends reported, by kind (prompt, completion), route (model) and key id',
    ['kind', 'model', 'key_id'],
  );
  private readonly cacheResults = new CellCounter(
    'gateway_cache_requests_total',
    'Response cache results: hit, miss, bypass',
    ['result'],
  );
  // Counted on every request with a price, a budget or a concurrency cap: cells, as above (prom-client's
  // labels() hashes its label values on every call).
  private readonly spent = new CellCounter(
    'gateway_spend_usd_total',
    'What answered requests cost at usage.prices and the list prices, in US dollars, by route (model) and key id',
    ['model', 'key_id'],
  );
  private readonly reservations = new CellCounter(
    'gateway_budget_reservations_total',
    'Budget reservations: held, refused (budget_exceeded), store_error_admitted, store_error_refused',
    ['outcome'],
  );
  private readonly slotWaits = new CellHistogram(
    'gateway_concurrency_wait_seconds',
    'Time requests waited for a concurrency slot, by scope and outcome (acquired, timeout, aborted, refused)',
    ['scope', 'outcome'],
    LATENCY_BUCKETS,
  );
  private readonly rejections: Counter<'policy'>;
  private readonly storeErrors: Counter<'store'>;
  private readonly failOpens: Counter;
  private readonly alerts: Counter<'scope' | 'threshold'>;
  private readonly slotQueue: Gauge<'scope'>;
  private inFlight = 0;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    for (const metric of [
      this.requests,
      this.requestDuration,
      this.attempts,
      this.attemptDuration,
      this.timeToFirstToken,
      this.tokenCount,
      this.cacheResults,
      this.spent,
      this.reservations,
      this.slotWaits,
    ]) {
      this.registry.registerMetric(metric as never);
    }
    this.rejections = new Counter({
      name: 'gateway_rate_limit_rejections_total',
      help: 'Requests refused with 429 by a rate limit of the gateway, by policy',
      labelNames: ['policy'],
      registers,
    });
    this.storeErrors = new Counter({
      name: 'gateway_store_errors_total',
      help: 'Failed or timed-out calls to the state store (Redis), by user: rate_limit, cache, keys, budgets, concurrency',
      labelNames: ['store'],
      registers,
    });
    this.failOpens = new Counter({
      name: 'gateway_rate_limit_fail_open_total',
      help: 'Requests admitted by the per-instance fallback limit because the shared store failed (on_store_error: open)',
      registers,
    });
    this.alerts = new Counter({
      name: 'gateway_budget_alerts_total',
      help: 'Budget alerts fired (once per window, budget and threshold), by scope (key:<id>, team:<id>) and threshold',
      labelNames: ['scope', 'threshold'],
      registers,
    });
    this.slotQueue = new Gauge({
      name: 'gateway_concurrency_queue_length',
      help: 'Requests waiting for a concurrency slot, by scope (key:<id>, team:<id>, backend:<name>)',
      labelNames: ['scope'],
      aggregator: 'sum',
      registers,
    });
    for (const outcome of ['held', 'refused', 'store_error_admitted', 'store_error_refused'])
      this.reservations.cell(outcome);
    const inFlight = (): number => this.inFlight;
    new Gauge({
      name: 'gateway_requests_in_flight',
      help: 'Requests being answered now',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    new Gauge({
      name: 'gateway_streams_in_flight',
      help: 'Streams being relayed now',
      registers,
      collect() {
        this.set(sources.streamsInFlight());
      },
    });
    const logLinesDropped = sources.logLinesDropped?.bind(sources);
    let logLinesReported = 0;
    new Counter({
      name: 'gateway_log_lines_dropped_total',
      help: 'Log lines dropped because stdout was not read and its buffer was full (logging.max_buffer_bytes)',
      registers,
      collect() {
        const now = logLinesDropped?.() ?? 0;
        this.inc(now - logLinesReported);
        logLinesReported = now;
      },
    });
    const requestLogDropped = sources.requestLogDropped?.bind(sources);
    let requestLogReported = 0;
    new Counter({
      name: 'gateway_request_log_dropped_total',
      help: 'Request-log records dropped because the store was slow or down (buffer full, or a batch failed every try)',
      registers,
      collect() {
        const now = requestLogDropped?.() ?? 0;
        this.inc(now - requestLogReported);
        requestLogReported = now;
      },
    });
    new Gauge({
      name: 'gateway_circuit_state',
      help: "Each target's circuit breaker: 0 closed, 1 half-open, 2 open (with workers: the most open)",
      labelNames: ['target', 'backend'],
      aggregator: 'max',
      registers,
      collect() {
        this.reset();
        for (const circuit of sources.circuits())
          this.labels(circuit.target, circuit.backend).set(circuit.state);
      },
    });
    new Gauge({
      name: 'gateway_backend_healthy',
      help: "Each backend's active health check: 1 passing or not checked, 0 failing (with workers: the worst)",
      labelNames: ['backend'],
      aggregator: 'min',
      registers,
      collect() {
        for (const backend of sources.backends()) this.labels(backend.backend).set(backend.healthy ? 1 : 0);
      },
    });
    // Process metrics (CPU, memory, handles, GC) and the event loop's lag, prefixed as Node's usually are.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    // Every series of a bounded label set exists from the start, so that rates work from the first scrape.
    for (const result of ['hit', 'miss', 'bypass']) this.cacheResults.cell(result);
    for (const store of ['rate_limit', 'cache', 'keys', 'budgets', 'concurrency'])
      this.storeErrors.labels(store).inc(0);
  }

  spend(model: string, keyId: string, usdMicros: number): void {
    if (usdMicros > 0) this.spent.cell(model, keyId).value += usdMicros / 1_000_000;
  }

  budgetReservation(outcome: 'held' | 'refused' | 'store_error_admitted' | 'store_error_refused'): void {
    this.reservations.cell(outcome).value++;
  }

  budgetAlert(scope: string, threshold: number): void {
    this.alerts.labels(scope, String(threshold)).inc();
  }

  slotQueueLength(scope: string, length: number): void {
    this.slotQueue.labels(scope).set(length);
  }

  slotWait(scope: string, seconds: number, outcome: string): void {
    this.slotWaits.cell(scope, outcome).observe(seconds);
  }

  requestFinished(route: string, method: string, status: number, seconds: number): void {
    const statusLabel = statusClass(status);
    this.requests.cell(route, method, statusLabel).value++;
    this.requestDuration.cell(route, method, statusLabel).observe(seconds);
  }

  attemptFinished(backend: string, model: string, outcome: string, seconds: number): void {
    this.attempts.cell(backend, model, outcome).value++;
    this.attemptDuration.cell(backend, model).observe(seconds);
  }

  firstToken(backend: string, model: string, seconds: number): void {
    this.timeToFirstToken.cell(backend, model).observe(seconds);
  }

  tokens(kind: 'prompt' | 'completion', model: string, keyId: string, count: number): void {
    if (count > 0) this.tokenCount.cell(kind, model, keyId).value += count;
  }

  cache(result: 'hit' | 'miss' | 'bypass'): void {
    this.cacheResults.cell(result).value++;
  }

  rateLimited(policy: string): void {
    this.rejections.labels(policy).inc();
  }

  storeError(store: 'rate_limit' | 'cache' | 'keys' | 'budgets' | 'concurrency'): void {
    this.storeErrors.labels(store).inc();
  }

  failOpen(): void {
    this.failOpens.inc();
  }

  requestStarted(): void {
    this.inFlight++;
  }

  requestEnded(): void {
    this.inFlight--;
  }

  /** With several workers: the cluster's sum, gathered by the primary (see cluster-metrics.ts). */
  renderer: (() => Promise<string>) | null = null;

  async render(): Promise<string> {
    return this.renderer === null ? this.registry.metrics() : this.renderer();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
