/**
 * server.workers: several processes behind one port (node:cluster), sharing limits through Redis; the
 * real CLI, a private redis-server.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killStrayChildren, runCli, ServeProcess } from '../support/cli-process.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { requireTool } from '../support/system-tool.js';

/** Tests that start a private redis-server: skipped without one, except under CI=true. */
const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

const KEY = 'sk-gw-workersAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const LIMITED_KEY = 'sk-gw-workersLimitedBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

function config(redisUrl: string | null, workers: number): string {
  return JSON.stringify({
    server: { port: 0, workers },
    ...(redisUrl === null ? {} : { redis: { url: redisUrl } }),
    backends: [{ name: 'demo', type: 'demo' }],
    models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
    auth: {
      keys: [
        { id: 'open', sha256: sha256(KEY) },
        { id: 'limited', sha256: sha256(LIMITED_KEY), rate_limit: { requests: '10/minute' } },
      ],
    },
    cache: { enabled: false },
  });
}

async function chat(url: string, key: string): Promise<number> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** The pids of the primary's children (its workers). */
function workerPids(primary: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter((line) => line !== '')
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

describe('server.workers: 2 with Redis', needsRedis, () => {
  let redis: PrivateRedis;
  let directory: string;
  let serve: ServeProcess;
  let url: string;

  before(async () => {
    redis = await startRedisServer();
    directory = mkdtempSync(join(tmpdir(), 'gw-workers-'));
    writeFileSync(join(directory, 'config.yaml'), config(redis.url, 2));
    serve = new ServeProcess({ cwd: directory, args: ['--config', 'config.yaml'] });
    // The primary says 'listening' once every worker listens.
    const ready = await serve.waitForLog('the primary listening', (log) => log['workers'] === 2);
    url = String(ready['url']);
  });
  after(async () => {
    await serve.stop();
    killStrayChildren();
    await redis.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('runs two worker processes under one primary, and both answer', async () => {
    assert.ok(serve.pid !== undefined);
    assert.equal(workerPids(serve.pid).length, 2);
    const statuses = await Promise.all(Array.from({ length: 40 }, () => chat(url, KEY)));
    assert.deepEqual(new Set(statuses), new Set([200]));
    const workers = new Set(
      serve.logs.filter((log) => log['msg'] === 'request_complete').map((log) => log['worker']),
    );
    assert.deepEqual([...workers].sort(), [1, 2], 'each worker served some of the requests');
  });

  it('keeps a rate limit exact across the workers: 30 requests at 10/minute admit 10', async () => {
    const statuses = await Promise.all(Array.from({ length: 30 }, () => chat(url, LIMITED_KEY)));
    assert.equal(statuses.filter((status) => status === 200).length, 10);
    assert.equal(statuses.filter((status) => status === 429).length, 20);
  });

  it('answers /metrics with the sum over the workers', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text
      .split('\n')
      .find(
        (entry) =>
          entry.startsWith('gateway_http_requests_total{') &&
          entry.includes('route="/v1/chat/completions"') &&
          entry.includes('status_class="2xx"'),
      );
    // 40 from the first test and 10 admitted in the second, whichever worker served them.
    assert.equal(line?.split(' ').at(-1), '50', text);
  });

  it('replaces a worker that dies, and keeps serving', async () => {
    assert.ok(serve.pid !== undefined);
    const [victim] = workerPids(serve.pid);
    assert.ok(victim !== undefined);
    process.kill(victim, 'SIGKILL');
    await serve.waitForLog('the primary noticing', (log) => log['msg'] === 'worker died: starting another');
    const deadline = Date.now() + 15_000;
    let pids = workerPids(serve.pid);
    while ((pids.length < 2 || pids.includes(victim)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      pids = workerPids(serve.pid);
    }
    assert.equal(pids.length, 2);
    assert.ok(!pids.includes(victim));
    const statuses = await Promise.all(Array.from({ length: 10 }, () => chat(url, KEY)));
    assert.deepEqual(new Set(statuses), new Set([200]));
  });

  it('shuts down on SIGTERM: every worker stops, exit status 0', async () => {
    assert.ok(serve.pid !== undefined);
    const primary = serve.pid;
    assert.equal(await serve.stop(), 0);
    assert.deepEqual(workerPids(primary), []);
    assert.ok(serve.logs.some((log) => log['msg'] === 'every worker has stopped: shutdown complete'));
  });
});

describe('server.workers whose workers cannot start', needsRedis, () => {
  let redis: PrivateRedis;
  let directory: string;
  let blocker: Server;

  before(async () => {
    redis = await startRedisServer();
    directory = mkdtempSync(join(tmpdir(), 'gw-workers-crash-'));
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    killStrayChildren();
    await new Promise((resolve) => blocker.close(resolve));
    await redis.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('stops with exit status 1 when workers keep dying, instead of restarting them for ever', async () => {
    const port = (blocker.address() as AddressInfo).port;
    writeFileSync(join(directory, 'config.yaml'), config(redis.url, 2).replace('"port":0', `"port":${port}`));
    const serve = new ServeProcess({ cwd: directory, args: ['--config', 'config.yaml'] });
    const { code } = await serve.exited;
    assert.equal(code, 1);
    assert.ok(serve.logs.some((log) => log['msg'] === 'workers keep dying: stopping the gateway'));
    assert.ok(serve.logs.filter((log) => log['msg'] === 'worker died: starting another').length >= 2);
  });
});

describe('server.workers without Redis', () => {
  let directory: string;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-workers-noredis-'));
  });
  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('refuses more than one worker with a message that says why (exit 2)', async () => {
    writeFileSync(join(directory, 'config.yaml'), config(null, 2));
    const result = await runCli(['check-config', '--config', 'config.yaml'], { cwd: directory });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /server\.workers: 2 workers need redis/);
  });

  it("takes 'auto' as one worker", async () => {
    writeFileSync(join(directory, 'config.yaml'), config(null, 1).replace('"workers":1', '"workers":"auto"'));
    const result = await runCli(['check-config', '--config', 'config.yaml'], { cwd: directory });
    assert.equal(result.code, 0, result.stderr);
  });
});
