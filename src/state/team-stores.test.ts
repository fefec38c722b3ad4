/**
 * The team stores (SQLite and Redis) through the same cases, and the key stores' reading of records
 * written before issue 20's fields (no team, priority, cap or budgets): they read with the defaults.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pino from 'pino';
import { startRedisServer, type PrivateRedis } from '../../test/support/redis-server.js';
import { requireTool } from '../../test/support/system-tool.js';
import type { KeyRecord } from '../auth/key-record.js';
import type { TeamRecord } from '../auth/team-record.js';
import { TeamExistsError, type TeamStore } from '../auth/team-store.js';
import { EmbeddedStore } from './embedded/embedded-store.js';
import { EmbeddedTeamStore } from './embedded/embedded-team-store.js';
import { createStateClient, createSubscriber } from './redis/redis-client.js';
import { RedisKeyStore } from './redis/redis-key-store.js';
import { RedisTeamStore } from './redis/redis-team-store.js';

const needsRedis = { skip: requireTool('redis-server', 'redis-server') };
const logger = pino({ level: 'silent' });

const TEAM: TeamRecord = {
  id: 'research',
  name: 'Research',
  models: ['gpt-*', 'small'],
  rateLimit: { requests: '600/minute' },
  budgets: [{ unit: 'usd', limit: 200, window: 'month', soft: false }],
  maxConcurrency: 8,
  metadata: { owner: 'lab' },
  createdAt: '2026-01-01T00:00:00.000Z',
  source: 'store',
};

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Harness {
  /** A store, and a second one sharing its data (another instance). */
  open(): Promise<{ store: TeamStore; other: TeamStore }>;
  close(): Promise<void>;
}

function cases(name: string, harness: () => Harness, options: { skip?: string | boolean }): void {
  describe(`team store: ${name}`, options, () => {
    let opened: Harness;
    let store: TeamStore;
    let other: TeamStore;
    before(async () => {
      opened = harness();
      ({ store, other } = await opened.open());
    });
    after(() => opened.close());

    it('creates a team and reads it back whole, from this instance and another', async () => {
      await store.create(TEAM);
      assert.deepEqual(await store.get('research'), TEAM);
      assert.deepEqual(await other.get('research'), TEAM);
      assert.equal(await store.get('nobody'), null);
    });

    it('refuses a second team with the same id (TeamExistsError) and keeps the first', async () => {
      await assert.rejects(store.create({ ...TEAM, name: 'Impostor' }), TeamExistsError);
      assert.equal((await store.get('research'))?.name, 'Research');
    });

    it('lists teams in creation order', async () => {
      await store.create({ ...TEAM, id: 'ops', name: 'Ops', createdAt: '2026-02-01T00:00:00.000Z' });
      assert.deepEqual(
        (await store.list()).map((team) => team.id),
        ['research', 'ops'],
      );
    });

    it('updates the given fields only; null clears; another instance hears of the change', async () => {
      const heard: (string | null)[] = [];
      other.subscribe((id) => heard.push(id));
      const updated = await store.update('research', {
        models: null,
        maxConcurrency: null,
        budgets: [{ unit: 'tokens', limit: 1000, window: 'day', soft: true }],
      });
      assert.deepEqual(updated, {
        ...TEAM,
        models: null,
        maxConcurrency: null,
        budgets: [{ unit: 'tokens', limit: 1000, window: 'day', soft: true }],
      });
      assert.deepEqual(await other.get('research'), updated);
      if (other.changesDelivered) await waitUntil(() => heard.includes('research'), 'the change event');
      assert.equal(await store.update('nobody', { name: 'x' }), null);
    });

    it('deletes a team once; a deleted id is free again', async () => {
      assert.equal(await store.delete('ops'), true);
      assert.equal(await store.delete('ops'), false);
      assert.equal(await other.get('ops'), null);
      assert.deepEqual(
        (await store.list()).map((team) => team.id),
        ['research'],
      );
      await store.create({ ...TEAM, id: 'ops' });
      assert.equal((await store.get('ops'))?.id, 'ops');
    });
  });
}

let embeddedDirectory = '';
cases(
  'embedded (SQLite)',
  () => {
    let stores: EmbeddedStore[] = [];
    return {
      open() {
        embeddedDirectory = mkdtempSync(join(tmpdir(), 'gw-teams-'));
        stores = [new EmbeddedStore(embeddedDirectory), new EmbeddedStore(embeddedDirectory)];
        const [a, b] = stores as [EmbeddedStore, EmbeddedStore];
        return Promise.resolve({ store: new EmbeddedTeamStore(a.db), other: new EmbeddedTeamStore(b.db) });
      },
      async close() {
        for (const store of stores) await store.close();
        rmSync(embeddedDirectory, { recursive: true, force: true });
      },
    };
  },
  {},
);

let redisServer: PrivateRedis | null = null;
cases(
  'redis',
  () => {
    const closers: (() => void)[] = [];
    const instance = async (url: string): Promise<RedisTeamStore> => {
      const redis = createStateClient({ url, tls: false }, { logger, commandTimeoutMs: 2000 });
      const subscriber = createSubscriber({ url, tls: false }, redis, { logger, commandTimeoutMs: 2000 });
      closers.push(() => {
        subscriber.disconnect();
        redis.disconnect();
      });
      const store = new RedisTeamStore(redis, subscriber, logger, 1000);
      await waitUntil(() => store.changesDelivered, 'the subscription');
      return store;
    };
    return {
      async open() {
        redisServer = await startRedisServer();
        return { store: await instance(redisServer.url), other: await instance(redisServer.url) };
      },
      async close() {
        for (const close of closers) close();
        await redisServer?.stop();
      },
    };
  },
  needsRedis,
);

/** A key as the stores wrote it before issue 20: none of team, priority, max_concurrency, budgets. */
const OLD_KEY = {
  id: 'old-key',
  name: 'old',
  sha256: 'b'.repeat(64),
  created_at: '2025-01-01T00:00:00.000Z',
  expires_at: null,
  revoked_at: null,
  models: ['small'],
  rate_limit: { requests: '10/minute' },
  metadata: { owner: 'x' },
};
const OLD_KEY_READ: KeyRecord = {
  id: 'old-key',
  name: 'old',
  sha256: 'b'.repeat(64),
  createdAt: '2025-01-01T00:00:00.000Z',
  expiresAt: null,
  revokedAt: null,
  models: ['small'],
  rateLimit: { requests: '10/minute' },
  metadata: { owner: 'x' },
  team: null,
  priority: 100,
  maxConcurrency: null,
  budgets: [],
  source: 'store',
};

describe('keys stored before issue 20 read with the defaults', () => {
  it('SQLite: a database of the earlier schema gains the columns on open; its keys keep working and take the new fields', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gw-old-keys-'));
    try {
      const earlier = new Database(join(directory, 'gateway.db'));
      earlier.exec(`CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT, models TEXT, rate_limit TEXT,
        metadata TEXT NOT NULL DEFAULT '{}')`);
      earlier
        .prepare('INSERT INTO api_keys VALUES (?, ?, ?, ?, NULL, NULL, ?, ?, ?)')
        .run(
          OLD_KEY.id,
          OLD_KEY.name,
          OLD_KEY.sha256,
          OLD_KEY.created_at,
          JSON.stringify(OLD_KEY.models),
          JSON.stringify(OLD_KEY.rate_limit),
          JSON.stringify(OLD_KEY.metadata),
        );
      earlier.close();
      const store = new EmbeddedStore(directory);
      try {
        assert.deepEqual(await store.findByHash(OLD_KEY.sha256), OLD_KEY_READ);
        const budgets = [{ unit: 'usd', limit: 5, window: 'day', soft: false }] as const;
        const updated = await store.update('old-key', {
          team: 'research',
          priority: 10,
          maxConcurrency: 2,
          budgets,
        });
        assert.deepEqual(updated, {
          ...OLD_KEY_READ,
          team: 'research',
          priority: 10,
          maxConcurrency: 2,
          budgets,
        });
        assert.deepEqual(await store.get('old-key'), updated);
      } finally {
        await store.close();
      }
      // Opening it again (columns present already) changes nothing.
      const again = new EmbeddedStore(directory);
      try {
        assert.equal((await again.get('old-key'))?.priority, 10);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('Redis: a record JSON without the new fields reads with the defaults', needsRedis, async () => {
    const server = await startRedisServer();
    const url = server.url;
    const raw = new Redis(url);
    const redis = createStateClient({ url, tls: false }, { logger, commandTimeoutMs: 2000 });
    const subscriber = createSubscriber({ url, tls: false }, redis, { logger, commandTimeoutMs: 2000 });
    try {
      await raw.set(`{gw-keys}:hash:${OLD_KEY.sha256}`, JSON.stringify(OLD_KEY));
      await raw.set(`{gw-keys}:id:${OLD_KEY.id}`, OLD_KEY.sha256);
      await raw.sadd('{gw-keys}:ids', OLD_KEY.id);
      const store = new RedisKeyStore(redis, subscriber, logger, 1000);
      await waitUntil(() => redis.status === 'ready', 'the connection');
      assert.deepEqual(await store.findByHash(OLD_KEY.sha256), OLD_KEY_READ);
      assert.deepEqual(await store.list(), [OLD_KEY_READ]);
      const updated = await store.update('old-key', { team: 'ops', priority: 500 });
      assert.deepEqual(updated, { ...OLD_KEY_READ, team: 'ops', priority: 500 });
      assert.equal((await store.get('old-key'))?.team, 'ops');
    } finally {
      raw.disconnect();
      subscriber.disconnect();
      redis.disconnect();
      await server.stop();
    }
  });
});
