/**
 * A small key-value store with a time to live per entry, for state a protocol keeps between requests
 * (the Responses API's stored responses, src/protocols/openai-responses/store.ts). Redis when configured
 * (shared by every instance), else a table of the embedded SQLite file. Values are strings; whoever
 * writes bounds their size.
 */
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/config.js';
import { EmbeddedKeyValueStore } from './embedded/embedded-kv-store.js';
import { createStateClient } from './redis/redis-client.js';
import { RedisKeyValueStore } from './redis/redis-kv-store.js';

export interface KeyValueStore {
  /** The value, or null when there is none or it expired. */
  get(key: string): Promise<string | null>;
  /** Stores the value (replacing any), gone after `ttlSeconds`. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Deletes the entry; false when there was none (or it had expired). */
  delete(key: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Commands off the hot path of the limiter: a stored response is read or written once per request. */
const KV_TIMEOUT_MS = 2000;

/**
 * Opens the store the config asks for: a Redis connection of its own (`redis`), or the embedded SQLite
 * file under server.state_dir (the file the key store created, with its permissions).
 */
export function openKeyValueStore(config: GatewayConfig, logger: Logger): KeyValueStore {
  if (config.redis === null) return EmbeddedKeyValueStore.open(config.server.stateDir);
  const client = createStateClient(config.redis, { logger, commandTimeoutMs: KV_TIMEOUT_MS });
  return new RedisKeyValueStore(client, KV_TIMEOUT_MS, true);
}
