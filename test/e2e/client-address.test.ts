/**
 * Issue 16, finding 2: who a client is, for the failed-authentication limiter and the logs. The
 * socket's address by default (X-Forwarded-For is ignored, so a client cannot pick a fresh address per
 * request); with server.trust_proxy, the address a trusted proxy put in X-Forwarded-For.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';

const DEMO = {
  backends: [{ name: 'demo', type: 'demo' }],
  models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
};
const BAD_KEY = 'sk-gw-badBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';

async function models(url: string, key: string, forwardedFor?: string): Promise<number> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (forwardedFor !== undefined) headers['x-forwarded-for'] = forwardedFor;
  const response = await fetch(`${url}/v1/models`, { headers });
  await response.arrayBuffer();
  return response.status;
}

function failureAddresses(running: RunningGateway): unknown[] {
  return running.logs
    .filter((line) => line['msg'] === 'authentication failed')
    .map((line) => line['address']);
}

describe('client address without server.trust_proxy (the default)', () => {
  let running: RunningGateway;
  before(async () => {
    running = await startGateway(testConfig(DEMO));
  });
  after(async () => {
    await running.stop();
  });

  it('ignores X-Forwarded-For: a client cannot escape the limiter by inventing addresses', async () => {
    for (let attempt = 0; attempt < 20; attempt++)
      assert.equal(await models(running.url, BAD_KEY, `198.51.100.${attempt}`), 401);
    assert.equal(await models(running.url, BAD_KEY, '198.51.100.200'), 429);
    assert.deepEqual(new Set(failureAddresses(running)), new Set(['127.0.0.1']));
    // A valid key from the same address is still served.
    assert.equal(await models(running.url, TEST_KEY), 200);
  });
});

describe('client address with server.trust_proxy', () => {
  let running: RunningGateway;
  before(async () => {
    running = await startGateway(testConfig({ ...DEMO, server: { trust_proxy: ['127.0.0.1/32'] } }));
  });
  after(async () => {
    await running.stop();
  });

  it('limits each forwarded client on its own, behind a trusted proxy', async () => {
    for (let attempt = 0; attempt < 20; attempt++)
      assert.equal(await models(running.url, BAD_KEY, '203.0.113.7'), 401);
    assert.equal(await models(running.url, BAD_KEY, '203.0.113.7'), 429);
    // Another client behind the same proxy is not locked out.
    assert.equal(await models(running.url, BAD_KEY, '203.0.113.8'), 401);
    // The rightmost untrusted address counts: a client cannot prepend one of its own.
    assert.equal(await models(running.url, BAD_KEY, '192.0.2.1, 203.0.113.7'), 429);
    assert.ok(failureAddresses(running).includes('203.0.113.8'));
    assert.ok(!failureAddresses(running).includes('127.0.0.1'));
  });
});
