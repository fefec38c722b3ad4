import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackendAdapter } from '../backends/adapter.js';
import { validateConfig } from '../config/load.js';
import { ModelNotAllowedError, ModelNotFoundError } from '../errors/errors.js';
import { ModelRouter } from './model-router.js';
import type { TargetState } from './targets.js';

/** An adapter the router only needs the name of; any call to it fails the test. */
function fakeAdapter(name: string): BackendAdapter {
  const unused = (): Promise<never> => Promise.reject(new Error(`adapter ${name} was called`));
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

/** Backends a, b, c, d (openai), plus the routes given, through the config loader. */
function routerFor(models: unknown[], backends = ['a', 'b', 'c', 'd']): ModelRouter {
  const config = validateConfig(
    {
      backends: backends.map((name) => ({ name, type: 'openai', url: `http://${name}.internal/v1` })),
      models,
    },
    {},
  );
  const adapters = new Map(config.backends.map((backend) => [backend.name, fakeAdapter(backend.name)]));
  return new ModelRouter(config.models, adapters, config.routing, config.backends);
}

/** The tiers of the route that `model` resolves to, as target ids and weights. */
/** backend/model, with * for a target that passes the client's name on. */
function label(state: TargetState): string {
  return `${state.adapter.name}/${state.model ?? '*'}`;
}

function tiersOf(router: ModelRouter, model: string): string[][] {
  const compiled = router.routeFor(model);
  assert.ok(compiled !== undefined, `no route for ${model}`);
  return compiled.tiers.map((tier) => tier.map((target) => `${label(target.state)}:${target.weight}`));
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail('expected an error');
}

describe('ModelRouter tiers', () => {
  it('groups consecutive weighted targets into one tier; an unweighted target is a tier of its own', () => {
    const router = routerFor([
      {
        name: 'm',
        targets: [
          { backend: 'a' },
          { backend: 'b', weight: 2 },
          { backend: 'c', weight: 1 },
          { backend: 'd' },
        ],
      },
    ]);
    assert.deepEqual(tiersOf(router, 'm'), [['a/*:1'], ['b/*:2', 'c/*:1'], ['d/*:1']]);
  });

  it('puts every target in its own tier when none has a weight (a fallback chain)', () => {
    const router = routerFor([
      { name: 'm', targets: [{ backend: 'a' }, { backend: 'b' }, { backend: 'c' }] },
    ]);
    assert.deepEqual(tiersOf(router, 'm'), [['a/*:1'], ['b/*:1'], ['c/*:1']]);
  });

  it('splits weighted targets that an unweighted target separates', () => {
    const router = routerFor([
      {
        name: 'm',
        targets: [
          { backend: 'a', weight: 1 },
          { backend: 'b' },
          { backend: 'c', weight: 1 },
          { backend: 'd', weight: 3 },
        ],
      },
    ]);
    assert.deepEqual(tiersOf(router, 'm'), [['a/*:1'], ['b/*:1'], ['c/*:1', 'd/*:3']]);
  });

  it('makes only the first tier primary', () => {
    const router = routerFor([
      { name: 'm', targets: [{ backend: 'a', weight: 1 }, { backend: 'b', weight: 1 }, { backend: 'c' }] },
    ]);
    assert.deepEqual([...(router.routeFor('m')?.primary ?? [])].map(label), ['a/*', 'b/*']);
  });

  it('shares one TargetState between routes naming the same backend and model', () => {
    const router = routerFor([
      { name: 'x', targets: [{ backend: 'a', model: 'qwen' }, { backend: 'b' }] },
      { name: 'y', targets: [{ backend: 'c' }, { backend: 'a', model: 'qwen' }] },
      { name: 'z', targets: [{ backend: 'a', model: 'llama' }, { backend: 'b' }] },
    ]);
    const [x, y, z] = ['x', 'y', 'z'].map((name) => router.routeFor(name));
    const qwenInX = x?.tiers[0]?.[0]?.state;
    const qwenInY = y?.tiers[1]?.[0]?.state;
    assert.ok(qwenInX !== undefined);
    assert.equal(qwenInX, qwenInY, 'one breaker and one outstanding count for a/qwen');
    assert.equal(qwenInX.breaker('any'), qwenInY?.breaker('any'));
    assert.notEqual(z?.tiers[0]?.[0]?.state, qwenInX, 'another model on the same backend is another target');
    assert.equal(x?.tiers[1]?.[0]?.state, z?.tiers[1]?.[0]?.state, 'b/* is shared as well');
    assert.deepEqual([...router.targets.values()].map(label).sort(), ['a/llama', 'a/qwen', 'b/*', 'c/*']);
    assert.equal(qwenInX.backend, z?.tiers[0]?.[0]?.state.backend, 'targets on one backend share its state');
  });

  // Backend and model names may contain '/' and a model may be '*': joined naively they would collide.
  it('keeps targets apart whose backend and model names collide when joined with /', () => {
    const router = routerFor(
      [
        { name: 'x', targets: [{ backend: 'gpu/a', model: 'llama' }] },
        { name: 'y', targets: [{ backend: 'gpu', model: 'a/llama' }] },
        { name: 'literal', targets: [{ backend: 'c', model: '*' }] },
        { name: 'pass*', targets: [{ backend: 'c' }] },
      ],
      ['gpu/a', 'gpu', 'c'],
    );
    const y = router.resolve('y', null);
    assert.equal(y.cacheBackend, 'gpu');
    assert.equal(y.cacheModel, 'a/llama');
    assert.equal(router.resolve('pass-1', null).cacheModel, 'pass-1');
  });

  it('gives each backend its health-check interval, null without a check', () => {
    const config = validateConfig(
      {
        backends: [
          { name: 'a', type: 'openai', url: 'http://a.internal/v1', health_check: { interval_ms: 5_000 } },
          { name: 'b', type: 'ollama', url: 'http://b.internal' },
        ],
        models: [{ name: 'm', targets: [{ backend: 'a' }, { backend: 'b' }] }],
      },
      {},
    );
    const adapters = new Map(config.backends.map((backend) => [backend.name, fakeAdapter(backend.name)]));
    const router = new ModelRouter(config.models, adapters, config.routing, config.backends);
    assert.equal(router.backends.get('a')?.checkIntervalMs, 5_000);
    assert.equal(router.backends.get('b')?.checkIntervalMs, null);
    assert.equal(router.backends.get('a')?.health, 'unchecked');
  });
});

describe('ModelRouter.resolve', () => {
  const routes = [
    { name: 'small', targets: [{ backend: 'a', model: 'qwen2.5:0.5b' }] },
    { name: 'gpt-*', targets: [{ backend: 'b' }] },
    { name: 'gpt-4o', targets: [{ backend: 'c' }] },
    { name: '*', targets: [{ backend: 'd' }] },
  ];

  it('takes the first matching route: exact names, prefix* and *', () => {
    const router = routerFor(routes);
    assert.equal(router.resolve('small', null).route.name, 'small');
    assert.equal(router.resolve('gpt-4', null).route.name, 'gpt-*');
    assert.equal(router.resolve('gpt-4o', null).route.name, 'gpt-*', 'gpt-* comes before gpt-4o');
    assert.equal(router.resolve('gpt-', null).route.name, 'gpt-*', 'the prefix alone matches');
    assert.equal(router.resolve('llama3', null).route.name, '*');
    assert.equal(router.resolve('smaller', null).route.name, '*', 'an exact name is not a prefix');
    assert.equal(router.resolve('llama3', null).clientModel, 'llama3');
  });

  it('refuses a model outside the allow-list with ModelNotAllowedError', () => {
    const router = routerFor(routes);
    const error = caught(() => router.resolve('gpt-4', ['small']));
    assert.ok(error instanceof ModelNotAllowedError);
    assert.equal(error.status, 403);
    assert.equal(error.code, 'model_not_allowed');
    assert.equal(router.resolve('gpt-4', ['small', 'gpt-*']).route.name, 'gpt-*');
  });

  it('checks the allow-list before the routes, so a key cannot probe which names exist', () => {
    const router = routerFor([{ name: 'small', targets: [{ backend: 'a' }] }]);
    assert.ok(caught(() => router.resolve('nothing', ['small'])) instanceof ModelNotAllowedError);
  });

  it('answers a name no route matches with a 404 model_not_found naming only the model', () => {
    const router = routerFor([
      { name: 'small', targets: [{ backend: 'a', model: 'qwen' }] },
      { name: 'gpt-*', targets: [{ backend: 'b' }] },
    ]);
    const error = caught(() => router.resolve('llama3', null));
    assert.ok(error instanceof ModelNotFoundError);
    assert.equal(error.status, 404);
    assert.equal(error.code, 'model_not_found');
    assert.equal(error.param, 'model');
    assert.match(error.message, /'llama3'/);
    for (const secret of ['small', 'qwen', 'gpt-', 'a.internal', 'b.internal']) {
      assert.ok(!error.message.includes(secret), `the message reveals '${secret}': ${error.message}`);
    }
  });

  it('identifies a single primary target by backend name and upstream model for the cache', () => {
    const router = routerFor([
      {
        name: 'fallback',
        targets: [
          { backend: 'a', model: 'm1' },
          { backend: 'b', model: 'm2' },
        ],
      },
      ...routes,
    ]);
    const named = router.resolve('small', null);
    assert.equal(named.cacheBackend, 'a');
    assert.equal(named.cacheModel, 'qwen2.5:0.5b');
    const passThrough = router.resolve('gpt-4', null);
    assert.equal(passThrough.cacheBackend, 'b');
    assert.equal(passThrough.cacheModel, 'gpt-4', "a pass-through target uses the client's name");
    const withFallback = router.resolve('fallback', null);
    assert.equal(withFallback.cacheBackend, 'a', 'a fallback tier is not part of the cache identity');
    assert.equal(withFallback.cacheModel, 'm1');
  });

  it('identifies a weighted primary tier by all its targets', () => {
    const router = routerFor([
      {
        name: 'shared',
        targets: [
          { backend: 'a', model: 'm1', weight: 1 },
          { backend: 'b', weight: 1 },
        ],
      },
    ]);
    const plan = router.resolve('shared', null);
    assert.equal(plan.cacheBackend, 'a,b');
    assert.equal(plan.cacheModel, 'm1,shared');
  });
});

describe('ModelRouter.listModels', () => {
  const router = routerFor([
    { name: 'small', targets: [{ backend: 'a' }] },
    { name: 'gpt-*', targets: [{ backend: 'b' }] },
    { name: 'large', targets: [{ backend: 'c' }] },
    { name: '*', targets: [{ backend: 'd' }] },
  ]);

  it('lists every route that is not a pattern, in config order', () => {
    assert.deepEqual(router.listModels(null), ['small', 'large']);
  });

  it("filters by the key's allow-list", () => {
    assert.deepEqual(router.listModels(['large', 'gpt-*']), ['large']);
    assert.deepEqual(router.listModels(['*']), ['small', 'large']);
    assert.deepEqual(router.listModels([]), []);
  });
});
