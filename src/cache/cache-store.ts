import { gunzipSync, gzipSync } from 'node:zlib';
import type { Cluster, Redis } from 'ioredis';
import { withDeadline } from '../state/deadline.js';
import { isCluster, type RedisClient } from '../state/redis/redis-client.js';

/** A stored answer: when it was stored, and the answer as the client got it. */
export interface CachedEntry {
  readonly storedAt: number;
  readonly body: Record<string, unknown>;
  /** The backend that produced the answer (X-Gateway-Backend on hits); null in older entries. */
  readonly backend: string | null;
}

/**
 * Where answers are kept: Redis (shared, compressed when that pays) or an in-process LRU bounded in
 * bytes. Keys are `gw-cache:<scope>:<sha256>`, so one tenant's entries can be purged alone.
 */
export interface CacheStore {
  get(key: string): Promise<CachedEntry | null>;
  set(key: string, entry: CachedEntry, ttlSeconds: number): Promise<void>;
  /** Deletes every entry, or one scope's; returns how many. */
  purge(scope: string | null): Promise<number>;
}

const RAW = 0;
const GZIP = 1;
const COMPRESS_ABOVE_BYTES = 1024;

export function storageKey(scope: string | null, hash: string): string {
  return `gw-cache:${scope === null ? '*global' : encodeURIComponent(scope)}:${hash}`;
}

function scopePattern(scope: string | null): string {
  return scope === null
    ? 'gw-cache:*'
    : `gw-cache:${encodeURIComponent(scope).replace(/[*?[\]\\]/g, '\\$&')}:*`;
}

/** One byte of format, then the JSON, gzipped when that makes it smaller. */
export function encodeEntry(entry: CachedEntry): Buffer {
  const json = Buffer.from(
    JSON.stringify({ stored_at: entry.storedAt, backend: entry.backend, body: entry.body }),
  );
  if (json.length > COMPRESS_ABOVE_BYTES) {
    const packed = gzipSync(json, { level: 6 });
    if (packed.length < json.length) return Buffer.concat([Buffer.of(GZIP), packed]);
  }
  return Buffer.concat([Buffer.of(RAW), json]);
}

export function decodeEntry(buffer: Buffer): CachedEntry | null {
  try {
    const json = buffer[0] === GZIP ? gunzipSync(buffer.subarray(1)) : buffer.subarray(1);
    const parsed = JSON.parse(json.toString('utf8')) as {
      stored_at: number;
      backend?: string | null;
      body: Record<string, unknown>;
    };
    return { storedAt: parsed.stored_at, body: parsed.body, backend: parsed.backend ?? null };
  } catch {
    return null; // an entry we cannot read is a miss
  }
}

export class RedisCacheStore implements CacheStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly maxEntryBytes: number,
    /** Longest wait for a read (rate_limit.store_timeout_ms): then it fails, and the request BYPASSes. */
    private readonly timeoutMs = Infinity,
  ) {}

  async get(key: string): Promise<CachedEntry | null> {
    const buffer = await withDeadline(this.redis.getBuffer(key), this.timeoutMs);
    return buffer === null ? null : decodeEntry(buffer);
  }

  async set(key: string, entry: CachedEntry, ttlSeconds: number): Promise<void> {
    const encoded = encodeEntry(entry);
    if (encoded.length > this.maxEntryBytes) return;
    await this.redis.set(key, encoded, 'EX', ttlSeconds);
  }

  /**
   * SCAN by pattern and UNLINK what it finds. In a Redis Cluster, SCAN sees one node's keys only: every
   * master is scanned (each master of the slot map must be connected, or the purge fails rather than
   * leaving a master's entries behind), and the keys, spread over many slots, are unlinked one by one
   * (auto-pipelined: one write per node).
   */
  async purge(scope: string | null): Promise<number> {
    const pattern = scopePattern(scope);
    if (!isCluster(this.redis)) {
      const redis = this.redis;
      return scanAndUnlink(redis, pattern, (keys) => redis.unlink(...keys));
    }
    const cluster = this.redis;
    const counts = await Promise.all(
      clusterMasters(cluster).map((node) =>
        scanAndUnlink(node, pattern, async (keys) => {
          const deleted = await Promise.all(keys.map((key) => cluster.unlink(key)));
          return deleted.reduce((sum, count) => sum + count, 0);
        }),
      ),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }
}

async function scanAndUnlink(
  node: Redis,
  pattern: string,
  unlink: (keys: string[]) => Promise<number>,
): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await unlink(keys);
  } while (cursor !== '0');
  return deleted;
}

/** The connection to every master of the cluster's slot map; throws when one is missing. */
function clusterMasters(cluster: Cluster): Redis[] {
  if (cluster.status !== 'ready') throw new Error(`the cluster client is ${cluster.status}`);
  const connections = new Map<string, Redis>();
  for (const node of cluster.nodes('master')) {
    connections.set(`${node.options.host}:${node.options.port}`, node);
  }
  const masters = new Map<string, Redis>();
  for (let slot = 0; slot < 16384; slot++) {
    const owner = cluster.slots[slot]?.[0];
    if (owner === undefined) throw new Error(`no master serves slot ${slot}`);
    if (masters.has(owner)) continue;
    const connection = connections.get(owner);
    if (connection === undefined) throw new Error(`master ${owner} is not connected`);
    masters.set(owner, connection);
  }
  return [...masters.values()];
}

/** Fields a hit replaces (id, created) or adds (cached): kept out of an answer's stored JSON. */
const FRESH_FIELDS = new Set(['id', 'created', 'cached']);
const answerJsonOf = new WeakMap<CachedEntry, string>();

/**
 * The answer of an entry as JSON, without the fields each hit sets anew (id, created, cached): a hit's
 * body is built around it. Serialised once per entry object (the in-process store keeps it ready).
 */
export function answerJson(entry: CachedEntry): string {
  if (entry instanceof KeptEntry) return entry.json;
  let json = answerJsonOf.get(entry);
  if (json === undefined) {
    const rest: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(entry.body)) if (!FRESH_FIELDS.has(name)) rest[name] = value;
    json = JSON.stringify(rest);
    answerJsonOf.set(entry, json);
  }
  return json;
}

/**
 * An entry as the in-process store keeps it: the answer's JSON (what a hit sends), parsed again only
 * when something reads `body` (a replayed stream), and never kept parsed, so that what the store counts
 * is the memory it holds. One object per entry: no closure, no side table.
 */
class KeptEntry implements CachedEntry {
  constructor(
    readonly storedAt: number,
    readonly backend: string | null,
    readonly json: string,
    private readonly id: unknown,
    private readonly created: unknown,
    /** What the store counts for this entry (memoryEntryBytes). */
    readonly bytes: number,
    readonly expiresAt: number,
  ) {}

  get body(): Record<string, unknown> {
    const rest = JSON.parse(this.json) as Record<string, unknown>;
    return {
      ...(this.id === undefined ? {} : { id: this.id }),
      ...(this.created === undefined ? {} : { created: this.created }),
      ...rest,
    };
  }
}

/*
 * What V8 (64-bit, as Node ships it: no pointer compression) spends on what an entry holds, rounded up.
 * Issue 16, finding 12: counting the answer's JSON alone, the store held ~2.75 times its bound.
 */
/** A sequential string's header (map, hash, length); its characters follow, padded to 8 bytes. */
const STRING_HEADER_BYTES = 16;
/** A key built by concatenation stays a cons string pointing at its flattened copy. */
const CONS_STRING_BYTES = 32;
/**
 * The KeptEntry object (header and seven fields), its two numbers boxed as heap numbers, and its slot
 * in the store's Map (key, value, chain, bucket) with the spare capacity a Map keeps after growing.
 */
const ENTRY_OVERHEAD_BYTES = 256;

/**
 * A string's size in the heap: one byte a character when it is ASCII, else counted as two (V8 keeps
 * Latin-1 text one byte a character, the rest UTF-16). One pass over the text, as counting its UTF-8
 * bytes was.
 */
function stringBytes(text: string): number {
  const perCharacter = Buffer.byteLength(text) === text.length ? 1 : 2;
  return STRING_HEADER_BYTES + Math.ceil((text.length * perCharacter) / 8) * 8;
}

/**
 * What an entry costs the in-process store: its key, the answer's JSON, the id and backend kept beside
 * it, and the objects that hold them (see ENTRY_OVERHEAD_BYTES).
 */
export function memoryEntryBytes(key: string, entry: CachedEntry): number {
  const id = entry.body['id'];
  return (
    CONS_STRING_BYTES +
    stringBytes(key) +
    stringBytes(answerJson(entry)) +
    (id === undefined ? 0 : stringBytes(typeof id === 'string' ? id : JSON.stringify(id))) +
    (entry.backend === null ? 0 : stringBytes(entry.backend)) +
    ENTRY_OVERHEAD_BYTES
  );
}

/**
 * An LRU bounded in bytes: what its entries hold in memory (memoryEntryBytes), keys and bookkeeping
 * included. It keeps answers as JSON ready to send, so a hit neither decodes nor re-serialises; and it
 * answers at once (no deadline).
 */
export class MemoryCacheStore implements CacheStore {
  private readonly entries = new Map<string, KeptEntry>();
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxEntryBytes: number,
    private readonly clock: () => number = Date.now,
  ) {}

  get(key: string): Promise<CachedEntry | null> {
    const found = this.entries.get(key);
    if (found === undefined) return Promise.resolve(null);
    if (found.expiresAt <= this.clock()) {
      this.delete(key);
      return Promise.resolve(null);
    }
    // Touch: most recently used moves to the end of the map's order.
    this.entries.delete(key);
    this.entries.set(key, found);
    return Promise.resolve(found);
  }

  set(key: string, entry: CachedEntry, ttlSeconds: number): Promise<void> {
    const bytes = memoryEntryBytes(key, entry);
    if (bytes > this.maxEntryBytes || bytes > this.maxBytes) return Promise.resolve();
    this.delete(key);
    while (this.bytes + bytes > this.maxBytes) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.delete(oldest);
    }
    const { id, created } = entry.body;
    const kept = new KeptEntry(
      entry.storedAt,
      entry.backend,
      answerJson(entry),
      id,
      created,
      bytes,
      this.clock() + ttlSeconds * 1000,
    );
    this.entries.set(key, kept);
    this.bytes += bytes;
    return Promise.resolve();
  }

  purge(scope: string | null): Promise<number> {
    const prefix = scope === null ? 'gw-cache:' : `gw-cache:${encodeURIComponent(scope)}:`;
    let deleted = 0;
    for (const key of [...this.entries.keys()]) {
      if (key.startsWith(prefix)) {
        this.delete(key);
        deleted++;
      }
    }
    return Promise.resolve(deleted);
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  private delete(key: string): void {
    const found = this.entries.get(key);
    if (found === undefined) return;
    this.bytes -= found.bytes;
    this.entries.delete(key);
  }
}
