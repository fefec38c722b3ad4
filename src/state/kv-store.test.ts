/**
 * The key-value store with TTL, on both backends: the embedded SQLite table (a clock of the test's own,
 * so that expiry needs no waiting) and Redis at 127.0.0.1:6379 (keys under a prefix of this run,
 * deleted at the end).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { EmbeddedStore } from './embedded/embedded-store.js';
import { EmbeddedKeyValueStore } from './embedded/embedded-kv-store.js';
import { RedisKeyValueStore } from './redis/redis-kv-store.js';

describe('EmbeddedKeyValueStore', () => {
  let directory: string;
  let clock = 1_000_000;
  let store: EmbeddedKeyValueStore;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-kv-'));
    store = EmbeddedKeyValueStore.open(directory, () => clock);
  });

  after(async () => {
    await store.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('stores, replaces, reads and deletes a value', async () => {
    assert.equal(await store.get('a'), null);
    await store.set('a', 'first', 60);
    assert.equal(await store.get('a'), 'first');
    await store.set('a', 'second', 60);
    assert.equal(await store.get('a'), 'second');
    assert.equal(await store.delete('a'), true);
    assert.equal(await store.get('a'), null);
    assert.equal(await store.delete('a'), false);
  });

  it('an entry is gone once its TTL has passed, and cannot be deleted then', async () => {
    await store.set('short', 'value', 10);
    clock += 9_999;
    assert.equal(await store.get('short'), 'value');
    clock += 1;
    assert.equal(await store.get('short'), null);
    assert.equal(await store.delete('short'), false);
  });

  it('a write deletes expired rows, at most once a minute', async () => {
    await store.set('old', 'value', 1);
    clock += 61_000;
    const before = store.size();
    await store.set('new', 'value', 60);
    // 'old' was deleted by the purge that this write ran (more than a minute after the last one).
    assert.equal(store.size(), before);
    assert.equal(await store.get('new'), 'value');
    await store.set('old2', 'value', 1);
    clock += 2_000;
    await store.set('new2', 'value', 60);
    // Within the minute: 'old2' is still a row, unreadable.
    assert.equal(store.size(), before + 2);
    assert.equal(await store.get('old2'), null);
  });

  it('shares the key store’s database file, each with its own connection', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'gw-kv-shared-'));
    const keys = new EmbeddedStore(shared);
    const kv = EmbeddedKeyValueStore.open(shared);
    try {
      await kv.set('k', 'v', 60);
      assert.equal(await kv.get('k'), 'v');
      assert.equal(await keys.count(), 0);
      // A second connection (another instance of the store, or a restart) reads what the first wrote.
      const again = EmbeddedKeyValueStore.open(shared);
      assert.equal(await again.get('k'), 'v');
      await again.close();
    } finally {
      await kv.close();
      await keys.close();
      rmSync(shared, { recursive: true, force: true });
    }
  });
});

describe('RedisKeyValueStore (Redis at 127.0.0.1:6379)', () => {
  const prefix = `gw-test-kv:${randomBytes(6).toString('hex')}:`;
  let redis: Redis;
  let store: RedisKeyValueStore;

  before(() => {
    redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 });
    store = new RedisKeyValueStore(redis, 2000, false);
  });

  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await store.close();
    redis.disconnect();
  });

  it('stores, replaces, reads and deletes a value', async () => {
    const key = `${prefix}a`;
    assert.equal(await store.get(key), null);
    await store.set(key, 'first', 60);
    assert.equal(await store.get(key), 'first');
    await store.set(key, 'second', 60);
    assert.equal(await store.get(key), 'second');
    assert.equal(await store.delete(key), true);
    assert.equal(await store.get(key), null);
    assert.equal(await store.delete(key), false);
  });

  it('every entry carries its TTL in Redis', async () => {
    const key = `${prefix}ttl`;
    await store.set(key, 'value', 3600);
    const ttl = await redis.ttl(key);
    assert.ok(ttl > 3590 && ttl <= 3600, `TTL ${ttl}`);
    // A fraction of a second is rounded up to one: Redis takes whole seconds, and 0 is refused.
    await store.set(key, 'value', 0.2);
    const short = await redis.pttl(key);
    assert.ok(short > 0 && short <= 1000, `PTTL ${short}`);
  });

  it('waits for a connection still being made instead of failing the first command', async () => {
    const fresh = new Redis({
      host: '127.0.0.1',
      port: 6379,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    const kv = new RedisKeyValueStore(fresh, 2000, true);
    try {
      void fresh.connect().catch(() => undefined);
      assert.notEqual(fresh.status, 'ready');
      await kv.set(`${prefix}fresh`, 'value', 60);
      assert.equal(await redis.get(`${prefix}fresh`), 'value');
    } finally {
      await kv.close();
    }
  });
});
