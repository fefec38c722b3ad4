/**
 * RELIABILITY.md item 4 (issue 17, item 8): instances whose clocks differ do not change what is
 * admitted. Two gateways share one Redis: one in this process, one the real CLI in a child process
 * whose wall clock is two hours ahead or behind (an --import hook that shifts Date). A limit of 10 an hour,
 * requests alternating between them, admits exactly 10, because the limiter takes its time from Redis
 * (TIME in the script) and not from the instance; and every limiter key it leaves has a TTL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { sha256Hex } from '../../src/auth/api-key.js';
import { killStrayChildren, ServeProcess } from '../support/cli-process.js';
import { startGateway, type RunningGateway } from '../support/gateway-harness.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { requireTool } from '../support/system-tool.js';

/**
 * Loaded into the child with --import: its wall clock runs CLOCK_SKEW_MS ahead (or behind). Date.now()
 * and new Date() are shifted; performance.now() and timers are not, as with a real clock set wrong.
 * A data: URL, percent-encoded so that NODE_OPTIONS (split at spaces) carries it whole.
 */
const SKEWED_CLOCK = `data:text/javascript,${encodeURIComponent(
  'const skew = Number(process.env.CLOCK_SKEW_MS); const RealDate = Date;' +
    'globalThis.Date = class extends RealDate {' +
    '  constructor(...args) { if (args.length === 0) super(RealDate.now() + skew); else super(...args); }' +
    '  static now() { return RealDate.now() + skew; }' +
    '};',
)}`;
const HOUR_MS = 3_600_000;
const LIMIT = 10;
const KEYS = {
  ahead: 'sk-gw-clockaheadAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  behind: 'sk-gw-clockbehindBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB',
};

function document(redisUrl: string, stateDir: string): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0, state_dir: stateDir },
    redis: { url: redisUrl },
    backends: [{ name: 'demo', type: 'demo' }],
    models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
    auth: {
      keys: Object.entries(KEYS).map(([id, key]) => ({
        id,
        sha256: sha256Hex(key),
        rate_limit: { requests: `${LIMIT}/hour` },
      })),
    },
    cache: { enabled: false },
    // What this test isolates is the clock. With the default 50 ms store timeout and failing open, a
    // stall of the test process (a GC, the parallel test file) made one call give up and the
    // per-instance limiter admit an 11th request (2 of 4 full runs on 2026-12-02): a longer timeout, and a 503
    // rather than an admission should a call still give up.
    rate_limit: { store_timeout_ms: 5000, on_store_error: 'closed' },
  };
}

async function chat(url: string, key: string): Promise<number> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'Hi' }] }),
  });
  await response.text();
  return response.status;
}

describe(
  'clock skew between instances sharing a Redis (RELIABILITY.md item 4)',
  { skip: requireTool('redis-server', 'redis-server') },
  () => {
    let redis: PrivateRedis;
    let directory: string;
    let local: RunningGateway;

    before(async () => {
      redis = await startRedisServer();
      directory = mkdtempSync(join(tmpdir(), 'gw-clock-skew-'));
      local = await startGateway(document(redis.url, join(directory, 'local')));
    });
    after(async () => {
      killStrayChildren();
      await local.stop();
      await redis.stop();
      rmSync(directory, { recursive: true, force: true });
    });

    for (const [name, skewMs] of [
      ['ahead', 2 * HOUR_MS],
      ['behind', -2 * HOUR_MS],
    ] as const) {
      it(`admits exactly ${LIMIT} of 30 requests at ${LIMIT}/hour when one instance's clock is two hours ${name}`, async () => {
        const configPath = join(directory, `${name}.json`);
        writeFileSync(configPath, JSON.stringify(document(redis.url, join(directory, name))));
        const skewed = new ServeProcess({
          cwd: directory,
          args: ['--config', configPath],
          env: { NODE_OPTIONS: `--import=${SKEWED_CLOCK}`, CLOCK_SKEW_MS: String(skewMs) },
        });
        try {
          const skewedUrl = await skewed.listening();
          // The child's clock really is off: its log lines carry its own time.
          const listening = skewed.logs.find((log) => log['msg'] === 'listening');
          const offset = Date.parse(String(listening?.['time'])) - Date.now();
          assert.ok(Math.abs(offset - skewMs) < 60_000, `the child's clock is off by ${offset} ms`);

          const statuses: number[] = [];
          for (let index = 0; index < 30; index++)
            statuses.push(await chat(index % 2 === 0 ? local.url : skewedUrl, KEYS[name]));
          assert.equal(statuses.filter((status) => status === 200).length, LIMIT, statuses.join(' '));
          assert.ok(
            statuses.every((status) => status === 200 || status === 429),
            statuses.join(' '),
          );
          // Each instance admitted some: both decided, on one shared budget.
          assert.ok(
            statuses.slice(0, LIMIT).every((status) => status === 200),
            statuses.join(' '),
          );
        } finally {
          assert.equal(await skewed.stop(), 0);
        }
      });
    }

    it('leaves no limiter key without a TTL', async () => {
      const client = new Redis(redis.url);
      try {
        // Keys: gw-rl:{<key id>}:<scope> (redis-limiter.ts).
        const keys = await client.keys('gw-rl:*');
        for (const id of Object.keys(KEYS))
          assert.ok(
            keys.some((key) => key.startsWith(`gw-rl:{${id}}:`)),
            `a limiter key of ${id} among ${keys.join(', ')}`,
          );
        for (const key of keys) assert.ok((await client.pttl(key)) > 0, `${key} has a TTL`);
      } finally {
        client.disconnect();
      }
    });
  },
);
