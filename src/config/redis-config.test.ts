import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ConfigError, validateConfig } from './load.js';

function problemsOf(document: Record<string, unknown>, env: Record<string, string> = {}): string[] {
  try {
    validateConfig(document, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return [...error.problems];
  }
  assert.fail('the config was accepted');
}

function redisOf(redis: unknown, env: Record<string, string> = {}): unknown {
  return validateConfig({ redis }, env).redis;
}

describe('redis: url, cluster or sentinel', () => {
  it('keeps redis.url and REDIS_URL as they were: { url } alone, the env replacing the file', () => {
    assert.deepEqual(redisOf({ url: 'redis://127.0.0.1:6379' }), { url: 'redis://127.0.0.1:6379' });
    assert.deepEqual(redisOf({ url: 'redis://file:6379' }, { REDIS_URL: 'rediss://env:6380/2' }), {
      url: 'rediss://env:6380/2',
    });
    assert.deepEqual(redisOf(undefined, { REDIS_URL: 'redis://env:6380' }), { url: 'redis://env:6380' });
    assert.equal(redisOf({ url: 'redis://file:6379' }, { REDIS_URL: '' }), null);
    assert.equal(redisOf({ url: '' }), null);
    assert.equal(validateConfig({}, {}).redis, null);
    assert.deepEqual(problemsOf({ redis: { url: 'localhost:6379' } }), [
      'redis.url: must be a redis:// or rediss:// URL',
    ]);
  });

  it('takes username and password beside a URL without credentials', () => {
    assert.deepEqual(redisOf({ url: 'redis://10.0.0.1:6379', username: 'gateway', password: 's3cret' }), {
      url: 'redis://10.0.0.1:6379',
      username: 'gateway',
      password: 's3cret',
    });
    // ${VAR:-} left empty: as if unset.
    assert.deepEqual(redisOf({ url: 'redis://10.0.0.1:6379', password: '${REDIS_PASSWORD:-}' }), {
      url: 'redis://10.0.0.1:6379',
    });
  });

  it('reads cluster seeds as URLs or host:port, credentials and TLS included', () => {
    assert.deepEqual(
      redisOf({ cluster: ['redis://10.0.0.1:7000', '10.0.0.2:7001', 'redis-3', '[::1]:7002'] }),
      {
        cluster: [
          { host: '10.0.0.1', port: 7000 },
          { host: '10.0.0.2', port: 7001 },
          { host: 'redis-3', port: 6379 },
          { host: '::1', port: 7002 },
        ],
        tls: false,
      },
    );
    assert.deepEqual(redisOf({ cluster: ['rediss://gw:p%40ss@a:7000', 'rediss://b:7000'] }), {
      cluster: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7000 },
      ],
      username: 'gw',
      password: 'p@ss',
      tls: true,
    });
    // redis.username/password win over the URLs'.
    assert.deepEqual(redisOf({ cluster: ['redis://:old@a:7000'], password: 'new' }), {
      cluster: [{ host: 'a', port: 7000 }],
      password: 'new',
      tls: false,
    });
  });

  it('reads sentinels (port 26379 by default) and keeps the master and sentinel credentials apart', () => {
    assert.deepEqual(
      redisOf({
        sentinel: {
          sentinels: ['10.0.0.5', 'redis://:sentinel-secret@10.0.0.6:26380'],
          name: 'mymaster',
          password: 'master-secret',
          db: 2,
        },
      }),
      {
        sentinel: {
          sentinels: [
            { host: '10.0.0.5', port: 26379 },
            { host: '10.0.0.6', port: 26380 },
          ],
          name: 'mymaster',
          password: 'master-secret',
          sentinelPassword: 'sentinel-secret',
          db: 2,
          tls: false,
          sentinelTls: false,
        },
      },
    );
    assert.deepEqual(
      redisOf({
        sentinel: {
          sentinels: ['rediss://s1:26379'],
          name: 'm',
          username: 'app',
          sentinel_username: 'watcher',
          sentinel_password: 'w',
          tls: true,
        },
      }),
      {
        sentinel: {
          sentinels: [{ host: 's1', port: 26379 }],
          name: 'm',
          username: 'app',
          sentinelUsername: 'watcher',
          sentinelPassword: 'w',
          db: 0,
          tls: true,
          sentinelTls: true,
        },
      },
    );
  });

  it('refuses two modes, none, or REDIS_URL beside a cluster or sentinel, naming the field', () => {
    assert.deepEqual(problemsOf({ redis: { url: 'redis://a:6379', cluster: ['b:7000'] } }), [
      'redis: set exactly one of url, cluster and sentinel (found url and cluster)',
    ]);
    assert.deepEqual(
      problemsOf({ redis: { cluster: ['b:7000'], sentinel: { sentinels: ['c'], name: 'm' } } }),
      ['redis: set exactly one of url, cluster and sentinel (found cluster and sentinel)'],
    );
    assert.deepEqual(problemsOf({ redis: {} }), [
      'redis: set one of url, cluster and sentinel (or remove the section)',
    ]);
    assert.deepEqual(problemsOf({ redis: { cluster: ['b:7000'] } }, { REDIS_URL: 'redis://a:6379' }), [
      'REDIS_URL: replaces redis.url only and cannot be combined with redis.cluster; unset one of them',
    ]);
    // An empty REDIS_URL (compose's ${REDIS_URL:-}) is no override.
    assert.deepEqual(redisOf({ cluster: ['b:7000'] }, { REDIS_URL: '' }), {
      cluster: [{ host: 'b', port: 7000 }],
      tls: false,
    });
  });

  it('refuses bad addresses, mixed schemes, disagreeing credentials, misplaced passwords', () => {
    assert.deepEqual(problemsOf({ redis: { cluster: [] } }), [
      'redis.cluster: expected array length to be greater or equal to 1',
    ]);
    assert.deepEqual(
      problemsOf({
        redis: { cluster: ['http://a:7000', 'a:70000', 'redis://a:7000/3', 'a b', 'redis://a:7000?x=1'] },
      }),
      [
        'redis.cluster[0]: must be host:port, redis://host:port or rediss://host:port',
        'redis.cluster[1]: must be host:port, redis://host:port or rediss://host:port',
        'redis.cluster[3]: must be host:port, redis://host:port or rediss://host:port',
        'redis.cluster[4]: must be host:port, redis://host:port or rediss://host:port',
        'redis.cluster[2]: a Redis Cluster has only database 0; drop /3',
      ],
    );
    assert.deepEqual(problemsOf({ redis: { cluster: ['redis://a:7000', 'rediss://b:7000'] } }), [
      'redis.cluster[1]: mixes redis:// and rediss://; use one scheme for every address',
    ]);
    assert.deepEqual(problemsOf({ redis: { cluster: ['redis://:one@a:7000', 'redis://:two@b:7000'] } }), [
      'redis.cluster[1]: its credentials differ from those of redis.cluster[0]; set redis.username and redis.password once instead',
    ]);
    assert.deepEqual(
      problemsOf({ redis: { sentinel: { sentinels: ['s:26379'], name: 'm' }, password: 'x' } }),
      [
        "redis.password: with redis.sentinel, the master's credentials go in redis.sentinel.username and redis.sentinel.password (the sentinels' in sentinel_username and sentinel_password)",
      ],
    );
    assert.equal(
      problemsOf({ redis: { sentinel: { sentinels: ['s:26379'] } } })[0],
      'redis.sentinel.name: expected required property',
    );
    assert.deepEqual(
      problemsOf({ redis: { sentinel: { sentinels: ['s:26379'], name: 'm', master: 'x' } } }),
      ['redis.sentinel.master: unknown field'],
    );
  });

  it('lets several workers share a cluster or a sentinel-watched master', () => {
    assert.equal(
      validateConfig({ server: { workers: 2 }, redis: { cluster: ['a:7000'] } }, {}).server.workers,
      2,
    );
    assert.equal(
      validateConfig({ server: { workers: 2 }, redis: { sentinel: { sentinels: ['s'], name: 'm' } } }, {})
        .server.workers,
      2,
    );
  });

  it("docs/deployment.md's examples are valid configs of each form", () => {
    const page = readFileSync(new URL('../../docs/deployment.md', import.meta.url), 'utf8');
    const start = page.search(/^#{2,3} Redis Cluster and Sentinel$/m);
    assert.ok(start >= 0, 'docs/deployment.md has no Redis Cluster and Sentinel section');
    const rest = page.slice(page.indexOf('\n', start) + 1);
    const end = rest.search(/^#{1,3} /m);
    const section = rest.slice(0, end < 0 ? undefined : end);
    const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
    const env = { REDIS_PASSWORD: 'from-the-environment' };
    const forms = blocks.map((block) => {
      const redis = validateConfig(parse(block), env).redis;
      assert.ok(redis !== null);
      return Object.keys(redis)[0];
    });
    assert.deepEqual(forms, ['url', 'cluster', 'sentinel']);
  });
});
