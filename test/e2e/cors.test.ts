/**
 * CORS (issue 16, "Also"): with server.cors listing origins, browser apps on those origins can call the
 * gateway and read its answers, errors included; every other origin gets no CORS header; the
 * preflight needs no credentials; `*` and Access-Control-Allow-Credentials are never sent. Without
 * server.cors the gateway answers exactly as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { Problem } from '../support/problem.js';
import { TEST_KEY, startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';

const APP = 'https://app.example';
const DEV = 'http://localhost:5173';
const ADMIN_TOKEN = 'admin-token-for-the-cors-test';
const CHAT = '/v1/chat/completions';
const HELLO = { model: 'demo', messages: [{ role: 'user', content: 'Hi' }] };

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

async function send(
  url: string,
  method: 'GET' | 'POST' | 'OPTIONS',
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Answer> {
  const response = await request(url + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers))
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  return { status: response.statusCode, headers: flat, text: await response.body.text() };
}

/** What a browser sends before a cross-origin POST with an API key and a JSON body. */
function preflight(origin: string, requestHeaders = 'authorization, content-type'): Record<string, string> {
  return {
    origin,
    'access-control-request-method': 'POST',
    'access-control-request-headers': requestHeaders,
  };
}

function listOf(header: string | undefined): string[] {
  return (header ?? '').split(',').map((item) => item.trim().toLowerCase());
}

function corsHeaders(answer: Answer): string[] {
  return Object.keys(answer.headers).filter((name) => name.startsWith('access-control-'));
}

/** The answer lets a page on `origin` read it, and read the gateway's own headers. */
function assertReadableBy(answer: Answer, origin: string): void {
  assert.equal(answer.headers['access-control-allow-origin'], origin);
  assert.equal(answer.headers['access-control-allow-credentials'], undefined);
  assert.ok(listOf(answer.headers['vary']).includes('origin'), `Vary: ${answer.headers['vary']}`);
  const exposed = listOf(answer.headers['access-control-expose-headers']);
  for (const name of [
    'x-request-id',
    'x-cache',
    'x-gateway-backend',
    'ratelimit',
    'ratelimit-policy',
    'retry-after',
    'x-ratelimit-remaining-requests',
    'x-ratelimit-reset-tokens',
  ])
    assert.ok(exposed.includes(name), `${name} exposed: ${exposed.join(', ')}`);
}

function problemOf(answer: Answer): Problem {
  assert.equal(answer.headers['content-type'], 'application/problem+json; charset=utf-8');
  return JSON.parse(answer.text) as Problem;
}

describe('CORS with server.cors set', () => {
  let gateway: RunningGateway;

  before(async () => {
    gateway = await startGateway(
      testConfig({
        server: { cors: [APP, 'http://LOCALHOST:5173/'] },
        backends: [{ name: 'demo', type: 'demo' }],
        models: [
          { name: 'demo', targets: [{ backend: 'demo' }] },
          { name: 'demo-limited', targets: [{ backend: 'demo', model: 'demo' }], rate_limit: '1/minute' },
        ],
      }),
      { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
    );
  });
  after(async () => {
    await gateway.stop();
  });

  it('answers an allowed origin’s preflight 204 without credentials, echoing the origin', async () => {
    const answer = await send(gateway.url, 'OPTIONS', CHAT, preflight(APP));
    assert.equal(answer.status, 204);
    assert.equal(answer.text, '');
    assert.equal(answer.headers['access-control-allow-origin'], APP);
    assert.equal(answer.headers['access-control-allow-credentials'], undefined);
    assert.deepEqual(listOf(answer.headers['vary']), ['origin', 'access-control-request-headers']);
    assert.equal(answer.headers['access-control-max-age'], '600');
    const methods = listOf(answer.headers['access-control-allow-methods']);
    for (const method of ['get', 'post', 'patch', 'delete']) assert.ok(methods.includes(method), method);
    const allowed = listOf(answer.headers['access-control-allow-headers']);
    for (const name of ['authorization', 'x-api-key', 'content-type', 'x-request-id', 'anthropic-version'])
      assert.ok(allowed.includes(name), `${name} allowed: ${allowed.join(', ')}`);
  });

  it('matches the configured origins in their normalised form (scheme and host lower case, no slash)', async () => {
    const answer = await send(gateway.url, 'OPTIONS', '/admin/keys', preflight(DEV));
    assert.equal(answer.status, 204);
    assert.equal(answer.headers['access-control-allow-origin'], DEV);
  });

  it('allows the SDKs’ own headers a preflight asks for, and no other unknown header', async () => {
    const answer = await send(
      gateway.url,
      'OPTIONS',
      CHAT,
      preflight(
        APP,
        'Authorization, X-Stainless-OS, x-stainless-retry-count, anthropic-beta, x-forwarded-for',
      ),
    );
    assert.equal(answer.status, 204);
    const allowed = listOf(answer.headers['access-control-allow-headers']);
    for (const name of ['authorization', 'x-stainless-os', 'x-stainless-retry-count', 'anthropic-beta'])
      assert.ok(allowed.includes(name), `${name} allowed: ${allowed.join(', ')}`);
    assert.ok(!allowed.includes('x-forwarded-for'));
  });

  it('gives any other origin’s preflight no CORS header, so that the browser blocks the request', async () => {
    for (const origin of [
      'https://evil.example',
      'https://app.example.evil.example',
      'http://app.example',
      'https://app.example:8443',
      'null',
      `${APP}, https://evil.example`,
    ]) {
      const answer = await send(gateway.url, 'OPTIONS', CHAT, preflight(origin));
      assert.deepEqual(corsHeaders(answer), [], origin);
      assert.notEqual(answer.status, 204, origin);
      assert.ok(listOf(answer.headers['vary']).includes('origin'), origin);
    }
  });

  it('lets an allowed origin read a chat completion and the gateway’s headers', async () => {
    const answer = await send(
      gateway.url,
      'POST',
      CHAT,
      { origin: APP, authorization: `Bearer ${TEST_KEY}` },
      HELLO,
    );
    assert.equal(answer.status, 200);
    assertReadableBy(answer, APP);
    assert.ok(answer.headers['x-request-id'] !== undefined);
    assert.equal(answer.headers['x-cache'], 'BYPASS');
  });

  it('lets an allowed origin read its errors: 401, 404 (route and model), 400 and 429', async () => {
    const unauthorized = await send(gateway.url, 'POST', CHAT, { origin: APP }, HELLO);
    assert.equal(unauthorized.status, 401);
    assertReadableBy(unauthorized, APP);
    assert.equal(problemOf(unauthorized).error.code, 'invalid_api_key');

    const noRoute = await send(gateway.url, 'GET', '/v1/nothing-here', { origin: APP });
    assert.equal(noRoute.status, 404);
    assertReadableBy(noRoute, APP);
    assert.equal(problemOf(noRoute).error.code, 'not_found');

    const auth = { origin: APP, authorization: `Bearer ${TEST_KEY}` };
    const noModel = await send(gateway.url, 'POST', CHAT, auth, { ...HELLO, model: 'no-such-model' });
    assert.equal(noModel.status, 404);
    assertReadableBy(noModel, APP);
    assert.equal(problemOf(noModel).error.code, 'model_not_found');

    const invalid = await send(gateway.url, 'POST', CHAT, auth, { model: 'demo', messages: 'Hi' });
    assert.equal(invalid.status, 400);
    assertReadableBy(invalid, APP);
    assert.equal(problemOf(invalid).error.code, 'invalid_request');

    const limited = { ...HELLO, model: 'demo-limited' };
    assert.equal((await send(gateway.url, 'POST', CHAT, auth, limited)).status, 200);
    const refused = await send(gateway.url, 'POST', CHAT, auth, limited);
    assert.equal(refused.status, 429);
    assertReadableBy(refused, APP);
    assert.ok(refused.headers['retry-after'] !== undefined);
    assert.equal(problemOf(refused).error.code, 'rate_limit_exceeded');
  });

  it('never sends Access-Control-Allow-Origin: * nor Access-Control-Allow-Credentials', async () => {
    const answers = [
      await send(gateway.url, 'OPTIONS', CHAT, preflight(APP)),
      await send(gateway.url, 'OPTIONS', CHAT, preflight('*')),
      await send(gateway.url, 'GET', '/v1/models', { origin: APP, authorization: `Bearer ${TEST_KEY}` }),
      await send(gateway.url, 'GET', '/v1/models', { origin: '*', authorization: `Bearer ${TEST_KEY}` }),
      await send(gateway.url, 'GET', '/health/live', {}),
    ];
    for (const answer of answers) {
      assert.notEqual(answer.headers['access-control-allow-origin'], '*');
      assert.equal(answer.headers['access-control-allow-credentials'], undefined);
    }
  });

  it('sends no CORS header to a request without Origin, but Vary: Origin for caches', async () => {
    const answer = await send(gateway.url, 'GET', '/v1/models', { authorization: `Bearer ${TEST_KEY}` });
    assert.equal(answer.status, 200);
    assert.deepEqual(corsHeaders(answer), []);
    assert.ok(listOf(answer.headers['vary']).includes('origin'));
  });

  it('keeps Vary: Origin beside the Vary: Accept of GET /admin/usage', async () => {
    const answer = await send(gateway.url, 'GET', '/admin/usage', {
      origin: APP,
      authorization: `Bearer ${ADMIN_TOKEN}`,
    });
    assert.equal(answer.status, 200);
    assertReadableBy(answer, APP);
    assert.deepEqual(listOf(answer.headers['vary']), ['origin', 'accept']);
  });
});

describe('CORS without server.cors (the default)', () => {
  let gateway: RunningGateway;

  before(async () => {
    gateway = await startGateway(
      testConfig({
        backends: [{ name: 'demo', type: 'demo' }],
        models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
      }),
    );
  });
  after(async () => {
    await gateway.stop();
  });

  it('sends no CORS header and no Vary, and a preflight is refused as any OPTIONS is (405)', async () => {
    const options = await send(gateway.url, 'OPTIONS', CHAT, preflight(APP));
    assert.equal(options.status, 405);
    assert.deepEqual(corsHeaders(options), []);
    const chat = await send(
      gateway.url,
      'POST',
      CHAT,
      { origin: APP, authorization: `Bearer ${TEST_KEY}` },
      HELLO,
    );
    assert.equal(chat.status, 200);
    assert.deepEqual(corsHeaders(chat), []);
    assert.equal(chat.headers['vary'], undefined);
  });
});
