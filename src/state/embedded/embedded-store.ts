import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { KeyRecord } from '../../auth/key-record.js';
import type { Budget } from '../../config/config.js';
import {
  applyPatch,
  fromStored,
  type KeyPatch,
  type KeyStore,
  type StoredKey,
} from '../../auth/key-store.js';
import { openDatabase } from './open-database.js';

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
  team: string | null;
  priority: number | null;
  max_concurrency: number | null;
  budgets: string | null;
}

/**
 * Columns added after the first version (issue 20), with the type ALTER TABLE gives them. A database
 * written before has none of them: they are added on open, and rows read with the defaults (NULL).
 */
const ADDED_COLUMNS: readonly (readonly [string, string])[] = [
  ['team', 'TEXT'],
  ['priority', 'INTEGER'],
  ['max_concurrency', 'INTEGER'],
  ['budgets', 'TEXT'],
];

/**
 * The embedded state store: one SQLite file under the state directory, for what must survive a
 * restart on a single instance (API keys; usage later). WAL mode. Calls are synchronous and take
 * microseconds; the async interface is the KeyStore seam's.
 */
export class EmbeddedStore implements KeyStore {
  readonly kind = 'embedded';
  /** Another process (the CLI) may change the file, and nothing tells this one: caches keep entries 1 s. */
  readonly changesDelivered = false;
  private readonly database: Database.Database;
  private readonly listeners: ((sha256: string | null) => void)[] = [];

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const path = join(stateDir, 'gateway.db');
    ownerOnly(path);
    this.database = openDatabase(path, 1000);
    // One IMMEDIATE transaction (it takes the write lock first, waiting on the busy timeout): a second
    // process opening a new or older file at once waits, then finds every column there. Without it,
    // both read the old columns and the second one's ALTER TABLE failed ("duplicate column name").
    try {
      this.database
        .transaction(() => {
          this.createOrMigrate();
        })
        .immediate();
    } catch (error) {
      this.database.close();
      throw error;
    }
  }

  private createOrMigrate(): void {
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
    const present = new Set(
      (this.database.prepare('PRAGMA table_info(api_keys)').all() as { name: string }[]).map(
        (column) => column.name,
      ),
    );
    for (const [name, type] of ADDED_COLUMNS) {
      if (!present.has(name)) this.database.exec(`ALTER TABLE api_keys ADD COLUMN ${name} ${type}`);
    }
  }

  findByHash(sha256: string): Promise<KeyRecord | null> {
    return Promise.resolve(this.row('SELECT * FROM api_keys WHERE sha256 = ?', sha256));
  }

  get(id: string): Promise<KeyRecord | null> {
    return Promise.resolve(this.row('SELECT * FROM api_keys WHERE id = ?', id));
  }

  list(): Promise<KeyRecord[]> {
    const rows = this.database.prepare('SELECT * FROM api_keys ORDER BY created_at, id').all() as KeyRow[];
    return Promise.resolve(rows.map(toRecord));
  }

  count(): Promise<number> {
    const row = this.database.prepare('SELECT count(*) AS n FROM api_keys').get() as { n: number };
    return Promise.resolve(row.n);
  }

  create(record: KeyRecord): Promise<void> {
    this.database
      .prepare(
        `INSERT INTO api_keys (id, name, sha256, created_at, expires_at, revoked_at, models, rate_limit, metadata,
           team, priority, max_concurrency, budgets)
         VALUES (@id, @name, @sha256, @created_at, @expires_at, @revoked_at, @models, @rate_limit, @metadata,
           @team, @priority, @max_concurrency, @budgets)`,
      )
      .run(toRow(record));
    this.changed(record.sha256);
    return Promise.resolve();
  }

  update(id: string, patch: KeyPatch): Promise<KeyRecord | null> {
    return Promise.resolve(
      this.database.transaction(() => {
        const current = this.row('SELECT * FROM api_keys WHERE id = ?', id);
        if (current === null) return null;
        const next = applyPatch(current, patch);
        this.write(next);
        return next;
      })(),
    );
  }

  revoke(id: string, at: string): Promise<KeyRecord | null> {
    return Promise.resolve(
      this.database.transaction(() => {
        const current = this.row('SELECT * FROM api_keys WHERE id = ?', id);
        if (current === null) return null;
        const next = current.revokedAt === null ? { ...current, revokedAt: at } : current;
        this.write(next);
        return next;
      })(),
    );
  }

  subscribe(listener: (sha256: string | null) => void): void {
    this.listeners.push(listener);
  }

  /** The SQLite database, shared with the usage store (src/usage/embedded-usage-store.ts). */
  get db(): Database.Database {
    return this.database;
  }

  /** Readiness: the file answers a query. */
  check(): void {
    this.database.prepare('SELECT 1').get();
  }

  close(): Promise<void> {
    if (this.database.open) this.database.close();
    return Promise.resolve();
  }

  private row(sql: string, value: string): KeyRecord | null {
    const row = this.database.prepare(sql).get(value) as KeyRow | undefined;
    return row === undefined ? null : toRecord(row);
  }

  private write(record: KeyRecord): void {
    this.database
      .prepare(
        `UPDATE api_keys SET name = @name, expires_at = @expires_at, revoked_at = @revoked_at, models = @models,
         rate_limit = @rate_limit, metadata = @metadata, team = @team, priority = @priority,
         max_concurrency = @max_concurrency, budgets = @budgets WHERE id = @id`,
      )
      .run(toRow(record));
    this.changed(record.sha256);
  }

  private changed(sha256: string): void {
    for (const listener of this.listeners) listener(sha256);
  }
}

/** The database file and the WAL files SQLite keeps beside it (issue 16, finding 14). */
const SQLITE_SUFFIXES = ['', '-wal', '-shm', '-journal'];

/**
 * Makes the database file readable by its owner only before SQLite opens it: key hashes and usage are
 * no one else's business. `mkdirSync(..., { mode: 0o700 })` protects a directory it creates, not one
 * that already exists (`.gateway/` made by hand, a mounted volume), and SQLite creates its file with
 * 0644 (less the umask). Created here with 0600, the file is never readable by others, not even for a
 * moment; SQLite gives the -wal and -shm files it creates the database file's mode. Files left 0644 by
 * an earlier version (or by a crash: -wal and -shm) are tightened.
 */
function ownerOnly(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const suffix of SQLITE_SUFFIXES) {
    try {
      chmodSync(`${path}${suffix}`, 0o600);
    } catch (error) {
      // No such file (no WAL yet), or not ours to change: SQLite then reports what it cannot open.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EPERM') throw error;
    }
  }
}

function toRow(record: KeyRecord): KeyRow {
  return {
    id: record.id,
    name: record.name,
    sha256: record.sha256,
    created_at: record.createdAt ?? new Date().toISOString(),
    expires_at: record.expiresAt,
    revoked_at: record.revokedAt,
    models: record.models === null ? null : JSON.stringify(record.models),
    rate_limit: record.rateLimit === null ? null : JSON.stringify(record.rateLimit),
    metadata: JSON.stringify(record.metadata),
    team: record.team,
    priority: record.priority,
    max_concurrency: record.maxConcurrency,
    budgets: record.budgets.length === 0 ? null : JSON.stringify(record.budgets),
  };
}

function toRecord(row: KeyRow): KeyRecord {
  const stored: StoredKey = {
    id: row.id,
    name: row.name,
    sha256: row.sha256,
    created_at: row.created_at,
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    rate_limit: row.rate_limit === null ? null : (JSON.parse(row.rate_limit) as StoredKey['rate_limit']),
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    // NULL (a row written before issue 20) reads as the default (fromStored).
    team: row.team,
    ...(row.priority === null ? {} : { priority: row.priority }),
    max_concurrency: row.max_concurrency,
    ...(row.budgets === null ? {} : { budgets: JSON.parse(row.budgets) as Budget[] }),
  };
  return fromStored(stored);
}
