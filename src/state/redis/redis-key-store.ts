import type { Logger } from 'pino';
import type { KeyRecord } from '../../auth/key-record.js';
import {
  applyPatch,
  fromStored,
  toStored,
  type KeyPatch,
  type KeyStore,
  type StoredKey,
} from '../../auth/key-store.js';
import { withDeadline } from '../deadline.js';
import type { ChangeSubscriber } from './cluster-subscriber.js';
import type { RedisClient } from './redis-client.js';

/**
 * API keys in Redis, shared by every instance. Every key of this store carries the `{gw-keys}` hash tag,
 * so they all live on one Redis Cluster slot and multi-key scripts stay valid.
 *
 *   {gw-keys}:hash:<sha256>  → the record as JSON (one GET authenticates)
 *   {gw-keys}:id:<id>        → <sha256>
 *   {gw-keys}:ids            → set of ids
 *
 * Changes are published on `gw-keys:changed` (the hash) so that other instances drop their cached copy at
 * once; a subscriber that loses its connection tells its listeners to forget everything. In a Redis
 * Cluster, PUBLISH reaches every node, and the subscriber listens on any one of them.
 */
const TAG = '{gw-keys}';
const CHANNEL = 'gw-keys:changed';
const hashKey = (sha256: string): string => `${TAG}:hash:${sha256}`;
const idKey = (id: string): string => `${TAG}:id:${id}`;
const IDS = `${TAG}:ids`;

// Creates a record only if neither its id nor its hash exists yet.
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
return 1`;

// Compare-and-set: writes the new record only if nobody changed it since it was read.
const REPLACE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`;

const MAX_UPDATE_ATTEMPTS = 5;
/** Admin operations issued right after start (the CLI, a first start) wait this long for the connection. */
const FIRST_CONNECTION_WAIT_MS = 2000;

export class RedisKeyStore implements KeyStore {
  readonly kind = 'redis';
  private subscribed = false;
  private readonly listeners: ((sha256: string | null) => void)[] = [];
  private readonly firstConnection: Promise<void>;

  constructor(
    private readonly redis: RedisClient,
    private readonly subscriber: ChangeSubscriber,
    private readonly logger: Logger,
    /**
     * Bounds a look-up on the request path as a whole: a cluster client retries a command whose node
     * went away (a failover), each attempt bounded by the command timeout only.
     */
    private readonly lookupTimeoutMs: number | null = null,
  ) {
    // The client does not queue commands while disconnected, so a command sent before the first
    // connection is up fails at once; admin operations (not the hot path) wait for it, bounded.
    this.firstConnection =
      redis.status === 'ready'
        ? Promise.resolve()
        : new Promise((resolve) => {
            redis.once('ready', () => {
              resolve();
            });
          });
    subscriber.on('message', (channel: string, message: string) => {
      // The connection carries other stores' channels too (redis-team-store.ts).
      if (channel !== CHANNEL) return;
      for (const listener of this.listeners) listener(message);
    });
    subscriber.on('ready', () => {
      subscriber.subscribe(CHANNEL).then(
        () => {
          this.subscribed = true;
          // Whatever changed while we were not listening is unknown: forget everything once more.
          for (const listener of this.listeners) listener(null);
        },
        (error: unknown) => {
          this.logger.warn({ detail: (error as Error).message }, 'cannot subscribe to key changes');
        },
      );
    });
    subscriber.on('close', () => {
      if (this.subscribed) {
        this.subscribed = false;
        for (const listener of this.listeners) listener(null);
      }
    });
  }

  get changesDelivered(): boolean {
    return this.subscribed;
  }

  async findByHash(sha256: string): Promise<KeyRecord | null> {
    const reading = this.redis.get(hashKey(sha256));
    const json = await (this.lookupTimeoutMs === null
      ? reading
      : withDeadline(reading, this.lookupTimeoutMs));
    return json === null ? null : fromStored(JSON.parse(json) as StoredKey);
  }

  async get(id: string): Promise<KeyRecord | null> {
    await this.connected();
    const sha256 = await this.redis.get(idKey(id));
    return sha256 === null ? null : this.findByHash(sha256);
  }

  async list(): Promise<KeyRecord[]> {
    await this.connected();
    const ids = await this.redis.smembers(IDS);
    if (ids.length === 0) return [];
    const hashes = await this.redis.mget(ids.map(idKey));
    const present = hashes.filter((hash): hash is string => hash !== null);
    if (present.length === 0) return [];
    const records = await this.redis.mget(present.map(hashKey));
    return records
      .filter((json): json is string => json !== null)
      .map((json) => fromStored(JSON.parse(json) as StoredKey))
      .sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.id.localeCompare(b.id));
  }

  async count(): Promise<number> {
    await this.connected();
    return this.redis.scard(IDS);
  }

  async create(record: KeyRecord): Promise<void> {
    await this.connected();
    const created = await this.redis.eval(
      CREATE,
      3,
      hashKey(record.sha256),
      idKey(record.id),
      IDS,
      JSON.stringify(toStored(record)),
      record.sha256,
      record.id,
    );
    if (created !== 1) throw new Error(`a key with id ${record.id} or the same secret already exists`);
    await this.publish(record.sha256);
  }

  async update(id: string, patch: KeyPatch): Promise<KeyRecord | null> {
    return this.change(id, (current) => applyPatch(current, patch));
  }

  async revoke(id: string, at: string): Promise<KeyRecord | null> {
    return this.change(id, (current) =>
      current.revokedAt === null ? { ...current, revokedAt: at } : current,
    );
  }

  subscribe(listener: (sha256: string | null) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
    return Promise.resolve();
  }

  private async change(id: string, edit: (current: KeyRecord) => KeyRecord): Promise<KeyRecord | null> {
    await this.connected();
    const sha256 = await this.redis.get(idKey(id));
    if (sha256 === null) return null;
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const before = await this.redis.get(hashKey(sha256));
      if (before === null) return null;
      const next = edit(fromStored(JSON.parse(before) as StoredKey));
      const replaced = await this.redis.eval(
        REPLACE,
        1,
        hashKey(sha256),
        before,
        JSON.stringify(toStored(next)),
      );
      if (replaced === 1) {
        await this.publish(sha256);
        return next;
      }
    }
    throw new Error(`key ${id} is being changed concurrently; try again`);
  }

  /** Waits (at most FIRST_CONNECTION_WAIT_MS) for the first connection; at once after that. */
  private async connected(): Promise<void> {
    if (this.redis.status === 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.firstConnection,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, FIRST_CONNECTION_WAIT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async publish(sha256: string): Promise<void> {
    await this.redis.publish(CHANNEL, sha256);
  }
}
