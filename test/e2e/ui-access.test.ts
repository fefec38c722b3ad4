/**
 * Who may use /admin and the admin UI's sign-in (issue 22), over HTTP without a browser: the admin
 * token as before, the read-only viewer token, UI sessions (HttpOnly cookie, expiry, sign-out), CSRF on
 * every change made with a cookie, and /ui answering 404 when the UI is off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sha256Hex } from '../../src/auth/api-key.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';

const ADMIN_TOKEN = 'admin-token-for-the-ui-access-test';
const VIEWER_TOKEN = 'viewer-token-for-the-ui-access-test';

type Json = Record<string, unknown>;

function config(extra: Json = {}): Json {
  return testConfig({
    backends: [{ name: 'demo', type: 'demo' }],
    models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
    extra: {
      auth: {
        admin_token_sha256: sha256Hex(ADMIN_TOKEN),
        viewer_token_sha256: sha256Hex(VIEWER_TOKEN),
      },
      ...extra,
    },
  });
}

async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; cookie?: string; csrf?: string; body?: unknown } = {},
): Promise<{ status: number; json: Json; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (options.cookie !== undefined) headers['cookie'] = options.cookie;
  if (options.csrf !== undefined) headers['x-csrf-token'] = options.csrf;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    json: text === '' ? {} : (JSON.parse(text) as Json),
    headers: response.headers,
  };
}

async function signIn(
  base: string,
  token: string,
): Promise<{ cookie: string; csrf: string; setCookie: string; json: Json }> {
  const answer = await call(base, 'POST', '/ui/api/session', { body: { token } });
  assert.equal(answer.status, 201, JSON.stringify(answer.json));
  const setCookie = answer.headers.get('set-cookie') ?? '';
  return {
    cookie: setCookie.split(';')[0] ?? '',
    csrf: String(answer.json['csrf_token']),
    setCookie,
    json: answer.json,
  };
}

describe('admin access: tokens, viewer, UI sessions and CSRF', () => {
  let running: RunningGateway;
  let base: string;

  before(async () => {
    running = await startGateway(config());
    base = running.url;
  });
  after(async () => {
    await running.stop();
  });

  it('keeps the admin token working as before, and refuses a wrong one with 401', async () => {
    assert.equal((await call(base, 'GET', '/admin/keys', { token: ADMIN_TOKEN })).status, 200);
    const created = await call(base, 'POST', '/admin/keys', { token: ADMIN_TOKEN, body: { name: 'a' } });
    assert.equal(created.status, 201);
    const wrong = await call(base, 'GET', '/admin/keys', { token: 'not-the-token-at-all' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal((await call(base, 'GET', '/admin/keys')).status, 401);
  });

  it('lets the viewer token read every admin view and refuses each change with 403', async () => {
    for (const path of ['/admin/keys', '/admin/teams', '/admin/usage', '/admin/backends', '/admin/config'])
      assert.equal((await call(base, 'GET', path, { token: VIEWER_TOKEN })).status, 200, path);
    const refused = await call(base, 'POST', '/admin/keys', { token: VIEWER_TOKEN, body: { name: 'v' } });
    assert.equal(refused.status, 403);
    assert.equal(refused.json['type'], 'https://ai-gateway.dev/problems/forbidden');
    assert.match(String(refused.json['detail']), /read-only/);
    assert.equal((await call(base, 'DELETE', '/admin/cache', { token: VIEWER_TOKEN })).status, 403);
    assert.equal((await call(base, 'POST', '/admin/reload', { token: VIEWER_TOKEN })).status, 403);
  });

  it('signs in with the admin token: an HttpOnly, SameSite=Strict cookie with an expiry, never the token', async () => {
    const session = await signIn(base, ADMIN_TOKEN);
    assert.match(session.setCookie, /^gw_ui_session=[A-Za-z0-9_-]{43}; /);
    for (const attribute of ['HttpOnly', 'SameSite=Strict', 'Path=/', 'Max-Age=43200'])
      assert.ok(session.setCookie.includes(attribute), `${attribute} in ${session.setCookie}`);
    assert.ok(!session.setCookie.includes('Secure'), 'no Secure attribute over plain http');
    assert.equal(session.json['role'], 'admin');
    assert.ok(!JSON.stringify(session.json).includes(ADMIN_TOKEN));
    assert.ok(
      !running.rawLogs.some((line) => line.includes(ADMIN_TOKEN) || line.includes(session.cookie.slice(14))),
    );
    const current = await call(base, 'GET', '/ui/api/session', { cookie: session.cookie });
    assert.equal(current.status, 200);
    assert.deepEqual(current.json, session.json);
  });

  it('refuses a wrong token at sign-in with 401 and no cookie', async () => {
    const answer = await call(base, 'POST', '/ui/api/session', { body: { token: 'a-wrong-token-xyz' } });
    assert.equal(answer.status, 401);
    assert.equal(answer.headers.get('set-cookie'), null);
  });

  it('needs the CSRF token for a change made with the session cookie (403 without, or with a wrong one)', async () => {
    const session = await signIn(base, ADMIN_TOKEN);
    assert.equal((await call(base, 'GET', '/admin/keys', { cookie: session.cookie })).status, 200);
    const without = await call(base, 'POST', '/admin/keys', { cookie: session.cookie, body: { name: 'c' } });
    assert.equal(without.status, 403);
    assert.match(String(without.json['detail']), /x-csrf-token/);
    const wrong = await call(base, 'POST', '/admin/keys', {
      cookie: session.cookie,
      csrf: 'x'.repeat(session.csrf.length),
      body: { name: 'c' },
    });
    assert.equal(wrong.status, 403);
    const right = await call(base, 'POST', '/admin/keys', {
      cookie: session.cookie,
      csrf: session.csrf,
      body: { name: 'c' },
    });
    assert.equal(right.status, 201);
  });

  it("gives a viewer's session reading only, even with its CSRF token", async () => {
    const session = await signIn(base, VIEWER_TOKEN);
    assert.equal(session.json['role'], 'viewer');
    assert.equal((await call(base, 'GET', '/admin/keys', { cookie: session.cookie })).status, 200);
    const change = await call(base, 'POST', '/admin/keys', {
      cookie: session.cookie,
      csrf: session.csrf,
      body: { name: 'v' },
    });
    assert.equal(change.status, 403);
    assert.match(String(change.json['detail']), /read-only/);
  });

  it('signs out: the session is gone and the cookie cleared', async () => {
    const session = await signIn(base, ADMIN_TOKEN);
    assert.equal((await call(base, 'DELETE', '/ui/api/session', { cookie: session.cookie })).status, 403);
    const out = await call(base, 'DELETE', '/ui/api/session', { cookie: session.cookie, csrf: session.csrf });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /^gw_ui_session=; .*Max-Age=0/);
    assert.equal((await call(base, 'GET', '/ui/api/session', { cookie: session.cookie })).status, 401);
    assert.equal((await call(base, 'GET', '/admin/keys', { cookie: session.cookie })).status, 401);
  });

  it('shows the readiness details to a session as to the admin token', async () => {
    const session = await signIn(base, VIEWER_TOKEN);
    const ready = await call(base, 'GET', '/health/ready', { cookie: session.cookie });
    const checks = ready.json['checks'] as Record<string, Json>;
    assert.ok(Object.values(checks).some((check) => typeof check['detail'] === 'string'));
    const anonymous = await call(base, 'GET', '/health/ready');
    const states = anonymous.json['checks'] as Record<string, Json>;
    assert.ok(Object.values(states).every((check) => check['detail'] === undefined));
  });

  it('masks every secret in GET /admin/config', async () => {
    const shown = await call(base, 'GET', '/admin/config', { token: ADMIN_TOKEN });
    const text = JSON.stringify(shown.json);
    assert.ok(!text.includes(sha256Hex(ADMIN_TOKEN)));
    assert.ok(!text.includes(sha256Hex(VIEWER_TOKEN)));
    const auth = shown.json['auth'] as Json;
    assert.equal(auth['admin_token_sha256'], '********');
    assert.equal((shown.json['ui'] as Json)['enabled'], true);
  });

  it('answers POST /admin/reload with 503 when the gateway was not started from a config file', async () => {
    const answer = await call(base, 'POST', '/admin/reload', { token: ADMIN_TOKEN });
    assert.equal(answer.status, 503);
  });
});

describe('admin access: an expired UI session', () => {
  let running: RunningGateway;

  before(async () => {
    running = await startGateway(config({ ui: { session_ttl_ms: 1000 } }));
  });
  after(async () => {
    await running.stop();
  });

  it('is refused with 401 once its time is up', async () => {
    const session = await signIn(running.url, ADMIN_TOKEN);
    assert.match(session.setCookie, /Max-Age=[01];/);
    assert.equal((await call(running.url, 'GET', '/admin/keys', { cookie: session.cookie })).status, 200);
    const expiresAt = Date.parse(String(session.json['expires_at']));
    // Polled until refused: never before its expiry, and within 2 s after it.
    let refused = await call(running.url, 'GET', '/admin/keys', { cookie: session.cookie });
    while (refused.status === 200) {
      assert.ok(Date.now() < expiresAt + 2000, 'still accepted 2 s after its expiry');
      await new Promise((resolve) => setTimeout(resolve, 25));
      refused = await call(running.url, 'GET', '/admin/keys', { cookie: session.cookie });
    }
    assert.ok(Date.now() >= expiresAt, 'refused before its expiry');
    assert.equal(refused.status, 401);
    assert.match(String(refused.json['detail']), /expired/);
  });
});

describe('admin access: failed sign-ins', () => {
  it('bounds them per address (429 with Retry-After after 20), and never refuses the right token', async () => {
    const running = await startGateway(config());
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let attempt = 0; attempt < 22; attempt++) {
        const answer = await call(running.url, 'POST', '/ui/api/session', {
          body: { token: `wrong-${String(attempt)}` },
        });
        statuses.push(answer.status);
        if (answer.status === 429) retryAfter = answer.headers.get('retry-after');
      }
      assert.deepEqual(statuses.slice(0, 20), Array<number>(20).fill(401));
      assert.deepEqual(statuses.slice(20), [429, 429]);
      assert.match(retryAfter ?? '', /^\d+$/);
      const right = await call(running.url, 'POST', '/ui/api/session', { body: { token: ADMIN_TOKEN } });
      assert.equal(right.status, 201);
      assert.ok(!running.rawLogs.some((line) => line.includes('wrong-1')), 'no token is logged');
    } finally {
      await running.stop();
    }
  });
});

describe('admin access: the UI off, or no admin token', () => {
  it('answers 404 at /ui and refuses session cookies when ui.enabled is false', async () => {
    const running = await startGateway(config({ ui: { enabled: false } }));
    try {
      assert.equal((await call(running.url, 'GET', '/ui')).status, 404);
      assert.equal(
        (await call(running.url, 'POST', '/ui/api/session', { body: { token: ADMIN_TOKEN } })).status,
        404,
      );
      assert.equal((await call(running.url, 'GET', '/admin/keys', { token: ADMIN_TOKEN })).status, 200);
    } finally {
      await running.stop();
    }
  });

  it('keeps every /admin route 404 without an admin token, and sign-in says why', async () => {
    const running = await startGateway(
      testConfig({
        backends: [{ name: 'demo', type: 'demo' }],
        models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
      }),
    );
    try {
      assert.equal((await call(running.url, 'GET', '/admin/keys', { token: ADMIN_TOKEN })).status, 404);
      assert.equal((await call(running.url, 'GET', '/admin/backends')).status, 404);
      const signIn = await call(running.url, 'POST', '/ui/api/session', { body: { token: ADMIN_TOKEN } });
      assert.equal(signIn.status, 404);
      assert.match(String(signIn.json['detail']), /No admin token is configured/);
    } finally {
      await running.stop();
    }
  });
});
