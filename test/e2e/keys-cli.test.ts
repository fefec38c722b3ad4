/**
 * `ai-gateway keys …` as a user runs it: `node dist/cli.js keys …` in child processes, against the
 * embedded store of a config, a private Redis, and a running gateway's admin API; and gateways started
 * with `node dist/cli.js serve` to show that the keys work and that revocation reaches them.
 * `npm test` builds dist/ first; run `npm run build` before running this file on its own.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { parse } from 'yaml';
import { killStrayChildren, runCli, ServeProcess } from '../support/cli-process.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { requireTool } from '../support/system-tool.js';

/** Tests that start a private redis-server: skipped without one, except under CI=true. */
const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

const KEY = /sk-gw-[0-9A-Za-z]{40}/g;
const DAY_MS = 86_400_000;
/** Every member of POST /admin/keys's answer, and nothing else. */
const CREATED_MEMBERS = [
  'budgets',
  'created_at',
  'expires_at',
  'id',
  'key',
  'max_concurrency',
  'metadata',
  'models',
  'name',
  'priority',
  'rate_limit',
  'revoked_at',
  'source',
  'team',
];
const VIEW_MEMBERS = CREATED_MEMBERS.filter((member) => member !== 'key');
const ADMIN_TOKEN = 'admin-token-for-the-keys-cli-test';
/** A static key of the config file (its secret and id). */
const STATIC_SECRET = 'sk-static-secret-of-the-config-file';
const STATIC_ID = 'static-team';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

interface KeyView {
  id: string;
  name: string;
  created_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  models: string[] | null;
  rate_limit: { requests?: string; tokens?: string } | null;
  metadata: Record<string, string>;
  source: 'config' | 'store';
}
type CreatedKey = KeyView & { key: string };

/** No child this file starts outlives it, whatever fails. */
after(() => {
  killStrayChildren();
});

/** Runs the CLI, expects exit 0 and nothing on stderr, and parses its one line of JSON. */
async function runJson<T>(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<T> {
  const result = await runCli([...args, '--json'], options);
  assert.equal(result.code, 0, `ai-gateway ${args.join(' ')} --json: ${result.stderr}`);
  assert.equal(result.stderr, '');
  const lines = result.stdout.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `one line of JSON, got: ${result.stdout}`);
  return JSON.parse(lines[0] ?? '') as T;
}

/** A config file in `directory`: port 0, state under `directory`, the demo model, one static key. */
function writeConfig(directory: string, extra = ''): string {
  const path = join(directory, 'gateway.yaml');
  writeFileSync(
    path,
    `server:
  port: 0
  state_dir: ${JSON.stringify(join(directory, 'state'))}
backends:
  - name: demo
    type: demo
models:
  - name: demo
    targets: [{ backend: demo }]
auth:
  keys:
    - id: ${STATIC_ID}
      sha256: ${sha256(STATIC_SECRET)}
${extra}`,
  );
  return path;
}

function chat(url: string, key: string): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'Hello' }] }),
  });
}

async function chatStatus(url: string, key: string): Promise<number> {
  const response = await chat(url, key);
  await response.body?.cancel();
  return response.status;
}

/**
 * Asks GET /v1/models with the key until the gateway stops accepting it; returns that status and how
 * long it took. Bounded: gives up after `limitMs`. /v1/models authenticates like every route but spends
 * no rate limit, so asking often does not turn the answer into a 429.
 */
async function refusedWithin(
  url: string,
  key: string,
  limitMs: number,
): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  for (;;) {
    const response = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    await response.body?.cancel();
    const ms = Date.now() - started;
    if (response.status !== 200 || ms > limitMs) return { status: response.status, ms };
    await new Promise((resolve) => setTimeout(resolve, 20)); // the polling interval
  }
}

function assertCreatedShape(created: CreatedKey): void {
  assert.deepEqual(Object.keys(created).sort(), CREATED_MEMBERS);
  assert.match(created.key, /^sk-gw-[0-9A-Za-z]{40}$/);
  assert.match(created.id, /^key_[0-9a-f]{16}$/);
  assert.equal(created.revoked_at, null);
  assert.equal(created.source, 'store');
}

/** A list never carries a secret or a hash: no member beyond the view, no key-shaped string. */
function assertNoSecrets(text: string, created: readonly CreatedKey[]): void {
  assert.doesNotMatch(text, /sk-gw-/);
  for (const key of created) {
    assert.ok(!text.includes(key.key), 'the key is not shown again');
    assert.ok(!text.includes(sha256(key.key)), 'nor its hash');
  }
  assert.ok(!text.includes(sha256(STATIC_SECRET)), "nor a static key's hash");
}

describe('ai-gateway keys with the embedded store of a config', () => {
  let directory: string;
  let config: string;
  let alice: CreatedKey;
  let bob: CreatedKey;
  let serve: ServeProcess | null = null;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-keys-cli-'));
    config = writeConfig(directory);
  });
  after(async () => {
    await serve?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('create --json prints exactly the object of POST /admin/keys', async () => {
    const before = Date.now();
    alice = await runJson<CreatedKey>(
      [
        'keys',
        'create',
        '--config',
        config,
        '--name',
        'alice',
        '--models',
        'demo',
        '--rpm',
        '60',
        '--tpm',
        '1000',
        '--expires',
        '30d',
        '--metadata',
        'team=a',
      ],
      { cwd: directory },
    );
    const afterwards = Date.now();
    assertCreatedShape(alice);
    assert.equal(alice.name, 'alice');
    assert.deepEqual(alice.models, ['demo']);
    assert.deepEqual(alice.rate_limit, { requests: '60/minute', tokens: '1000/minute' });
    assert.deepEqual(alice.metadata, { team: 'a' });
    const created = Date.parse(alice.created_at ?? '');
    assert.ok(created >= before - 1000 && created <= afterwards + 1000, `created_at ${alice.created_at}`);
    const expires = Date.parse(alice.expires_at ?? '');
    assert.ok(
      expires >= before + 30 * DAY_MS - 1000 && expires <= afterwards + 30 * DAY_MS + 1000,
      `expires_at ${alice.expires_at} is about 30 days ahead`,
    );
  });

  it('create without --json prints a table and the key, once', async () => {
    const result = await runCli(['keys', 'create', '--config', config, '--name', 'bob'], { cwd: directory });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /^ID +NAME +MODELS +TEAM +PRIORITY +BUDGETS +STATUS +EXPIRES +SOURCE$/m);
    const row = /^(key_[0-9a-f]{16}) +bob +\* +- +100 +- +active +- +store$/m.exec(result.stdout);
    assert.ok(row !== null, `a row for bob in: ${result.stdout}`);
    const keys = result.stdout.match(KEY) ?? [];
    assert.equal(keys.length, 1, 'the key is printed exactly once');
    bob = {
      id: row[1] ?? '',
      key: keys[0] ?? '',
      name: 'bob',
      created_at: null,
      expires_at: null,
      revoked_at: null,
      models: null,
      rate_limit: null,
      metadata: {},
      source: 'store',
    };
  });

  it('list prints a table of every key, static ones too, without a secret or hash', async () => {
    const result = await runCli(['keys', 'list', '--config', config], { cwd: directory });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ID +NAME +MODELS +TEAM +PRIORITY +BUDGETS +STATUS +EXPIRES +SOURCE$/m);
    assert.match(
      result.stdout,
      new RegExp(`^${STATIC_ID} +${STATIC_ID} +\\* +- +100 +- +active +- +config$`, 'm'),
    );
    assert.match(
      result.stdout,
      new RegExp(`^${alice.id} +alice +demo +- +100 +- +active +${alice.expires_at ?? ''} +store$`, 'm'),
    );
    assert.match(result.stdout, new RegExp(`^${bob.id} +bob +\\* +- +100 +- +active +- +store$`, 'm'));
    assertNoSecrets(result.stdout, [alice, bob]);
  });

  it('list --json prints {data: [...]} with the members of GET /admin/keys only', async () => {
    const result = await runCli(['keys', 'list', '--config', config, '--json'], { cwd: directory });
    assert.equal(result.code, 0, result.stderr);
    const listed = JSON.parse(result.stdout) as { data: KeyView[] };
    assert.deepEqual(Object.keys(listed), ['data']);
    assert.deepEqual(
      listed.data.map((key) => key.id),
      [STATIC_ID, alice.id, bob.id],
    );
    for (const key of listed.data) assert.deepEqual(Object.keys(key).sort(), VIEW_MEMBERS);
    const { key: _secret, ...aliceView } = alice;
    assert.deepEqual(listed.data[1], aliceView);
    assert.equal(listed.data[0]?.source, 'config');
    assertNoSecrets(result.stdout, [alice, bob]);
  });

  it('a served gateway on the same config accepts the key; a CLI revoke reaches it within about 1 s', async () => {
    serve = new ServeProcess({ cwd: directory, args: ['--config', config] });
    const url = await serve.listening();

    const response = await chat(url, alice.key);
    assert.equal(response.status, 200, await response.clone().text());
    const body = (await response.json()) as { model: string; choices: unknown[] };
    assert.equal(body.model, 'demo');
    assert.equal(body.choices.length, 1);
    assert.equal(await chatStatus(url, bob.key), 200);
    assert.equal(await chatStatus(url, STATIC_SECRET), 200);

    // Just used, so the gateway holds alice's key in its cache while the CLI revokes it.
    const revoked = await runCli(['keys', 'revoke', alice.id, '--config', config], { cwd: directory });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^revoked ${alice.id} at \\d{4}-\\d{2}-\\d{2}T`));

    const refused = await refusedWithin(url, alice.key, 3000);
    assert.equal(refused.status, 401, `still accepted ${refused.ms} ms after the revoke`);
    assert.ok(refused.ms <= 1500, `refused ${refused.ms} ms after the revoke; the cache keeps entries 1 s`);
    assert.equal(await chatStatus(url, alice.key), 401);
    // The other keys are untouched.
    assert.equal(await chatStatus(url, bob.key), 200);

    const listed = await runJson<{ data: KeyView[] }>(['keys', 'list', '--config', config], {
      cwd: directory,
    });
    const revokedAt = listed.data.find((key) => key.id === alice.id)?.revoked_at ?? null;
    assert.ok(revokedAt !== null && !Number.isNaN(Date.parse(revokedAt)), 'revoked_at is set');
    const table = await runCli(['keys', 'list', '--config', config], { cwd: directory });
    assert.match(table.stdout, new RegExp(`^${alice.id} +alice +demo +- +100 +- +revoked `, 'm'));

    assert.equal(await serve.stop(), 0);
    serve = null;
  });

  it('revoke with --json prints the key view; revoking twice keeps the first time', async () => {
    const first = await runJson<KeyView>(['keys', 'revoke', bob.id, '--config', config], { cwd: directory });
    assert.deepEqual(Object.keys(first).sort(), VIEW_MEMBERS);
    assert.equal(first.id, bob.id);
    assert.ok(first.revoked_at !== null);
    const second = await runJson<KeyView>(['keys', 'revoke', bob.id, '--config', config], { cwd: directory });
    assert.equal(second.revoked_at, first.revoked_at);
  });

  it('GATEWAY_CONFIG names the config as --config does', async () => {
    const listed = await runJson<{ data: KeyView[] }>(['keys', 'list'], {
      cwd: directory,
      env: { GATEWAY_CONFIG: config },
    });
    assert.deepEqual(
      listed.data.map((key) => key.id),
      [STATIC_ID, alice.id, bob.id],
    );
  });
});

describe('ai-gateway keys with a Redis store', needsRedis, () => {
  let directory: string;
  let config: string;
  let redis: PrivateRedis | null = null;
  let serve: ServeProcess | null = null;
  let carol: CreatedKey;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'gw-keys-cli-redis-'));
    redis = await startRedisServer();
    config = writeConfig(directory, `redis:\n  url: ${redis.url}\n`);
  });
  after(async () => {
    await serve?.stop();
    await redis?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('create --json stores the key in Redis, not in the state directory', async () => {
    carol = await runJson<CreatedKey>(
      ['keys', 'create', '--config', config, '--name', 'carol', '--models', 'demo', '--metadata', 'team=c'],
      { cwd: directory },
    );
    assertCreatedShape(carol);
    assert.deepEqual(carol.models, ['demo']);
    assert.deepEqual(carol.metadata, { team: 'c' });
    assert.equal(carol.expires_at, null);
    assert.equal(carol.rate_limit, null);
    assert.ok(!existsSync(join(directory, 'state', 'gateway.db')), 'no SQLite file when Redis is configured');

    // The same key seen through Redis directly: stored by its hash, never the secret.
    assert.ok(redis !== null);
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      const stored = await client.get(`{gw-keys}:hash:${sha256(carol.key)}`);
      assert.ok(stored !== null, 'the record is in Redis under its hash');
      assert.ok(!stored.includes(carol.key));
    } finally {
      client.disconnect();
    }
  });

  it('list shows it, without a secret or hash', async () => {
    const table = await runCli(['keys', 'list', '--config', config], { cwd: directory });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^${carol.id} +carol +demo +- +100 +- +active +- +store$`, 'm'));
    assertNoSecrets(table.stdout, [carol]);

    const listed = await runJson<{ data: KeyView[] }>(['keys', 'list', '--config', config], {
      cwd: directory,
    });
    const { key: _secret, ...carolView } = carol;
    assert.deepEqual(listed.data, [
      {
        id: STATIC_ID,
        name: STATIC_ID,
        created_at: null,
        expires_at: null,
        revoked_at: null,
        models: null,
        rate_limit: null,
        metadata: {},
        team: null,
        priority: 100,
        max_concurrency: null,
        budgets: [],
        source: 'config',
      },
      carolView,
    ]);
  });

  it('a gateway on that Redis accepts the key, and refuses it once the CLI revokes it', async () => {
    serve = new ServeProcess({ cwd: directory, args: ['--config', config] });
    const url = await serve.listening();
    // The gateway may still be connecting to Redis as it starts listening (503 until then).
    let status = await chatStatus(url, carol.key);
    for (const deadline = Date.now() + 5000; status === 503 && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      status = await chatStatus(url, carol.key);
    }
    assert.equal(status, 200);

    const revoked = await runCli(['keys', 'revoke', carol.id, '--config', config], { cwd: directory });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^revoked ${carol.id} at `));

    const refused = await refusedWithin(url, carol.key, 3000);
    assert.equal(refused.status, 401, `still accepted ${refused.ms} ms after the revoke`);
    assert.ok(refused.ms <= 1500, `refused ${refused.ms} ms after the revoke`);

    const listed = await runJson<{ data: KeyView[] }>(['keys', 'list', '--config', config], {
      cwd: directory,
    });
    assert.ok(listed.data.find((key) => key.id === carol.id)?.revoked_at != null);

    assert.equal(await serve.stop(), 0);
    serve = null;
  });

  it('revoke of an unknown id exits 1 and says so', async () => {
    const result = await runCli(['keys', 'revoke', 'key_0000000000000000', '--config', config], {
      cwd: directory,
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no key has the id key_0000000000000000/);
  });
});

describe('ai-gateway keys --url: a running gateway through its admin API', () => {
  let directory: string;
  let config: string;
  let serve: ServeProcess | null = null;
  let url = '';
  let bob: CreatedKey;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'gw-keys-cli-remote-'));
    config = writeConfig(directory);
    serve = new ServeProcess({
      cwd: directory,
      args: ['--config', config],
      env: { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    url = await serve.listening();
  });
  after(async () => {
    await serve?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('create --url --admin-token prints the object of POST /admin/keys; the key works', async () => {
    const before = Date.now();
    bob = await runJson<CreatedKey>(
      [
        'keys',
        'create',
        '--url',
        url,
        '--admin-token',
        ADMIN_TOKEN,
        '--name',
        'bob',
        '--models',
        'demo',
        '--rpm',
        '60',
        '--expires',
        '12h',
        '--metadata',
        'team=b',
        '--metadata',
        'owner=x=y',
      ],
      { cwd: directory },
    );
    assertCreatedShape(bob);
    assert.equal(bob.name, 'bob');
    assert.deepEqual(bob.models, ['demo']);
    assert.deepEqual(bob.rate_limit, { requests: '60/minute' });
    assert.deepEqual(bob.metadata, { team: 'b', owner: 'x=y' });
    const expires = Date.parse(bob.expires_at ?? '');
    assert.ok(Math.abs(expires - (before + 12 * 3_600_000)) < 60_000, `expires_at ${bob.expires_at}`);

    assert.equal(await chatStatus(url, bob.key), 200);
  });

  it("the object is the admin API's own: GET /admin/keys/{id} shows the same view", async () => {
    const response = await fetch(`${url}/admin/keys/${bob.id}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(response.status, 200);
    const { key: _secret, ...view } = bob;
    assert.deepEqual(await response.json(), view);
  });

  it('list --url with GATEWAY_ADMIN_TOKEN in the environment lists it', async () => {
    const table = await runCli(['keys', 'list', '--url', url], {
      cwd: directory,
      env: { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^${bob.id} +bob +demo +- +100 +- +active +`, 'm'));
    assert.match(
      table.stdout,
      new RegExp(`^${STATIC_ID} +${STATIC_ID} +\\* +- +100 +- +active +- +config$`, 'm'),
    );
    assertNoSecrets(table.stdout, [bob]);

    const listed = await runJson<{ data: KeyView[] }>(['keys', 'list', '--url', `${url}/`], {
      cwd: directory,
      env: { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    const ids = listed.data.map((key) => key.id);
    assert.ok(ids.includes(bob.id) && ids.includes(STATIC_ID), ids.join(', '));
    for (const key of listed.data) assert.deepEqual(Object.keys(key).sort(), VIEW_MEMBERS);
  });

  it('revoke ID --url revokes it: the gateway answers 401 at once', async () => {
    const result = await runCli(['keys', 'revoke', bob.id, '--url', url, '--admin-token', ADMIN_TOKEN], {
      cwd: directory,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^revoked ${bob.id} at `));
    assert.equal(await chatStatus(url, bob.key), 401);
  });

  it('revoke --url of an unknown id or of a static key exits 1 naming the status', async () => {
    const unknown = await runCli(['keys', 'revoke', 'key_ffffffffffffffff', '--url', url], {
      cwd: directory,
      env: { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /404/);
    const fixed = await runCli(['keys', 'revoke', STATIC_ID, '--url', url], {
      cwd: directory,
      env: { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    assert.equal(fixed.code, 1);
    assert.match(fixed.stderr, /409/);
    assert.equal(await chatStatus(url, STATIC_SECRET), 200);
  });

  it('a wrong admin token exits 1 with a message naming the 401', async () => {
    const result = await runCli(
      ['keys', 'create', '--url', url, '--admin-token', 'not-the-admin-token-at-all', '--name', 'mallory'],
      { cwd: directory },
    );
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^ai-gateway keys: .*\b401\b/);
    assert.ok(!result.stderr.includes('not-the-admin-token-at-all'), 'the token is not echoed');

    const list = await runCli(['keys', 'list', '--url', url, '--admin-token', 'not-the-admin-token-at-all'], {
      cwd: directory,
    });
    assert.equal(list.code, 1);
    assert.match(list.stderr, /\b401\b/);
  });

  it('--url without any admin token exits 1 and says what is missing', async () => {
    const result = await runCli(['keys', 'list', '--url', url], { cwd: directory });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--admin-token or GATEWAY_ADMIN_TOKEN/);
  });
});

describe('ai-gateway keys hash', () => {
  let directory: string;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-keys-cli-hash-'));
  });
  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('prints the SHA-256 of the key on stdin and a config snippet', async () => {
    const key = 'sk-gw-0123456789abcdefghijABCDEFGHIJ0123456789';
    const expected = createHash('sha256').update(key).digest('hex');
    const result = await runCli(['keys', 'hash'], { cwd: directory, input: `${key}\n` });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^sha256: ${expected}$`, 'm'));
    assert.ok(!result.stdout.includes(key), 'the key itself is not printed');
    // The snippet is YAML for auth.keys.
    const snippet = result.stdout.slice(result.stdout.indexOf('- id:'));
    assert.deepEqual(parse(snippet), [{ id: 'my-key', sha256: expected }]);
  });

  it('--json prints {sha256}; a CRLF line end is not part of the key', async () => {
    const key = 'my-own-secret-key';
    const expected = createHash('sha256').update(key).digest('hex');
    const results = await Promise.all(
      [key, `${key}\n`, `${key}\r\n`].map((input) =>
        runCli(['keys', 'hash', '--json'], { cwd: directory, input }),
      ),
    );
    for (const result of results) {
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), { sha256: expected });
    }
  });

  it('empty stdin exits 1 with a message', async () => {
    const results = await Promise.all(
      ['', '\n'].map((input) => runCli(['keys', 'hash'], { cwd: directory, input })),
    );
    for (const result of results) {
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /hash: give the key on standard input/);
    }
  });
});

describe('ai-gateway keys: usage errors exit 1 with a message on stderr', () => {
  let directory: string;
  let config: string;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-keys-cli-errors-'));
    config = writeConfig(directory);
  });
  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  async function refused(args: string[], message: RegExp): Promise<void> {
    const result = await runCli(args, { cwd: directory });
    assert.equal(result.code, 1, `ai-gateway ${args.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, message);
    assert.doesNotMatch(result.stdout, /sk-gw-/);
  }

  it('create without --name', async () => {
    await Promise.all([
      refused(['keys', 'create', '--config', config], /--name is required/),
      refused(['keys', 'create', '--config', config, '--name', ''], /--name is required/),
    ]);
  });

  it('--rpm 0, or a --tpm that is not a whole number', async () => {
    await Promise.all([
      refused(
        ['keys', 'create', '--config', config, '--name', 'x', '--rpm', '0'],
        /--rpm: must be a positive/,
      ),
      refused(
        ['keys', 'create', '--config', config, '--name', 'x', '--tpm', '1.5'],
        /--tpm: must be a positive/,
      ),
    ]);
  });

  it('--expires in the past or nonsense', async () => {
    const yesterday = new Date(Date.now() - DAY_MS).toISOString();
    await Promise.all([
      refused(
        ['keys', 'create', '--config', config, '--name', 'x', '--expires', yesterday],
        /--expires: must be in the future/,
      ),
      refused(
        ['keys', 'create', '--config', config, '--name', 'x', '--expires', 'next-tuesday'],
        /--expires: 'next-tuesday' is neither/,
      ),
      refused(
        ['keys', 'create', '--config', config, '--name', 'x', '--expires', '0d'],
        /--expires: must be in the future/,
      ),
    ]);
  });

  it('a --metadata that is not key=value', async () => {
    await refused(
      ['keys', 'create', '--config', config, '--name', 'x', '--metadata', 'team'],
      /--metadata: 'team' is not key=value/,
    );
  });

  it('revoke of an unknown id, of a static config key, or without an id', async () => {
    await Promise.all([
      refused(['keys', 'revoke', 'key_0123456789abcdef', '--config', config], /no key has the id/),
      refused(['keys', 'revoke', STATIC_ID, '--config', config], /static key of the config file/),
      refused(['keys', 'revoke', '--config', config], /revoke: give the key id/),
    ]);
  });

  it('none of the refused creates stored a key', async () => {
    const listed = await runJson<{ data: KeyView[] }>(['keys', 'list', '--config', config], {
      cwd: directory,
    });
    assert.deepEqual(
      listed.data.map((key) => key.id),
      [STATIC_ID],
    );
  });

  it('an unknown keys subcommand, or an unknown option', async () => {
    await Promise.all([
      refused(['keys', 'rotate', '--config', config], /unknown keys command 'rotate'/),
      refused(['keys', 'list', '--config', config, '--jsn'], /--jsn/),
    ]);
  });

  it('keys --help (and keys create --help) exit 0 with the usage', async () => {
    const results = await Promise.all(
      [
        ['keys', '--help'],
        ['keys', 'create', '--help'],
      ].map((args) => runCli(args, { cwd: directory })),
    );
    for (const result of results) {
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^Usage: ai-gateway keys <command>/);
      assert.match(result.stdout, /create --name NAME/);
      assert.match(result.stdout, /revoke ID/);
      assert.match(result.stdout, /hash/);
    }
  });
});
