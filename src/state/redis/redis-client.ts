import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisClientOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Every command fails after this long instead of waiting on a stalled server. */
  readonly commandTimeoutMs: number;
}

/**
 * A Redis connection for the hot path: commands are never queued while disconnected (they would be
 * replayed later, RELIABILITY.md #2) and each has a timeout; reconnection goes on in the background.
 */
export function createRedisClient(options: RedisClientOptions, extra: RedisOptions = {}): Redis {
  const redis = new Redis(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: 1000,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...extra,
  });
  let lastLog = 0;
  redis.on('error', (error: Error) => {
    const now = Date.now();
    // A server that is down reports an error on every reconnection attempt: log one every 10 s.
    if (now - lastLog > 10_000) {
      lastLog = now;
      options.logger.warn({ detail: error.message }, 'redis error');
    }
  });
  return redis;
}

/** PING with its own timeout; used by readiness. */
export async function pingRedis(
  redis: Redis,
  timeoutMs: number,
): Promise<{ status: 'ok' | 'error'; detail?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }),
    ]);
    return { status: 'ok' };
  } catch (error) {
    return { status: 'error', detail: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
