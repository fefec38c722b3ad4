import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { EmbeddedStore } from './embedded-store.js';

function modeOf(path: string): string {
  return (statSync(path).mode & 0o777).toString(8).padStart(4, '0');
}

const RECORD = {
  id: 'team-a',
  name: 'team a',
  sha256: 'a'.repeat(64),
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: null,
  revokedAt: null,
  models: null,
  rateLimit: null,
  metadata: {},
  team: null,
  priority: 100,
  maxConcurrency: null,
  budgets: [],
  source: 'store',
} as const;

// Issue 16, finding 14: the SQLite files were created 0644 inside a state directory that already existed.
describe('EmbeddedStore file permissions', () => {
  let directory: string;
  let umask: number;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-embedded-'));
    // The usual umask: without the fix, SQLite's files are then readable by everyone.
    umask = process.umask(0o022);
  });

  afterEach(() => {
    process.umask(umask);
    rmSync(directory, { recursive: true, force: true });
  });

  it('creates gateway.db and its -wal and -shm files 0600 in a state directory that already exists', async () => {
    const stateDir = join(directory, 'state');
    mkdirSync(stateDir, { mode: 0o755 });
    const store = new EmbeddedStore(stateDir);
    try {
      await store.create({ ...RECORD });
      const database = join(stateDir, 'gateway.db');
      assert.deepEqual([database, `${database}-wal`, `${database}-shm`].map(modeOf), [
        '0600',
        '0600',
        '0600',
      ]);
      assert.equal((await store.get('team-a'))?.name, 'team a');
    } finally {
      await store.close();
    }
  });

  it('makes files an earlier version left 0644 (a crash leaves -wal and -shm behind) 0600', async () => {
    const database = join(directory, 'gateway.db');
    const earlier = new Database(database);
    earlier.pragma('journal_mode = WAL');
    earlier.exec('CREATE TABLE before_the_fix (x INTEGER)');
    earlier.exec('INSERT INTO before_the_fix VALUES (1)');
    assert.deepEqual([database, `${database}-wal`, `${database}-shm`].map(modeOf), ['0644', '0644', '0644']);
    const store = new EmbeddedStore(directory);
    try {
      assert.deepEqual([database, `${database}-wal`, `${database}-shm`].map(modeOf), [
        '0600',
        '0600',
        '0600',
      ]);
      // Still the same database, now also the store's.
      assert.deepEqual(store.db.prepare('SELECT x FROM before_the_fix').all(), [{ x: 1 }]);
    } finally {
      await store.close();
      earlier.close();
    }
  });
});
