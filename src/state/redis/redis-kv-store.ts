import { once } from 'node:events';
import type { KeyValueStore } from '../kv-store.js';
import { withDeadline } from '../deadline.js';
import type { RedisClient } from './redis-client.js';

/**
 * The key-value store on Redis: SET with EX, GET, UNLINK, one key each (any cluster slot). The state
 * clients queue nothing while disconnected, so a command issued while the connection is still being
 * made (the first request after a start) waits for it, within the timeout, instead of failing at once.
 */
export class RedisKeyValueStore implements KeyValueStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly timeoutMs: number,
    /** Whether close() disconnects the client (false when the caller owns it). */
    private readonly ownsClient: boolean,
  ) {}

  async get(key: string): Promise<string | null> {
    await this.ready();
    return withDeadline(this.redis.get(key), this.timeoutMs);
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.ready();
    await withDeadline(this.redis.set(key, value, 'EX', Math.max(1, Math.ceil(ttlSeconds))), this.timeoutMs);
  }

  async delete(key: string): Promise<boolean> {
    await this.ready();
    return (await withDeadline(this.redis.unlink(key), this.timeoutMs)) > 0;
  }

  close(): Promise<void> {
    if (this.ownsClient) this.redis.disconnect();
    return Promise.resolve();
  }

  private async ready(): Promise<void> {
    const status = this.redis.status;
    if (status === 'ready' || status === 'end' || status === 'close') return;
    // Connecting (or reconnecting): wait for it, bounded; the command then reports what is wrong.
    await withDeadline(once(this.redis, 'ready'), this.timeoutMs).catch(() => undefined);
  }
}
