import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackendAdapter, UpstreamCall } from '../backends/adapter.js';
import { parseRetryAfter } from '../backends/http/upstream-client.js';
import { validateConfig } from '../config/load.js';
import {
  ClientClosedError,
  GatewayError,
  InvalidRequestError,
  ServiceUnavailableError,
  UpstreamClientError,
  UpstreamError,
  UpstreamTimeoutError,
} from '../errors/errors.js';
import { AttemptRunner, type AttemptLog, type BackendSlots } from './attempt-runner.js';
import { MemorySlots } from '../concurrency/memory-slots.js';
import { ConcurrencyLimitError } from '../errors/errors.js';
import type { BackendLoad } from './backend-load.js';
import { STALE_MS } from './latency-tracker.js';
import { ModelRouter, type RoutePlan } from './model-router.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const MODEL = 'chat';

// ---------------------------------------------------------------------------------------------------
// Fixture: a router over fake backends, a runner on a fake clock, and a `perform` the test scripts.
// ---------------------------------------------------------------------------------------------------

/** How a backend answers one attempt. */
type Behaviour = (call: UpstreamCall, model: string) => Promise<string>;

const answers =
  (value = 'answer'): Behaviour =>
  () =>
    Promise.resolve(value);

const rejects =
  (error: () => Error): Behaviour =>
  () =>
    Promise.reject(error());

/** Never answers; rejects with the signal's reason once the attempt is aborted (as adapters do). */
const hangs: Behaviour = (call) =>
  new Promise((_resolve, reject) => {
    call.signal.addEventListener(
      'abort',
      () => {
        reject(call.signal.reason as Error);
      },
      { once: true },
    );
  });

const retryable = (): UpstreamError => new UpstreamError('backend down', { retryable: true });

function fakeAdapter(name: string): BackendAdapter {
  const unused = (): Promise<never> => Promise.reject(new Error(`adapter ${name} was called directly`));
  return {
    name,
    type: 'openai',
    chat: unused,
    chatStream: unused,
    embeddings: unused,
    listModels: unused,
    probe: unused,
    close: () => Promise.resolve(),
  };
}

interface TargetSpec {
  readonly backend: string;
  readonly model?: string;
  readonly weight?: number;
}

interface FixtureOptions {
  /** The route's targets; every backend named is an openai backend. */
  readonly targets: readonly TargetSpec[];
  /** The `routing:` section (the loader's defaults apply to the rest). */
  readonly routing?: Record<string, unknown>;
  readonly strategy?: 'weighted' | 'least_outstanding' | 'least_busy' | 'latency';
  readonly random?: () => number;
  /** Requests in flight across instances, for least_busy. */
  readonly load?: BackendLoad;
  /** Further routes, before the one of MODEL (a pattern such as `*` among them). */
  readonly routes?: readonly { name: string; targets: readonly TargetSpec[] }[];
  /** Backends' slots (max_concurrency). */
  readonly slots?: BackendSlots;
}

interface Fixture {
  readonly router: ModelRouter;
  readonly runner: AttemptRunner;
  readonly clock: { now: number };
  readonly plan: RoutePlan;
  /** Each call of `perform`, in order. */
  readonly calls: { backend: string; model: string }[];
  /** What each backend does; the test changes it between requests. */
  readonly behaviours: Map<string, Behaviour>;
  /** One client request through runner.run with a fresh log and parent. */
  request(parent?: AbortController): Promise<{ value: string; backend: string; log: AttemptLog }>;
  /** Like request, but resolves to the error it fails with (and fails if it does not). */
  failure(parent?: AbortController): Promise<{ error: unknown; log: AttemptLog }>;
  readonly perform: (adapter: BackendAdapter, model: string, call: UpstreamCall) => Promise<string>;
}

function newLog(): AttemptLog {
  return { attempts: [], backend: null, retryStop: null };
}

function parentCall(controller = new AbortController()): UpstreamCall {
  return {
    signal: controller.signal,
    requestId: 'req-test',
    abort: (reason) => {
      controller.abort(reason);
    },
  };
}

function fixture(options: FixtureOptions): Fixture {
  const names = [
    ...new Set(
      [...options.targets, ...(options.routes ?? []).flatMap((route) => route.targets)].map(
        (target) => target.backend,
      ),
    ),
  ];
  const config = validateConfig(
    {
      backends: names.map((name) => ({
        name,
        type: 'openai',
        url: `http://${name}.internal/v1`,
        health_check: { interval_ms: 5_000 },
      })),
      models: [
        ...(options.routes ?? []),
        {
          name: MODEL,
          targets: options.targets,
          ...(options.strategy === undefined ? {} : { strategy: options.strategy }),
        },
      ],
      ...(options.routing === undefined ? {} : { routing: options.routing }),
    },
    {},
  );
  const clock = { now: T0 };
  const now = (): number => clock.now;
  const adapters = new Map(names.map((name) => [name, fakeAdapter(name)]));
  const router = new ModelRouter(config.models, adapters, config.routing, config.backends, now);
  const runner = new AttemptRunner(
    config.routing,
    now,
    options.random ?? Math.random,
    undefined,
    options.load ?? null,
    options.slots ?? null,
  );
  const calls: { backend: string; model: string }[] = [];
  const behaviours = new Map<string, Behaviour>(names.map((name) => [name, answers(`from ${name}`)]));
  const perform = (adapter: BackendAdapter, model: string, call: UpstreamCall): Promise<string> => {
    calls.push({ backend: adapter.name, model });
    const behaviour = behaviours.get(adapter.name);
    assert.ok(behaviour !== undefined, `no behaviour for ${adapter.name}`);
    return behaviour(call, model);
  };
  const plan = router.resolve(MODEL, null);
  return {
    router,
    runner,
    clock,
    plan,
    calls,
    behaviours,
    perform,
    async request(parent) {
      const log = newLog();
      const attempt = await runner.run(plan, parentCall(parent), log, perform);
      return { value: attempt.value, backend: attempt.backend, log };
    },
    async failure(parent) {
      const log = newLog();
      try {
        await runner.run(plan, parentCall(parent), log, perform);
      } catch (error) {
        return { error, log };
      }
      return assert.fail('the request succeeded');
    },
  };
}

/** A promise with its settle functions (Promise.withResolvers is Node 22). */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/** Lets pending promise callbacks run until `condition` holds (fails after 100 turns of the loop). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 100; turn++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

/** Lets every pending promise callback run (to check that something has *not* happened). */
async function flush(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/** Tracks whether a promise has settled, without letting its rejection go unhandled. */
function track<T>(promise: Promise<T>): { settled: () => boolean; result: Promise<T> } {
  let settled = false;
  const result = promise.finally(() => {
    settled = true;
  });
  result.catch(() => undefined);
  return { settled: () => settled, result };
}

/**
 * The runner sleeps with node:timers/promises, which node:test's mock timers (Node 20) do not replace
 * in an ES module, so backoffs are real and short here. A timer may fire up to a millisecond before its
 * delay as performance.now() measures it (libuv caches the loop time), hence the slack.
 */
function assertWaited(gap: number | undefined, delay: number, what: string): void {
  assert.ok(gap !== undefined && gap >= delay - 2, `${what}: waited ${gap} ms, expected at least ${delay}`);
}

/** Milliseconds between consecutive calls of perform. */
function gapsOf(times: readonly number[]): number[] {
  return times.slice(1).map((time, index) => time - (times[index] ?? 0));
}

function assertGatewayError(error: unknown, code: string, status: number): asserts error is GatewayError {
  assert.ok(error instanceof GatewayError, `expected a GatewayError, got ${String(error)}`);
  assert.equal(error.code, code);
  assert.equal(error.status, status);
}

/** Generous enough never to stop a test that is not about it. */
const NO_BUDGET_LIMIT = { ratio: 10, min_retries: 1000 };

// ---------------------------------------------------------------------------------------------------

describe('AttemptRunner: retries and fallbacks', () => {
  it('goes to the fallback tier at once after a retryable failure, without a backoff', async () => {
    let randomCalls = 0;
    const f = fixture({
      targets: [{ backend: 'primary' }, { backend: 'fallback' }],
      routing: { backoff_base_ms: 10_000, backoff_max_ms: 10_000 },
      random: () => {
        randomCalls++;
        return 0.999;
      },
    });
    f.behaviours.set('primary', rejects(retryable));
    const started = performance.now();
    const { value, backend, log } = await f.request();
    assert.equal(value, 'from fallback');
    assert.equal(backend, 'fallback');
    assert.deepEqual(
      f.calls.map((call) => call.backend),
      ['primary', 'fallback'],
    );
    assert.equal(randomCalls, 0, 'no backoff delay was drawn');
    assert.ok(performance.now() - started < 1_000, 'no backoff of up to 10 s was slept');
    assert.equal(log.backend, 'fallback');
  });

  it('uses the answer of the first tier when it succeeds, and marks it primary', async () => {
    const f = fixture({ targets: [{ backend: 'primary' }, { backend: 'fallback' }] });
    const log = newLog();
    const attempt = await f.runner.run(f.plan, parentCall(), log, f.perform);
    assert.equal(attempt.backend, 'primary');
    assert.equal(attempt.primary, true);
    assert.equal(f.calls.length, 1);
  });

  it('marks an answer from the fallback tier as not primary', async () => {
    const f = fixture({ targets: [{ backend: 'primary' }, { backend: 'fallback' }] });
    f.behaviours.set('primary', rejects(retryable));
    const attempt = await f.runner.run(f.plan, parentCall(), newLog(), f.perform);
    assert.equal(attempt.primary, false);
  });

  for (const [name, make] of [
    ['an upstream 400', () => new UpstreamClientError('invalid_request', 400, 'bad request', {})],
    ['an InvalidRequestError', () => new InvalidRequestError('messages must not be empty')],
    ['a non-retryable UpstreamError', () => new UpstreamError('unusable answer')],
    ['a plain Error', () => new Error('bug in an adapter')],
  ] as const) {
    it(`does not retry ${name}, and rethrows it as is`, async () => {
      const f = fixture({ targets: [{ backend: 'primary' }, { backend: 'fallback' }] });
      const error = make();
      f.behaviours.set(
        'primary',
        rejects(() => error),
      );
      const { error: thrown, log } = await f.failure();
      assert.equal(thrown, error);
      assert.equal(f.calls.length, 1);
      assert.equal(log.attempts.length, 1);
      assert.equal(log.attempts[0]?.outcome, 'error');
    });
  }

  it('retries a retryable upstream 429 on the fallback', async () => {
    const f = fixture({ targets: [{ backend: 'primary' }, { backend: 'fallback' }] });
    f.behaviours.set(
      'primary',
      rejects(
        () =>
          new UpstreamClientError(
            'rate_limit_exceeded',
            429,
            'busy',
            {},
            { retryable: true, retryAfterMs: null },
          ),
      ),
    );
    const { backend } = await f.request();
    assert.equal(backend, 'fallback');
  });

  it('makes at most max_attempts attempts and returns the last error', async () => {
    const targets = ['t1', 't2', 't3', 't4', 't5'].map((backend) => ({ backend }));
    const f = fixture({ targets, routing: { max_attempts: 3, retry_budget: NO_BUDGET_LIMIT } });
    const errors = new Map<string, UpstreamError>();
    for (const { backend } of targets) {
      const error = new UpstreamError(`${backend} down`, { retryable: true });
      errors.set(backend, error);
      f.behaviours.set(
        backend,
        rejects(() => error),
      );
    }
    const { error, log } = await f.failure();
    assert.deepEqual(
      f.calls.map((call) => call.backend),
      ['t1', 't2', 't3'],
    );
    assert.equal(error, errors.get('t3'));
    assert.equal(log.attempts.length, 3);
  });

  it('makes one attempt only with max_attempts 1', async () => {
    const f = fixture({
      targets: [{ backend: 'primary' }, { backend: 'fallback' }],
      routing: { max_attempts: 1 },
    });
    f.behaviours.set('primary', rejects(retryable));
    const { error } = await f.failure();
    assertGatewayError(error, 'upstream_error', 502);
    assert.equal(f.calls.length, 1);
  });

  it('retries the same single target after a full-jitter backoff', async () => {
    const randoms: number[] = [];
    const f = fixture({
      targets: [{ backend: 'only' }],
      routing: { max_attempts: 3, backoff_base_ms: 100, backoff_max_ms: 2_000 },
      random: () => {
        randoms.push(0.5);
        return 0.5;
      },
    });
    const times: number[] = [];
    f.behaviours.set('only', () => {
      times.push(performance.now());
      return Promise.reject(retryable());
    });
    const { error } = await f.failure();
    assertGatewayError(error, 'upstream_error', 502);
    assert.equal(f.calls.length, 3);
    assert.equal(randoms.length, 2, 'one delay drawn per retry');
    const [first, second] = gapsOf(times);
    assertWaited(first, 50, 'retry 1 (0.5 × 100 ms)');
    assertWaited(second, 100, 'retry 2 (0.5 × 200 ms)');
  });

  it('goes back to a tried target once every tier has failed, after a backoff', async () => {
    const f = fixture({
      targets: [{ backend: 'primary' }, { backend: 'fallback' }],
      routing: {
        max_attempts: 3,
        backoff_base_ms: 100,
        backoff_max_ms: 2_000,
        retry_budget: NO_BUDGET_LIMIT,
      },
      random: () => 0.5,
    });
    const times: number[] = [];
    const failing: Behaviour = () => {
      times.push(performance.now());
      return Promise.reject(retryable());
    };
    f.behaviours.set('primary', failing);
    f.behaviours.set('fallback', failing);
    await f.failure();
    assert.deepEqual(
      f.calls.map((call) => call.backend),
      ['primary', 'fallback', 'primary'],
    );
    assertWaited(gapsOf(times)[1], 100, 'the third attempt (retry 2, 0.5 × 200 ms)');
  });

  it('stops at a Retry-After longer than backoff_max_ms and returns that error', async () => {
    const f = fixture({ targets: [{ backend: 'only' }], routing: { backoff_max_ms: 2_000 } });
    const busy = new UpstreamClientError(
      'rate_limit_exceeded',
      429,
      'busy',
      { 'retry-after': '120' },
      { retryable: true, retryAfterMs: parseRetryAfter('120') },
    );
    f.behaviours.set(
      'only',
      rejects(() => busy),
    );
    const { error, log } = await f.failure();
    assert.equal(error, busy);
    assert.equal(f.calls.length, 1);
    assert.equal(log.retryStop, null);
  });

  it('still tries another target at once when one sent a long Retry-After', async () => {
    const f = fixture({ targets: [{ backend: 'primary' }, { backend: 'fallback' }] });
    f.behaviours.set(
      'primary',
      rejects(() => new UpstreamError('overloaded', { retryable: true, retryAfterMs: 120_000 })),
    );
    const { backend } = await f.request();
    assert.equal(backend, 'fallback');
  });

  it('waits for a Retry-After within backoff_max_ms before retrying that target', async () => {
    const f = fixture({
      targets: [{ backend: 'only' }],
      routing: { backoff_base_ms: 100, backoff_max_ms: 2_000 },
      random: () => 0,
    });
    const times: number[] = [];
    f.behaviours.set('only', () => {
      times.push(performance.now());
      return times.length === 1
        ? Promise.reject(new UpstreamError('overloaded', { retryable: true, retryAfterMs: 150 }))
        : Promise.resolve('second try');
    });
    const { value } = await f.request();
    assert.equal(value, 'second try');
    assertWaited(gapsOf(times)[0], 150, 'the backoff (0 ms) does not cut the Retry-After short');
  });

  it('stops retrying when the next attempt would start after the deadline', async () => {
    const f = fixture({
      targets: [{ backend: 'primary' }, { backend: 'fallback' }],
      routing: { deadline_ms: 1_000 },
    });
    f.behaviours.set('primary', () => {
      f.clock.now += 1_000;
      return Promise.reject(retryable());
    });
    const { error, log } = await f.failure();
    assertGatewayError(error, 'upstream_error', 502);
    assert.equal(log.retryStop, 'deadline');
    assert.equal(f.calls.length, 1);
  });
});

describe('AttemptRunner: retry budget', () => {
  it('keeps upstream attempts within 120% of client requests when a target always fails', async () => {
    const f = fixture({
      targets: [{ backend: 'only' }],
      routing: {
        max_attempts: 3,
        backoff_base_ms: 0,
        backoff_max_ms: 0,
        retry_budget: { ratio: 0.2, min_retries: 0 },
        circuit_breaker: { enabled: false },
      },
    });
    f.behaviours.set('only', rejects(retryable));
    let stoppedByBudget = 0;
    for (let index = 0; index < 100; index++) {
      const { error, log } = await f.failure();
      assertGatewayError(error, 'upstream_error', 502);
      if (log.retryStop === 'budget') stoppedByBudget++;
    }
    assert.ok(f.calls.length <= 120, `${f.calls.length} attempts for 100 requests`);
    assert.ok(f.calls.length > 100, `no request was retried (${f.calls.length} attempts)`);
    assert.ok(stoppedByBudget >= 80, `${stoppedByBudget} requests were stopped by the budget`);
  });

  it('records retryStop budget and returns the last error when the budget is spent', async () => {
    const f = fixture({
      targets: [{ backend: 'primary' }, { backend: 'fallback' }],
      routing: { retry_budget: { ratio: 0, min_retries: 0 } },
    });
    const down = retryable();
    f.behaviours.set(
      'primary',
      rejects(() => down),
    );
    const { error, log } = await f.failure();
    assert.equal(error, down);
    assert.equal(log.retryStop, 'budget');
    assert.deepEqual(
      f.calls.map((call) => call.backend),
      ['primary'],
    );
  });
});

describe('AttemptRunner: circuit breakers and health', () => {
  const breaker = { failures: 3, cooldown_ms: 30_000 };

  it('refuses with a 503 and Retry-After, without calling the target, once its circuit is open', async () => {
    const f = fixture({
      targets: [{ backend: 'only' }],
      routing: { max_attempts: 1, circuit_breaker: breaker },
    });
    f.behaviours.set('only', rejects(retryable));
    for (let index = 0; index < 3; index++) {
      f.runner.assertAvailable(f.plan);
      await f.failure();
    }
    assert.equal(f.calls.length, 3);

    const refusal = (() => {
      try {
        f.runner.assertAvailable(f.plan);
      } catch (error) {
        return error;
      }
      return assert.fail('assertAvailable let the request through');
    })();
    assert.ok(refusal instanceof ServiceUnavailableError);
    assert.equal(refusal.status, 503);
    assert.equal(refusal.headers['retry-after'], '30');

    const { error } = await f.failure();
    assert.ok(error instanceof ServiceUnavailableError);
    assert.equal(f.calls.length, 3, 'an open circuit is not called');

    f.clock.now += 29_500;
    const late = (() => {
      try {
        f.runner.assertAvailable(f.plan);
      } catch (caught) {
        return caught;
      }
      return assert.fail('the circuit closed before its cooldown');
    })();
    assert.ok(late instanceof GatewayError);
    assert.equal(late.headers['retry-after'], '1', '500 ms rounds up to one second, never 0');

    f.clock.now += 500;
    f.behaviours.set('only', answers('recovered'));
    f.runner.assertAvailable(f.plan);
    assert.equal((await f.request()).value, 'recovered', 'the probe goes through and succeeds');
    assert.equal(f.router.target('only', null)?.breaker(MODEL).state, 'closed');
  });

  it('admits one probe at a time once the cooldown is over, refusing others with Retry-After 1', async () => {
    const f = fixture({
      targets: [{ backend: 'only' }],
      routing: { max_attempts: 1, circuit_breaker: breaker },
    });
    f.behaviours.set('only', rejects(retryable));
    for (let index = 0; index < 3; index++) await f.failure();
    f.clock.now += 30_000;
    let release: (value: string) => void = () => undefined;
    f.behaviours.set('only', () => new Promise<string>((resolve) => (release = resolve)));
    const probe = f.runner.open(f.plan, parentCall(), newLog(), f.perform);
    const { error } = await f.failure();
    assert.ok(error instanceof ServiceUnavailableError, 'the probe has not answered yet');
    assert.equal(error.headers['retry-after'], '1', 'no wait is known; never Retry-After: 0');
    assert.equal(f.calls.length, 4);
    release('probe answer');
    const answered = await probe;
    assert.equal(answered.value, 'probe answer');
    // The probe answered (for a stream: its first chunk): the circuit closes before the stream ends.
    f.behaviours.set('only', answers('after the probe'));
    assert.equal((await f.request()).value, 'after the probe', 'closed as soon as the probe answered');
    answered.succeed();
  });

  it('skips a target whose circuit is open in favour of the fallback', async () => {
    const f = fixture({
      targets: [{ backend: 'primary' }, { backend: 'fallback' }],
      routing: { circuit_breaker: breaker, retry_budget: NO_BUDGET_LIMIT },
    });
    f.behaviours.set('primary', rejects(retryable));
    for (let index = 0; index < 3; index++) assert.equal((await f.request()).backend, 'fallback');
    assert.equal(f.router.target('primary', null)?.breaker(MODEL).state, 'open');
    f.calls.length = 0;
    const log = newLog();
    const attempt = await f.runner.run(f.plan, parentCall(), log, f.perform);
    assert.equal(attempt.backend, 'fallback');
    assert.equal(attempt.primary, false);
    assert.deepEqual(
      f.calls.map((call) => call.backend),
      ['fallback'],
    );
    assert.equal(log.attempts.length, 1, 'the open circuit is skipped, not counted as an attempt');
  });

  it('does not count an upstream 400 against the circuit', async () => {
    const f = fixture({ targets: [{ backend: 'only' }], routing: { circuit_breaker: { failures: 1 } } });
    f.behaviours.set(
      'only',
      rejects(() => new UpstreamClientError('invalid_request', 400, 'no', {})),
    );
    await f.failure();
    await f.failure();
    assert.equal(f.router.target('only', null)?.breaker(MODEL).state, 'closed');
  });

  it('skips a backend that fails its health check', async () => {
    const f = fixture({ targets: [{ backend: 'primary' }, { backend: 'fallback' }] });
    const primary = f.router.backends.get('primary');
    assert.ok(primary !== undefined);
    primary.health = 'unhealthy';
    const { backend, log } = await f.request();
    assert.equal(backend, 'fallback');
    assert.deepEqual(
      f.calls.map((call) => call.backend),
      ['fallback'],
    );
    assert.equal(log.attempts.length, 1);
    primary.health = 'healthy';
    assert.equal((await f.request()).backend, 'primary', 'back in rotation once healthy');
  });

  it('answers 503 with the health-check interval as Retry-After when every backend is unhealthy', async () => {
    const f = fixture({ targets: [{ backend: 'only' }] });
    const only = f.router.backends.get('only');
    assert.ok(only !== undefined);
    only.health = 'unhealthy';
    const { error } = await f.failure();
    assert.ok(error instanceof ServiceUnavailableError);
    assert.equal(error.headers['retry-after'], '5');
    assert.equal(f.calls.length, 0);
  });
});

describe('AttemptRunner: one circuit per upstream model (issue 17)', () => {
  const breaker = { failures: 2, cooldown_ms: 30_000 };

  /** A `*` route that passes the client's name to backend `shared`; `broken` fails there, others answer. */
  function passThrough(routes: FixtureOptions['routes'] = []): Fixture & {
    ask(model: string): Promise<unknown>;
  } {
    const f = fixture({
      targets: [{ backend: 'shared' }],
      routes: [...routes, { name: '*', targets: [{ backend: 'shared' }] }],
      routing: { max_attempts: 1, circuit_breaker: breaker },
    });
    f.behaviours.set('shared', (call, model) =>
      model === 'broken' ? Promise.reject(retryable()) : Promise.resolve(`from ${model}`),
    );
    const ask = async (model: string): Promise<unknown> => {
      const plan = f.router.resolve(model, null);
      try {
        f.runner.assertAvailable(plan);
        return (await f.runner.run(plan, parentCall(), newLog(), f.perform)).value;
      } catch (error) {
        return error;
      }
    };
    return { ...f, ask };
  }

  it('on a pass-through route, a failing model opens its own circuit and no other', async () => {
    const f = passThrough();
    assert.ok((await f.ask('broken')) instanceof UpstreamError);
    assert.ok((await f.ask('broken')) instanceof UpstreamError);
    const refused = await f.ask('broken');
    assert.ok(refused instanceof ServiceUnavailableError, 'the failing model fails fast');
    assert.equal(refused.headers['retry-after'], '30');
    assert.equal(f.calls.length, 2, 'its open circuit is not called');
    assert.equal(await f.ask('working'), 'from working', 'another model of the same route answers');
    assert.equal(await f.ask('other'), 'from other');
    assert.deepEqual(
      f.calls.map((call) => call.model),
      ['broken', 'broken', 'working', 'other'],
    );
  });

  it('gives a configured model and the same name passed through one circuit: the upstream model called', async () => {
    const f = passThrough([{ name: 'alias', targets: [{ backend: 'shared', model: 'broken' }] }]);
    assert.ok((await f.ask('alias')) instanceof UpstreamError);
    assert.ok((await f.ask('alias')) instanceof UpstreamError);
    assert.ok((await f.ask('broken')) instanceof ServiceUnavailableError);
    assert.equal(f.calls.length, 2);
    assert.equal(await f.ask('working'), 'from working');
  });

  it('keeps an open circuit while a flood of new names passes through', async () => {
    const f = passThrough();
    await f.ask('broken');
    await f.ask('broken');
    for (let index = 0; index < 1_500; index++)
      assert.equal(await f.ask(`name-${index}`), `from name-${index}`);
    assert.ok((await f.ask('broken')) instanceof ServiceUnavailableError, 'still open: not forgotten');
    assert.equal(f.calls.filter((call) => call.model === 'broken').length, 2);
    assert.equal(
      f.router.target('shared', null)?.backend.breakers.size,
      1_000,
      'and no more than 1,000 kept',
    );
  });
});

describe('AttemptRunner: load sharing within a tier', () => {
  it('splits load 3:1 by weight (4000 requests, 75% ± 3%)', async () => {
    const f = fixture({
      targets: [
        { backend: 'big', weight: 3 },
        { backend: 'small', weight: 1 },
      ],
    });
    let big = 0;
    for (let index = 0; index < 4_000; index++) if ((await f.request()).backend === 'big') big++;
    const share = big / 4_000;
    assert.ok(Math.abs(share - 0.75) <= 0.03, `share of the weight-3 target: ${share}`);
  });

  it('maps random() onto the weights', async () => {
    let next = 0;
    const f = fixture({
      targets: [
        { backend: 'big', weight: 3 },
        { backend: 'small', weight: 1 },
      ],
      random: () => next,
    });
    next = 0.74;
    assert.equal((await f.request()).backend, 'big');
    next = 0.75;
    assert.equal((await f.request()).backend, 'small');
    next = 0;
    assert.equal((await f.request()).backend, 'big');
  });

  it('sends a request to the target with fewer open attempts (least_outstanding)', async () => {
    const f = fixture({
      targets: [
        { backend: 'a', weight: 1 },
        { backend: 'b', weight: 1 },
      ],
      strategy: 'least_outstanding',
      random: () => 0, // a tie goes to the first target
    });
    const hold = () => f.runner.open(f.plan, parentCall(), newLog(), f.perform);
    const first = await hold();
    assert.equal(first.backend, 'a', 'a tie, broken by random()');
    const second = await hold();
    assert.equal(second.backend, 'b', 'a has one open attempt, b none');
    const third = await hold();
    assert.equal(third.backend, 'a', 'a tie again');
    first.succeed();
    third.succeed();
    assert.equal((await hold()).backend, 'a', 'a has none open again, b still one');
    second.succeed();
  });

  it('weighs open attempts by the target weight (least_outstanding)', async () => {
    const f = fixture({
      targets: [
        { backend: 'a', weight: 2 },
        { backend: 'b', weight: 1 },
      ],
      strategy: 'least_outstanding',
      random: () => 0,
    });
    const hold = async () => (await f.runner.open(f.plan, parentCall(), newLog(), f.perform)).backend;
    assert.deepEqual([await hold(), await hold(), await hold(), await hold()], ['a', 'b', 'a', 'a']);
  });

  it('goes to the other target of the tier before the next tier', async () => {
    const f = fixture({
      targets: [{ backend: 'a', weight: 1 }, { backend: 'b', weight: 1 }, { backend: 'fallback' }],
      random: () => 0,
    });
    f.behaviours.set('a', rejects(retryable));
    assert.equal((await f.request()).backend, 'b');
  });
});

/** A seeded pseudo-random source (mulberry32), so that runs over many requests are reproducible. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('AttemptRunner: least_busy (in flight across instances)', () => {
  const pair = [
    { backend: 'a', weight: 1 },
    { backend: 'b', weight: 1 },
  ];

  it('sends a request to the backend the load source says is idle, whatever this instance has open', async () => {
    const inFlight = new Map<string, number | null>([
      ['a', 5],
      ['b', 0],
    ]);
    const f = fixture({
      targets: pair,
      strategy: 'least_busy',
      random: () => 0,
      load: { inFlight: (backend) => inFlight.get(backend) ?? null },
    });
    const held = await f.runner.open(f.plan, parentCall(), newLog(), f.perform);
    assert.equal(held.backend, 'b', 'a is busy on other instances');
    // b now has one open attempt here, a none; the shared counts still say a is the busy one.
    assert.equal((await f.request()).backend, 'b');
    inFlight.set('a', 1).set('b', 3);
    assert.equal((await f.request()).backend, 'a');
    held.succeed();
  });

  it('weighs the shared counts by the target weight', async () => {
    const f = fixture({
      targets: [
        { backend: 'a', weight: 2 },
        { backend: 'b', weight: 1 },
      ],
      strategy: 'least_busy',
      random: () => 0.99, // a tie would go to b
      load: { inFlight: (backend) => (backend === 'a' ? 5 : 3) },
    });
    assert.equal((await f.request()).backend, 'a', '5 per 2 units of weight is less than 3 per 1');
  });

  it("counts this instance's open attempts without a load source", async () => {
    const f = fixture({ targets: pair, strategy: 'least_busy', random: () => 0 });
    const hold = () => f.runner.open(f.plan, parentCall(), newLog(), f.perform);
    const first = await hold();
    assert.equal(first.backend, 'a', 'a tie, broken by random()');
    assert.equal((await hold()).backend, 'b', 'a has one open attempt, b none');
  });

  it("counts this instance's open attempts for a backend the load source does not know", async () => {
    const f = fixture({
      targets: pair,
      strategy: 'least_busy',
      random: () => 0,
      load: { inFlight: (backend) => (backend === 'a' ? 1 : null) },
    });
    const hold = () => f.runner.open(f.plan, parentCall(), newLog(), f.perform);
    const first = await hold();
    assert.equal(first.backend, 'b', 'b: none open here; a: one, as the load source counts it');
    const second = await hold();
    assert.equal(second.backend, 'a', 'a tie at one each, broken by random()');
    first.succeed();
    assert.equal((await hold()).backend, 'b', 'b: none open here again');
    second.succeed();
  });

  it('breaks ties at random by weight', async () => {
    let next = 0;
    const f = fixture({
      targets: [
        { backend: 'a', weight: 3 },
        { backend: 'b', weight: 1 },
      ],
      strategy: 'least_busy',
      random: () => next,
      load: { inFlight: () => 0 },
    });
    next = 0.74;
    assert.equal((await f.request()).backend, 'a');
    next = 0.75;
    assert.equal((await f.request()).backend, 'b');
  });
});

describe('AttemptRunner: latency (power of two choices over time to first token)', () => {
  /** Answers after `ms` of the fixture's clock (the clock moves; nothing sleeps). */
  const after =
    (clock: { now: number }, ms: number): Behaviour =>
    () => {
      clock.now += ms;
      return Promise.resolve('answer');
    };

  /** Sends `count` requests; the backend that answered each. */
  async function send(f: Fixture, count: number): Promise<string[]> {
    const backends: string[] = [];
    for (let index = 0; index < count; index++) backends.push((await f.request()).backend);
    return backends;
  }

  const share = (backends: readonly string[], backend: string): number =>
    backends.filter((name) => name === backend).length / backends.length;

  it('sends most requests to the faster target after warm-up, and still re-measures the slower one', async () => {
    const f = fixture({
      targets: [
        { backend: 'fast', weight: 1 },
        { backend: 'slow', weight: 1 },
      ],
      strategy: 'latency',
      random: seeded(1),
    });
    f.behaviours.set('fast', after(f.clock, 100));
    f.behaviours.set('slow', after(f.clock, 1_000));
    await send(f, 10);
    const start = f.clock.now;
    const backends = await send(f, 500);
    const elapsed = f.clock.now - start;
    assert.ok(share(backends, 'fast') >= 0.95, `share of the fast target: ${share(backends, 'fast')}`);
    const probes = backends.filter((name) => name === 'slow').length;
    assert.ok(probes >= 1, 'the slow target is re-measured now and then');
    assert.ok(
      probes <= Math.ceil(elapsed / STALE_MS) + 1,
      `at most one request per ${STALE_MS} ms on the slow target: ${probes} in ${elapsed} ms`,
    );
  });

  it('moves traffic to a target that became faster, within the staleness period', async () => {
    const f = fixture({
      targets: [
        { backend: 'a', weight: 1 },
        { backend: 'b', weight: 1 },
      ],
      strategy: 'latency',
      random: seeded(2),
    });
    f.behaviours.set('a', after(f.clock, 100));
    f.behaviours.set('b', after(f.clock, 1_000));
    await send(f, 100);
    assert.ok(f.runner.latency.average(f.plan.compiled.tiers[0]![1]!.state)! > 500);
    f.behaviours.set('b', after(f.clock, 40));
    const changed = f.clock.now;
    const backends: string[] = [];
    while (f.clock.now - changed <= STALE_MS + 1_000) backends.push((await f.request()).backend);
    const recent = await send(f, 200);
    assert.ok(share(recent, 'b') >= 0.95, `share of the now faster b: ${share(recent, 'b')}`);
    assert.ok(share(backends, 'b') > 0, 'b was found within the staleness period');
  });

  it('shares the load between equally fast targets by their attempts in flight', async () => {
    const f = fixture({
      targets: [
        { backend: 'a', weight: 1 },
        { backend: 'b', weight: 1 },
      ],
      strategy: 'latency',
      random: () => 0, // the first drawn is always a
    });
    f.behaviours.set('a', after(f.clock, 100));
    f.behaviours.set('b', after(f.clock, 110));
    await send(f, 2); // a tie at unmeasured: a; then b, unmeasured, beats a's 100 ms
    const held = await f.runner.open(f.plan, parentCall(), newLog(), f.perform);
    assert.equal(held.backend, 'a', 'a is faster');
    assert.equal(
      (await f.request()).backend,
      'b',
      "a's one open attempt doubles its expected wait: 200 ms against b's 110 ms",
    );
    held.succeed();
  });

  it('avoids a failing target before its circuit opens', async () => {
    const f = fixture({
      targets: [
        { backend: 'good', weight: 1 },
        { backend: 'failing', weight: 1 },
      ],
      strategy: 'latency',
      random: seeded(3),
      routing: { circuit_breaker: { failures: 1_000 }, retry_budget: NO_BUDGET_LIMIT },
    });
    f.behaviours.set('good', after(f.clock, 300));
    // Fails fast: by time alone it would look the better target.
    f.behaviours.set('failing', (call, model) => {
      f.clock.now += 5;
      return rejects(retryable)(call, model);
    });
    for (let index = 0; index < 300; index++) assert.equal((await f.request()).backend, 'good');
    const onFailing = f.calls.filter((call) => call.backend === 'failing').length;
    assert.ok(onFailing <= 15, `attempts on the failing target: ${onFailing} of ${f.calls.length}`);
    assert.ok(onFailing >= 1);
    const failing = f.plan.compiled.tiers[0]![1]!.state;
    assert.ok(failing.available(MODEL), 'its circuit is still closed');
  });

  it('does not count a cancelled attempt against the target', async () => {
    const f = fixture({
      targets: [
        { backend: 'a', weight: 1 },
        { backend: 'b', weight: 1 },
      ],
      strategy: 'latency',
      random: () => 0,
    });
    f.behaviours.set('a', hangs);
    const parent = new AbortController();
    const pending = f.failure(parent);
    await until(() => f.calls.length === 1, 'the attempt on a');
    parent.abort(new ClientClosedError());
    await pending;
    const a = f.plan.compiled.tiers[0]![0]!.state;
    assert.equal(f.runner.latency.average(a), null);
  });
});

describe('AttemptRunner: cancellation, open attempts and deadline', () => {
  it('rethrows the parent reason when the client goes away mid-attempt, neither judging nor retrying', async () => {
    const f = fixture({
      targets: [{ backend: 'primary' }, { backend: 'fallback' }],
      routing: { circuit_breaker: { failures: 1 } },
    });
    const started = deferred<undefined>();
    f.behaviours.set('primary', (call, model) => {
      started.resolve(undefined);
      return hangs(call, model);
    });
    const client = new AbortController();
    const log = newLog();
    const request = track(f.runner.run(f.plan, parentCall(client), log, f.perform));
    await started.promise;
    const reason = new ClientClosedError();
    client.abort(reason);
    await assert.rejects(request.result, (error) => error === reason);
    assert.deepEqual(
      f.calls.map((call) => call.backend),
      ['primary'],
    );
    const target = f.router.target('primary', null);
    assert.ok(target !== undefined);
    assert.equal(target.breaker(MODEL).state, 'closed', 'a cancelled attempt says nothing about the target');
    assert.equal(target.outstanding, 0);
    assert.equal(log.attempts[0]?.outcome, 'cancelled');
  });

  it('neither judges nor retries when the adapter turns the cancellation into an upstream error', async () => {
    const f = fixture({
      targets: [{ backend: 'primary' }, { backend: 'fallback' }],
      routing: { circuit_breaker: { failures: 1 }, retry_budget: { ratio: 0, min_retries: 1 } },
    });
    const started = deferred<undefined>();
    // The transport was torn down under the adapter, which reports that as a retryable failure.
    f.behaviours.set(
      'primary',
      (call) =>
        new Promise((_resolve, reject) => {
          started.resolve(undefined);
          call.signal.addEventListener('abort', () => {
            reject(new UpstreamError('socket closed', { retryable: true }));
          });
        }),
    );
    const client = new AbortController();
    const log = newLog();
    const request = track(f.runner.run(f.plan, parentCall(client), log, f.perform));
    await started.promise;
    const reason = new ClientClosedError();
    client.abort(reason);
    await assert.rejects(request.result, (error) => error === reason);
    assert.equal(f.calls.length, 1, 'no fallback for a client that is gone');
    assert.equal(f.router.target('primary', null)?.breaker(MODEL).state, 'closed');
    assert.equal(log.attempts[0]?.outcome, 'cancelled');
    assert.equal(log.attempts[0]?.error_code, 'upstream_error');
    f.behaviours.set('primary', rejects(retryable));
    assert.equal((await f.request()).backend, 'fallback', 'the one retry of the budget is still there');
  });

  it('makes no attempt for a client that is already gone', async () => {
    const f = fixture({ targets: [{ backend: 'only' }] });
    const client = new AbortController();
    const reason = new ClientClosedError();
    client.abort(reason);
    const { error, log } = await f.failure(client);
    assert.equal(error, reason);
    assert.equal(f.calls.length, 0);
    assert.equal(log.attempts.length, 0);
    assert.equal(f.router.target('only', null)?.breaker(MODEL).canAttempt(), true);
  });

  it('stops a backoff when the client goes away', async () => {
    const f = fixture({
      targets: [{ backend: 'only' }],
      routing: { backoff_base_ms: 60_000, backoff_max_ms: 60_000 },
      random: () => 0.5,
    });
    f.behaviours.set('only', rejects(retryable));
    const client = new AbortController();
    const log = newLog();
    const request = track(f.runner.run(f.plan, parentCall(client), log, f.perform));
    await until(() => log.attempts[0]?.outcome === 'error', 'the first attempt to fail');
    await flush(); // the runner is now in its 30 s backoff
    assert.equal(request.settled(), false);
    const reason = new ClientClosedError();
    const aborted = performance.now();
    client.abort(reason);
    await assert.rejects(request.result, (error) => error === reason);
    const waited = performance.now() - aborted;
    assert.ok(waited < 5_000, `the backoff went on for ${waited} ms after the client left`);
    assert.equal(f.calls.length, 1);
  });

  it('keeps an opened attempt outstanding until it succeeds', async () => {
    const f = fixture({ targets: [{ backend: 'only' }] });
    const target = f.router.target('only', null);
    assert.ok(target !== undefined);
    const log = newLog();
    const attempt = await f.runner.open(f.plan, parentCall(), log, f.perform);
    assert.equal(attempt.value, 'from only');
    assert.equal(target.outstanding, 1);
    assert.equal(log.backend, 'only');
    attempt.succeed();
    assert.equal(target.outstanding, 0);
    attempt.succeed();
    attempt.fail(new UpstreamError('late'));
    assert.equal(target.outstanding, 0, 'ending an attempt twice counts once');
    assert.equal(log.attempts[0]?.outcome, 'ok');
  });

  it('counts a stream that broke after opening against the target', async () => {
    const f = fixture({ targets: [{ backend: 'only' }], routing: { circuit_breaker: { failures: 1 } } });
    const target = f.router.target('only', null);
    assert.ok(target !== undefined);
    const log = newLog();
    const attempt = await f.runner.open(f.plan, parentCall(), log, f.perform);
    assert.equal(target.outstanding, 1);
    attempt.fail(new UpstreamError('stream broke'));
    assert.equal(target.outstanding, 0);
    assert.equal(target.breaker(MODEL).state, 'open');
    assert.equal(log.attempts[0]?.outcome, 'error');
    assert.equal(log.attempts[0]?.error_code, 'upstream_error');
  });

  it('does not count a stream the client cancelled against the target', async () => {
    const f = fixture({ targets: [{ backend: 'only' }], routing: { circuit_breaker: { failures: 1 } } });
    const client = new AbortController();
    const log = newLog();
    const attempt = await f.runner.open(f.plan, parentCall(client), log, f.perform);
    client.abort(new ClientClosedError());
    attempt.fail(new ClientClosedError());
    assert.equal(f.router.target('only', null)?.breaker(MODEL).state, 'closed');
    assert.equal(log.attempts[0]?.outcome, 'cancelled');
  });

  it('ends an attempt that never answers at the deadline with upstream_timeout', async () => {
    const f = fixture({
      targets: [{ backend: 'only' }, { backend: 'fallback' }],
      routing: { deadline_ms: 100 },
    });
    f.behaviours.set('only', hangs);
    const started = performance.now();
    const { error, log } = await f.failure();
    const elapsed = performance.now() - started;
    assertWaited(elapsed, 100, 'the deadline');
    assert.ok(elapsed < 5_000, `a 100 ms deadline took ${elapsed} ms`);
    assert.ok(error instanceof UpstreamTimeoutError);
    assert.equal(error.status, 504);
    assert.equal(f.calls.length, 1, 'nothing is tried after the deadline');
    assert.equal(log.attempts[0]?.outcome, 'error');
    assert.equal(log.attempts[0]?.error_code, 'upstream_timeout');
  });
});

describe('AttemptRunner: the attempt log', () => {
  it('records each attempt with backend, upstream model, outcome and error code', async () => {
    const f = fixture({ targets: [{ backend: 'primary', model: 'qwen-7b' }, { backend: 'fallback' }] });
    f.behaviours.set('primary', rejects(retryable));
    const { log } = await f.request();
    assert.deepEqual(
      log.attempts.map(({ duration_ms: _duration, ...rest }) => rest),
      [
        { backend: 'primary', model: 'qwen-7b', outcome: 'error', error_code: 'upstream_error' },
        { backend: 'fallback', model: MODEL, outcome: 'ok' },
      ],
    );
    for (const attempt of log.attempts) assert.ok(attempt.duration_ms >= 0);
    assert.equal(log.backend, 'fallback');
    assert.equal(log.retryStop, null);
  });

  it('passes the upstream model name to perform', async () => {
    const f = fixture({ targets: [{ backend: 'primary', model: 'qwen-7b' }] });
    await f.request();
    assert.deepEqual(f.calls, [{ backend: 'primary', model: 'qwen-7b' }]);
  });

  it('leaves backend null when no attempt answered', async () => {
    const f = fixture({ targets: [{ backend: 'only' }], routing: { max_attempts: 1 } });
    f.behaviours.set('only', rejects(retryable));
    const { log } = await f.failure();
    assert.equal(log.backend, null);
  });
});

describe('AttemptRunner: backend slots (max_concurrency)', () => {
  function slotted(targets: readonly TargetSpec[], limits: Record<string, number>, queueTimeoutMs = 5_000) {
    const pool = new MemorySlots({ maxQueue: 100, queueTimeoutMs });
    const f = fixture({
      targets,
      routing: { max_attempts: 3, circuit_breaker: { enabled: false } },
      slots: { pool, limits: new Map(Object.entries(limits)), queueTimeoutMs },
    });
    return { f, pool };
  }

  it('sends a request to the next target when the first one is full, without counting an attempt there', async () => {
    const { f, pool } = slotted([{ backend: 'gpu' }, { backend: 'cloud' }], { gpu: 1 });
    const held = deferred<string>();
    f.behaviours.set('gpu', () => held.promise);
    const first = track(f.request());
    await until(() => pool.inFlight('backend:gpu') === 1, 'the first request holds the slot');
    const second = await f.request();
    assert.equal(second.backend, 'cloud');
    assert.deepEqual(
      second.log.attempts.map((attempt) => attempt.backend),
      ['cloud'],
    );
    held.resolve('from gpu');
    assert.equal((await first.result).backend, 'gpu');
    // The slot is free again once the answer is in.
    assert.equal(pool.inFlight('backend:gpu'), 0);
    assert.equal((await f.request()).backend, 'gpu');
  });

  it('waits in the queue for the first target when every target is full, and gets the slot when it frees', async () => {
    const { f, pool } = slotted([{ backend: 'gpu' }], { gpu: 1 });
    const held = deferred<string>();
    f.behaviours.set('gpu', () => held.promise);
    const first = track(f.request());
    await until(() => f.calls.length === 1, 'the first request is sent, holding the slot');
    assert.equal(pool.inFlight('backend:gpu'), 1);
    f.behaviours.set('gpu', answers('second'));
    const second = track(f.request());
    await until(() => pool.queueLength('backend:gpu') === 1, 'the second request waits');
    assert.equal(second.settled(), false);
    held.resolve('first');
    await first.result;
    assert.equal((await second.result).value, 'second');
    assert.equal(pool.queueLength(), 0);
  });

  it('gives up with concurrency_limit_exceeded after the queue timeout, and a client that leaves is dropped from the queue', async () => {
    const { f, pool } = slotted([{ backend: 'gpu' }], { gpu: 1 }, 20);
    f.behaviours.set('gpu', hangs);
    const holder = new AbortController();
    const first = track(f.request(holder));
    await until(() => pool.inFlight('backend:gpu') === 1, 'the first request holds the slot');
    const { error, log } = await f.failure();
    assert.ok(error instanceof ConcurrencyLimitError, String(error));
    assert.equal(error.status, 429);
    assert.ok(Number(error.headers['retry-after']) >= 1);
    assert.deepEqual(log.attempts, []);
    const leaving = new AbortController();
    const waiting = track(f.request(leaving));
    await until(() => pool.queueLength('backend:gpu') === 1, 'a request waits');
    leaving.abort(new ClientClosedError());
    await assert.rejects(waiting.result, ClientClosedError);
    assert.equal(pool.queueLength(), 0);
    holder.abort(new ClientClosedError());
    await first.result.catch(() => undefined);
    await until(() => pool.inFlight('backend:gpu') === 0, 'the cancelled attempt frees its slot');
  });
});
