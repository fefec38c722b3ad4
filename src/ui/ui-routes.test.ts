import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fastify, { type FastifyInstance } from 'fastify';
import { ProblemSchema } from '../api/schemas.js';
import { newRequestState } from '../server/request-state.js';
import { buildErrorHandler } from '../server/error-handler.js';
import Database from 'better-sqlite3';
import { EmbeddedKeyValueStore } from '../state/embedded/embedded-kv-store.js';
import { StaticAssets } from './static-assets.js';
import { CONTENT_SECURITY_POLICY, registerUiRoutes } from './ui-routes.js';
import { UiSessions } from './ui-sessions.js';

const folders: string[] = [];
after(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

interface Served {
  inject(options: { url: string; headers?: Record<string, string> }): Promise<Answer>;
}
interface Answer {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  json(): { detail: string };
}

const apps: FastifyInstance[] = [];
after(async () => {
  for (const app of apps) await app.close();
});

/** Served on a real port: the error handler's lingering close needs a socket. */
async function serve(directory: string): Promise<Served> {
  const app = await build(directory);
  apps.push(app);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    async inject({ url, headers = {} }) {
      const response = await fetch(`${base}${url}`, { headers });
      const body = await response.text();
      return {
        statusCode: response.status,
        headers: Object.fromEntries(response.headers),
        body,
        json: () => JSON.parse(body) as { detail: string },
      };
    },
  };
}

async function build(directory: string): Promise<FastifyInstance> {
  const app = fastify();
  app.decorateRequest('gateway', null as never);
  app.addHook('onRequest', (request, _reply, done) => {
    request.gateway = newRequestState();
    done();
  });
  app.addSchema(ProblemSchema);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(buildErrorHandler(1024 * 1024));
  await registerUiRoutes(app, {
    adminTokenSha256: null,
    viewerTokenSha256: null,
    authenticator: {
      authenticateOperator: () => {
        throw new Error('not called');
      },
    },
    sessions: new UiSessions({
      store: new EmbeddedKeyValueStore(new Database(':memory:'), true),
      ttlMs: 60_000,
    }),
    assets: new StaticAssets(directory),
  });
  return app;
}

function folder(): string {
  const directory = mkdtempSync(join(tmpdir(), 'gw-ui-'));
  folders.push(directory);
  return directory;
}

describe('the admin UI pages', () => {
  it('answers 503 naming `npm run build:ui` when the UI is not built', async () => {
    const app = await serve(join(folder(), 'missing'));
    for (const url of ['/ui', '/ui/keys', '/ui/assets/index-abc.js']) {
      const answer = await app.inject({ url });
      assert.equal(answer.statusCode, 503, url);
      assert.equal(answer.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.match(answer.json().detail, /npm run build:ui/);
    }
  });

  it('serves index.html for every page, no-cache and with a CSP of its own origin only', async () => {
    const directory = folder();
    mkdirSync(join(directory, 'assets'));
    writeFileSync(join(directory, 'index.html'), '<!doctype html><title>ai-gateway</title>');
    writeFileSync(
      join(directory, 'assets', 'index-abc123.js'),
      `console.log(${JSON.stringify('x'.repeat(4000))});`,
    );
    const app = await serve(directory);
    for (const url of ['/ui', '/ui/', '/ui/keys', '/ui/requests/some-id']) {
      const answer = await app.inject({ url });
      assert.equal(answer.statusCode, 200, url);
      assert.equal(answer.headers['cache-control'], 'no-cache');
      assert.equal(answer.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
      assert.match(answer.body, /<title>ai-gateway<\/title>/);
    }
    assert.ok(!CONTENT_SECURITY_POLICY.includes('http'), 'no other origin');
    assert.ok(!CONTENT_SECURITY_POLICY.includes('unsafe'), 'nothing unsafe');
    const etag = (await app.inject({ url: '/ui' })).headers.etag;
    assert.equal(
      (await app.inject({ url: '/ui', headers: { 'if-none-match': String(etag) } })).statusCode,
      304,
    );
  });

  it('serves hashed assets for a year, immutable, compressed when the client takes it; 404 for others', async () => {
    const directory = folder();
    mkdirSync(join(directory, 'assets'));
    writeFileSync(join(directory, 'index.html'), '<!doctype html>');
    const script = `console.log(${JSON.stringify('y'.repeat(4000))});`;
    writeFileSync(join(directory, 'assets', 'index-abc123.js'), script);
    const app = await serve(directory);
    const plain = await app.inject({
      url: '/ui/assets/index-abc123.js',
      headers: { 'accept-encoding': 'identity' },
    });
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(plain.body, script);
    const gzip = await app.inject({
      url: '/ui/assets/index-abc123.js',
      headers: { 'accept-encoding': 'gzip' },
    });
    assert.equal(gzip.headers['content-encoding'], 'gzip');
    assert.equal(gzip.body, script);
    assert.equal((await app.inject({ url: '/ui/assets/missing-1.js' })).statusCode, 404);
    assert.equal((await app.inject({ url: '/ui/assets/../../etc/passwd' })).statusCode, 404);
    assert.equal((await app.inject({ url: '/ui/api/unknown' })).statusCode, 404);
  });
});
