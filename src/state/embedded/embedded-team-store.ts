import type Database from 'better-sqlite3';
import type { TeamRecord } from '../../auth/team-record.js';
import {
  applyTeamPatch,
  fromStoredTeam,
  TeamExistsError,
  toStoredTeam,
  type StoredTeam,
  type TeamPatch,
  type TeamStore,
} from '../../auth/team-store.js';

interface TeamRow {
  id: string;
  /** The record as stored JSON (team-store.ts StoredTeam): fields added later read with defaults. */
  record: string;
  created_at: string;
}

/**
 * The admin API's teams in the embedded SQLite file (the key store's database). One JSON column per
 * team, so that a field added later needs no migration.
 */
export class EmbeddedTeamStore implements TeamStore {
  readonly kind = 'embedded';
  /** Another process (the CLI) may change the file, and nothing tells this one: caches keep entries 1 s. */
  readonly changesDelivered = false;
  private readonly listeners: ((id: string | null) => void)[] = [];

  constructor(private readonly database: Database.Database) {
    database.exec(`
      CREATE TABLE IF NOT EXISTS teams (
        id TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`);
  }

  get(id: string): Promise<TeamRecord | null> {
    const row = this.database.prepare('SELECT * FROM teams WHERE id = ?').get(id) as TeamRow | undefined;
    return Promise.resolve(row === undefined ? null : toRecord(row));
  }

  list(): Promise<TeamRecord[]> {
    const rows = this.database.prepare('SELECT * FROM teams ORDER BY created_at, id').all() as TeamRow[];
    return Promise.resolve(rows.map(toRecord));
  }

  create(record: TeamRecord): Promise<void> {
    const result = this.database
      .prepare('INSERT OR IGNORE INTO teams (id, record, created_at) VALUES (@id, @record, @created_at)')
      .run(toRow(record));
    if (result.changes === 0) return Promise.reject(new TeamExistsError(record.id));
    this.changed(record.id);
    return Promise.resolve();
  }

  update(id: string, patch: TeamPatch): Promise<TeamRecord | null> {
    const next = this.database.transaction(() => {
      const row = this.database.prepare('SELECT * FROM teams WHERE id = ?').get(id) as TeamRow | undefined;
      if (row === undefined) return null;
      const updated = applyTeamPatch(toRecord(row), patch);
      this.database.prepare('UPDATE teams SET record = @record WHERE id = @id').run(toRow(updated));
      return updated;
    })();
    if (next !== null) this.changed(id);
    return Promise.resolve(next);
  }

  delete(id: string): Promise<boolean> {
    const deleted = this.database.prepare('DELETE FROM teams WHERE id = ?').run(id).changes > 0;
    if (deleted) this.changed(id);
    return Promise.resolve(deleted);
  }

  subscribe(listener: (id: string | null) => void): void {
    this.listeners.push(listener);
  }

  /** The database belongs to the key store (embedded-store.ts), which closes it. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  private changed(id: string): void {
    for (const listener of this.listeners) listener(id);
  }
}

function toRow(record: TeamRecord): TeamRow {
  return {
    id: record.id,
    record: JSON.stringify(toStoredTeam(record)),
    created_at: record.createdAt ?? new Date().toISOString(),
  };
}

function toRecord(row: TeamRow): TeamRecord {
  const stored = JSON.parse(row.record) as StoredTeam;
  return fromStoredTeam({ ...stored, created_at: stored.created_at ?? row.created_at });
}
