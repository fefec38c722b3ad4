import pg from 'pg';
import {
  clampLimit,
  DAY_MS,
  decodeCursor,
  exportPages,
  HOUR_MS,
  RECORD_COLUMNS,
  recordRow,
  rollupInputOf,
  PARTIAL_INDEXES,
  rowTime,
  type RecordRow,
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
  partialsFromPackedRollups,
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

export interface PostgresRequestLogStoreOptions {
  /** postgres://user:password@host:5432/database */
  readonly url: string;
  readonly retentionDays: number;
  /** Daily partitions made ahead of time besides today's (creating one locks the parent briefly). */
  readonly daysAhead?: number;
  /** Client-side limit on every query, so a stalled server fails a call instead of hanging it. */
  readonly queryTimeoutMs?: number;
  readonly poolSize?: number;
}

interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * Indexes on the partitioned parent are created on every partition, present and future. Each ends in
 * (time DESC, id DESC), the order of a page, so "newest 50 for key X" reads 50 index entries per
 * partition it touches (a merge over partitions, newest first, stops early).
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'request_log partitioned by day, hourly rollups',
    sql: `
      CREATE TABLE request_log (
        id BIGSERIAL NOT NULL,
        time BIGINT NOT NULL,
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
        cost_micros BIGINT,
        client_address TEXT,
        user_agent TEXT,
        prompt TEXT,
        answer TEXT
      ) PARTITION BY RANGE (time);
      CREATE INDEX request_log_time ON request_log (time DESC, id DESC);
      CREATE INDEX request_log_key_time ON request_log (key_id, time DESC, id DESC);
      CREATE INDEX request_log_team_time ON request_log (team, time DESC, id DESC);
      CREATE INDEX request_log_model_time ON request_log (model, time DESC, id DESC);
      CREATE INDEX request_log_backend_time ON request_log (backend, time DESC, id DESC);
      CREATE INDEX request_log_status_class_time ON request_log ((status / 100), time DESC, id DESC);
      CREATE INDEX request_log_error_time ON request_log (error_code, time DESC, id DESC)
        WHERE error_code IS NOT NULL;
      CREATE INDEX request_log_request_id ON request_log (request_id);
      CREATE TABLE request_log_hourly ${combinedRollupTableSql('BIGINT')};
    `,
  },
  {
    // Not partitioned: it holds hours × (1 + models + keys + backends) rows, small beside the records,
    // so retention deletes it in batches (rollupRetentionSql) without much bloat.
    version: 2,
    name: 'hourly rollups per dimension (all, model, key, backend) instead of per model × key × backend',
    sql: `
      CREATE TABLE ${ROLLUP_TABLE} ${rollupTableSql('BIGINT')};
      ${rollupBackfillSql(ROLLUP_TABLE, 'request_log_hourly')}
      DROP TABLE request_log_hourly;
    `,
  },
  {
    // Filters are equalities, which never match NULL, and PostgreSQL proves that key_id = $1 implies
    // key_id IS NOT NULL: records without a team, key, model or backend no longer enter those indexes.
    version: 3,
    name: 'key, team, model and backend indexes leave out NULLs',
    sql: PARTIAL_INDEXES.map(
      ([name, column]) => `DROP INDEX ${name};
      CREATE INDEX ${name} ON request_log (${column}, time DESC, id DESC) WHERE ${column} IS NOT NULL;`,
    ).join('\n      '),
  },
];

/** Advisory lock ids (any fixed 64-bit numbers, unique to this use). */
const MIGRATE_LOCK = 7_321_021_001;
const PARTITION_LOCK = 7_321_021_002;
/** Rows per INSERT: 25 parameters a row stays far below PostgreSQL's 65,535 per statement. */
const INSERT_CHUNK = 1000;
/** 62 parameters a rollup row: 500 rows stay below the 65,535 too. */
const UPSERT_CHUNK = 500;
/** Rollup rows per retention DELETE. */
const ROLLUP_RETENTION_BATCH = 5000;

/** request_log_20261202 for the UTC day that holds `time`. */
export function partitionName(time: number): string {
  return `request_log_${new Date(Math.floor(time / DAY_MS) * DAY_MS).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function dayOfPartition(name: string): number | null {
  const match = /^request_log_(\d{4})(\d{2})(\d{2})$/.exec(name);
  return match === null ? null : Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
}

function values(rows: readonly (readonly unknown[])[], width: number): { sql: string; params: unknown[] } {
  const tuples = rows.map(
    (_, row) =>
      `(${Array.from({ length: width }, (_unused, column) => `$${row * width + column + 1}`).join(', ')})`,
  );
  return { sql: tuples.join(', '), params: rows.flat() };
}

/**
 * The request log in PostgreSQL, for several instances sharing one database: a table partitioned by
 * UTC day (retention drops whole partitions: no DELETE, no bloat, no vacuum debt), multi-row INSERTs,
 * hourly rollups upserted in the same transaction. Migrations and partition creation take advisory
 * locks, so instances starting or rolling over midnight together don't collide.
 */
export class PostgresRequestLogStore implements RequestLogStore {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;
  private readonly retentionDays: number;
  private readonly daysAhead: number;
  /** Partitions known to exist; a miss costs one locked CREATE ... IF NOT EXISTS. */
  private readonly partitions = new Set<string>();

  constructor(options: PostgresRequestLogStoreOptions) {
    const timeout = options.queryTimeoutMs ?? 30_000;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: Math.min(timeout, 10_000),
      query_timeout: timeout,
      statement_timeout: timeout,
      application_name: 'ai-gateway request log',
    });
    // An idle client that loses its connection emits here; unhandled, it would end the process.
    this.pool.on('error', () => undefined);
    this.retentionDays = options.retentionDays;
    this.daysAhead = options.daysAhead ?? 2;
  }

  /** All migrations; `upTo` stops after that version (the tests' way to make an older install). */
  async migrate(upTo = Infinity): Promise<void> {
    const client = await this.pool.connect();
    try {
      // Session-level lock: a second instance waits here until the first has applied everything.
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
      try {
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
        const applied = new Set(
          (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
            (row) => row.version,
          ),
        );
        for (const migration of MIGRATIONS) {
          if (applied.has(migration.version) || migration.version > upTo) continue;
          await client.query('BEGIN');
          try {
            await client.query(migration.sql);
            await client.query(
              'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
              [migration.version, migration.name, Date.now()],
            );
            await client.query('COMMIT');
          } catch (error) {
            await client.query('ROLLBACK');
            throw error;
          }
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]);
      }
    } finally {
      client.release();
    }
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    await this.ensurePartitions(
      Array.from({ length: this.daysAhead + 1 }, (_, index) => today + index * DAY_MS),
    );
  }

  /** Creates the daily partitions holding these times where missing. */
  private async ensurePartitions(times: readonly number[]): Promise<void> {
    const missing = [...new Set(times.map((time) => Math.floor(time / DAY_MS) * DAY_MS))].filter(
      (day) => !this.partitions.has(partitionName(day)),
    );
    if (missing.length === 0) return;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
        for (const day of missing) {
          await client.query(
            `CREATE TABLE IF NOT EXISTS ${partitionName(day)} PARTITION OF request_log
               FOR VALUES FROM (${day}) TO (${day + DAY_MS})`,
          );
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    } finally {
      client.release();
    }
    for (const day of missing) this.partitions.add(partitionName(day));
  }

  write(records: readonly RequestRecord[]): Promise<void> {
    return this.writeRows(records.map(recordRow));
  }

  async writeRows(rows: readonly RecordRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.ensurePartitions(rows.map(rowTime));
    try {
      await this.insert(rows);
    } catch (error) {
      // 23514: no partition for a row, because another instance's retention dropped one this instance
      // still thought it had. Forget what it knew and try once more.
      if ((error as { code?: unknown }).code !== '23514') throw error;
      this.partitions.clear();
      await this.ensurePartitions(rows.map(rowTime));
      await this.insert(rows);
    }
  }

  private async insert(rows: readonly RecordRow[]): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
          const chunk = values(rows.slice(start, start + INSERT_CHUNK), RECORD_COLUMNS.length);
          await client.query(
            `INSERT INTO request_log (${RECORD_COLUMNS.join(', ')}) VALUES ${chunk.sql}`,
            chunk.params,
          );
        }
        const deltas = rollupDeltas(rows.map(rollupInputOf));
        for (let start = 0; start < deltas.length; start += UPSERT_CHUNK) {
          const chunk = values(deltas.slice(start, start + UPSERT_CHUNK), ROLLUP_COLUMNS.length);
          await client.query(
            `INSERT INTO ${ROLLUP_TABLE} (${ROLLUP_COLUMNS.join(', ')}) VALUES ${chunk.sql}
             ${rollupUpsertSql(ROLLUP_TABLE)}`,
            chunk.params,
          );
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      client.release();
    }
  }

  async query(filters: RequestLogFilters, cursor: string | null, limit: number): Promise<RequestLogPage> {
    const position = cursor === null ? null : decodeCursor(cursor);
    const size = clampLimit(limit);
    const where = whereSql(filters, position, (index) => `$${index}`);
    const result = await this.pool.query<Record<string, unknown>>(
      `SELECT * FROM request_log ${where.sql} ORDER BY time DESC, id DESC LIMIT ${size + 1}`,
      where.params,
    );
    return toPage(result.rows, size);
  }

  async get(requestId: string): Promise<StoredRequestRecord | null> {
    const result = await this.pool.query<Record<string, unknown>>(
      'SELECT * FROM request_log WHERE request_id = $1 ORDER BY time DESC, id DESC LIMIT 1',
      [requestId],
    );
    const row = result.rows[0];
    return row === undefined ? null : rowToRecord(row);
  }

  export(filters: RequestLogFilters): AsyncIterable<StoredRequestRecord> {
    return exportPages((cursor) => this.query(filters, cursor, 1000));
  }

  async stats(
    filters: RequestLogFilters,
    bucket: StatsBucket,
    groupBy: StatsGroupBy | null,
  ): Promise<RequestLogStats> {
    const placeholder = (index: number): string => `$${index}`;
    const dimension = rollupDimension(filters, bucket, groupBy);
    if (dimension !== null) {
      const query = rollupStatsSql(ROLLUP_TABLE, dimension, filters, groupBy, placeholder, true);
      const result = await this.pool.query<unknown[]>({
        text: query.sql,
        values: query.params,
        rowMode: 'array',
      });
      return { source: 'rollup', rows: assembleStats(partialsFromPackedRollups(result.rows)) };
    }
    const queries = recordStatsSql('request_log', filters, bucket, groupBy, placeholder);
    const [sums, duration, ttfb] = await Promise.all(
      [queries.sums, queries.duration, queries.ttfb].map(
        async (query) => (await this.pool.query<Record<string, unknown>>(query.sql, query.params)).rows,
      ),
    );
    return {
      source: 'records',
      rows: assembleStats(partialsFromRecords(sums ?? [], duration ?? [], ttfb ?? [])),
    };
  }

  /** Names of the partitions that exist now, oldest first (from pg_inherits). */
  async partitionNames(): Promise<string[]> {
    const result = await this.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'request_log'::regclass ORDER BY c.relname`,
    );
    return result.rows.map((row) => row.name);
  }

  async retention(now: number): Promise<RetentionResult> {
    const cutoff = now - this.retentionDays * DAY_MS;
    const dropped: string[] = [];
    for (const name of await this.partitionNames()) {
      const day = dayOfPartition(name);
      if (day === null || day + DAY_MS > cutoff) continue;
      const client = await this.pool.connect();
      try {
        // DROP takes an exclusive lock on the parent; waiting behind a long export would queue every
        // writer behind it, so give up after a moment and try again at the next run.
        await client.query('BEGIN');
        await client.query("SET LOCAL lock_timeout = '2s'");
        await client.query(`DROP TABLE IF EXISTS ${name}`);
        await client.query('COMMIT');
        dropped.push(name);
        this.partitions.delete(name);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        // 55P03: the lock timed out; the partition goes at the next run. Anything else is reported.
        if ((error as { code?: unknown }).code !== '55P03') throw error;
      } finally {
        client.release();
      }
    }
    // An hour's rollup goes when all of its hour is past the cutoff, in batches (each its own
    // transaction, so no lock is held long).
    const removeRollups = rollupRetentionSql(ROLLUP_TABLE, ROLLUP_RETENTION_BATCH, (index) => `$${index}`);
    for (const dimension of ROLLUP_DIMENSIONS) {
      for (;;) {
        const result = await this.pool.query(removeRollups, [dimension, cutoff - HOUR_MS]);
        if ((result.rowCount ?? 0) < ROLLUP_RETENTION_BATCH) break;
      }
    }
    return { deleted_rows: 0, dropped_partitions: dropped };
  }

  /** Bytes of the partitions and their indexes (for docs/request-log.md's sizing). */
  async sizeBytes(): Promise<number> {
    const result = await this.pool.query<{ bytes: string | null }>(
      `SELECT SUM(pg_total_relation_size(i.inhrelid)) AS bytes FROM pg_inherits i
       WHERE i.inhparent = 'request_log'::regclass`,
    );
    return Number(result.rows[0]?.bytes ?? 0);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
