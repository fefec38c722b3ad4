import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { EmbeddedStore } from './embedded-store.js';
import { openDatabase } from './open-database.js';

/** better-sqlite3 as this test finds it, for the other process. */
const LIBRARY = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * Another process holding a lock on the file at `path`: `sql` runs in a transaction begun with
 * `begin`, the process prints "held", and commits `holdMs` later (never, with Infinity: it is killed).
 * Another process, because SQLite's locks are the file's: a second connection in this thread would
 * wait for itself.
 */
async function holdLock(path: string, begin: string, sql: string, holdMs: number): Promise<ChildProcess> {
  const script = `
    const [library, path, begin, sql, holdMs] = process.argv.slice(1);
    const Database = require(library);
    const database = new Database(path);
    database.exec(begin);
    database.exec(sql);
    process.stdout.write('held\\n');
    if (holdMs !== 'Infinity') setTimeout(() => { database.exec('COMMIT'); database.close(); }, Number(holdMs));
    else setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script, LIBRARY, path, begin, sql, String(holdMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  assert.equal(chunk.toString(), 'held\n');
  return child;
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
}

describe('openDatabase: opening a file another process is using', () => {
  let directory: string;
  let holder: ChildProcess | null = null;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-open-database-'));
  });

  afterEach(async () => {
    if (holder !== null) {
      holder.kill('SIGKILL');
      await exited(holder);
      holder = null;
    }
    rmSync(directory, { recursive: true, force: true });
  });

  // Two CLI commands opening a new gateway.db at once: one failed with "database is locked" at once,
  // because SQLite does not wait on its busy timeout to switch to WAL a file that another connection
  // is writing in the old journal mode.
  it('switches a file another process is writing to WAL once that write ends', async () => {
    const path = join(directory, 'gateway.db');
    const before = new Database(path);
    before.exec('CREATE TABLE t (x INTEGER)');
    before.close();
    holder = await holdLock(path, 'BEGIN IMMEDIATE', 'INSERT INTO t VALUES (1)', 150);
    const database = openDatabase(path, 5000);
    try {
      assert.equal(database.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      database.close();
    }
    await exited(holder);
    assert.equal(holder.exitCode, 0);
  });

  it('gives up with SQLITE_BUSY once its timeout has passed', async () => {
    const path = join(directory, 'gateway.db');
    const before = new Database(path);
    before.exec('CREATE TABLE t (x INTEGER)');
    before.close();
    holder = await holdLock(path, 'BEGIN IMMEDIATE', 'INSERT INTO t VALUES (1)', Infinity);
    const started = Date.now();
    assert.throws(
      () => openDatabase(path, 100),
      (error: unknown) => error instanceof Database.SqliteError && error.code === 'SQLITE_BUSY',
    );
    assert.ok(Date.now() - started >= 100, 'it gave up before its timeout');
  });

  // Two processes opening a file an earlier version wrote both read its old columns, and the second
  // one's ALTER TABLE failed with "duplicate column name".
  it('EmbeddedStore waits for another process adding the new columns, then finds them there', async () => {
    const stateDir = join(directory, 'state');
    const path = join(stateDir, 'gateway.db');
    const earlier = new EmbeddedStore(stateDir);
    await earlier.close();
    const older = new Database(path);
    for (const column of ['team', 'priority', 'max_concurrency', 'budgets']) {
      older.exec(`ALTER TABLE api_keys DROP COLUMN ${column}`);
    }
    older.close();
    const added = [
      'ALTER TABLE api_keys ADD COLUMN team TEXT',
      'ALTER TABLE api_keys ADD COLUMN priority INTEGER',
      'ALTER TABLE api_keys ADD COLUMN max_concurrency INTEGER',
      'ALTER TABLE api_keys ADD COLUMN budgets TEXT',
    ].join('; ');
    holder = await holdLock(path, 'BEGIN IMMEDIATE', added, 150);
    const store = new EmbeddedStore(stateDir);
    try {
      await store.create({
        id: 'k1',
        name: 'k1',
        sha256: 'b'.repeat(64),
        createdAt: '2026-01-01T00:00:00.000Z',
        expiresAt: null,
        revokedAt: null,
        models: null,
        rateLimit: null,
        metadata: {},
        team: 'research',
        priority: 10,
        maxConcurrency: 2,
        budgets: [],
        source: 'store',
      });
      const read = await store.get('k1');
      assert.equal(read?.team, 'research');
      assert.equal(read?.maxConcurrency, 2);
    } finally {
      await store.close();
    }
    await exited(holder);
    assert.equal(holder.exitCode, 0);
  });
});
