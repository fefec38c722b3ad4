import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { KeyValueStore } from '../kv-store.js';
import { openDatabase } from './open-database.js';

/** Expired rows are deleted at most this often, by a write. */
const PURGE_INTERVAL_MS = 60_000;

/**
 * The key-value store in the embedded SQLite file: one table, each row with the time (ms) it expires.
 * A read never returns an expired row; expired rows are deleted by a write at most once a minute, so
 * that the table does not keep what nobody will read.
 */
export class EmbeddedKeyValueStore implements KeyValueStore {
  private lastPurge = -Infinity;

  constructor(
    private readonly database: Database.Database,
    /** Whether close() closes the database (false when it is shared). */
    private readonly ownsDatabase: boolean,
    private readonly now: () => number = Date.now,
  ) {
    database.exec(`
      CREATE TABLE IF NOT EXISTS kv_entries (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      )`);
  }

  /**
   * A connection of its own to the state directory's gateway.db (WAL: it and the key store's connection
   * read and write side by side). The key store creates the file first, owner-only (embedded-store.ts).
   */
  static open(stateDir: string, now: () => number = Date.now): EmbeddedKeyValueStore {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const database = openDatabase(join(stateDir, 'gateway.db'), 1000);
    return new EmbeddedKeyValueStore(database, true, now);
  }

  get(key: string): Promise<string | null> {
    const row = this.database
      .prepare('SELECT value FROM kv_entries WHERE key = ? AND expires_at > ?')
      .get(key, this.now()) as { value: string } | undefined;
    return Promise.resolve(row === undefined ? null : row.value);
  }

  set(key: string, value: string, ttlSeconds: number): Promise<void> {
    const now = this.now();
    this.database
      .prepare(
        `INSERT INTO kv_entries (key, value, expires_at) VALUES (?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
      )
      .run(key, value, now + Math.round(ttlSeconds * 1000));
    if (now - this.lastPurge >= PURGE_INTERVAL_MS) {
      this.lastPurge = now;
      this.database.prepare('DELETE FROM kv_entries WHERE expires_at <= ?').run(now);
    }
    return Promise.resolve();
  }

  delete(key: string): Promise<boolean> {
    const row = this.database.prepare('SELECT expires_at FROM kv_entries WHERE key = ?').get(key) as
      { expires_at: number } | undefined;
    if (row === undefined) return Promise.resolve(false);
    // An expired row goes too, but it was not there to delete.
    this.database.prepare('DELETE FROM kv_entries WHERE key = ?').run(key);
    return Promise.resolve(row.expires_at > this.now());
  }

  /** Rows in the table, expired or not (for tests of the purge). */
  size(): number {
    return (this.database.prepare('SELECT count(*) AS n FROM kv_entries').get() as { n: number }).n;
  }

  close(): Promise<void> {
    if (this.ownsDatabase && this.database.open) this.database.close();
    return Promise.resolve();
  }
}
