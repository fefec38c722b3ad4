/**
 * The admin API for keys (CONTRACT.md, "Admin API") and what keys do on the client side, against real
 * gateways. The same cases run against both key stores, the embedded SQLite file and a private
 * redis-server; then what only one store kind can show: several gateways on one Redis (revocation
 * within 1 s, RELIABILITY.md 1 when Redis goes away) and the SQLite file across a restart.
 * Secrets in logs: RELIABILITY.md 15. Look-up by hash: RELIABILITY.md 18.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { sha256Hex } from '../../src/auth/api-key.js';
import {
  RESTRICTED_KEY,
  TEST_KEY,
  startGateway,
  testConfig,
  waitForLog,
  type RunningGateway,
  type StartOptions,
} from '../support/gateway-harness.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { requireTool } from '../support/system-tool.js';
import type { Problem } from '../support/problem.js';

/** Tests that start a private redis-server: skipped without one, except under CI=true. */
const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

const ADMIN_TOKEN = 'admin-token-for-tests-0123';
const ADMIN_ENV = { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN };
const KEY_SHAPE = /^sk-gw-[0-9A-Za-z]{32,}$/;
/** A well-formed key that no store knows. */
const UNKNOWN_KEY = 'sk-gw-unknownCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC';
const VIEW_FIELDS = [
  'budgets',
  'created_at',
  'expires_at',
  'id',
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
const MODELS = {
  backends: [{ name: 'demo', type: 'demo' }],
  models: [
    { name: 'demo', targets: [{ backend: 'demo' }] },
    { name: 'demo-large', targets: [{ backend: 'demo' }] },
  ],
};

interface KeyView {
  id: string;
  name: string;
  created_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  models: string[] | null;
  rate_limit: Record<string, unknown> | null;
  metadata: Record<string, string>;
  source: 'config' | 'store';
}
interface CreatedKey extends KeyView {
  key: string;
}
interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: unknown;
}
interface CallOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Sent as the whole Authorization header. */
  authorization?: string;
  /** Sent as `x-api-key`. */
  apiKey?: string;
  body?: unknown;
  requestId?: string;
  /** The loopback address to connect from (127.0.0.0/8): failed authentications are limited per address. */
  from?: string;
}

/** One HTTP request on a new connection, optionally from another loopback address. */
function call(base: string, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const url = new URL(path, base);
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (options.authorization !== undefined) headers['authorization'] = options.authorization;
  if (options.apiKey !== undefined) headers['x-api-key'] = options.apiKey;
  if (options.requestId !== undefined) headers['x-request-id'] = options.requestId;
  let payload: Buffer | undefined;
  if (options.body !== undefined) {
    payload = Buffer.from(JSON.stringify(options.body));
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        headers,
        agent: false,
        ...(options.from === undefined ? {} : { localAddress: options.from }),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            json = null;
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

function chat(base: string, key: string, model = 'demo', from?: string): Promise<Answer> {
  return call(base, 'POST', '/v1/chat/completions', {
    token: key,
    body: { model, messages: [{ role: 'user', content: 'Hi' }] },
    ...(from === undefined ? {} : { from }),
  });
}

function listModels(base: string, key: string): Promise<Answer> {
  return call(base, 'GET', '/v1/models', { token: key });
}

function admin(base: string, method: string, path: string, body?: unknown): Promise<Answer> {
  return call(base, method, path, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) });
}

/** Asserts a 2xx JSON answer and returns its body. */
function assertJson(answer: Answer, status = 200): unknown {
  assert.equal(answer.status, status, answer.text);
  assert.match(String(answer.headers['content-type']), /^application\/json/);
  return answer.json;
}

/** One key as the admin API shows it (200). */
function asView(answer: Answer): KeyView {
  return assertJson(answer) as KeyView;
}

/** GET /admin/keys (200). */
function asList(answer: Answer): { data: KeyView[] } {
  return assertJson(answer) as { data: KeyView[] };
}

/** The ids of GET /v1/models (200). */
function asModelIds(answer: Answer): string[] {
  return (assertJson(answer) as { data: { id: string }[] }).data.map((model) => model.id);
}

/** Asserts an RFC 9457 problem with the contract's members, and returns it. */
function assertProblem(answer: Answer, status: number, code: string): Problem {
  assert.equal(answer.status, status, answer.text);
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
  const problem = answer.json as Problem;
  assert.equal(problem.status, status);
  assert.equal(problem.error.code, code);
  assert.equal(problem.error.message, problem.detail);
  assert.equal(problem.request_id, answer.headers['x-request-id']);
  assert.equal(typeof problem.type, 'string');
  assert.equal(typeof problem.title, 'string');
  return problem;
}

/**
 * Calls `attempt` every `intervalMs` until `done` holds for its answer or `timeoutMs` has passed;
 * returns the last answer and when it arrived.
 */
async function poll<T>(
  attempt: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 20,
): Promise<{ value: T; at: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    const at = Date.now();
    if (done(value) || at >= deadline) return { value, at };
    await delay(intervalMs);
  }
}

/** A config document with the test keys, the two demo models, Redis when given, and the admin token's hash when asked. */
function documentFor(redisUrl: string | null, adminTokenInConfig = false): Record<string, unknown> {
  const document = testConfig({
    ...MODELS,
    ...(redisUrl === null ? {} : { extra: { redis: { url: redisUrl } } }),
  });
  if (adminTokenInConfig) {
    document['auth'] = {
      ...(document['auth'] as Record<string, unknown>),
      admin_token_sha256: sha256Hex(ADMIN_TOKEN),
    };
  }
  return document;
}

/**
 * Starts a gateway and waits until it is ready; with Redis, a gateway answers 503 until its connection is
 * up, and changes of other instances reach it once its subscription is (the key store says when).
 */
async function startReady(
  document: Record<string, unknown>,
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<RunningGateway> {
  const running = await startGateway(document, env, options);
  try {
    const ready = await poll(
      () => call(running.url, 'GET', '/health/ready'),
      (answer) => answer.status === 200,
      5000,
    );
    assert.equal(ready.value.status, 200, `the gateway did not become ready: ${ready.value.text}`);
    if (running.gateway.keyStore.kind === 'redis') {
      const subscribed = await poll(
        () => Promise.resolve(running.gateway.keyStore.changesDelivered),
        (delivered) => delivered,
        5000,
      );
      assert.ok(subscribed.value, 'the gateway did not subscribe to key changes');
    }
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

/** POST /admin/keys, asserting 201; remembers the key so that the log checks can look for it. */
async function createKey(
  base: string,
  body: Record<string, unknown>,
  remember: string[],
): Promise<CreatedKey> {
  const created = assertJson(await admin(base, 'POST', '/admin/keys', body), 201) as CreatedKey;
  remember.push(created.key);
  return created;
}

/** Every value the Redis server holds, as one string. */
async function redisContents(url: string): Promise<string> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const parts: string[] = [];
    for (const name of await client.keys('*')) {
      parts.push(name);
      const type = await client.type(name);
      if (type === 'string') parts.push((await client.get(name)) ?? '');
      else if (type === 'set') parts.push(...(await client.smembers(name)));
      else parts.push(`<${type}>`);
    }
    return parts.join('\n');
  } finally {
    client.disconnect();
  }
}

/** Every file of a directory, as one string. */
function directoryContents(directory: string): string {
  return readdirSync(directory)
    .map((name) => readFileSync(join(directory, name)).toString('latin1'))
    .join('\n');
}

const STORE_KINDS = ['embedded', 'redis'] as const;

for (const kind of STORE_KINDS) {
  describe(`API keys through the admin API, ${kind} key store`, kind === 'redis' ? needsRedis : {}, () => {
    let redis: PrivateRedis | null = null;
    let stateDir = '';
    let running: RunningGateway;
    /** Every key created in this block: none may ever appear in a log line. */
    const secrets: string[] = [];
    const redisUrl = (): string | null => redis?.url ?? null;

    before(async () => {
      if (kind === 'redis') redis = await startRedisServer();
      stateDir = mkdtempSync(join(tmpdir(), 'gw-keys-api-'));
      running = await startReady(documentFor(redisUrl()), ADMIN_ENV, { stateDir });
    });
    after(async () => {
      await running.stop();
      await redis?.stop();
      rmSync(stateDir, { recursive: true, force: true });
    });

    it('POST /admin/keys answers 201 with the new key and its record', async () => {
      const startedAt = Date.now();
      const answer = await admin(running.url, 'POST', '/admin/keys', { name: 'alpha' });
      const created = assertJson(answer, 201) as CreatedKey;
      secrets.push(created.key);
      assert.deepEqual(Object.keys(created).sort(), [...VIEW_FIELDS, 'key'].sort());
      assert.match(created.key, KEY_SHAPE);
      assert.match(created.id, /\S/);
      assert.equal(created.name, 'alpha');
      assert.equal(created.source, 'store');
      assert.equal(created.expires_at, null);
      assert.equal(created.revoked_at, null);
      assert.equal(created.models, null);
      assert.equal(created.rate_limit, null);
      assert.deepEqual(created.metadata, {});
      assert.ok(created.created_at !== null);
      const createdAt = Date.parse(created.created_at);
      assert.ok(createdAt >= startedAt - 1000 && createdAt <= Date.now() + 1000, created.created_at);
    });

    it('a new key works at once through the official openai client and through x-api-key', async () => {
      const created = await createKey(running.url, { name: 'works' }, secrets);
      const completion = await running.client({ apiKey: created.key }).chat.completions.create({
        model: 'demo',
        messages: [{ role: 'user', content: 'Hi' }],
      });
      assert.match(completion.choices[0]?.message.content ?? '', /demo model/);

      const viaHeader = await call(running.url, 'POST', '/v1/chat/completions', {
        apiKey: created.key,
        requestId: `x-api-key-${kind}`,
        body: { model: 'demo', messages: [{ role: 'user', content: 'Hi' }] },
      });
      assertJson(viaHeader);
      const line = await waitForLog(running, (entry) => entry['request_id'] === `x-api-key-${kind}`);
      assert.equal(line['key_id'], created.id);
    });

    it('GET /admin/keys and /admin/keys/{id} show the key without its secret or hash, ever again', async () => {
      const created = await createKey(
        running.url,
        { name: 'listed', models: ['demo'], metadata: { team: 'blue' } },
        secrets,
      );
      const { key, ...view } = created;

      const listAnswer = await admin(running.url, 'GET', '/admin/keys');
      const list = asList(listAnswer);
      assert.deepEqual(Object.keys(list), ['data']);
      assert.deepEqual(
        list.data.find((entry) => entry.id === created.id),
        view,
      );
      for (const entry of list.data) {
        assert.deepEqual(Object.keys(entry).sort(), VIEW_FIELDS, JSON.stringify(entry));
      }
      const one = await admin(running.url, 'GET', `/admin/keys/${created.id}`);
      assert.deepEqual(asView(one), view);

      for (const text of [listAnswer.text, one.text]) {
        assert.ok(!text.includes(key), 'the key is shown again');
        assert.ok(!text.includes(sha256Hex(key)), "the key's hash is shown");
        assert.ok(!text.includes(TEST_KEY) && !text.includes(sha256Hex(TEST_KEY)));
        assert.ok(!text.includes(RESTRICTED_KEY) && !text.includes(sha256Hex(RESTRICTED_KEY)));
        assert.ok(!/"(key|sha256)"/.test(text), text);
      }
    });

    it("the store keeps the key's SHA-256, never the key", async () => {
      const created = await createKey(running.url, { name: 'hashed-only' }, secrets);
      const stored = redis === null ? directoryContents(stateDir) : await redisContents(redis.url);
      assert.ok(stored.includes(sha256Hex(created.key)), 'the hash is not where the store keeps keys');
      for (const key of secrets) assert.ok(!stored.includes(key), 'a key is stored in clear');
    });

    it("the config file's static keys are listed with source 'config' and are read-only here (409)", async () => {
      const list = asList(await admin(running.url, 'GET', '/admin/keys'));
      const testKey = list.data.find((entry) => entry.id === 'test-key');
      assert.equal(testKey?.source, 'config');
      assert.equal(list.data.find((entry) => entry.id === 'restricted-key')?.source, 'config');
      assert.deepEqual(list.data.find((entry) => entry.id === 'restricted-key')?.models, [
        'demo',
        'stand-in-*',
      ]);
      assert.deepEqual(assertJson(await admin(running.url, 'GET', '/admin/keys/test-key')), testKey);

      const patch = assertProblem(
        await admin(running.url, 'PATCH', '/admin/keys/test-key', { name: 'renamed' }),
        409,
        'invalid_request',
      );
      assert.match(patch.detail, /config/);
      const revoke = assertProblem(
        await admin(running.url, 'DELETE', '/admin/keys/test-key'),
        409,
        'invalid_request',
      );
      assert.match(revoke.detail, /config/);

      assert.deepEqual(assertJson(await admin(running.url, 'GET', '/admin/keys/test-key')), testKey);
      assertJson(await chat(running.url, TEST_KEY));
    });

    it('PATCH changes name, models, rate_limit, expires_at and metadata, effective on the next request', async () => {
      const created = await createKey(running.url, { name: 'patch-me' }, secrets);
      assertJson(await chat(running.url, created.key, 'demo'));

      const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
      const changes = {
        name: 'patched',
        models: ['demo-large'],
        rate_limit: { requests: '5/minute', tokens: '1000/hour' },
        expires_at: inAnHour,
        metadata: { team: 'red', owner: 'ops' },
      };
      const patched = asView(await admin(running.url, 'PATCH', `/admin/keys/${created.id}`, changes));
      assert.deepEqual(patched, {
        id: created.id,
        created_at: created.created_at,
        revoked_at: null,
        source: 'store',
        team: null,
        priority: 100,
        max_concurrency: null,
        budgets: [],
        ...changes,
      });
      assert.deepEqual(assertJson(await admin(running.url, 'GET', `/admin/keys/${created.id}`)), patched);

      // The allow-list applies from the very next request.
      const refused = assertProblem(await chat(running.url, created.key, 'demo'), 403, 'model_not_allowed');
      assert.equal(refused.error.param, 'model');
      assertJson(await chat(running.url, created.key, 'demo-large'));
      assert.deepEqual(asModelIds(await listModels(running.url, created.key)), ['demo-large']);

      // null clears the allow-list; fields not named stay as they were.
      const cleared = asView(
        await admin(running.url, 'PATCH', `/admin/keys/${created.id}`, { models: null, expires_at: null }),
      );
      assert.deepEqual(cleared, { ...patched, models: null, expires_at: null });
      assertJson(await chat(running.url, created.key, 'demo'));
      assert.deepEqual(asModelIds(await listModels(running.url, created.key)), ['demo', 'demo-large']);
    });

    it('DELETE revokes: 200 with revoked_at, then 401 invalid_api_key; a second DELETE keeps the first time', async () => {
      const created = await createKey(running.url, { name: 'to-revoke' }, secrets);
      assertJson(await chat(running.url, created.key));

      const startedAt = Date.now();
      const revoked = asView(await admin(running.url, 'DELETE', `/admin/keys/${created.id}`));
      assert.ok(revoked.revoked_at !== null);
      const revokedAt = Date.parse(revoked.revoked_at);
      assert.ok(revokedAt >= startedAt - 1000 && revokedAt <= Date.now() + 1000, revoked.revoked_at);
      const { key: _key, ...view } = created;
      assert.deepEqual(revoked, { ...view, revoked_at: revoked.revoked_at });

      const refused = assertProblem(await chat(running.url, created.key), 401, 'invalid_api_key');
      assert.ok(!refused.detail.includes(created.key));
      await assert.rejects(
        running.client({ apiKey: created.key }).chat.completions.create({
          model: 'demo',
          messages: [{ role: 'user', content: 'Hi' }],
        }),
        (error: unknown) => error instanceof OpenAI.AuthenticationError && error.status === 401,
      );

      const again = asView(await admin(running.url, 'DELETE', `/admin/keys/${created.id}`));
      assert.equal(again.revoked_at, revoked.revoked_at);
      const shown = asView(await admin(running.url, 'GET', `/admin/keys/${created.id}`));
      assert.equal(shown.revoked_at, revoked.revoked_at);
    });

    it('refuses an expires_at in the past with 400, on create and on PATCH', async () => {
      const past = new Date(Date.now() - 60_000).toISOString();
      const onCreate = assertProblem(
        await admin(running.url, 'POST', '/admin/keys', { name: 'stale', expires_at: past }),
        400,
        'invalid_request',
      );
      assert.match(onCreate.detail, /expires_at/);

      const created = await createKey(running.url, { name: 'fresh' }, secrets);
      const onPatch = assertProblem(
        await admin(running.url, 'PATCH', `/admin/keys/${created.id}`, { expires_at: past }),
        400,
        'invalid_request',
      );
      assert.match(onPatch.detail, /expires_at/);
      const shown = asView(await admin(running.url, 'GET', `/admin/keys/${created.id}`));
      assert.equal(shown.expires_at, null);
      const list = asList(await admin(running.url, 'GET', '/admin/keys'));
      assert.ok(!list.data.some((entry) => entry.name === 'stale'));
    });

    it('a key works until its expires_at, then gets 401 saying it has expired', async () => {
      const expiresAt = Date.now() + 2000;
      const created = await createKey(
        running.url,
        { name: 'short-lived', expires_at: new Date(expiresAt).toISOString() },
        secrets,
      );
      let lastAcceptedSentAt = 0;
      let answer = await listModels(running.url, created.key);
      assertJson(answer);
      const deadline = expiresAt + 3000;
      for (;;) {
        const sentAt = Date.now();
        answer = await listModels(running.url, created.key);
        if (answer.status !== 200 || Date.now() > deadline) break;
        lastAcceptedSentAt = sentAt;
        await delay(25);
      }
      const refusedAt = Date.now();
      const problem = assertProblem(answer, 401, 'invalid_api_key');
      assert.match(problem.detail, /expired/);
      assert.ok(lastAcceptedSentAt < expiresAt, 'accepted after its expiry');
      assert.ok(refusedAt >= expiresAt, `refused ${expiresAt - refusedAt} ms before its expiry`);
      // Expiry is not revocation: the record is unchanged.
      const shown = asView(await admin(running.url, 'GET', `/admin/keys/${created.id}`));
      assert.equal(shown.revoked_at, null);
      assert.equal(Date.parse(shown.expires_at ?? ''), expiresAt);
    });

    it('refuses bad admin input with 400 naming every bad field, and creates nothing', async () => {
      const listed = asList(await admin(running.url, 'GET', '/admin/keys'));
      const problem = assertProblem(
        await admin(running.url, 'POST', '/admin/keys', {
          name: '',
          colour: 'red',
          models: 'demo',
          rate_limit: { requests: '10/fortnight' },
        }),
        400,
        'invalid_request',
      );
      assert.match(problem.detail, /\bname\b/);
      assert.match(problem.detail, /\bcolour\b/);
      assert.match(problem.detail, /\bmodels\b/);
      assert.match(problem.detail, /rate_limit\.requests/);
      // rate_limit is an object or null; it is the rate inside that is wrong, not its type.
      assert.doesNotMatch(problem.detail, /rate_limit: must be null/);

      const onlyRate = assertProblem(
        await admin(running.url, 'POST', '/admin/keys', {
          name: 'bad-rate',
          rate_limit: { requests: '10/fortnight' },
        }),
        400,
        'invalid_request',
      );
      assert.match(onlyRate.detail, /rate_limit\.requests/);

      const missingName = assertProblem(
        await admin(running.url, 'POST', '/admin/keys', { models: ['demo'] }),
        400,
        'invalid_request',
      );
      assert.match(missingName.detail, /\bname\b/);
      const badDate = assertProblem(
        await admin(running.url, 'POST', '/admin/keys', { name: 'bad-date', expires_at: 'tomorrow' }),
        400,
        'invalid_request',
      );
      assert.match(badDate.detail, /expires_at/);

      const created = await createKey(running.url, { name: 'patch-target' }, secrets);
      assertProblem(
        await admin(running.url, 'PATCH', `/admin/keys/${created.id}`, {}),
        400,
        'invalid_request',
      );
      const badPatch = assertProblem(
        await admin(running.url, 'PATCH', `/admin/keys/${created.id}`, { name: '', owner: 'x' }),
        400,
        'invalid_request',
      );
      assert.match(badPatch.detail, /\bname\b/);
      assert.match(badPatch.detail, /\bowner\b/);
      assert.equal(asView(await admin(running.url, 'GET', `/admin/keys/${created.id}`)).name, 'patch-target');

      const afterwards = asList(await admin(running.url, 'GET', '/admin/keys'));
      assert.equal(afterwards.data.length, listed.data.length + 1);
    });

    it('answers 404 not_found for an unknown id on GET, PATCH and DELETE', async () => {
      for (const [method, body] of [
        ['GET', undefined],
        ['PATCH', { name: 'x' }],
        ['DELETE', undefined],
      ] as const) {
        const problem = assertProblem(
          await admin(running.url, method, '/admin/keys/key_doesnotexist', body),
          404,
          'not_found',
        );
        assert.match(problem.detail, /key_doesnotexist/);
      }
    });

    it('allows two keys with the same name, with distinct ids and keys', async () => {
      const first = await createKey(running.url, { name: 'twin' }, secrets);
      const second = await createKey(running.url, { name: 'twin' }, secrets);
      assert.notEqual(first.id, second.id);
      assert.notEqual(first.key, second.key);
      const list = asList(await admin(running.url, 'GET', '/admin/keys'));
      assert.deepEqual(
        list.data
          .filter((entry) => entry.name === 'twin')
          .map((entry) => entry.id)
          .sort(),
        [first.id, second.id].sort(),
      );
      // Each key is its own: revoking one leaves the other working.
      assertJson(await admin(running.url, 'DELETE', `/admin/keys/${first.id}`));
      assertProblem(await chat(running.url, first.key), 401, 'invalid_api_key');
      assertJson(await chat(running.url, second.key));
    });

    it('refuses a missing or wrong admin token with 401 problem+json on every route, changing nothing', async () => {
      const created = await createKey(running.url, { name: 'guarded' }, secrets);
      const routes = [
        ['GET', '/admin/keys', undefined],
        ['POST', '/admin/keys', { name: 'intruder' }],
        ['GET', `/admin/keys/${created.id}`, undefined],
        ['PATCH', `/admin/keys/${created.id}`, { models: ['demo-large'] }],
        ['DELETE', `/admin/keys/${created.id}`, undefined],
      ] as const;
      for (const [index, [method, path, body]] of routes.entries()) {
        // Each route from its own address, so that these failures stay under the failed-auth limit.
        const from = `127.0.0.${40 + index}`;
        const withBody = body === undefined ? {} : { body };
        for (const auth of [
          {},
          { token: 'wrong-admin-token-0123456789' },
          { token: TEST_KEY },
          { apiKey: ADMIN_TOKEN },
        ]) {
          const answer = await call(running.url, method, path, { ...auth, ...withBody, from });
          const problem = assertProblem(answer, 401, 'invalid_api_key');
          assert.ok(!answer.text.includes(ADMIN_TOKEN));
          assert.ok(!problem.detail.includes(TEST_KEY));
        }
      }
      const shown = asView(await admin(running.url, 'GET', `/admin/keys/${created.id}`));
      assert.equal(shown.revoked_at, null);
      assert.equal(shown.models, null);
      const list = asList(await admin(running.url, 'GET', '/admin/keys'));
      assert.ok(!list.data.some((entry) => entry.name === 'intruder'));
      // The admin token is not an API key either.
      assertProblem(await chat(running.url, ADMIN_TOKEN, 'demo', '127.0.0.22'), 401, 'invalid_api_key');
    });

    it('accepts the admin token configured as auth.admin_token_sha256 instead of GATEWAY_ADMIN_TOKEN', async () => {
      const configured = await startReady(documentFor(redisUrl(), true));
      try {
        const created = await createKey(configured.url, { name: 'from-config-token' }, secrets);
        assertJson(await chat(configured.url, created.key));
        assertProblem(
          await call(configured.url, 'GET', '/admin/keys', { token: 'wrong-admin-token-0123456789' }),
          401,
          'invalid_api_key',
        );
      } finally {
        await configured.stop();
      }
    });

    it('with no admin token configured, every /admin/keys route answers 404 not_found', async () => {
      const closed = await startGateway(documentFor(redisUrl()));
      try {
        for (const [method, path, body] of [
          ['GET', '/admin/keys', undefined],
          ['POST', '/admin/keys', { name: 'nobody' }],
          ['GET', '/admin/keys/test-key', undefined],
          ['PATCH', '/admin/keys/test-key', { name: 'x' }],
          ['DELETE', '/admin/keys/test-key', undefined],
        ] as const) {
          for (const token of [undefined, ADMIN_TOKEN, TEST_KEY]) {
            const answer = await call(closed.url, method, path, {
              ...(token === undefined ? {} : { token }),
              ...(body === undefined ? {} : { body }),
            });
            assertProblem(answer, 404, 'not_found');
          }
        }
      } finally {
        await closed.stop();
      }
    });

    it('limits failed authentications per address: after 20, 429 with Retry-After, on a fresh gateway', async () => {
      const fresh = await startReady(documentFor(redisUrl()), ADMIN_ENV);
      try {
        const from = '127.0.0.31';
        for (let attempt = 0; attempt < 20; attempt++) {
          const wrong = `sk-gw-wrong${String(attempt).padStart(2, '0')}DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD`;
          assertProblem(await chat(fresh.url, wrong, 'demo', from), 401, 'invalid_api_key');
        }
        const limited = await chat(fresh.url, UNKNOWN_KEY, 'demo', from);
        assertProblem(limited, 429, 'rate_limit_exceeded');
        const retryAfter = String(limited.headers['retry-after']);
        assert.match(retryAfter, /^\d+$/);
        assert.ok(Number(retryAfter) >= 1, retryAfter);

        // Issue 16, finding 2: a valid key and the admin token from the same (shared) address still
        // work: only failures are refused...
        assertJson(await chat(fresh.url, TEST_KEY, 'demo', from));
        assertJson(await call(fresh.url, 'GET', '/admin/keys', { token: ADMIN_TOKEN, from }));
        // ... and admin failures have their own budget, untouched by the API key failures.
        assertProblem(
          await call(fresh.url, 'GET', '/admin/keys', { token: `${ADMIN_TOKEN}x`, from }),
          401,
          'invalid_api_key',
        );
        // Another address is not affected.
        assertJson(await chat(fresh.url, TEST_KEY, 'demo', '127.0.0.32'));
        assertProblem(await chat(fresh.url, UNKNOWN_KEY, 'demo', '127.0.0.32'), 401, 'invalid_api_key');
      } finally {
        await fresh.stop();
      }
    });

    it('limits failed admin authentications on their own, never refusing the right token', async () => {
      const fresh = await startReady(documentFor(redisUrl()), ADMIN_ENV);
      try {
        const from = '127.0.0.33';
        for (let attempt = 0; attempt < 20; attempt++) {
          assertProblem(
            await call(fresh.url, 'GET', '/admin/keys', { token: `wrong-admin-token-${attempt}`, from }),
            401,
            'invalid_api_key',
          );
        }
        assertProblem(
          await call(fresh.url, 'GET', '/admin/keys', { token: 'wrong-admin-token-again', from }),
          429,
          'rate_limit_exceeded',
        );
        assertJson(await call(fresh.url, 'GET', '/admin/keys', { token: ADMIN_TOKEN, from }));
        // API keys from that address are judged on their own budget.
        assertProblem(await chat(fresh.url, UNKNOWN_KEY, 'demo', from), 401, 'invalid_api_key');
        assertJson(await chat(fresh.url, TEST_KEY, 'demo', from));
      } finally {
        await fresh.stop();
      }
    });

    it('logs no key, no admin token and only short key hints, whatever the auth path', async () => {
      const from = '127.0.0.23';
      const expiresAt = Date.now() + 1000;
      const expiring = await createKey(
        running.url,
        { name: 'log-expiring', expires_at: new Date(expiresAt).toISOString() },
        secrets,
      );
      const revoked = await createKey(running.url, { name: 'log-revoked' }, secrets);
      const good = await createKey(running.url, { name: 'log-good' }, secrets);
      assertJson(await admin(running.url, 'PATCH', `/admin/keys/${good.id}`, { name: 'log-good-2' }));
      assertJson(await admin(running.url, 'DELETE', `/admin/keys/${revoked.id}`));

      const paths: [CallOptions, number][] = [
        [{ token: good.key }, 200],
        [{ apiKey: good.key }, 200],
        [{ token: TEST_KEY }, 200],
        [{}, 401],
        [{ authorization: 'Basic dXNlcjpwYXNz' }, 401],
        [{ authorization: `Bearer ${good.key} trailing` }, 401],
        [{ authorization: `Token ${good.key}` }, 401],
        [{ token: UNKNOWN_KEY }, 401],
        [{ apiKey: UNKNOWN_KEY }, 401],
        [{ token: revoked.key }, 401],
        [{ token: ADMIN_TOKEN }, 401],
        [{ token: 'short' }, 401],
      ];
      for (const [options, status] of paths) {
        const answer = await call(running.url, 'GET', '/v1/models', { ...options, from });
        assert.equal(answer.status, status, JSON.stringify(options));
      }
      for (const options of [
        {},
        { token: TEST_KEY },
        { token: `${ADMIN_TOKEN}x` },
        { apiKey: ADMIN_TOKEN },
      ]) {
        assertProblem(
          await call(running.url, 'GET', '/admin/keys', { ...options, from }),
          401,
          'invalid_api_key',
        );
      }
      const expired = await poll(
        () => call(running.url, 'GET', '/v1/models', { token: expiring.key, from }),
        (answer) => answer.status !== 200,
        expiresAt + 3000 - Date.now(),
      );
      assert.match(assertProblem(expired.value, 401, 'invalid_api_key').detail, /expired/);

      const marker = 'authentication failed';
      await waitForLog(running, (entry) => entry['msg'] === marker);
      for (const secret of [...secrets, ADMIN_TOKEN, TEST_KEY, RESTRICTED_KEY]) {
        const leaked = running.rawLogs.find((line) => line.includes(secret));
        assert.equal(leaked, undefined, `a secret in the logs: ${leaked ?? ''}`);
      }
      const failures = running.logs.filter((entry) => entry['msg'] === marker);
      const hints = failures.map((entry) => entry['key_hint']);
      assert.ok(
        hints.some((hint) => typeof hint === 'string' && hint.length > 0),
        'no failure carries a key hint',
      );
      // Issue 16, finding 15: a hint only of what looks like a gateway key, never of the admin token.
      for (const hint of hints) {
        assert.ok(hint === null || (typeof hint === 'string' && /^sk-gw-.{2}$/.test(hint)), String(hint));
      }
      for (const hint of hints) {
        if (typeof hint === 'string') assert.ok(!ADMIN_TOKEN.startsWith(hint), hint);
      }
      assert.ok(running.logs.some((entry) => entry['msg'] === 'admin authentication failed'));
    });
  });
}

describe('two gateways sharing one Redis', needsRedis, () => {
  let redis: PrivateRedis;
  let a: RunningGateway;
  let b: RunningGateway;
  const secrets: string[] = [];

  before(async () => {
    redis = await startRedisServer();
    // A reads the admin token from the config file, B from the environment.
    a = await startReady(documentFor(redis.url, true));
    b = await startReady(documentFor(redis.url), ADMIN_ENV);
  });
  after(async () => {
    await a.stop();
    await b.stop();
    await redis.stop();
  });

  it('a key created through A works on B at once, and B shows it', async () => {
    const created = await createKey(a.url, { name: 'shared', metadata: { made_on: 'a' } }, secrets);
    assertJson(await chat(b.url, created.key));
    const { key: _key, ...view } = created;
    assert.deepEqual(assertJson(await admin(b.url, 'GET', `/admin/keys/${created.id}`)), view);
  });

  it('a key revoked through A is refused by B within 1 s, though B had it cached', async () => {
    const created = await createKey(a.url, { name: 'revoked-on-a' }, secrets);
    assertJson(await chat(b.url, created.key));
    assertJson(await chat(b.url, created.key));

    assertJson(await admin(a.url, 'DELETE', `/admin/keys/${created.id}`));
    const revokedAt = Date.now();
    const refused = await poll(
      () => listModels(b.url, created.key),
      (answer) => answer.status !== 200,
      3000,
      10,
    );
    assertProblem(refused.value, 401, 'invalid_api_key');
    assert.ok(refused.at - revokedAt <= 1000, `B accepted the key ${refused.at - revokedAt} ms on`);
  });

  it('a PATCH of the allow-list through A is applied by B within 1 s', async () => {
    const created = await createKey(a.url, { name: 'patched-on-a' }, secrets);
    assertJson(await chat(b.url, created.key, 'demo'));

    assertJson(await admin(a.url, 'PATCH', `/admin/keys/${created.id}`, { models: ['demo-large'] }));
    const patchedAt = Date.now();
    const refused = await poll(
      () => chat(b.url, created.key, 'demo'),
      (answer) => answer.status !== 200,
      3000,
      10,
    );
    assertProblem(refused.value, 403, 'model_not_allowed');
    assert.ok(refused.at - patchedAt <= 1000, `B used the old allow-list ${refused.at - patchedAt} ms on`);
    assertJson(await chat(b.url, created.key, 'demo-large'));
    assert.deepEqual(asModelIds(await listModels(b.url, created.key)), ['demo-large']);
  });

  it('with Redis gone: a cached key keeps working, an unseen key gets 503 (not 401), the admin API 503', async () => {
    // A's own announcements of the two creations come back through its subscription and forget those
    // hashes: the cached key is used only after they have, or its cached record would be forgotten
    // after its first use, and it would count as unseen once Redis is gone.
    const announced = new Set<string>();
    a.gateway.keyStore.subscribe((sha256) => {
      if (sha256 !== null) announced.add(sha256);
    });
    const cached = await createKey(a.url, { name: 'cached-on-a' }, secrets);
    const unseen = await createKey(a.url, { name: 'never-used' }, secrets);
    const delivered = await poll(
      () => Promise.resolve([cached.key, unseen.key].every((key) => announced.has(sha256Hex(key)))),
      (both) => both,
      5000,
    );
    assert.equal(delivered.value, true, "A's announcements of the new keys never came back");
    assertJson(await chat(a.url, cached.key));

    await redis.stop();
    // Wait until A has noticed: readiness fails and the change subscription is lost.
    const notReady = await poll(
      () => call(a.url, 'GET', '/health/ready'),
      (answer) => answer.status === 503,
      5000,
    );
    assert.equal(notReady.value.status, 503);
    const unsubscribed = await poll(
      () => Promise.resolve(a.gateway.keyStore.changesDelivered),
      (delivered) => !delivered,
      5000,
    );
    assert.equal(unsubscribed.value, false);

    const completion = await a.client({ apiKey: cached.key }).chat.completions.create({
      model: 'demo',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.match(completion.choices[0]?.message.content ?? '', /demo model/);
    assertJson(await chat(a.url, cached.key));
    assertJson(await chat(a.url, TEST_KEY));

    for (const gateway of [a, b]) {
      for (const key of [unseen.key, UNKNOWN_KEY]) {
        const answer = await chat(gateway.url, key);
        assertProblem(answer, 503, 'service_unavailable');
        assert.match(String(answer.headers['retry-after']), /^\d+$/);
      }
    }
    assertProblem(
      await admin(a.url, 'POST', '/admin/keys', { name: 'while-down' }),
      503,
      'service_unavailable',
    );
    assertProblem(await admin(b.url, 'GET', '/admin/keys'), 503, 'service_unavailable');
    assertProblem(await admin(a.url, 'DELETE', `/admin/keys/${cached.id}`), 503, 'service_unavailable');

    for (const gateway of [a, b]) {
      for (const secret of [...secrets, ADMIN_TOKEN, TEST_KEY]) {
        assert.ok(!gateway.rawLogs.some((line) => line.includes(secret)), 'a secret in the logs');
      }
    }
  });
});

describe('embedded key store across a restart on the same state_dir', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'gw-keys-restart-'));
  let running: RunningGateway | null = null;

  after(async () => {
    await running?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('keeps its dynamic keys, and revoked keys stay revoked', async () => {
    const secrets: string[] = [];
    // The admin token comes from the config file here.
    const document = documentFor(null, true);
    running = await startReady(document, {}, { stateDir });
    const kept = await createKey(
      running.url,
      { name: 'kept', models: ['demo'], rate_limit: { requests: '10/minute' }, metadata: { a: 'b' } },
      secrets,
    );
    const revoked = await createKey(running.url, { name: 'revoked' }, secrets);
    assertJson(await admin(running.url, 'DELETE', `/admin/keys/${revoked.id}`));
    const beforeRestart = asList(await admin(running.url, 'GET', '/admin/keys'));
    await running.stop();
    running = null;

    const stored = directoryContents(stateDir);
    for (const key of secrets) {
      assert.ok(!stored.includes(key), 'a key is stored in clear');
      assert.ok(stored.includes(sha256Hex(key)));
    }

    running = await startReady(document, {}, { stateDir });
    const afterRestart = asList(await admin(running.url, 'GET', '/admin/keys'));
    assert.deepEqual(afterRestart, beforeRestart);
    assert.ok(
      afterRestart.data.find((entry) => entry.id === revoked.id)?.revoked_at !== null,
      'the revocation was lost',
    );

    const completion = await running.client({ apiKey: kept.key }).chat.completions.create({
      model: 'demo',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.match(completion.choices[0]?.message.content ?? '', /demo model/);
    assertProblem(await chat(running.url, kept.key, 'demo-large'), 403, 'model_not_allowed');
    assertProblem(await chat(running.url, revoked.key), 401, 'invalid_api_key');
  });
});
