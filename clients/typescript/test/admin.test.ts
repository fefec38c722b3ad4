/**
 * The TypeScript client's admin API (issue 9; CONTRACT.md "Admin API") against a real gateway with the
 * `demo` backend and the response cache on: keys (create, list, get, update, revoke), usage (JSON and
 * CSV), cache purge, and the admin API's errors as GatewayError.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { GatewayClient, GatewayError } from '../src/index.js';
import {
  startGateway,
  TEST_KEY,
  testConfig,
  type RunningGateway,
} from '../../../test/support/gateway-harness.js';

const ADMIN_TOKEN = 'admin-token-for-the-client-admin-tests';

let running: RunningGateway;

function client(options: Partial<ConstructorParameters<typeof GatewayClient>[0]> = {}): GatewayClient {
  return new GatewayClient({ baseUrl: running.url, apiKey: TEST_KEY, adminToken: ADMIN_TOKEN, ...options });
}

async function gatewayError(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof GatewayError, `a GatewayError, not ${String(error)}`);
    return error;
  }
  assert.fail('expected a GatewayError');
}

/** Asks `attempt` again every 20 ms until it resolves to true, for at most `timeoutMs`. */
async function eventually(attempt: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await attempt())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

before(async () => {
  running = await startGateway(
    testConfig({
      backends: [{ name: 'demo', type: 'demo' }],
      models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
      extra: { cache: { enabled: true } },
    }),
    { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
  );
});

after(async () => {
  await running.stop();
});

describe('the client: admin API', () => {
  it('keys: create, list, get, update, use, revoke', async () => {
    const admin = client().admin;
    const created = await admin.keys.create({
      name: 'client-admin',
      models: ['demo'],
      rate_limit: { requests: '100/minute' },
      metadata: { team: 'a' },
    });
    assert.match(created.key, /^sk-gw-[A-Za-z0-9]{40}$/);
    assert.equal(created.name, 'client-admin');
    assert.deepEqual(created.models, ['demo']);
    assert.deepEqual(created.rate_limit, { requests: '100/minute' });
    assert.deepEqual(created.metadata, { team: 'a' });
    assert.equal(created.source, 'store');
    assert.equal(created.revoked_at, null);

    const list = await admin.keys.list();
    const ids = list.data.map((key) => key.id);
    assert.ok(ids.includes(created.id));
    assert.ok(ids.includes('test-key'), 'static keys are listed too');
    assert.equal(list.data.find((key) => key.id === 'test-key')?.source, 'config');
    for (const key of list.data) assert.ok(!('key' in key), 'never a secret in the list');

    const { key: _secret, ...record } = created;
    assert.deepEqual(await admin.keys.get(created.id), record);

    const updated = await admin.keys.update(created.id, {
      name: 'client-admin-renamed',
      models: null,
      metadata: { team: 'b' },
    });
    assert.equal(updated.name, 'client-admin-renamed');
    assert.equal(updated.models, null);
    assert.deepEqual(updated.metadata, { team: 'b' });

    const user = client({ apiKey: created.key });
    const completion = await user.chat.completions.create({
      model: 'demo',
      messages: [{ role: 'user', content: 'admin test: the new key works' }],
    });
    assert.equal(completion.object, 'chat.completion');

    const revoked = await admin.keys.revoke(created.id);
    assert.equal(revoked.id, created.id);
    assert.ok(revoked.revoked_at !== null);
    assert.equal((await admin.keys.get(created.id)).revoked_at, revoked.revoked_at);
    // Refused everywhere within 1 s.
    await eventually(
      async () => {
        try {
          await user.models.list({ maxRetries: 0 });
          return false;
        } catch (error) {
          return error instanceof GatewayError && error.code === 'invalid_api_key';
        }
      },
      1500,
      'the revoked key to be refused',
    );
  });

  it('usage: JSON rows per key and model, and CSV', async () => {
    const gateway = client();
    const content = 'admin test: usage';
    await gateway.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content }] });
    await gateway.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content }] });
    assert.equal(gateway.lastResponse?.cache, 'HIT');

    const report = await gateway.admin.usage({ key: 'test-key', group_by: 'key,model' });
    assert.ok(!Number.isNaN(Date.parse(report.from)) && !Number.isNaN(Date.parse(report.to)));
    const row = report.data.find((item) => item.key === 'test-key' && item.model === 'demo');
    assert.ok(row !== undefined, JSON.stringify(report));
    assert.ok(row.requests >= 2, `requests ${row.requests}`);
    assert.ok(row.cached >= 1, `cached ${row.cached}`);
    assert.ok(row.prompt_tokens > 0 && row.total_tokens >= row.prompt_tokens);
    for (const other of report.data) assert.equal(other.key, 'test-key', 'filtered by key');

    const totals = await gateway.admin.usage({ group_by: '' });
    assert.equal(totals.data.length, 1);
    assert.equal(totals.data[0]?.key, undefined);

    const csv = await gateway.admin.usageCsv({ key: 'test-key', group_by: 'model' });
    const [header, ...lines] = csv.trim().split(/\r?\n/);
    assert.match(
      header ?? '',
      /^model,requests,errors,cached,prompt_tokens,completion_tokens,total_tokens,cost$/,
    );
    assert.ok(
      lines.some((line) => line.startsWith('demo,')),
      csv,
    );
  });

  it('purgeCache: one key scope, then everything', async () => {
    const gateway = client();
    const body = { model: 'demo', messages: [{ role: 'user' as const, content: 'admin test: purge' }] };
    await gateway.chat.completions.create(body);
    await gateway.chat.completions.create(body);
    assert.equal(gateway.lastResponse?.cache, 'HIT');

    const other = await gateway.admin.purgeCache({ key: 'restricted-key' });
    assert.equal(other.deleted, 0, "another key's scope holds nothing");
    await gateway.chat.completions.create(body);
    assert.equal(gateway.lastResponse?.cache, 'HIT');

    const scoped = await gateway.admin.purgeCache({ key: 'test-key' });
    assert.ok(scoped.deleted >= 1, `deleted ${scoped.deleted}`);
    await gateway.chat.completions.create(body);
    assert.equal(gateway.lastResponse?.cache, 'MISS');

    const all = await gateway.admin.purgeCache();
    assert.ok(all.deleted >= 1, `deleted ${all.deleted}`);
    await gateway.chat.completions.create(body);
    assert.equal(gateway.lastResponse?.cache, 'MISS');
  });

  it('errors: a wrong admin token, an unknown id, a static key, a bad field', async () => {
    const wrongToken = await gatewayError(client({ adminToken: 'not-the-admin-token' }).admin.keys.list());
    assert.equal(wrongToken.status, 401);
    assert.equal(wrongToken.code, 'invalid_api_key');
    assert.ok(wrongToken.requestId !== null);

    const admin = client().admin;
    const unknown = await gatewayError(admin.keys.get('key_doesnotexist'));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.code, 'not_found');

    const staticKey = await gatewayError(admin.keys.revoke('test-key'));
    assert.equal(staticKey.status, 409);

    const bad = await gatewayError(admin.keys.create({ name: 'bad', rate_limit: { requests: 'often' } }));
    assert.equal(bad.status, 400);
    assert.equal(bad.code, 'invalid_request');
    assert.match(bad.message, /rate_limit/);

    const badUsage = await gatewayError(admin.usage({ group_by: 'colour' }));
    assert.equal(badUsage.status, 400);
    assert.match(badUsage.message, /group_by/);
  });
});
