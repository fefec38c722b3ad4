/**
 * No Docker engine runs where the tests run, so the container files are checked for what matters:
 * the compose file's shape, its example config passing the gateway's own validation, and the
 * Dockerfile's production properties (multi-stage, non-root, health check, listening on all addresses,
 * Node started with the options of `npm start`).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { fileURLToPath } from 'node:url';
import { validateConfig } from '../../src/config/load.js';
import { startFlags } from '../../scripts/start-flags.mjs';

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

describe('compose.yaml', () => {
  const compose = parse(read('compose.yaml'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
    volumes: Record<string, unknown>;
  };

  it('runs two gateway instances on one Redis with persistence', () => {
    const { redis, 'gateway-a': a, 'gateway-b': b } = compose.services;
    assert.ok(redis !== undefined && a !== undefined && b !== undefined);
    assert.ok((redis['command'] as string[]).includes('--appendonly'));
    assert.deepEqual(redis['volumes'], ['redis-data:/data']);
    assert.ok('redis-data' in compose.volumes);
    for (const gateway of [a, b]) {
      const environment = gateway['environment'] as Record<string, string>;
      assert.equal(environment['REDIS_URL'], 'redis://redis:6379');
      assert.equal(environment['GATEWAY_CONFIG'], '/etc/ai-gateway/gateway.yaml');
      assert.deepEqual(gateway['depends_on'], { redis: { condition: 'service_healthy' } });
      assert.equal(gateway['build'], '.');
    }
    assert.deepEqual(a['ports'], ['8080:8080']);
    assert.deepEqual(b['ports'], ['8081:8080']);
  });

  it('mounts an example config that the gateway accepts, with Redis and the admin token from the environment', () => {
    const config = validateConfig(parse(read('deploy/gateway.yaml')), {
      REDIS_URL: 'redis://redis:6379',
      GATEWAY_ADMIN_TOKEN: 'an-admin-token-of-enough-length',
    });
    assert.deepEqual(config.redis, { url: 'redis://redis:6379' });
    assert.equal(config.server.host, '0.0.0.0');
    assert.ok(config.auth.adminTokenSha256 !== null);
    assert.deepEqual(
      config.models.map((route) => route.name),
      ['demo', '*'],
    );
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);

  it('builds in one stage and runs from a second, slim one without the compiler or sources', () => {
    assert.equal(stages.length, 2);
    const run = stages[1] ?? '';
    assert.match(run, /^node:24-bookworm-slim/);
    assert.doesNotMatch(run, /g\+\+|COPY src|COPY \. /);
    assert.match(run, /COPY --from=build --chown=node:node \/app\/dist/);
  });

  it('runs as a non-root user, on all addresses, with a health check on /health/live', () => {
    const run = stages[1] ?? '';
    assert.match(run, /^USER node$/m);
    assert.match(run, /HOST=0\.0\.0\.0/);
    assert.match(run, /^HEALTHCHECK .*\n?.*\/health\/live/m);
    assert.match(run, /^ENTRYPOINT \["node", (?:"--[^"]+", )*"dist\/cli\.js"\]$/m);
  });

  it('starts Node with the options of npm start, as the ai-gateway command does', () => {
    const flags = startFlags(fileURLToPath(root));
    assert.ok(flags.includes('--max-semi-space-size=32'), flags.join(' '));
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(stages[1] ?? '')?.[1] ?? '[]';
    assert.deepEqual(JSON.parse(entrypoint), ['node', ...flags, 'dist/cli.js']);
    const shebang = read('src/cli.ts').split('\n')[0];
    assert.equal(shebang, `#!/usr/bin/env -S node ${flags.join(' ')}`);
  });

  it('keeps local state, dependencies and git out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', '.gateway', '.git'])
      assert.ok(ignored.includes(entry), entry);
  });
});
