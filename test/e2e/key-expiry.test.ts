/**
 * Issue 16, finding 9: `expires_at: "2025-12-31T23:59:60Z"` was accepted and the key never expired
 * (Date.parse gives NaN, and NaN compares false). Expiry times are RFC 3339 date-times that exist, and
 * an expiry that cannot be read means expired, never valid.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKey } from '../../src/auth/key-factory.js';
import { killStrayChildren, runCli } from '../support/cli-process.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import type { Problem } from '../support/problem.js';

const ADMIN_TOKEN = 'key-expiry-admin-token-0123';
const DEMO = {
  backends: [{ name: 'demo', type: 'demo' }],
  models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
};
/** Times that do not exist, or are not RFC 3339; each was once stored as given. */
const BAD_TIMES = [
  '2099-12-31T23:59:60Z',
  '2099-02-30T00:00:00Z',
  '2099-12-31T24:00:00Z',
  '2099-12-31T10:00:00',
];

async function admin(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

async function chatStatus(url: string, key: string): Promise<{ status: number; detail: string }> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
  });
  const body = (await response.json()) as { detail?: string };
  return { status: response.status, detail: body.detail ?? '' };
}

describe('key expiry times', () => {
  let running: RunningGateway;

  before(async () => {
    running = await startGateway(testConfig(DEMO), { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN });
  });
  after(async () => {
    await running.stop();
  });

  for (const time of BAD_TIMES) {
    it(`POST /admin/keys refuses expires_at ${time} with 400 naming the field`, async () => {
      const answer = await admin(running.url, 'POST', '/admin/keys', { name: 'bad', expires_at: time });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      const problem = answer.body as Problem;
      assert.equal(problem.error.param, 'expires_at');
      assert.match(problem.detail, /expires_at/);
    });
  }

  it('PATCH /admin/keys/{id} refuses them too, and leaves the key as it was', async () => {
    const created = await admin(running.url, 'POST', '/admin/keys', { name: 'patched' });
    assert.equal(created.status, 201);
    const id = (created.body as { id: string }).id;
    for (const time of BAD_TIMES) {
      const answer = await admin(running.url, 'PATCH', `/admin/keys/${id}`, { expires_at: time });
      assert.equal(answer.status, 400, `${time}: ${JSON.stringify(answer.body)}`);
      assert.equal((answer.body as Problem).error.param, 'expires_at');
    }
    const shown = await admin(running.url, 'GET', `/admin/keys/${id}`);
    assert.equal((shown.body as { expires_at: string | null }).expires_at, null);
  });

  it('stores a valid time with an offset as the same instant in UTC', async () => {
    const created = await admin(running.url, 'POST', '/admin/keys', {
      name: 'offset',
      expires_at: '2099-06-30T14:30:00+02:30',
    });
    assert.equal(created.status, 201);
    assert.equal((created.body as { expires_at: string }).expires_at, '2099-06-30T12:00:00.000Z');
  });

  it('refuses a key whose stored expiry cannot be read, as expired', async () => {
    const { key, record } = createKey({ name: 'unreadable-expiry' });
    // Written straight to the store, as an older version (or another tool) could have left it.
    await running.gateway.keyStore.create({ ...record, expiresAt: '2099-12-31T23:59:60Z' });
    const answer = await chatStatus(running.url, key);
    assert.equal(answer.status, 401);
    assert.match(answer.detail, /expired/);
  });
});

describe('ai-gateway keys create --expires', () => {
  let directory: string;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-key-expiry-'));
    writeFileSync(
      join(directory, 'config.yaml'),
      JSON.stringify({ ...DEMO, server: { state_dir: 'state' } }),
    );
  });
  after(() => {
    killStrayChildren();
    rmSync(directory, { recursive: true, force: true });
  });

  for (const time of BAD_TIMES) {
    it(`refuses ${time}, naming --expires, and creates no key`, async () => {
      const finished = await runCli(
        ['keys', 'create', '--config', 'config.yaml', '--name', 'x', '--expires', time],
        { cwd: directory },
      );
      assert.notEqual(finished.code, 0);
      assert.match(finished.stderr, /--expires: /);
      const listed = await runCli(['keys', 'list', '--config', 'config.yaml', '--json'], { cwd: directory });
      assert.deepEqual((JSON.parse(listed.stdout) as { data: unknown[] }).data, []);
    });
  }
});
