import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';

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

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return address.port;
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
    assert.deepEqual(ready.body, { status: 'healthy', checks: { state_store: { status: 'ok' } } });
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
    assert.equal(typeof body.checks['backends']?.detail, 'string');
  });

  it('is still live', async () => {
    const live = await get(`${running.url}/health/live`);
    assert.equal(live.status, 200);
    assert.deepEqual(live.body, { status: 'alive' });
  });
});

describe('GET /health/ready with redis', () => {
  let redisServer: ChildProcess | null = null;
  let redisExited: Promise<void> = Promise.resolve();
  let redisStderr = '';
  let running: RunningGateway | null = null;

  before(async () => {
    const port = await freePort();
    redisServer = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    redisServer.stderr?.setEncoding('utf8').on('data', (text: string) => {
      redisStderr += text;
    });
    const server = redisServer;
    redisExited = new Promise((resolve) => {
      server.once('exit', () => {
        resolve();
      });
    });

    // Wait until the private redis answers PING: the client queues the PING and retries the connection.
    const probe = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 20, maxRetriesPerRequest: null });
    probe.on('error', () => {
      // refused while redis starts; retried
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        probe.ping(),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => {
            reject(new Error(`redis-server did not answer PING; stderr: ${redisStderr}`));
          }, 10_000);
        }),
      ]);
      assert.equal(answer, 'PONG');
    } finally {
      clearTimeout(timer);
      probe.disconnect();
    }

    running = await startGateway(
      testConfig({ ...DEMO, extra: { redis: { url: `redis://127.0.0.1:${port}` } } }),
    );
  });
  after(async () => {
    await running?.stop();
    if (redisServer !== null && redisServer.exitCode === null && redisServer.signalCode === null) {
      redisServer.kill('SIGKILL');
    }
    await redisExited;
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
      checks: { state_store: { status: 'ok' }, redis: { status: 'ok' } },
    });
  });

  it('answers 503 after the 500 ms check timeout while redis is connected but silent, and 200 once it answers again', async () => {
    assert.ok(running !== null && redisServer !== null);
    // A stopped process keeps its socket open: the PING is accepted by the kernel and never answered.
    redisServer.kill('SIGSTOP');
    let elapsed: number;
    let ready: Awaited<ReturnType<typeof get>>;
    try {
      const started = Date.now();
      ready = await get(`${running.url}/health/ready`);
      elapsed = Date.now() - started;
    } finally {
      redisServer.kill('SIGCONT');
    }
    assert.equal(ready.status, 503);
    const body = ready.body as Ready;
    assert.equal(body.status, 'unhealthy');
    // The check goes through the key store's connection, whose commands time out after 250 ms.
    assert.deepEqual(body.checks['redis'], { status: 'error', detail: 'Command timed out' });
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
    redisServer.kill('SIGKILL');
    await redisExited;

    const started = Date.now();
    const ready = await get(`${running.url}/health/ready`);
    const elapsed = Date.now() - started;

    assert.equal(ready.status, 503);
    assert.match(ready.contentType, /^application\/json/);
    assert.doesNotMatch(ready.contentType, /problem/);
    const body = ready.body as Ready;
    assert.equal(body.status, 'unhealthy');
    assert.equal(body.checks['redis']?.status, 'error');
    assert.equal(typeof body.checks['redis']?.detail, 'string');
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
