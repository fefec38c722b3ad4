/**
 * Teams (issue 20) end to end: /admin/teams on the embedded store and on Redis (two gateways sharing
 * it), a key in a team limited by the team's models and rate limit, a config team visible and
 * read-only, and `ai-gateway teams …` (node dist/cli.js; `npm run build` first when run alone).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { sha256Hex } from '../../src/auth/api-key.js';
import { killStrayChildren, runCli } from '../support/cli-process.js';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { requireTool } from '../support/system-tool.js';

const needsRedis = { skip: requireTool('redis-server', 'redis-server') };
const ADMIN_TOKEN = 'admin-token-for-the-teams-test';
const ADMIN_ENV = { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN };
const CONFIG_KEY = 'sk-gw-configteamkeyCCCCCCCCCCCCCCCCCCCCCCCCCCCC';

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${options.token ?? ADMIN_TOKEN}`,
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: JSON.parse(text) as Record<string, unknown>,
  };
}

/** Asserts an RFC 9457 problem of this status and code; returns its detail. */
function problem(answer: Answer, status: number, code: string, param?: string): string {
  assert.equal(answer.status, status, JSON.stringify(answer.json));
  assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const error = answer.json['error'] as { code: string; param: string | null };
  assert.equal(error.code, code);
  if (param !== undefined) assert.equal(error.param, param);
  return answer.json['detail'] as string;
}

const chat = (base: string, key: string, model: string): Promise<Answer> =>
  call(base, 'POST', '/v1/chat/completions', {
    token: key,
    body: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 },
  });

function documentFor(redisUrl: string | null): Record<string, unknown> {
  const document = testConfig({
    backends: [{ name: 'demo', type: 'demo' }],
    models: [
      { name: 'demo', targets: [{ backend: 'demo' }] },
      { name: 'demo-large', targets: [{ backend: 'demo' }] },
    ],
    extra: {
      ...(redisUrl === null ? {} : { redis: { url: redisUrl } }),
      teams: [{ id: 'config-team', name: 'From the file', models: ['demo'], max_concurrency: 4 }],
    },
  });
  const auth = document['auth'] as { keys: Record<string, unknown>[] };
  auth.keys.push({
    id: 'config-member',
    sha256: sha256Hex(CONFIG_KEY),
    team: 'config-team',
    priority: 'batch',
  });
  return document;
}

async function startReady(redisUrl: string | null): Promise<RunningGateway> {
  const running = await startGateway(documentFor(redisUrl), ADMIN_ENV);
  const deadline = Date.now() + 5000;
  for (;;) {
    const ready = await fetch(`${running.url}/health/ready`);
    await ready.text();
    const subscribed = running.gateway.keyStore.kind !== 'redis' || running.gateway.keyStore.changesDelivered;
    if (ready.status === 200 && subscribed) return running;
    if (Date.now() > deadline) {
      await running.stop();
      throw new Error('the gateway did not become ready');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const kind of ['embedded', 'redis'] as const) {
  describe(`teams through the admin API, ${kind} store`, kind === 'redis' ? needsRedis : {}, () => {
    let redis: PrivateRedis | null = null;
    let running: RunningGateway;
    /** A second gateway on the same Redis (another instance); the same one without Redis. */
    let other: RunningGateway;

    before(async () => {
      if (kind === 'redis') redis = await startRedisServer();
      running = await startReady(redis?.url ?? null);
      other = kind === 'redis' ? await startReady(redis?.url ?? null) : running;
    });
    after(async () => {
      await running.stop();
      if (other !== running) await other.stop();
      await redis?.stop();
    });

    it('POST creates a team (201), GET shows it and lists it after the config teams; a second POST of its id is 409', async () => {
      const created = await call(running.url, 'POST', '/admin/teams', {
        body: {
          id: 'research',
          models: ['demo*'],
          rate_limit: { requests: '600/minute' },
          budgets: [
            { usd: 200, window: 'month' },
            { tokens: 2000000, window: 'day', soft: true },
          ],
          max_concurrency: 8,
          metadata: { owner: 'lab' },
        },
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const view = created.json;
      assert.deepEqual(
        { ...view, created_at: null },
        {
          id: 'research',
          name: 'research',
          models: ['demo*'],
          rate_limit: { requests: '600/minute' },
          budgets: [
            { usd: 200, window: 'month', soft: false },
            { tokens: 2000000, window: 'day', soft: true },
          ],
          max_concurrency: 8,
          metadata: { owner: 'lab' },
          created_at: null,
          source: 'store',
        },
      );
      assert.ok(Date.parse(view['created_at'] as string) > Date.now() - 60_000);
      // GET shows the team and its budgets' spending in the current windows (nothing spent yet).
      const { spend, ...shown } = (await call(other.url, 'GET', '/admin/teams/research')).json;
      assert.deepEqual(shown, view);
      assert.deepEqual(
        (spend as Record<string, unknown>[]).map(({ window_start: _start, window_end: end, ...rest }) => ({
          ...rest,
          resets: end !== null,
        })),
        [
          {
            scope: 'team:research',
            unit: 'usd',
            limit: 200,
            window: 'month',
            soft: false,
            spent: 0,
            reserved: 0,
            remaining: 200,
            resets: true,
          },
          {
            scope: 'team:research',
            unit: 'tokens',
            limit: 2000000,
            window: 'day',
            soft: true,
            spent: 0,
            reserved: 0,
            remaining: 2000000,
            resets: true,
          },
        ],
      );
      const list = (await call(other.url, 'GET', '/admin/teams')).json['data'] as Record<string, unknown>[];
      assert.deepEqual(
        list.map((team) => [team['id'], team['source']]),
        [
          ['config-team', 'config'],
          ['research', 'store'],
        ],
      );
      const patched = await call(running.url, 'PATCH', '/admin/teams/research', {
        body: { name: 'Research lab', budgets: null, max_concurrency: null },
      });
      assert.deepEqual(patched.json, {
        ...view,
        name: 'Research lab',
        budgets: [],
        max_concurrency: null,
      });
      assert.deepEqual((await call(other.url, 'GET', '/admin/teams/research')).json, {
        ...patched.json,
        spend: [],
      });
      const again = await call(running.url, 'POST', '/admin/teams', { body: { id: 'research' } });
      assert.match(problem(again, 409, 'invalid_request', 'id'), /research.*exists already/);
    });

    it('answers 404 for an unknown team, 400 naming the field for a bad one, 401 without the admin token', async () => {
      assert.match(
        problem(await call(running.url, 'GET', '/admin/teams/nobody'), 404, 'not_found', 'id'),
        /nobody/,
      );
      problem(
        await call(running.url, 'PATCH', '/admin/teams/nobody', { body: { name: 'x' } }),
        404,
        'not_found',
      );
      problem(await call(running.url, 'DELETE', '/admin/teams/nobody'), 404, 'not_found');
      const bad = await call(running.url, 'POST', '/admin/teams', {
        body: { id: 'bad', budgets: [{ usd: 5, tokens: 10, window: 'day' }] },
      });
      assert.match(
        problem(bad, 400, 'invalid_request', 'budgets'),
        /budgets\[0\]: give exactly one of usd and tokens/,
      );
      problem(
        await call(running.url, 'POST', '/admin/teams', { body: { id: 'has space' } }),
        400,
        'invalid_request',
      );
      problem(await call(running.url, 'GET', '/admin/teams', { token: 'wrong' }), 401, 'invalid_api_key');
    });

    it('a config team is listed and shown, and cannot be created, changed or deleted through the API (409)', async () => {
      const shown = (await call(running.url, 'GET', '/admin/teams/config-team')).json;
      assert.equal(shown['name'], 'From the file');
      assert.equal(shown['source'], 'config');
      assert.equal(shown['max_concurrency'], 4);
      for (const answer of [
        await call(running.url, 'PATCH', '/admin/teams/config-team', { body: { name: 'x' } }),
        await call(running.url, 'DELETE', '/admin/teams/config-team'),
        await call(running.url, 'POST', '/admin/teams', { body: { id: 'config-team' } }),
      ]) {
        assert.match(problem(answer, 409, 'invalid_request', 'id'), /config file/);
      }
      // Its static key shows its team and priority.
      const member = (await call(running.url, 'GET', '/admin/keys/config-member')).json;
      assert.equal(member['team'], 'config-team');
      assert.equal(member['priority'], 10);
      // ... and the team's allow-list applies to it.
      assert.equal((await chat(running.url, CONFIG_KEY, 'demo')).status, 200);
      problem(await chat(running.url, CONFIG_KEY, 'demo-large'), 403, 'model_not_allowed', 'model');
    });

    it("a key's team must exist (400 naming team); a key in a team is limited by the team's models, and a change reaches every instance", async () => {
      const unknown = await call(running.url, 'POST', '/admin/keys', { body: { name: 'x', team: 'nobody' } });
      assert.match(problem(unknown, 400, 'invalid_request', 'team'), /nobody/);
      const created = await call(running.url, 'POST', '/admin/teams', {
        body: { id: 'narrow', models: ['demo'] },
      });
      assert.equal(created.status, 201);
      const key = await call(running.url, 'POST', '/admin/keys', {
        body: {
          name: 'member',
          team: 'narrow',
          models: ['demo', 'demo-large'],
          priority: 'batch',
          max_concurrency: 2,
          budgets: [{ usd: 5, window: 'day' }],
        },
      });
      assert.equal(key.status, 201, JSON.stringify(key.json));
      assert.equal(key.json['team'], 'narrow');
      assert.equal(key.json['priority'], 10);
      assert.equal(key.json['max_concurrency'], 2);
      assert.deepEqual(key.json['budgets'], [{ usd: 5, window: 'day', soft: false }]);
      const secret = key.json['key'] as string;
      assert.equal((await chat(other.url, secret, 'demo')).status, 200);
      // The key allows demo-large; its team does not.
      problem(await chat(other.url, secret, 'demo-large'), 403, 'model_not_allowed', 'model');
      // GET /v1/models lists what both allow.
      const models = (await call(other.url, 'GET', '/v1/models', { token: secret })).json['data'] as {
        id: string;
      }[];
      assert.deepEqual(
        models.map((model) => model.id),
        ['demo'],
      );
      // The team widened on one instance: the other follows (the embedded store's cache keeps a team 1 s).
      await call(running.url, 'PATCH', '/admin/teams/narrow', { body: { models: null } });
      const deadline = Date.now() + 3000;
      let status = 0;
      while (Date.now() < deadline && status !== 200)
        status = (await chat(other.url, secret, 'demo-large')).status;
      assert.equal(status, 200);
      // A key's team can be cleared, and set only to a team that exists.
      problem(
        await call(running.url, 'PATCH', `/admin/keys/${key.json['id'] as string}`, {
          body: { team: 'nobody' },
        }),
        400,
        'invalid_request',
        'team',
      );
    });

    it('refuses to delete a team that keys still belong to (409 naming how many), then deletes it', async () => {
      await call(running.url, 'POST', '/admin/teams', { body: { id: 'busy' } });
      const ids: string[] = [];
      for (const name of ['one', 'two']) {
        const key = await call(running.url, 'POST', '/admin/keys', { body: { name, team: 'busy' } });
        ids.push(key.json['id'] as string);
      }
      assert.match(
        problem(await call(running.url, 'DELETE', '/admin/teams/busy'), 409, 'invalid_request'),
        /2 keys/,
      );
      await call(running.url, 'PATCH', `/admin/keys/${ids[0] ?? ''}`, { body: { team: null } });
      // A revoked key no longer counts.
      await call(running.url, 'DELETE', `/admin/keys/${ids[1] ?? ''}`);
      const deleted = await call(running.url, 'DELETE', '/admin/teams/busy');
      assert.equal(deleted.status, 200, JSON.stringify(deleted.json));
      assert.equal(deleted.json['id'], 'busy');
      problem(await call(other.url, 'GET', '/admin/teams/busy'), 404, 'not_found');
    });

    it("limits the team's keys together by the team's rate limit, with team-requests in the headers", async () => {
      await call(running.url, 'POST', '/admin/teams', {
        body: { id: 'limited', rate_limit: { requests: '3/hour' } },
      });
      const secrets: string[] = [];
      for (const name of ['a', 'b']) {
        const key = await call(running.url, 'POST', '/admin/keys', { body: { name, team: 'limited' } });
        secrets.push(key.json['key'] as string);
      }
      const [a, b] = secrets as [string, string];
      const embed = (gateway: RunningGateway, secret: string): Promise<Answer> =>
        call(gateway.url, 'POST', '/v1/embeddings', { token: secret, body: { model: 'demo', input: 'x' } });
      const first = await embed(running, a);
      assert.equal(first.status, 200, JSON.stringify(first.json));
      assert.match(first.headers.get('ratelimit-policy') ?? '', /"team-requests";q=3;w=3600/);
      assert.equal((await embed(other, b)).status, 200);
      assert.equal((await embed(running, b)).status, 200);
      const refused = await embed(other, a);
      assert.match(problem(refused, 429, 'rate_limit_exceeded'), /team limited/);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      // A key of no team is not concerned.
      assert.equal((await embed(running, TEST_KEY)).status, 200);
    });
  });
}

describe('ai-gateway teams (the CLI)', () => {
  const directory = mkdtempSync(join(tmpdir(), 'gw-teams-cli-'));
  const configPath = join(directory, 'gateway.yaml');

  before(() => {
    const document = documentFor(null);
    document['server'] = { ...(document['server'] as object), state_dir: join(directory, 'state') };
    writeFileSync(configPath, stringify(document));
  });
  after(() => {
    killStrayChildren();
    rmSync(directory, { recursive: true, force: true });
  });

  const cli = (...args: string[]): ReturnType<typeof runCli> =>
    runCli([...args, '--config', configPath], { cwd: directory });

  it('create, list, show, update and delete a team; keys create --team joins it; config teams are read-only', async () => {
    const created = await cli(
      'teams',
      'create',
      '--id',
      'ops',
      '--models',
      'demo',
      '--rpm',
      '60',
      '--budget',
      'usd=5/day',
      '--budget',
      'tokens=1000/month,soft',
      '--json',
    );
    assert.equal(created.code, 0, created.stderr);
    const team = JSON.parse(created.stdout) as Record<string, unknown>;
    assert.deepEqual(team['budgets'], [
      { usd: 5, window: 'day', soft: false },
      { tokens: 1000, window: 'month', soft: true },
    ]);
    assert.deepEqual(team['rate_limit'], { requests: '60/minute' });

    const listed = await cli('teams', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ID\s+NAME\s+MODELS\s+RATE LIMIT\s+MAX CONCURRENCY\s+BUDGETS\s+SOURCE/);
    assert.match(listed.stdout, /config-team\s+From the file\s+demo\s+-\s+4\s+-\s+config/);
    assert.match(
      listed.stdout,
      /ops\s+ops\s+demo\s+60\/minute requests\s+-\s+\$5\/day, 1000 tokens\/month \(soft\)\s+store/,
    );

    const updated = await cli('teams', 'update', 'ops', '--max-concurrency', '3', '--no-budgets');
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /max concurrency:\s+3/);
    assert.match(updated.stdout, /budgets:\s+-/);

    const key = await cli(
      'keys',
      'create',
      '--name',
      'cli-member',
      '--team',
      'ops',
      '--priority',
      'batch',
      '--budget',
      'usd=1/hour',
      '--json',
    );
    assert.equal(key.code, 0, key.stderr);
    const keyView = JSON.parse(key.stdout) as Record<string, unknown>;
    assert.equal(keyView['team'], 'ops');
    assert.equal(keyView['priority'], 10);
    const shown = await cli('keys', 'show', keyView['id'] as string);
    assert.match(shown.stdout, /team:\s+ops/);
    assert.match(shown.stdout, /budgets:\s+\$1\/hour/);
    const keys = await cli('keys', 'list');
    assert.match(keys.stdout, /cli-member\s+\*\s+ops\s+10\s+\$1\/hour/);

    const unknownTeam = await cli('keys', 'create', '--name', 'x', '--team', 'nobody');
    assert.equal(unknownTeam.code, 1);
    assert.match(unknownTeam.stderr, /--team: no team has the id 'nobody'/);
    const busy = await cli('teams', 'delete', 'ops');
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /still has 1 key/);
    const readOnly = await cli('teams', 'update', 'config-team', '--name', 'x');
    assert.equal(readOnly.code, 1);
    assert.match(readOnly.stderr, /config file/);
    const badBudget = await cli('teams', 'create', '--id', 'x', '--budget', 'usd=5/year');
    assert.equal(badBudget.code, 1);
    assert.match(badBudget.stderr, /--budget/);

    await cli('keys', 'revoke', keyView['id'] as string);
    const deleted = await cli('teams', 'delete', 'ops');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, 'deleted team ops\n');
    const shownAfter = await cli('teams', 'show', 'ops');
    assert.equal(shownAfter.code, 1);
  });

  it('works against a running gateway with --url', async () => {
    const running = await startReady(null);
    try {
      const remote = (...args: string[]): ReturnType<typeof runCli> =>
        runCli([...args, '--url', running.url, '--admin-token', ADMIN_TOKEN], { cwd: directory });
      const created = await remote('teams', 'create', '--id', 'remote', '--max-concurrency', '2');
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout, /max concurrency:\s+2/);
      assert.equal((await call(running.url, 'GET', '/admin/teams/remote')).json['max_concurrency'], 2);
      const refused = await remote('teams', 'delete', 'config-team');
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /409 .*config file/);
    } finally {
      await running.stop();
    }
  });
});
