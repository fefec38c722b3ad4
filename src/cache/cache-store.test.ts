import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, type PrivateRedis } from '../../test/support/redis-server.js';
import { requireTool } from '../../test/support/system-tool.js';
import {
  MemoryCacheStore,
  RedisCacheStore,
  decodeEntry,
  answerJson,
  encodeEntry,
  memoryEntryBytes,
  storageKey,
  type CachedEntry,
} from './cache-store.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** Tests that start a private redis-server: skipped without one, except under CI=true. */
const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

/** An entry whose encoded form is the same size for every `label` of the same length. */
function entry(label: string, padding = 0): CachedEntry {
  return {
    storedAt: T0,
    backend: 'b',
    body: { id: `chatcmpl-${label}`, object: 'chat.completion', text: 'x'.repeat(padding) },
  };
}

/** What an entry says (the in-process store hands back its own kind of object). */
function fields(found: CachedEntry | null): CachedEntry | null {
  return found === null ? null : { storedAt: found.storedAt, body: found.body, backend: found.backend };
}

/** An entry of random base64: gzip gains only a quarter of it. */
function noisy(bytes: number): CachedEntry {
  return {
    storedAt: T0,
    backend: null,
    body: { noise: randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64') },
  };
}

describe('encodeEntry / decodeEntry', () => {
  it('round-trips a small entry, stored raw (first byte 0)', () => {
    const small = entry('a');
    const encoded = encodeEntry(small);
    assert.equal(encoded[0], 0);
    assert.deepEqual(JSON.parse(encoded.subarray(1).toString('utf8')), {
      stored_at: T0,
      backend: 'b',
      body: small.body,
    });
    assert.deepEqual(decodeEntry(encoded), small);
  });

  it('compresses a large entry that compresses well (first byte 1), and round-trips it', () => {
    const large = entry('big', 20_000);
    const encoded = encodeEntry(large);
    assert.equal(encoded[0], 1);
    assert.ok(encoded.length < 2000, `${encoded.length} bytes: not compressed`);
    assert.deepEqual(JSON.parse(gunzipSync(encoded.subarray(1)).toString('utf8')).body, large.body);
    assert.deepEqual(decodeEntry(encoded), large);
  });

  it('round-trips unicode and nested values', () => {
    const value: CachedEntry = {
      storedAt: T0 + 1,
      backend: null,
      body: { text: 'héllo 世界 🚀', nested: { list: [1, null, true, { a: 'b' }] } },
    };
    assert.deepEqual(decodeEntry(encodeEntry(value)), value);
    const big: CachedEntry = { storedAt: T0, backend: null, body: { text: '世界🚀'.repeat(1000) } };
    assert.equal(encodeEntry(big)[0], 1);
    assert.deepEqual(decodeEntry(encodeEntry(big)), big);
  });

  it('reads an entry it cannot decode as a miss (null), never throws', () => {
    assert.equal(decodeEntry(Buffer.from([1, 1, 2, 3])), null);
    assert.equal(decodeEntry(Buffer.from([0, 0x7b])), null);
    assert.equal(decodeEntry(Buffer.alloc(0)), null);
  });
});

describe('storageKey', () => {
  it('puts the scope in the key, escaped, and a global scope apart', () => {
    assert.equal(storageKey('team-a', 'abc'), 'gw-cache:team-a:abc');
    assert.equal(storageKey('a:b', 'abc'), 'gw-cache:a%3Ab:abc');
    assert.equal(storageKey(null, 'abc'), 'gw-cache:*global:abc');
  });
});

/** A MemoryCacheStore whose clock the test moves. */
function memoryAt(
  maxBytes: number,
  maxEntryBytes: number,
): { store: MemoryCacheStore; clock: { now: number } } {
  const clock = { now: T0 };
  return { store: new MemoryCacheStore(maxBytes, maxEntryBytes, () => clock.now), clock };
}

describe('answerJson', () => {
  it('is the answer without the fields a hit sets anew, serialised once per entry', () => {
    let reads = 0;
    const stored: CachedEntry = {
      storedAt: T0,
      backend: 'b',
      body: {
        id: 'chatcmpl-1',
        created: 1,
        cached: false,
        object: 'chat.completion',
        // Counts how often the body is serialised.
        get choices() {
          reads++;
          return [{ index: 0 }];
        },
      },
    };
    const json = answerJson(stored);
    assert.deepEqual(JSON.parse(json), { object: 'chat.completion', choices: [{ index: 0 }] });
    assert.equal(answerJson(stored), json);
    assert.equal(reads, 1, 'serialised again');
  });

  it('is what the in-process store hands back, ready, with the body as stored', async () => {
    const { store } = memoryAt(10_000, 10_000);
    const stored = entry('a');
    await store.set('k:a', stored, 60);
    const hit = await store.get('k:a');
    assert.ok(hit !== null);
    assert.equal(answerJson(hit), answerJson(stored));
    assert.deepEqual(hit.body, stored.body);
    // Each read of the body is a fresh parse: a caller cannot change what the store holds.
    hit.body['object'] = 'changed';
    assert.equal(hit.body['object'], 'chat.completion');
  });
});

describe('MemoryCacheStore', () => {
  const size = memoryEntryBytes('k:a', entry('a'));

  it('returns what was stored, and null for an unknown key', async () => {
    const { store } = memoryAt(10_000, 10_000);
    await store.set('gw-cache:k:1', entry('a'), 60);
    assert.deepEqual(fields(await store.get('gw-cache:k:1')), entry('a'));
    assert.equal(await store.get('gw-cache:k:2'), null);
    assert.equal(store.sizeBytes, memoryEntryBytes('gw-cache:k:1', entry('a')));
  });

  it('evicts the least recently used entries to stay within maxBytes', async () => {
    const { store } = memoryAt(size * 3, 10_000);
    await store.set('k:a', entry('a'), 60);
    await store.set('k:b', entry('b'), 60);
    await store.set('k:c', entry('c'), 60);
    assert.equal(store.sizeBytes, size * 3);
    // Reading a makes it the most recently used: b is now the oldest.
    assert.ok((await store.get('k:a')) !== null);
    await store.set('k:d', entry('d'), 60);
    assert.equal(await store.get('k:b'), null);
    assert.ok((await store.get('k:a')) !== null);
    assert.ok((await store.get('k:c')) !== null);
    assert.ok((await store.get('k:d')) !== null);
    assert.equal(store.sizeBytes, size * 3);
  });

  it('evicts as many entries as a large one needs, oldest first', async () => {
    const { store } = memoryAt(size * 4, 100_000);
    for (const label of ['a', 'b', 'c', 'd']) await store.set(`k:${label}`, entry(label), 60);
    const large = entry('L', 2 * size); // well over two small entries, compressed or not
    const largeSize = memoryEntryBytes('k:L', large);
    assert.ok(largeSize > size && largeSize <= size * 4);
    await store.set('k:L', large, 60);
    assert.ok(store.sizeBytes <= size * 4, `${store.sizeBytes} > ${size * 4}`);
    assert.deepEqual(fields(await store.get('k:L')), large);
    // The evicted ones are the oldest: the survivors are a suffix of a, b, c, d.
    const alive: string[] = [];
    for (const label of ['a', 'b', 'c', 'd']) if ((await store.get(`k:${label}`)) !== null) alive.push(label);
    assert.deepEqual(alive, ['a', 'b', 'c', 'd'].slice(4 - alive.length));
    assert.ok(alive.length < 4);
  });

  it('never exceeds maxBytes over many writes', async () => {
    const { store } = memoryAt(size * 5 + 3, 100_000);
    for (let index = 0; index < 200; index++) {
      await store.set(`k:${index}`, entry(String(index % 10), index % 7), 60);
      assert.ok(store.sizeBytes <= size * 5 + 3 + 10, `${store.sizeBytes} bytes after ${index}`);
    }
    // The last entry written is always there.
    assert.ok((await store.get('k:199')) !== null);
  });

  it('skips an entry over maxEntryBytes (or over maxBytes), keeping what it had', async () => {
    const { store } = memoryAt(100_000, size + 10);
    await store.set('k:a', entry('a'), 60);
    const tooLarge = noisy(200);
    await store.set('k:big', tooLarge, 60);
    assert.equal(await store.get('k:big'), null);
    assert.ok((await store.get('k:a')) !== null);
    assert.equal(store.sizeBytes, size);

    const { store: tiny } = memoryAt(size - 1, 100_000);
    await tiny.set('k:a', entry('a'), 60);
    assert.equal(await tiny.get('k:a'), null);
    assert.equal(tiny.sizeBytes, 0);
  });

  it('an entry over maxEntryBytes does not replace an older one under the same key', async () => {
    const { store } = memoryAt(100_000, size + 10);
    await store.set('k:a', entry('a'), 60);
    await store.set('k:a', noisy(500), 60);
    assert.deepEqual(fields(await store.get('k:a')), entry('a'));
  });

  it('replacing a key counts its bytes once', async () => {
    const { store } = memoryAt(100_000, 100_000);
    await store.set('k:a', entry('a'), 60);
    await store.set('k:a', entry('b'), 60);
    assert.equal(store.sizeBytes, size);
    assert.deepEqual(fields(await store.get('k:a')), entry('b'));
  });

  it('expires entries after their TTL and frees their bytes', async () => {
    const { store, clock } = memoryAt(100_000, 100_000);
    await store.set('k:a', entry('a'), 2);
    clock.now = T0 + 1999;
    assert.ok((await store.get('k:a')) !== null);
    clock.now = T0 + 2000;
    assert.equal(await store.get('k:a'), null);
    assert.equal(store.sizeBytes, 0);
  });

  it("purges all entries, or one scope's only, and says how many", async () => {
    const { store } = memoryAt(100_000, 100_000);
    await store.set(storageKey('team-a', '1'), entry('a'), 60);
    await store.set(storageKey('team-a', '2'), entry('b'), 60);
    await store.set(storageKey('team-ab', '1'), entry('c'), 60);
    await store.set(storageKey(null, '1'), entry('d'), 60);
    assert.equal(await store.purge('team-a'), 2);
    assert.equal(await store.get(storageKey('team-a', '1')), null);
    assert.ok((await store.get(storageKey('team-ab', '1'))) !== null);
    assert.ok((await store.get(storageKey(null, '1'))) !== null);
    assert.equal(await store.purge('nobody'), 0);
    assert.equal(await store.purge(null), 2);
    assert.equal(store.sizeBytes, 0);
  });
});

describe('RedisCacheStore against a private redis-server', needsRedis, () => {
  let server: PrivateRedis;
  let redis: Redis;

  before(async () => {
    server = await startRedisServer();
    redis = new Redis(server.port, '127.0.0.1');
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('stores the encoded entry with its TTL, and reads it back', async () => {
    const store = new RedisCacheStore(redis, 100_000);
    const key = storageKey('r1', 'small');
    await store.set(key, entry('a'), 30);
    assert.deepEqual(await store.get(key), entry('a'));
    const ttl = await redis.pttl(key);
    assert.ok(ttl > 29_000 && ttl <= 30_000, `pttl ${ttl}`);
    assert.equal((await redis.getBuffer(key))?.[0], 0);
    assert.equal(await store.get(storageKey('r1', 'other')), null);
  });

  it('stores a large entry compressed (first byte 1)', async () => {
    const store = new RedisCacheStore(redis, 100_000);
    const key = storageKey('r2', 'large');
    const large = entry('big', 50_000);
    await store.set(key, large, 30);
    const raw = await redis.getBuffer(key);
    assert.equal(raw?.[0], 1);
    assert.ok(raw.length < 5000);
    assert.deepEqual(await store.get(key), large);
  });

  it('skips an entry over max_entry_bytes (measured after compression)', async () => {
    const store = new RedisCacheStore(redis, 1000);
    await store.set(storageKey('r3', 'noise'), noisy(4000), 30);
    assert.ok(encodeEntry(noisy(4000)).length > 1000);
    assert.equal(await redis.exists(storageKey('r3', 'noise')), 0);
    // 50 kB that compresses to well under 1000 bytes is kept.
    await store.set(storageKey('r3', 'text'), entry('t', 50_000), 30);
    assert.equal(await redis.exists(storageKey('r3', 'text')), 1);
  });

  it('reads an entry it cannot decode as a miss', async () => {
    const store = new RedisCacheStore(redis, 100_000);
    await redis.set(storageKey('r4', 'junk'), Buffer.from([1, 2, 3]));
    assert.equal(await store.get(storageKey('r4', 'junk')), null);
  });

  it("purges one scope's entries only (glob characters in the scope are literal), or all", async () => {
    const store = new RedisCacheStore(redis, 100_000);
    await redis.flushall();
    for (let index = 0; index < 1500; index++)
      await store.set(storageKey('p-a', String(index)), entry('a'), 60);
    await store.set(storageKey('p-ab', '1'), entry('b'), 60);
    await store.set(storageKey('p*', '1'), entry('c'), 60);
    await store.set(storageKey(null, '1'), entry('d'), 60);
    await redis.set('not-the-cache', 'kept');
    assert.equal(await store.purge('p*'), 1);
    assert.ok((await store.get(storageKey('p-ab', '1'))) !== null);
    assert.equal(await store.purge('p-a'), 1500);
    assert.ok((await store.get(storageKey('p-ab', '1'))) !== null);
    assert.equal(await store.purge(null), 2);
    assert.equal(await redis.get('not-the-cache'), 'kept');
    assert.equal(await store.purge(null), 0);
  });

  it('rejects when Redis is not there (the response cache then bypasses)', async () => {
    const nobody = new Redis({
      port: await freePort(),
      host: '127.0.0.1',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    nobody.on('error', () => undefined);
    const store = new RedisCacheStore(nobody, 100_000);
    await assert.rejects(store.get(storageKey('x', '1')));
    await assert.rejects(store.set(storageKey('x', '1'), entry('a'), 60));
    await assert.rejects(store.purge(null));
    nobody.disconnect();
  });
});
