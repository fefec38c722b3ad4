/**
 * Concurrency caps and routing strategies end to end (issue 20, "Tests"): real gateways on one private
 * redis-server in front of stand-in upstreams that hold their answers until the test releases them
 * and count the requests in flight at them. A backend's max_concurrency holds across three instances,
 * streams included; the slots of an instance killed with SIGKILL (a `serve` child process) come back
 * within the lease time; interactive requests pass batch ones in the queue; the queue's timeout and a
 * client leaving while queued; key and team caps; fallback on saturation; least_busy and latency
 * prefer the idle and the fast target. Every wait is for a condition, with a bound.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { sha256Hex } from '../../src/auth/api-key.js';
import { killStrayChildren, ServeProcess } from '../support/cli-process.js';
import { startGateway, TEST_KEY, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import { HeldUpstream } from '../support/held-upstream.js';
import { parseScrape } from '../support/prometheus-text.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { requireTool } from '../support/system-tool.js';

/** Tests that start a private redis-server: skipped without one, except under CI=true. */
const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

const BATCH_KEY = 'sk-gw-ccBatchAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const INTERACTIVE_KEY = 'sk-gw-ccInteractiveBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
const CAPPED_KEY = 'sk-gw-ccCappedCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC';
const TEAM_A_KEY = 'sk-gw-ccTeamADDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD';
const TEAM_B_KEY = 'sk-gw-ccTeamBEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE';

/** The keys of every config here: an uncapped one, batch and interactive, a capped one, a team of two. */
const KEYS = [
  { id: 'test-key', sha256: sha256Hex(TEST_KEY) },
  { id: 'batch-key', sha256: sha256Hex(BATCH_KEY), priority: 'batch' },
  { id: 'interactive-key', sha256: sha256Hex(INTERACTIVE_KEY), priority: 'interactive' },
  { id: 'capped-key', sha256: sha256Hex(CAPPED_KEY), max_concurrency: 1 },
  { id: 'team-a-key', sha256: sha256Hex(TEAM_A_KEY), team: 'squad' },
  { id: 'team-b-key', sha256: sha256Hex(TEAM_B_KEY), team: 'squad' },
];

/** Bound of every wait for a condition that should come at once (a request queued, an answer in). */
const WAIT_MS = 5000;

/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. */
async function waitUntil(
  what: string,
  check: () => boolean,
  timeoutMs = WAIT_MS,
  state: () => unknown = () => null,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(state())}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The same with an asynchronous check (a scrape of /metrics). */
async function waitUntilAsync(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** A chat completion tagged `tag` (the stand-in records it), the whole answer read. */
async function chat(
  url: string,
  options: { model: string; tag: string; key?: string; stream?: boolean; signal?: AbortSignal },
): Promise<Answer> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.key ?? TEST_KEY}` },
    body: JSON.stringify({
      model: options.model,
      messages: [{ role: 'user', content: options.tag }],
      ...(options.stream === true ? { stream: true } : {}),
    }),
    // A test that fails leaves requests held: bounded, so that it fails rather than hangs.
    signal: options.signal ?? AbortSignal.timeout(15_000),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Asserts a complete answer from the stand-in for `tag` (JSON, or a stream up to [DONE]). */
function assertAnswered(answer: Answer, tag: string): void {
  assert.equal(answer.status, 200, answer.text);
  assert.ok(answer.text.includes(`answer ${tag}`), answer.text);
  if (answer.headers.get('content-type')?.startsWith('text/event-stream') === true)
    assert.ok(answer.text.trimEnd().endsWith('data: [DONE]'), answer.text);
}

/** A backend on a held stand-in. */
function backend(name: string, upstream: HeldUpstream, extra: Record<string, unknown> = {}): unknown {
  return { name, type: 'openai', url: `${upstream.url}/v1`, ...extra };
}

/** A config on the file's Redis with the keys above and the team `squad` (max_concurrency 1). */
function config(
  redis: PrivateRedis,
  parts: { backends: unknown[]; models: unknown[]; concurrency?: Record<string, unknown> },
): Record<string, unknown> {
  return testConfig({
    backends: parts.backends,
    models: parts.models,
    extra: {
      redis: { url: redis.url },
      // Each call to Redis may take up to 1 s (default 50 ms) before the request goes on without a slot
      // (fail open, the documented bound on the caps): three gateways, the test's clients and Redis
      // share two cores here with other test files, and a call can wait longer than 50 ms for a CPU.
      // The burst test asserts that no call fell back.
      rate_limit: { store_timeout_ms: 1000 },
      auth: { keys: KEYS },
      teams: [{ id: 'squad', max_concurrency: 1 }],
      concurrency: { queue_timeout_ms: 20_000, ...parts.concurrency },
    },
  });
}

/** Starts a gateway and waits until it is ready (with Redis, it answers 503 until it is connected). */
async function startReady(document: Record<string, unknown>): Promise<RunningGateway> {
  const running = await startGateway(document);
  try {
    await waitReady(running.url);
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

async function waitReady(url: string): Promise<void> {
  await waitUntilAsync(`${url} to be ready`, async () => {
    const response = await fetch(`${url}/health/ready`);
    await response.arrayBuffer();
    return response.status === 200;
  });
}

/** One series of a scrape of GET /metrics (0 when absent). */
async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const scrape = parseScrape(await (await fetch(`${url}/metrics`)).text());
  const sample = scrape
    .samples(name)
    .find((entry) => Object.entries(labels).every(([label, value]) => entry.labels[label] === value));
  return sample?.value ?? 0;
}

/** Requests of this instance waiting for a slot in `scope`, as GET /metrics says. */
function queueLength(running: RunningGateway, scope: string): Promise<number> {
  return metric(running.url, 'gateway_concurrency_queue_length', { scope });
}

/** Releases held answers as they come until `done` holds: the test's upstream serves everything queued. */
async function drain(upstream: HeldUpstream, done: () => boolean, timeoutMs = 20_000): Promise<void> {
  await waitUntil(
    'the queued requests to be served',
    () => {
      upstream.releaseAll();
      return done();
    },
    timeoutMs,
  );
}

describe('concurrency caps end to end', needsRedis, () => {
  let redis: PrivateRedis;
  const running: RunningGateway[] = [];
  const upstreams: HeldUpstream[] = [];

  async function upstream(): Promise<HeldUpstream> {
    const server = new HeldUpstream();
    await server.start();
    upstreams.push(server);
    return server;
  }

  async function gateway(document: Record<string, unknown>): Promise<RunningGateway> {
    const started = await startReady(document);
    running.push(started);
    return started;
  }

  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    killStrayChildren();
    for (const server of upstreams) server.releaseAll();
    await Promise.all(running.map((entry) => entry.stop()));
    await Promise.all(upstreams.map((server) => server.stop()));
    await redis.stop();
  });

  describe('a backend with max_concurrency: 2 behind three instances', () => {
    let gpu: HeldUpstream;
    let instances: RunningGateway[];

    before(async () => {
      gpu = await upstream();
      const document = config(redis, {
        backends: [backend('gpu-three', gpu, { max_concurrency: 2 })],
        models: [{ name: 'chat', targets: [{ backend: 'gpu-three' }] }],
      });
      instances = [await gateway(document), await gateway(document), await gateway(document)];
    });

    it('never has more than 2 in flight at the stand-in under 30 concurrent requests, half of them streams', async () => {
      gpu.mode = { kind: 'delay', delayMs: 20 };
      gpu.maxInFlight = 0;
      const before = gpu.arrivals.length;
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, index) =>
          chat((instances[index % 3] as RunningGateway).url, {
            model: 'chat',
            tag: `burst-${index}`,
            stream: index % 2 === 0,
          }),
        ),
      );
      answers.forEach((answer, index) => {
        assertAnswered(answer, `burst-${index}`);
      });
      assert.equal(gpu.arrivals.length - before, 30);
      // A call to Redis slower than store_timeout_ms goes on without a slot (fail open): the one bound
      // on the cap (docs/concurrency.md). None here, so the cap must have held.
      for (const instance of instances)
        assert.equal(
          await metric(instance.url, 'gateway_store_errors_total', { store: 'concurrency' }),
          0,
          JSON.stringify(instance.logs.filter((line) => String(line['msg']).includes('concurrency'))),
        );
      assert.equal(gpu.maxInFlight, 2, 'the cap was reached and never passed');
    });

    it('keeps a stream’s slot until its last byte: the others queue while two streams are open', async () => {
      gpu.mode = { kind: 'hold' };
      gpu.maxInFlight = 0;
      const completedBefore = gpu.completed;
      const [one, two, three] = instances as [RunningGateway, RunningGateway, RunningGateway];
      // Two streams whose first chunk the clients have read: the answers are open, not over.
      const streams = await Promise.all(
        [one, two].map(async (instance, index) => {
          const response = await fetch(`${instance.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
            body: JSON.stringify({
              model: 'chat',
              stream: true,
              messages: [{ role: 'user', content: `open-${index}` }],
            }),
          });
          assert.equal(response.status, 200);
          const reader = (response.body as ReadableStream<Uint8Array>).getReader();
          const first = await reader.read();
          assert.ok(new TextDecoder().decode(first.value).includes('"role":"assistant"'));
          return reader;
        }),
      );
      const queued = [one, two, three, three].map((instance, index) =>
        chat(instance.url, { model: 'chat', tag: `queued-${index}` }),
      );
      const state = (): unknown => ({
        held: gpu.held,
        inFlight: gpu.inFlight,
        queues: instances.map((instance) => instance.gateway.context.slots.queueLength('backend:gpu-three')),
        counts: instances.map((instance) => instance.gateway.context.slots.inFlight('backend:gpu-three')),
      });
      await waitUntil(
        'the 4 requests to queue on the instances',
        () =>
          instances.every(
            (instance, index) =>
              instance.gateway.context.slots.queueLength('backend:gpu-three') === [1, 1, 2][index],
          ),
        WAIT_MS,
        state,
      );
      assert.deepEqual(gpu.held.sort(), ['open-0', 'open-1']);
      assert.equal(gpu.inFlight, 2);

      // The last byte of one stream frees its slot: exactly one queued request takes it.
      assert.ok(gpu.releaseTag('open-0'));
      await waitUntil('a queued request to take the freed slot', () => gpu.held.length === 2, WAIT_MS, state);
      assert.equal(gpu.held.filter((tag) => tag.startsWith('queued-')).length, 1);
      const rest = await streams[0]?.read();
      assert.ok(rest !== undefined);
      await drain(gpu, () => gpu.completed - completedBefore === 6);
      const answers = await Promise.all(queued);
      answers.forEach((answer, index) => {
        assertAnswered(answer, `queued-${index}`);
      });
      for (const reader of streams) await reader.cancel();
      assert.equal(gpu.maxInFlight, 2);
    });
  });

  it('gives the slots of an instance killed with SIGKILL back within the lease time', async () => {
    const leaseMs = 1500;
    const gpu = await upstream();
    const document = config(redis, {
      backends: [backend('gpu-killed', gpu, { max_concurrency: 2 })],
      models: [{ name: 'chat', targets: [{ backend: 'gpu-killed' }] }],
      concurrency: { lease_ms: leaseMs },
    });
    const survivor = await gateway(document);
    const inspector = new Redis(redis.url);
    const directory = mkdtempSync(join(tmpdir(), 'gw-cc-kill-'));
    try {
      writeFileSync(join(directory, 'config.yaml'), JSON.stringify(document));
      const victim = new ServeProcess({ cwd: directory, args: ['--config', 'config.yaml'] });
      const victimUrl = await victim.listening();
      await waitReady(victimUrl);
      // The child holds both slots (its requests' connections die with it: their rejections are expected).
      const doomed = ['victim-0', 'victim-1'].map((tag) =>
        chat(victimUrl, { model: 'chat', tag }).catch((error: unknown) => error),
      );
      await waitUntil('the child to hold both slots', () => gpu.held.length === 2);
      // Each lease is a member of the scope's sorted set, scored by its expiry in Redis's clock (ms).
      const expiries = async (): Promise<number[]> => {
        const flat = await inspector.zrange('{gw-cc}:backend:gpu-killed', 0, -1, 'WITHSCORES');
        return flat.filter((_, index) => index % 2 === 1).map(Number);
      };
      const taken = await expiries();
      assert.equal(taken.length, 2);
      // Killed after its heartbeat renewed both leases at least once: the case of a long request.
      await waitUntilAsync(
        'the child to renew its leases',
        async () => Math.min(...(await expiries())) > Math.max(...taken),
      );
      const waiting = chat(survivor.url, { model: 'chat', tag: 'survivor' });
      await waitUntilAsync(
        'the survivor’s request to queue',
        async () => (await queueLength(survivor, 'backend:gpu-killed')) === 1,
      );
      assert.deepEqual(gpu.held.sort(), ['victim-0', 'victim-1']);

      const killedAt = Date.now();
      assert.ok(victim.kill('SIGKILL'));
      await victim.exited;
      // Redis's clock is this machine's: the dead instance's leases end within lease_ms of its death.
      const expiresAt = Math.max(...(await expiries()));
      assert.ok(
        expiresAt <= killedAt + leaseMs + 5,
        `a lease outlives the kill by ${expiresAt - killedAt} ms (lease_ms ${leaseMs})`,
      );
      await waitUntil(
        'the survivor’s request to reach the stand-in',
        () => gpu.held.includes('survivor'),
        3 * leaseMs,
      );
      // Taken once the leases lapsed: within the queue's poll ceiling (1 s) and some scheduling slack.
      const late = Date.now() - expiresAt;
      assert.ok(late <= 1500, `the slot came back ${late} ms after the dead instance's leases expired`);
      assert.deepEqual(gpu.held, ['survivor'], 'the dead instance’s requests are gone');
      gpu.releaseAll();
      assertAnswered(await waiting, 'survivor');
      for (const outcome of await Promise.all(doomed)) assert.ok(outcome instanceof Error);
    } finally {
      killStrayChildren();
      inspector.disconnect();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('serves a queued interactive request before the batch requests queued before it', async () => {
    const gpu = await upstream();
    const instance = await gateway(
      config(redis, {
        backends: [backend('gpu-priority', gpu, { max_concurrency: 1 })],
        models: [{ name: 'chat', targets: [{ backend: 'gpu-priority' }] }],
      }),
    );
    const slots = instance.gateway.context.slots;
    const first = chat(instance.url, { model: 'chat', tag: 'first' });
    await waitUntil('the first request to hold the slot', () => gpu.held.length === 1);
    const batch = [0, 1].map(async (index) => {
      await waitUntil(`batch-${index} its turn`, () => slots.queueLength('backend:gpu-priority') === index);
      return chat(instance.url, { model: 'chat', tag: `batch-${index}`, key: BATCH_KEY });
    });
    await waitUntil('both batch requests to queue', () => slots.queueLength('backend:gpu-priority') === 2);
    const interactive = chat(instance.url, { model: 'chat', tag: 'interactive', key: INTERACTIVE_KEY });
    await waitUntil(
      'the interactive request to queue',
      () => slots.queueLength('backend:gpu-priority') === 3,
    );

    const order: string[] = [];
    await waitUntil('every request to be served one at a time', () => {
      const [tag] = gpu.release(1);
      if (tag !== undefined) order.push(tag);
      return order.length === 4;
    });
    assert.deepEqual(order, ['first', 'interactive', 'batch-0', 'batch-1']);
    assert.equal(gpu.maxInFlight, 1);
    assertAnswered(await first, 'first');
    assertAnswered(await interactive, 'interactive');
    for (const [index, answer] of (await Promise.all(batch)).entries())
      assertAnswered(answer, `batch-${index}`);
  });

  describe('the queue', () => {
    it('answers 429 concurrency_limit_exceeded with Retry-After once queue_timeout_ms has passed', async () => {
      const gpu = await upstream();
      const instance = await gateway(
        config(redis, {
          backends: [backend('gpu-timeout', gpu, { max_concurrency: 1 })],
          models: [{ name: 'chat', targets: [{ backend: 'gpu-timeout' }] }],
          concurrency: { queue_timeout_ms: 400 },
        }),
      );
      const holder = chat(instance.url, { model: 'chat', tag: 'holder' });
      await waitUntil('the holder to take the slot', () => gpu.held.length === 1);
      const started = performance.now();
      const late = await chat(instance.url, { model: 'chat', tag: 'late' });
      const waited = performance.now() - started;
      assert.equal(late.status, 429, late.text);
      const body = JSON.parse(late.text) as { error: { code: string; type: string } };
      assert.equal(body.error.code, 'concurrency_limit_exceeded');
      assert.equal(body.error.type, 'rate_limit_error');
      assert.match(late.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
      assert.ok(waited >= 390, `refused after ${Math.round(waited)} ms, before the queue timeout`);
      assert.ok(!gpu.arrivals.includes('late'));
      assert.equal(
        await metric(instance.url, 'gateway_concurrency_wait_seconds_count', {
          scope: 'backend:gpu-timeout',
          outcome: 'timeout',
        }),
        1,
      );
      gpu.releaseAll();
      assertAnswered(await holder, 'holder');
    });

    it('drops a request whose client leaves while queued at once, and the next one gets the slot', async () => {
      const gpu = await upstream();
      const instance = await gateway(
        config(redis, {
          backends: [backend('gpu-abort', gpu, { max_concurrency: 1 })],
          models: [{ name: 'chat', targets: [{ backend: 'gpu-abort' }] }],
        }),
      );
      const holder = chat(instance.url, { model: 'chat', tag: 'holder' });
      await waitUntil('the holder to take the slot', () => gpu.held.length === 1);
      const leaving = new AbortController();
      const leaver = chat(instance.url, { model: 'chat', tag: 'leaver', signal: leaving.signal }).catch(
        (error: unknown) => error,
      );
      await waitUntilAsync(
        'the leaver to queue',
        async () => (await queueLength(instance, 'backend:gpu-abort')) === 1,
      );
      const stayer = chat(instance.url, { model: 'chat', tag: 'stayer' });
      await waitUntilAsync(
        'the stayer to queue',
        async () => (await queueLength(instance, 'backend:gpu-abort')) === 2,
      );

      leaving.abort();
      assert.ok((await leaver) instanceof Error);
      // At once: well before anything but the client's leaving could have changed the queue.
      await waitUntilAsync(
        'the leaver to leave the queue',
        async () => (await queueLength(instance, 'backend:gpu-abort')) === 1,
        1000,
      );
      assert.equal(
        await metric(instance.url, 'gateway_concurrency_wait_seconds_count', {
          scope: 'backend:gpu-abort',
          outcome: 'aborted',
        }),
        1,
      );
      assert.deepEqual(gpu.release(1), ['holder']);
      await waitUntil('the stayer to take the freed slot', () => gpu.held.length === 1);
      assert.deepEqual(gpu.held, ['stayer']);
      gpu.releaseAll();
      assertAnswered(await holder, 'holder');
      assertAnswered(await stayer, 'stayer');
      assert.deepEqual(gpu.arrivals, ['holder', 'stayer'], 'the leaver never reached the upstream');
    });
    it('counts routing.deadline_ms from the attempt, not from the start of a wait in the queue', async () => {
      const deadlineMs = 600;
      const gpu = await upstream();
      const document = config(redis, {
        backends: [backend('gpu-deadline', gpu, { max_concurrency: 1 })],
        models: [{ name: 'chat', targets: [{ backend: 'gpu-deadline' }] }],
      });
      document['routing'] = { ...(document['routing'] as object), deadline_ms: deadlineMs };
      const instance = await gateway(document);
      // A stream: answered at its first chunk, it holds the slot past the deadline (as a long answer does).
      const holder = chat(instance.url, { model: 'chat', tag: 'holder', stream: true });
      await waitUntil('the holder to take the slot', () => gpu.held.length === 1);
      const queuedAt = performance.now();
      const stalled = chat(instance.url, { model: 'chat', tag: 'stalled' });
      await waitUntilAsync(
        'the second request to queue',
        async () => (await queueLength(instance, 'backend:gpu-deadline')) === 1,
      );
      // It waits longer than the deadline; then its attempt gets the whole deadline, and no more.
      await waitUntil(
        'the wait to outlast the deadline',
        () => performance.now() - queuedAt > 1.5 * deadlineMs,
      );
      assert.deepEqual(gpu.release(1), ['holder']);
      assertAnswered(await holder, 'holder');
      await waitUntil('the queued request to reach the upstream', () => gpu.held.includes('stalled'));
      const attemptAt = performance.now();
      const answer = await stalled;
      const attemptMs = performance.now() - attemptAt;
      assert.equal(answer.status, 504, answer.text);
      assert.equal((JSON.parse(answer.text) as { error: { code: string } }).error.code, 'upstream_timeout');
      assert.ok(attemptMs < 3 * deadlineMs, `the attempt ran ${Math.round(attemptMs)} ms`);
    });
  });

  it('queues a key’s and a team’s requests beyond their max_concurrency, and nobody else’s', async () => {
    const gpu = await upstream();
    const instance = await gateway(
      config(redis, {
        backends: [backend('gpu-callers', gpu)],
        models: [{ name: 'chat', targets: [{ backend: 'gpu-callers' }] }],
      }),
    );
    const slots = instance.gateway.context.slots;
    const answers = new Map<string, Promise<Answer>>();
    const send = (tag: string, key: string): void => {
      answers.set(tag, chat(instance.url, { model: 'chat', tag, key }));
    };

    send('capped-0', CAPPED_KEY);
    send('team-a-0', TEAM_A_KEY);
    await waitUntil('the capped key and the team to hold their slot', () => gpu.held.length === 2);
    send('capped-1', CAPPED_KEY);
    send('team-b-0', TEAM_B_KEY);
    await waitUntil(
      'the second requests of the key and the team to queue',
      () => slots.queueLength('key:capped-key') === 1 && slots.queueLength('team:squad') === 1,
    );
    // Another key is not held up by them: it goes straight to the upstream.
    send('free-0', TEST_KEY);
    send('free-1', TEST_KEY);
    await waitUntil('the other key’s requests to reach the upstream', () => gpu.held.length === 4);
    assert.deepEqual(gpu.held.sort(), ['capped-0', 'free-0', 'free-1', 'team-a-0']);
    assert.equal(slots.queueLength(), 2);

    assert.ok(gpu.releaseTag('capped-0'));
    assert.ok(gpu.releaseTag('team-a-0'));
    await waitUntil('the queued requests to take the freed slots', () => gpu.held.length === 4);
    assert.deepEqual(gpu.held.sort(), ['capped-1', 'free-0', 'free-1', 'team-b-0']);
    gpu.releaseAll();
    for (const [tag, answer] of answers) assertAnswered(await answer, tag);
  });

  it('gives a slot back when the client leaves: a stream cut midway, a request queued for its key', async () => {
    const gpu = await upstream();
    const instance = await gateway(
      config(redis, {
        backends: [backend('gpu-leaving', gpu, { max_concurrency: 1 })],
        models: [{ name: 'chat', targets: [{ backend: 'gpu-leaving' }] }],
      }),
    );
    const slots = instance.gateway.context.slots;
    // A stream holding the backend's only slot, whose client reads the first chunk and leaves.
    const cutting = new AbortController();
    const response = await fetch(`${instance.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
      body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'cut' }] }),
      signal: cutting.signal,
    });
    assert.equal(response.status, 200);
    await (response.body as ReadableStream<Uint8Array>).getReader().read();
    const next = chat(instance.url, { model: 'chat', tag: 'next', key: CAPPED_KEY });
    await waitUntil(
      'the next request to queue for the backend',
      () => slots.queueLength('backend:gpu-leaving') === 1,
    );
    cutting.abort();
    await waitUntil('the next request to take the slot the stream gave back', () =>
      gpu.held.includes('next'),
    );
    assert.deepEqual(gpu.held, ['next'], 'the cut stream no longer holds anything upstream');

    // The capped key's slot is taken by `next`: a second request of the key queues for it, then leaves.
    const leaving = new AbortController();
    const leaver = chat(instance.url, {
      model: 'chat',
      tag: 'key-leaver',
      key: CAPPED_KEY,
      signal: leaving.signal,
    }).catch((error: unknown) => error);
    await waitUntil('the key’s second request to queue', () => slots.queueLength('key:capped-key') === 1);
    leaving.abort();
    assert.ok((await leaver) instanceof Error);
    await waitUntil('it to leave the key’s queue', () => slots.queueLength('key:capped-key') === 0, 1000);
    gpu.releaseAll();
    assertAnswered(await next, 'next');
    // Nothing of the leaver is left holding the key's slot.
    gpu.mode = { kind: 'delay', delayMs: 0 };
    const after = await chat(instance.url, {
      model: 'chat',
      tag: 'after',
      key: CAPPED_KEY,
      signal: AbortSignal.timeout(5000),
    });
    assert.equal(after.status, 200, after.text);
    assert.ok(!gpu.arrivals.includes('key-leaver'), 'the request that left never reached the upstream');
  });

  it('sends a request to the next target at once when the first one’s backend is full', async () => {
    const gpu = await upstream();
    const cloud = await upstream();
    cloud.mode = { kind: 'delay', delayMs: 0 };
    const instance = await gateway(
      config(redis, {
        backends: [backend('gpu-a', gpu, { max_concurrency: 1 }), backend('cloud', cloud)],
        // Two tiers: gpu-a first, cloud the fallback.
        models: [{ name: 'chat', targets: [{ backend: 'gpu-a' }, { backend: 'cloud' }] }],
      }),
    );
    const first = chat(instance.url, { model: 'chat', tag: 'on-gpu' });
    await waitUntil('the first request to hold gpu-a', () => gpu.held.length === 1);

    const overflow = await chat(instance.url, { model: 'chat', tag: 'overflow' });
    assertAnswered(overflow, 'overflow');
    assert.equal(overflow.headers.get('x-gateway-backend'), 'cloud');
    assert.equal(overflow.headers.get('x-gateway-attempts'), '1', 'saturation is not a failed attempt');
    assert.deepEqual(gpu.held, ['on-gpu'], 'answered while gpu-a was still busy: it did not wait');
    assert.equal(instance.gateway.context.slots.queueLength(), 0);

    gpu.releaseAll();
    const answered = await first;
    assertAnswered(answered, 'on-gpu');
    assert.equal(answered.headers.get('x-gateway-backend'), 'gpu-a');
    // gpu-a free again: it is the first choice again.
    gpu.mode = { kind: 'delay', delayMs: 0 };
    const again = await chat(instance.url, { model: 'chat', tag: 'again' });
    assert.equal(again.headers.get('x-gateway-backend'), 'gpu-a');
    assert.deepEqual(cloud.arrivals, ['overflow']);
  });

  describe('routing strategies', () => {
    it('least_busy sends new requests to the idle target while the other holds long requests on another instance', async () => {
      const busy = await upstream();
      const idle = await upstream();
      idle.mode = { kind: 'delay', delayMs: 0 };
      const document = config(redis, {
        backends: [backend('busy-backend', busy), backend('idle-backend', idle)],
        models: [
          {
            name: 'pair',
            strategy: 'least_busy',
            targets: [
              { backend: 'busy-backend', weight: 1 },
              { backend: 'idle-backend', weight: 1 },
            ],
          },
          { name: 'busy-only', targets: [{ backend: 'busy-backend' }] },
        ],
      });
      const loader = await gateway(document);
      const router = await gateway(document);
      // Long requests on busy-backend through the other instance: counted across instances in Redis.
      const long = [0, 1, 2].map((index) => chat(loader.url, { model: 'busy-only', tag: `long-${index}` }));
      await waitUntil('the long requests to be in flight', () => busy.held.length === 3);
      await waitUntil(
        'the routing instance to see them',
        () => router.gateway.context.slots.inFlight('backend:busy-backend') === 3,
      );

      const backends: string[] = [];
      for (let index = 0; index < 20; index++) {
        const answer = await chat(router.url, { model: 'pair', tag: `pair-${index}` });
        assertAnswered(answer, `pair-${index}`);
        backends.push(answer.headers.get('x-gateway-backend') ?? '');
      }
      assert.deepEqual(
        backends,
        Array.from({ length: 20 }, () => 'idle-backend'),
      );
      assert.deepEqual(busy.held.sort(), ['long-0', 'long-1', 'long-2']);
      busy.releaseAll();
      for (const [index, answer] of (await Promise.all(long)).entries())
        assertAnswered(answer, `long-${index}`);
    });

    it('latency sends most requests to the target that answers first, once both are measured', async () => {
      const slow = await upstream();
      const fast = await upstream();
      slow.mode = { kind: 'delay', delayMs: 50 };
      fast.mode = { kind: 'delay', delayMs: 5 };
      const instance = await gateway(
        config(redis, {
          backends: [backend('slow-backend', slow), backend('fast-backend', fast)],
          models: [
            {
              name: 'pair',
              strategy: 'latency',
              targets: [
                { backend: 'slow-backend', weight: 1 },
                { backend: 'fast-backend', weight: 1 },
              ],
            },
          ],
        }),
      );
      const send = async (tag: string): Promise<string> => {
        const answer = await chat(instance.url, { model: 'pair', tag });
        assertAnswered(answer, tag);
        return answer.headers.get('x-gateway-backend') ?? '';
      };
      // Warm-up: an unmeasured target scores best, so both are measured within the first two.
      for (let index = 0; index < 4; index++) await send(`warm-${index}`);
      assert.ok(slow.arrivals.length >= 1 && fast.arrivals.length >= 1, 'both targets were measured');

      const chosen: string[] = [];
      for (let index = 0; index < 30; index++) chosen.push(await send(`timed-${index}`));
      const toFast = chosen.filter((name) => name === 'fast-backend').length;
      assert.ok(toFast >= 24, `${toFast} of 30 went to the fast target: ${chosen.join(', ')}`);
    });
  });
});
