import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import {
  clampLimit,
  DAY_MS,
  decodeCursor,
  exportPages,
  HOUR_MS,
  PARTIAL_INDEXES,
  RECORD_COLUMNS,
  recordRow,
  type RecordRow,
  rollupInputOf,
  rowToRecord,
  toPage,
  whereSql,
  type RequestLogFilters,
  type RequestLogPage,
  type RequestLogStats,
  type RequestLogStore,
  type RetentionResult,
  type StatsBucket,
  type StatsGroupBy,
} from './request-log-store.js';
import type { RequestRecord, StoredRequestRecord } from './request-record.js';
import {
  assembleStats,
  combinedRollupTableSql,
  partialsFromRecords,
  partialsFromRollups,
  recordStatsSql,
  rollupBackfillSql,
  rollupDeltas,
  rollupDimension,
  ROLLUP_COLUMNS,
  ROLLUP_DIMENSIONS,
  rollupRetentionSql,
  rollupStatsSql,
  ROLLUP_TABLE,
  rollupTableSql,
  rollupUpsertSql,
} from './rollup.js';
import { openDatabase } from '../state/embedded/open-database.js';

export interface SqliteRequestLogStoreOptions {
  /** The state directory; the log lives in its own file there, request-log.db. */
  readonly stateDir: string;
  readonly retentionDays: number;
  /** Rows per DELETE in retention: small, so a writer never waits long for the write lock. */
  readonly retentionBatch?: number;
}

/** better-sqlite3 throws synchronously; callers of the async seam expect a rejected promise instead. */
function settle<T>(work: () => T): Promise<T> {
  return Promise.resolve().then(work);
}

interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * Indexes follow the filters, each ending in time so that "newest first" is a backward index scan that
 * stops after a page; an INTEGER PRIMARY KEY id is implicitly the last column of every index, which
 * makes (time, id) the cursor's order for free.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'request_log and hourly rollups',
    sql: `
      CREATE TABLE request_log (
        id INTEGER PRIMARY KEY,
        time INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        key_id TEXT,
        team TEXT,
        protocol TEXT NOT NULL,
        route TEXT NOT NULL,
        model TEXT,
        route_name TEXT,
        backend TEXT,
        upstream_model TEXT,
        status INTEGER NOT NULL,
        error_code TEXT,
        attempts TEXT NOT NULL,
        cache TEXT,
        ttfb_ms INTEGER,
        duration_ms INTEGER NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        cached_tokens INTEGER,
        reasoning_tokens INTEGER,
        cost_micros INTEGER,
        client_address TEXT,
        user_agent TEXT,
        prompt TEXT,
        answer TEXT
      );
      CREATE INDEX request_log_time ON request_log (time);
      CREATE INDEX request_log_key_time ON request_log (key_id, time);
      CREATE INDEX request_log_team_time ON request_log (team, time);
      CREATE INDEX request_log_model_time ON request_log (model, time);
      CREATE INDEX request_log_backend_time ON request_log (backend, time);
      CREATE INDEX request_log_status_class_time ON request_log (status / 100, time);
      CREATE INDEX request_log_error_time ON request_log (error_code, time) WHERE error_code IS NOT NULL;
      CREATE INDEX request_log_request_id ON request_log (request_id);
      CREATE TABLE request_log_hourly ${combinedRollupTableSql('INTEGER')};
    `,
  },
  {
    // WITHOUT ROWID: the rows are stored in primary key order, so a chart's (dimension, hour range) is
    // one contiguous read of the table itself, not an index lookup per row.
    version: 2,
    name: 'hourly rollups per dimension (all, model, key, backend) instead of per model × key × backend',
    sql: `
      CREATE TABLE ${ROLLUP_TABLE} ${rollupTableSql('INTEGER')} WITHOUT ROWID;
      ${rollupBackfillSql(ROLLUP_TABLE, 'request_log_hourly')}
      DROP TABLE request_log_hourly;
    `,
  },
  {
    // A filter is always an equality (key_id = ?), which never matches NULL, and SQLite uses an index
    // WHERE x IS NOT NULL for it: the records without a team (all of them, without teams), a key (auth
    // off) or a backend or model (refused before routing) no longer pay an index insert each.
    version: 3,
    name: 'key, team, model and backend indexes leave out NULLs',
    sql: `
      ${PARTIAL_INDEXES.map(
        ([name, column]) => `DROP INDEX ${name};
      CREATE INDEX ${name} ON request_log (${column}, time) WHERE ${column} IS NOT NULL;`,
      ).join('\n      ')}
    `,
  },
];

/**
 * The request log in SQLite, for a single instance: its own file under the state directory (so its
 * writes never wait on the key store's lock), WAL mode so readers don't block the writer. Calls are
 * synchronous inside; a batch of 500 records is one transaction of a few milliseconds.
 */
export class SqliteRequestLogStore implements RequestLogStore {
  readonly kind = 'sqlite';
  readonly path: string;
  private readonly database: Database.Database;
  private readonly retentionDays: number;
  private readonly retentionBatch: number;
  private statements: { insert: Database.Statement; upsert: Database.Statement } | null = null;

  constructor(options: SqliteRequestLogStoreOptions) {
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    this.path = join(options.stateDir, 'request-log.db');
    this.database = openDatabase(this.path, 5000);
    // With WAL, NORMAL loses at most the last transactions on a power cut, never corrupts: right for a log.
    this.database.pragma('synchronous = NORMAL');
    this.retentionDays = options.retentionDays;
    this.retentionBatch = options.retentionBatch ?? 5000;
  }

  /** All migrations; `upTo` stops after that version (the tests' way to make an older install). */
  migrate(upTo = Infinity): Promise<void> {
    return settle(() => {
      this.migrateNow(upTo);
    });
  }

  private migrateNow(upTo: number): void {
    this.database.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    // IMMEDIATE takes the write lock first: a second process migrating at once waits, then sees the rows.
    this.database
      .transaction(() => {
        const applied = new Set(
          (this.database.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
            (row) => row.version,
          ),
        );
        for (const migration of MIGRATIONS) {
          if (applied.has(migration.version) || migration.version > upTo) continue;
          this.database.exec(migration.sql);
          this.database
            .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
            .run(migration.version, migration.name, Date.now());
        }
      })
      .immediate();
  }

  write(records: readonly RequestRecord[]): Promise<void> {
    return this.writeRows(records.map(recordRow));
  }

  /** Rows (recordRow) are inserted as they are: what the store's thread is sent (threaded-store.ts). */
  writeRows(rows: readonly RecordRow[]): Promise<void> {
    return settle(() => {
      this.writeNow(rows);
    });
  }

  private writeNow(rows: readonly RecordRow[]): void {
    if (rows.length === 0) return;
    // Prepared once, after migrate() made the tables.
    this.statements ??= {
      insert: this.database.prepare(
        `INSERT INTO request_log (${RECORD_COLUMNS.join(', ')}) VALUES (${RECORD_COLUMNS.map(() => '?').join(', ')})`,
      ),
      upsert: this.database.prepare(
        `INSERT INTO ${ROLLUP_TABLE} (${ROLLUP_COLUMNS.join(', ')}) VALUES (${ROLLUP_COLUMNS.map(() => '?').join(', ')})
         ${rollupUpsertSql(ROLLUP_TABLE)}`,
      ),
    };
    const { insert, upsert } = this.statements;
    this.database.transaction(() => {
      for (const row of rows) insert.run(row);
      for (const delta of rollupDeltas(rows.map(rollupInputOf))) upsert.run(delta);
    })();
  }

  query(filters: RequestLogFilters, cursor: string | null, limit: number): Promise<RequestLogPage> {
    return settle(() => this.queryNow(filters, cursor, limit));
  }

  private queryNow(filters: RequestLogFilters, cursor: string | null, limit: number): RequestLogPage {
    const position = cursor === null ? null : decodeCursor(cursor);
    const size = clampLimit(limit);
    const where = whereSql(filters, position, () => '?');
    const rows = this.database
      .prepare(`SELECT * FROM request_log ${where.sql} ORDER BY time DESC, id DESC LIMIT ${size + 1}`)
      .all(...where.params) as Record<string, unknown>[];
    return toPage(rows, size);
  }

  get(requestId: string): Promise<StoredRequestRecord | null> {
    return settle(() => {
      const row = this.database
        .prepare('SELECT * FROM request_log WHERE request_id = ? ORDER BY time DESC, id DESC LIMIT 1')
        .get(requestId) as Record<string, unknown> | undefined;
      return row === undefined ? null : rowToRecord(row);
    });
  }

  export(filters: RequestLogFilters): AsyncIterable<StoredRequestRecord> {
    return exportPages((cursor) => this.query(filters, cursor, 1000));
  }

  stats(
    filters: RequestLogFilters,
    bucket: StatsBucket,
    groupBy: StatsGroupBy | null,
  ): Promise<RequestLogStats> {
    return settle(() => this.statsNow(filters, bucket, groupBy));
  }

  private statsNow(
    filters: RequestLogFilters,
    bucket: StatsBucket,
    groupBy: StatsGroupBy | null,
  ): RequestLogStats {
    const dimension = rollupDimension(filters, bucket, groupBy);
    if (dimension !== null) {
      const query = rollupStatsSql(ROLLUP_TABLE, dimension, filters, groupBy, () => '?');
      const rows = this.database
        .prepare(query.sql)
        .raw(true)
        .all(...query.params) as unknown[][];
      return { source: 'rollup', rows: assembleStats(partialsFromRollups(rows)) };
    }
    const queries = recordStatsSql('request_log', filters, bucket, groupBy, () => '?');
    const run = (query: { sql: string; params: unknown[] }): Record<string, unknown>[] =>
      this.database.prepare(query.sql).all(...query.params) as Record<string, unknown>[];
    const partials = partialsFromRecords(run(queries.sums), run(queries.duration), run(queries.ttfb));
    return { source: 'records', rows: assembleStats(partials) };
  }

  async retention(now: number): Promise<RetentionResult> {
    const cutoff = now - this.retentionDays * DAY_MS;
    // Oldest first through the time index, a few thousand rows per statement, yielding in between: the
    // write lock is held for milliseconds at a time, never for the whole cleanup.
    const remove = this.database.prepare(
      `DELETE FROM request_log WHERE id IN
         (SELECT id FROM request_log WHERE time < ? ORDER BY time LIMIT ${this.retentionBatch})`,
    );
    let deleted = 0;
    for (;;) {
      const { changes } = remove.run(cutoff);
      deleted += changes;
      if (changes < this.retentionBatch) break;
      await nextTurn();
    }
    // An hour's rollup goes when all of its hour is past the cutoff; in batches too (a day of the key
    // dimension is a row per key per hour).
    const removeRollups = this.database.prepare(
      rollupRetentionSql(ROLLUP_TABLE, this.retentionBatch, () => '?'),
    );
    for (const dimension of ROLLUP_DIMENSIONS) {
      for (;;) {
        const { changes } = removeRollups.run(dimension, cutoff - HOUR_MS);
        if (changes < this.retentionBatch) break;
        await nextTurn();
      }
    }
    return { deleted_rows: deleted, dropped_partitions: [] };
  }

  /** Bytes the table and its indexes take (for docs/request-log.md's sizing), from SQLite's dbstat. */
  sizeBytes(): number | null {
    try {
      const row = this.database
        .prepare(
          `SELECT SUM(pgsize) AS bytes FROM dbstat
           WHERE (name = 'request_log' OR name LIKE 'request_log\\_%' ESCAPE '\\') AND name <> '${ROLLUP_TABLE}'`,
        )
        .get() as { bytes: number | null };
      return row.bytes;
    } catch {
      return null;
    }
  }

  close(): Promise<void> {
    return settle(() => {
      this.database.close();
    });
  }
}
