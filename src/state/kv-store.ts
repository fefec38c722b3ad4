/**
 * A small key-value store with a time to live per entry, for state a protocol keeps between requests
 * (the Responses API's stored responses, src/protocols/openai-responses/store.ts). Redis when configured
 * (shared by every instance; the usage connection, whose commands may take 2 s), else a table of the
 * embedded SQLite file (the key store's connection). src/state/stores.ts opens it with the other stores. Values are strings; whoever
 * writes bounds their size.
 */

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
export const KV_TIMEOUT_MS = 2000;
