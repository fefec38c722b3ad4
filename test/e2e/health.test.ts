import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { requireTool } from '../support/system-tool.js';

/** Tests that start a private redis-server: skipped without one, except under CI=true. */
const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

const DEMO = {
  backends: [{ name: 'demo', type: 'demo' }],
  models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
};

interface Ready {
  status: string;
  checks: Record<string, { status: string; detail?: string }>;
}

/** GET a health endpoint with no API key at all. */
async function get(
  url: string,
): Promise<{ status: number; contentType: string; cacheControl: string | null; body: unknown }> {
  const response = await fetch(url);
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    cacheControl: response.headers.get('cache-control'),
    body: await response.json(),
  };
}

describe('GET /health/live and /health/ready with embedded state', () => {
  let running: RunningGateway;

  before(async () => {
    running = await startGateway(testConfig(DEMO));
  });
  after(async () => {
    await running.stop();
  });

  it('live answers 200 {"status":"alive"} without an API key', async () => {
    const response = await fetch(`${running.url}/health/live`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(await response.text(), '{"status":"alive"}');
  });

  it('ready answers 200 healthy with the state store checked, without an API key', async () => {
    const ready = await get(`${running.url}/health/ready`);
    assert.equal(ready.status, 200);
    assert.match(ready.contentType, /^application\/json/);
    assert.equal(ready.cacheControl, 'no-store');
    assert.deepEqual(ready.body, {
      status: 'healthy',
      checks: {
        state_store: { status: 'ok' },
        'backend:demo': { status: 'ok' },
        backends: { status: 'ok' },
      },
    });
  });

  it('ignores an API key that is wrong: health needs none', async () => {
    const response = await fetch(`${running.url}/health/ready`, {
      headers: { authorization: 'Bearer not-a-key' },
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });
});

describe('GET /health/ready with no backend configured', () => {
  let running: RunningGateway;

  before(async () => {
    running = await startGateway(testConfig({ backends: [], models: [] }));
  });
  after(async () => {
    await running.stop();
  });

  it('answers 503 unhealthy as plain JSON, not problem+json, naming the failed check', async () => {
    const ready = await get(`${running.url}/health/ready`);
    assert.equal(ready.status, 503);
    assert.match(ready.contentType, /^application\/json/);
    const body = ready.body as Ready;
    assert.equal(body.status, 'unhealthy');
    assert.equal(body.checks['state_store']?.status, 'ok');
    assert.equal(body.checks['backends']?.status, 'error');
    assert.equal(body.checks['backends']?.detail, undefined, 'details need the admin token');
  });

  it('is still live', async () => {
    const live = await get(`${running.url}/health/live`);
    assert.equal(live.status, 200);
    assert.deepEqual(live.body, { status: 'alive' });
  });
});

describe('GET /health/ready with redis', needsRedis, () => {
  let redisServer: PrivateRedis | null = null;
  let running: RunningGateway | null = null;

  before(async () => {
    redisServer = await startRedisServer();
    running = await startGateway(testConfig({ ...DEMO, extra: { redis: { url: redisServer.url } } }));
  });
  after(async () => {
    await running?.stop();
    await redisServer?.stop();
  });

  /** Asks /health/ready until it answers 200 or the deadline passes; returns the last answer. */
  async function readyWhenHealthy(url: string): Promise<Awaited<ReturnType<typeof get>>> {
    const deadline = Date.now() + 5000;
    let ready = await get(`${url}/health/ready`);
    while (ready.status !== 200 && Date.now() < deadline) {
      ready = await get(`${url}/health/ready`);
    }
    return ready;
  }

  it('answers 200 healthy with checks.redis ok while redis answers', async () => {
    assert.ok(running !== null);
    // The gateway connects to redis as it starts; ready reports 503 until that connection is up.
    const ready = await readyWhenHealthy(running.url);
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.deepEqual(ready.body, {
      status: 'healthy',
      checks: {
        state_store: { status: 'ok' },
        redis: { status: 'ok' },
        'backend:demo': { status: 'ok' },
        backends: { status: 'ok' },
      },
    });
  });

  it('answers 503 after the 500 ms check timeout while redis is connected but silent, and 200 once it answers again', async () => {
    assert.ok(running !== null && redisServer !== null);
    // A stopped process keeps its socket open: the PING is accepted by the kernel and never answered.
    redisServer.stall();
    let elapsed: number;
    let ready: Awaited<ReturnType<typeof get>>;
    try {
      const started = Date.now();
      ready = await get(`${running.url}/health/ready`);
      elapsed = Date.now() - started;
    } finally {
      redisServer.resume();
    }
    assert.equal(ready.status, 503);
    const body = ready.body as Ready;
    assert.equal(body.status, 'unhealthy');
    // The check goes through the key store's connection, whose commands time out after 250 ms.
    assert.deepEqual(body.checks['redis'], { status: 'error' });
    assert.deepEqual(body.checks['state_store'], body.checks['redis']);
    assert.ok(
      elapsed >= 200 && elapsed < 1200,
      `answered in ${elapsed} ms; the redis check gives up after 250 ms`,
    );

    const again = await readyWhenHealthy(running.url);
    assert.equal(again.status, 200, JSON.stringify(again.body));
  });

  it('answers 503 unhealthy with checks.redis error within about a second once redis is gone', async () => {
    assert.ok(running !== null && redisServer !== null);
    await redisServer.stop();

    const started = Date.now();
    const ready = await get(`${running.url}/health/ready`);
    const elapsed = Date.now() - started;

    assert.equal(ready.status, 503);
    assert.match(ready.contentType, /^application\/json/);
    assert.doesNotMatch(ready.contentType, /problem/);
    const body = ready.body as Ready;
    assert.equal(body.status, 'unhealthy');
    assert.equal(body.checks['redis']?.status, 'error');
    assert.equal(body.checks['redis']?.detail, undefined, 'details need the admin token');
    // With redis configured, redis is the state store.
    assert.equal(body.checks['state_store']?.status, 'error');
    assert.ok(elapsed < 1200, `answered in ${elapsed} ms; the redis check gives up after 250 ms`);
  });

  it('stays live while redis is gone', async () => {
    assert.ok(running !== null);
    const live = await get(`${running.url}/health/live`);
    assert.equal(live.status, 200);
    assert.deepEqual(live.body, { status: 'alive' });
  });
});
