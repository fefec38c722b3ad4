import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { KeyRecord } from '../../auth/key-record.js';

interface KeyRow {
  id: string;
  name: string;
  sha256: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  models: string | null;
  rate_limit: string | null;
  metadata: string;
}

/**
 * The embedded state store: one SQLite file under the state directory, for what must survive a
 * restart on a single instance (API keys; usage later). WAL mode, synchronous writes.
 */
export class EmbeddedStore {
  private readonly database: Database.Database;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.database = new Database(join(stateDir, 'gateway.db'), { timeout: 1000 });
    this.database.pragma('journal_mode = WAL');
    this.database.exec(`
      CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        models TEXT,
        rate_limit TEXT,
        metadata TEXT NOT NULL DEFAULT '{}'
      )`);
  }

  findKeyByHash(sha256: string): KeyRecord | null {
    const row = this.database.prepare('SELECT * FROM api_keys WHERE sha256 = ?').get(sha256) as
      KeyRow | undefined;
    return row === undefined ? null : toRecord(row);
  }

  countKeys(): number {
    const row = this.database.prepare('SELECT count(*) AS n FROM api_keys').get() as { n: number };
    return row.n;
  }

  insertKey(record: KeyRecord): void {
    this.database
      .prepare(
        `INSERT INTO api_keys (id, name, sha256, created_at, expires_at, revoked_at, models, rate_limit, metadata)
         VALUES (@id, @name, @sha256, @created_at, @expires_at, @revoked_at, @models, @rate_limit, @metadata)`,
      )
      .run({
        id: record.id,
        name: record.name,
        sha256: record.sha256,
        created_at: record.createdAt ?? new Date().toISOString(),
        expires_at: record.expiresAt,
        revoked_at: record.revokedAt,
        models: record.models === null ? null : JSON.stringify(record.models),
        rate_limit: record.rateLimit === null ? null : JSON.stringify(record.rateLimit),
        metadata: JSON.stringify(record.metadata),
      });
  }

  /** Readiness: the file answers a query. */
  check(): void {
    this.database.prepare('SELECT 1').get();
  }

  close(): void {
    this.database.close();
  }
}

function toRecord(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    name: row.name,
    sha256: row.sha256,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    rateLimit: row.rate_limit === null ? null : (JSON.parse(row.rate_limit) as KeyRecord['rateLimit']),
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    source: 'store',
  };
}
