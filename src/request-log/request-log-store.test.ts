/**
 * Both request log stores through one contract (SQLite in a temporary directory, PostgreSQL at
 * 127.0.0.1:5432 in databases this file creates and drops): the same records in must give the same
 * pages, records, exports and stats out. Then what each does on its own: batched DELETE retention in
 * SQLite, dropped partitions, two writers and concurrent migrations in PostgreSQL.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Logger } from 'pino';
import { bucketOf, bucketRange } from './latency-histogram.js';
import { PostgresRequestLogStore } from './postgres-request-log-store.js';
import {
  DAY_MS,
  HOUR_MS,
  matchesFilters,
  boundRecord,
  RECORD_COLUMNS,
  recordOfRow,
  recordRow,
  rollupInputOf,
  type RequestLogFilters,
  type RequestLogPage,
  type RequestLogStore,
  type StatsGroupBy,
  type StatsRow,
} from './request-log-store.js';
import {
  FIELD_LIMITS,
  isError,
  MAX_ATTEMPTS,
  type CacheStatus,
  type RequestRecord,
} from './request-record.js';
import { ROLLUP_COUNTER_COLUMNS, rollupDeltas } from './rollup.js';
import { SqliteRequestLogStore, type SqliteRequestLogStoreOptions } from './sqlite-request-log-store.js';
import { ThreadedRequestLogStore } from './threaded-store.js';

const POSTGRES = process.env.REQUEST_LOG_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432';
/** 10:00 UTC on a fixed day: three hours of records from here, one every 36 s. */
const BASE = Date.UTC(2026, 0, 10, 10);
const COUNT = 300;
const STATUSES = [200, 200, 200, 200, 429, 500, 502, 404, 200, 201];
const CACHES: (CacheStatus | null)[] = ['HIT', 'MISS', 'MISS', 'BYPASS', null];

function record(index: number, time = BASE + index * 36_000): RequestRecord {
  const status = STATUSES[index % STATUSES.length] ?? 200;
  return {
    time,
    request_id: `req-${index}-${time}`,
    key_id: index % 7 === 0 ? null : `key-${index % 3}`,
    team: index % 4 === 0 ? null : `team-${index % 2}`,
    protocol: 'openai-chat',
    route: '/v1/chat/completions',
    model: index % 5 === 0 ? 'small' : 'large',
    route_name: 'default',
    backend: status === 404 ? null : `backend-${index % 2}`,
    upstream_model: 'qwen2.5:0.5b',
    status,
    error_code: status >= 400 ? (status === 429 ? 'rate_limit_exceeded' : 'upstream_error') : null,
    attempts:
      status === 404
        ? []
        : [
            {
              backend: 'backend-1',
              model: 'q',
              outcome: 'error',
              error_code: 'upstream_error',
              duration_ms: 12,
            },
            { backend: `backend-${index % 2}`, model: 'q', outcome: 'ok', duration_ms: 30 + index },
          ],
    cache: CACHES[index % CACHES.length] ?? null,
    ttfb_ms: index % 6 === 0 ? null : (index * 13) % 900,
    duration_ms: (index * 37) % 5000,
    prompt_tokens: 10 + index,
    completion_tokens: index % 3 === 0 ? null : 2 * index,
    cached_tokens: index % 2,
    reasoning_tokens: 0,
    cost_micros: index % 9 === 0 ? null : index * 3,
    client_address: '127.0.0.1',
    user_agent: 'OpenAI/JS 6.0',
    prompt: index === 1 ? 'x'.repeat(50_000) : null,
    answer: index === 1 ? 'an answer ✓' : null,
  };
}

const RECORDS = Array.from({ length: COUNT }, (_, index) => boundRecord(record(index)));

/** Newest first, as the stores order them (times are distinct here). */
function expected(filters: RequestLogFilters, records: readonly RequestRecord[] = RECORDS): string[] {
  return records
    .filter((entry) => matchesFilters(entry, filters))
    .sort((a, b) => b.time - a.time)
    .map((entry) => entry.request_id);
}

async function allPages(
  store: RequestLogStore,
  filters: RequestLogFilters,
  limit: number,
): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.query(filters, cursor, limit);
    assert.ok(page.records.length <= limit);
    ids.push(...page.records.map((entry) => entry.request_id));
    cursor = page.next_cursor;
  } while (cursor !== null);
  return ids;
}

function percentileOf(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(q * sorted.length) - 1] ?? 0;
}

/** Within the histogram's precision: in the bucket that holds the true percentile (or on its edge). */
function assertPercentile(actual: number | null, values: number[], q: number, what: string): void {
  if (values.length === 0) {
    assert.equal(actual, null, what);
    return;
  }
  const [lower, upper] = bucketRange(bucketOf(percentileOf(values, q)));
  assert.ok(
    actual !== null && actual >= lower && actual <= upper,
    `${what}: ${actual} in [${lower}, ${upper}]`,
  );
}

/** What a stats row's group is for a record, per group_by (null: not grouped). */
const GROUP_OF: Record<StatsGroupBy | 'none', (entry: RequestRecord) => string | null> = {
  model: (entry) => entry.model,
  key: (entry) => entry.key_id,
  backend: (entry) => entry.backend,
  none: () => null,
};

/** The oracle: every row's sums and percentiles against the records of its hour and group. */
function assertStatsMatch(
  rows: readonly StatsRow[],
  records: readonly RequestRecord[],
  groupOf: (entry: RequestRecord) => string | null = GROUP_OF.model,
): void {
  const groups = new Map<string, RequestRecord[]>();
  for (const entry of records) {
    const id = `${Math.floor(entry.time / HOUR_MS) * HOUR_MS}/${groupOf(entry)}`;
    groups.set(id, [...(groups.get(id) ?? []), entry]);
  }
  assert.equal(rows.length, groups.size);
  for (const row of rows) {
    const group = groups.get(`${row.bucket_start}/${row.group}`);
    assert.ok(group !== undefined, `unexpected row ${row.bucket_start}/${row.group}`);
    const sum = (pick: (entry: RequestRecord) => number | null): number =>
      group.reduce((total, entry) => total + (pick(entry) ?? 0), 0);
    const what = `${new Date(row.bucket_start).toISOString()} ${row.group}`;
    assert.equal(row.requests, group.length, what);
    assert.equal(row.errors, group.filter(isError).length, what);
    assert.equal(
      row.prompt_tokens,
      sum((entry) => entry.prompt_tokens),
    );
    assert.equal(
      row.completion_tokens,
      sum((entry) => entry.completion_tokens),
    );
    assert.equal(
      row.cached_tokens,
      sum((entry) => entry.cached_tokens),
    );
    assert.equal(
      row.cost_micros,
      sum((entry) => entry.cost_micros),
    );
    const hits = group.filter((entry) => entry.cache === 'HIT').length;
    const misses = group.filter((entry) => entry.cache === 'MISS').length;
    assert.equal(row.cache_hit_ratio, hits + misses === 0 ? null : hits / (hits + misses), what);
    const durations = group.map((entry) => entry.duration_ms);
    const ttfbs = group.flatMap((entry) => (entry.ttfb_ms === null ? [] : [entry.ttfb_ms]));
    assertPercentile(row.duration_p50_ms, durations, 0.5, `${what} duration p50`);
    assertPercentile(row.duration_p95_ms, durations, 0.95, `${what} duration p95`);
    assertPercentile(row.ttfb_p50_ms, ttfbs, 0.5, `${what} ttfb p50`);
    assertPercentile(row.ttfb_p95_ms, ttfbs, 0.95, `${what} ttfb p95`);
  }
}

interface Backend<Store extends RequestLogStore = RequestLogStore> {
  readonly name: string;
  /** A new, empty store (migrated); `shared` opens another store onto the same data as the last one. */
  open(options?: { retentionDays?: number; shared?: boolean }): Promise<Store>;
  /** A fresh target without migrating, and a way to open several stores onto it. */
  fresh(): Promise<(retentionDays?: number) => Store>;
  /** Runs one statement on the last target opened (or made by fresh) behind the store's back. */
  raw(sql: (placeholder: (index: number) => string) => string, params?: unknown[]): Promise<void>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend<SqliteRequestLogStore> {
  return sqliteFileBackend('sqlite', (options) => new SqliteRequestLogStore(options));
}

/** SQLite on a worker thread, as the gateway runs it: the same answers. */
function threadedBackend(): Backend<ThreadedRequestLogStore> {
  return sqliteFileBackend('sqlite on a worker thread', (options) => new ThreadedRequestLogStore(options));
}

function sqliteFileBackend<Store extends RequestLogStore>(
  name: string,
  create: (options: SqliteRequestLogStoreOptions) => Store,
): Backend<Store> {
  const directories: string[] = [];
  const stores: RequestLogStore[] = [];
  let last = '';
  const make = (directory: string, retentionDays = 30): Store => {
    const store = create({ stateDir: directory, retentionDays, retentionBatch: 7 });
    stores.push(store);
    return store;
  };
  return {
    name,
    async open(options = {}) {
      if (options.shared !== true) {
        last = mkdtempSync(join(tmpdir(), 'request-log-'));
        directories.push(last);
      }
      const store = make(last, options.retentionDays);
      await store.migrate();
      return store;
    },
    fresh() {
      const directory = mkdtempSync(join(tmpdir(), 'request-log-'));
      directories.push(directory);
      last = directory;
      return Promise.resolve((retentionDays?: number) => make(directory, retentionDays));
    },
    async raw(sql, params = []) {
      await Promise.resolve();
      const database = new Database(join(last, 'request-log.db'), { timeout: 5000 });
      try {
        database.prepare(sql(() => '?')).run(...params);
      } finally {
        database.close();
      }
    },
    async cleanup() {
      for (const store of stores) await store.close().catch(() => undefined);
      for (const directory of directories) rmSync(directory, { recursive: true, force: true });
    },
  };
}

function postgresBackend(): Backend<PostgresRequestLogStore> {
  const prefix = `gw_test_${randomBytes(4).toString('hex')}`;
  const databases: string[] = [];
  const stores: RequestLogStore[] = [];
  let last = '';
  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: `${POSTGRES}/postgres` });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  const create = async (): Promise<string> => {
    const name = `${prefix}_${databases.length}`;
    await admin((client) => client.query(`CREATE DATABASE ${name}`));
    databases.push(name);
    return name;
  };
  const make = (database: string, retentionDays = 30): PostgresRequestLogStore => {
    const store = new PostgresRequestLogStore({
      url: `${POSTGRES}/${database}`,
      retentionDays,
      queryTimeoutMs: 20_000,
    });
    stores.push(store);
    return store;
  };
  return {
    name: 'postgres',
    async open(options = {}) {
      if (options.shared !== true) last = await create();
      const store = make(last, options.retentionDays);
      await store.migrate();
      return store;
    },
    async fresh() {
      const database = await create();
      last = database;
      return (retentionDays?: number) => make(database, retentionDays);
    },
    async raw(sql, params = []) {
      const client = new pg.Client({ connectionString: `${POSTGRES}/${last}` });
      await client.connect();
      try {
        await client.query(
          sql((index) => `$${index}`),
          params,
        );
      } finally {
        await client.end();
      }
    },
    async cleanup() {
      for (const store of stores) await store.close().catch(() => undefined);
      await admin(async (client) => {
        for (const name of databases) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
    },
  };
}

for (const backend of [sqliteBackend(), threadedBackend(), postgresBackend()] as Backend[]) {
  describe(`request log store: ${backend.name}`, () => {
    after(() => backend.cleanup());

    it('gives back every field of a record by its request id, text cut to its limit', async () => {
      const store = await backend.open();
      await store.write(RECORDS);
      for (const original of [RECORDS[1], RECORDS[4], RECORDS[7]]) {
        assert.ok(original !== undefined);
        const found = await store.get(original.request_id);
        assert.ok(found !== null);
        const { id, ...rest } = found;
        assert.ok(Number.isInteger(id) && id > 0);
        assert.deepEqual(rest, original);
      }
      assert.equal((await store.get('req-1-' + String(BASE + 36_000)))?.prompt?.length, 32_768);
      assert.equal(await store.get('no-such-request'), null);
    });

    it('answers every filter with exactly the matching records, newest first', async () => {
      const store = await backend.open();
      await store.write(RECORDS.slice(0, 150));
      await store.write(RECORDS.slice(150));
      const cases: RequestLogFilters[] = [
        {},
        { key: 'key-1' },
        { team: 'team-0' },
        { model: 'small' },
        { backend: 'backend-1' },
        { status: 429 },
        { status: 200, key: 'key-2' },
        { status_class: '2xx' },
        { status_class: '4xx' },
        { status_class: '5xx' },
        { error_code: 'upstream_error' },
        { cache: 'HIT' },
        { cache: 'BYPASS' },
        { from: BASE + HOUR_MS, to: BASE + 2 * HOUR_MS },
        { min_duration_ms: 4000 },
        { request_id: RECORDS[42]?.request_id ?? '' },
        { key: 'key-2', model: 'large', status_class: '5xx', from: BASE + 30 * 60_000 },
      ];
      for (const filters of cases) {
        const want = expected(filters);
        assert.ok(want.length > 0, `${JSON.stringify(filters)} matches something`);
        if (Object.keys(filters).length > 0)
          assert.ok(want.length < COUNT, `${JSON.stringify(filters)} narrows`);
        assert.deepEqual(await allPages(store, filters, 1000), want, JSON.stringify(filters));
      }
      assert.deepEqual((await store.query({ key: 'nobody' }, null, 10)).records, []);
    });

    it('pages with a cursor without gaps or duplicates while newer records arrive', async () => {
      const store = await backend.open();
      await store.write(RECORDS);
      const seen: string[] = [];
      let cursor: string | null = null;
      let arrivals = 0;
      do {
        const page: RequestLogPage = await store.query({}, cursor, 7);
        seen.push(...page.records.map((entry) => entry.request_id));
        cursor = page.next_cursor;
        // Newer requests complete between page reads.
        const later = BASE + 4 * HOUR_MS + arrivals * 1000;
        await store.write(
          [0, 1, 2].map((offset) => boundRecord(record(COUNT + arrivals + offset, later + offset))),
        );
        arrivals += 3;
      } while (cursor !== null);
      assert.deepEqual(seen, expected({}));
      assert.equal((await store.query({}, null, 1000)).records.length, COUNT + arrivals);
      await assert.rejects(store.query({}, 'not-a-cursor', 10), { code: 'invalid_request', param: 'cursor' });
    });

    it('pages through records of the same millisecond without gaps or duplicates', async () => {
      const store = await backend.open();
      const same = Array.from({ length: 25 }, (_, index) => boundRecord(record(index, BASE)));
      await store.write(same.slice(0, 10));
      await store.write(same.slice(10));
      const ids = await allPages(store, {}, 7);
      assert.equal(ids.length, 25);
      assert.deepEqual([...ids].sort(), same.map((entry) => entry.request_id).sort());
      // Same time: newest written first.
      assert.deepEqual(ids, same.map((entry) => entry.request_id).reverse());
    });

    it('exports every matching record as a stream, newest first', async () => {
      const store = await backend.open();
      const many = Array.from({ length: 2600 }, (_, index) =>
        boundRecord(record(index, BASE + index * 1000)),
      );
      await store.write(many);
      const iterator = store.export({})[Symbol.asyncIterator]();
      const first = await iterator.next();
      assert.equal(first.done, false);
      const ids = [first.value.request_id];
      for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
        ids.push(next.value.request_id);
      }
      assert.deepEqual(ids, expected({}, many));
      const errors: string[] = [];
      for await (const entry of store.export({ status_class: '5xx' })) errors.push(entry.request_id);
      assert.deepEqual(errors, expected({ status_class: '5xx' }, many));
    });

    it('gives per-hour stats by model from the rollups, and the same from the records', async () => {
      const store = await backend.open();
      await store.write(RECORDS.slice(0, 100));
      await store.write(RECORDS.slice(100));
      const fromRollups = await store.stats({}, 'hour', 'model');
      assert.equal(fromRollups.source, 'rollup');
      assertStatsMatch(fromRollups.rows, RECORDS);
      assert.equal(fromRollups.rows.length, 6);

      const narrowed = { status_class: '2xx', team: 'team-1' } as const;
      const fromRecords = await store.stats(narrowed, 'hour', 'model');
      assert.equal(fromRecords.source, 'records');
      assertStatsMatch(
        fromRecords.rows,
        RECORDS.filter((entry) => matchesFilters(entry, narrowed)),
      );

      const second = { from: BASE + HOUR_MS, to: BASE + 2 * HOUR_MS, key: 'key-1' };
      const hour = await store.stats(second, 'hour', null);
      assert.equal(hour.source, 'rollup');
      assert.deepEqual(
        hour.rows.map((row) => [row.bucket_start, row.group, row.requests]),
        [[BASE + HOUR_MS, null, expected(second).length]],
      );
      const minutes = await store.stats({}, 'minute', 'backend');
      assert.equal(minutes.source, 'records');
      assert.equal(
        minutes.rows.reduce((total, row) => total + row.requests, 0),
        COUNT,
      );
      assert.ok(minutes.rows.every((row) => row.bucket_start % 60_000 === 0));
      assert.ok(minutes.rows.some((row) => row.group === null));
    });

    it('gives per-hour stats by key and by backend from the rollups, agreeing with the records', async () => {
      const store = await backend.open();
      await store.write(RECORDS.slice(0, 120));
      await store.write(RECORDS.slice(120));
      for (const groupBy of ['key', 'backend', 'model'] as const) {
        const stats = await store.stats({}, 'hour', groupBy);
        assert.equal(stats.source, 'rollup', groupBy);
        assertStatsMatch(stats.rows, RECORDS, GROUP_OF[groupBy]);
      }
      // Records without a key or a backend are their own group, null.
      assert.ok((await store.stats({}, 'hour', 'key')).rows.some((row) => row.group === null));
      assert.ok((await store.stats({}, 'hour', 'backend')).rows.some((row) => row.group === null));
      const hours = { from: BASE, to: BASE + 2 * HOUR_MS };
      const cases: [RequestLogFilters, StatsGroupBy | null, 'rollup' | 'records'][] = [
        [{}, null, 'rollup'],
        [hours, null, 'rollup'],
        [{ ...hours, key: 'key-2' }, 'key', 'rollup'],
        [{ backend: 'backend-0' }, 'backend', 'rollup'],
        [{ backend: 'backend-1', ...hours }, null, 'rollup'],
        [{ model: 'small' }, null, 'rollup'],
        // A filter on another dimension than the grouped one, or on two: only the records know.
        [{ key: 'key-1' }, 'model', 'records'],
        [{ backend: 'backend-0' }, 'key', 'records'],
        [{ key: 'key-1', model: 'large' }, null, 'records'],
        [{ ...hours, key: 'key-0', backend: 'backend-1' }, 'backend', 'records'],
      ];
      for (const [filters, groupBy, source] of cases) {
        const what = `${JSON.stringify(filters)} by ${groupBy}`;
        const stats = await store.stats(filters, 'hour', groupBy);
        assert.equal(stats.source, source, what);
        const matching = RECORDS.filter((entry) => matchesFilters(entry, filters));
        assert.ok(
          (matching.length > 0 && matching.length < COUNT) || Object.keys(filters).length === 0,
          what,
        );
        assertStatsMatch(stats.rows, matching, GROUP_OF[groupBy ?? 'none']);
      }
    });

    // The thread migrates to the latest version only (an older install is made in this thread).
    const migratesUpTo = !backend.name.includes('thread');
    if (migratesUpTo)
      it('moves an install of the combined rollup (version 1) to the rollups per dimension', async () => {
        const open = await backend.fresh();
        const store = open() as RequestLogStore & { migrate(upTo?: number): Promise<void> };
        await store.migrate(1);
        // What version 1 wrote: one row per hour × model × key × backend (sums of the records in it).
        const combined = new Map<string, (string | number)[]>();
        for (const entry of RECORDS) {
          const counters =
            rollupDeltas([entry])
              .find((row) => row[0] === 'all')
              ?.slice(3) ?? [];
          const key = [
            Math.floor(entry.time / HOUR_MS) * HOUR_MS,
            entry.model ?? '',
            entry.key_id ?? '',
            entry.backend ?? '',
          ];
          const id = JSON.stringify(key);
          const row = combined.get(id);
          if (row === undefined) combined.set(id, [...key, ...counters]);
          else counters.forEach((count, index) => (row[4 + index] = Number(row[4 + index]) + Number(count)));
        }
        const rows = [...combined.values()];
        assert.ok(rows.length > 24 && rows.length < COUNT, `${rows.length} combined rows`);
        const width = 4 + ROLLUP_COUNTER_COLUMNS.length;
        await backend.raw(
          (p) =>
            `INSERT INTO request_log_hourly (hour, model, key_id, backend, ${ROLLUP_COUNTER_COLUMNS.join(', ')})
           VALUES ${rows.map((_, row) => `(${Array.from({ length: width }, (_unused, column) => p(row * width + column + 1)).join(', ')})`).join(', ')}`,
          rows.flat(),
        );
        await store.migrate();
        // The records were never written: these stats can only come from the backfilled rollups.
        for (const groupBy of ['model', 'key', 'backend', null] as const) {
          const stats = await store.stats({}, 'hour', groupBy);
          assert.equal(stats.source, 'rollup');
          assertStatsMatch(stats.rows, RECORDS, GROUP_OF[groupBy ?? 'none']);
        }
        await assert.rejects(
          backend.raw(() => 'SELECT 1 FROM request_log_hourly'),
          /request_log_hourly/,
        );
        // And new writes add to the backfilled rows.
        const later = RECORDS.slice(0, 30).map((entry, index) =>
          boundRecord(record(COUNT + index, entry.time + 1000)),
        );
        await store.write(later);
        assertStatsMatch((await store.stats({}, 'hour', 'key')).rows, [...RECORDS, ...later], GROUP_OF.key);
      });

    it('keeps the records of the last retention_days and drops the older ones', async () => {
      const store = await backend.open({ retentionDays: 30 });
      const now = BASE + 40 * DAY_MS;
      const old = RECORDS.slice(0, 40);
      const recent = Array.from({ length: 25 }, (_, index) =>
        boundRecord(record(1000 + index, now - index * HOUR_MS)),
      );
      await store.write([...old, ...recent]);
      const result = await store.retention(now);
      assert.deepEqual(await allPages(store, {}, 1000), expected({}, recent));
      if (backend.name === 'sqlite') assert.equal(result.deleted_rows, old.length);
      // Every dimension of the rollups lost the old hours too.
      for (const groupBy of [null, 'model', 'key', 'backend'] as const) {
        const stats = await store.stats({}, 'hour', groupBy);
        assert.equal(stats.source, 'rollup');
        assertStatsMatch(stats.rows, recent, GROUP_OF[groupBy ?? 'none']);
      }
    });

    it('migrates once however often and however many instances start together', async () => {
      const open = await backend.fresh();
      const first = open();
      const second = open();
      await Promise.all([first.migrate(), second.migrate()]);
      await first.migrate();
      await second.write(RECORDS.slice(0, 3));
      assert.equal((await first.query({}, null, 10)).records.length, 3);
    });
  });
}

describe('recordRow', () => {
  it('gives every field of a record in RECORD_COLUMNS order', () => {
    const entry = boundRecord(record(1));
    const values = recordRow(entry);
    assert.equal(values.length, RECORD_COLUMNS.length);
    RECORD_COLUMNS.forEach((column, index) => {
      const expected = column === 'attempts' ? JSON.stringify(entry.attempts) : entry[column];
      assert.deepEqual(values[index], expected, column);
    });
    assert.deepEqual(recordOfRow(values), entry);
  });

  it('bounds what grows with client input: strings, attempts and numbers', () => {
    const attempt = { backend: 'b'.repeat(500), model: 'm', outcome: 'o'.repeat(100), duration_ms: -3.7 };
    const wide: RequestRecord = {
      ...record(2),
      model: 'x'.repeat(10_000),
      user_agent: `${'u'.repeat(FIELD_LIMITS.user_agent - 1)}\u{1F600}`,
      attempts: Array.from({ length: 40 }, () => ({ ...attempt, error_code: 'e'.repeat(200) })),
      duration_ms: Number.NaN,
      ttfb_ms: 12.6,
      prompt_tokens: Number.POSITIVE_INFINITY,
      cost_micros: -5,
    };
    const bounded = recordOfRow(recordRow(wide));
    assert.equal(bounded.model?.length, FIELD_LIMITS.model);
    // A surrogate pair is not cut in half: the emoji that would straddle the limit goes entirely.
    assert.equal(bounded.user_agent, 'u'.repeat(FIELD_LIMITS.user_agent - 1));
    assert.equal(bounded.attempts.length, MAX_ATTEMPTS);
    assert.deepEqual(bounded.attempts[0], {
      backend: 'b'.repeat(FIELD_LIMITS.backend),
      model: 'm',
      outcome: 'o'.repeat(FIELD_LIMITS.attempt_outcome),
      error_code: 'e'.repeat(FIELD_LIMITS.error_code),
      duration_ms: 0,
    });
    assert.equal(bounded.duration_ms, 0);
    assert.equal(bounded.ttfb_ms, 13);
    assert.equal(bounded.prompt_tokens, null);
    assert.equal(bounded.cost_micros, 0);
    // Bounding twice changes nothing more.
    assert.deepEqual(recordRow(bounded), recordRow(wide));
  });
});

describe('rollupInputOf', () => {
  it('reads from row values what the rollups read of the record itself', () => {
    const records = Array.from({ length: 60 }, (_, index) => boundRecord(record(index)));
    const fromRows = records.map((entry) => rollupInputOf(recordRow(entry)));
    assert.deepEqual(rollupDeltas(fromRows), rollupDeltas(records));
    // Not vacuous: nulls, errors and cache statuses of the records reach the rollups.
    assert.ok(fromRows.some((input) => input.ttfb_ms === null && input.cost_micros === null));
    assert.ok(fromRows.some((input) => input.error_code !== null && input.cache === 'HIT'));
  });
});

/** The nice value in a /proc stat file (field 19). */
function niceIn(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe('request log store: the SQLite thread', () => {
  it('takes rows over (handOver), batches and writes them itself, and counts them', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gw-request-log-handover-'));
    const warnings: string[] = [];
    const logger = {
      warn: (_fields: unknown, message?: string): void => {
        warnings.push(String(message));
      },
    } as unknown as Pick<Logger, 'warn'>;
    const store = new ThreadedRequestLogStore(
      { stateDir: directory, retentionDays: 30 },
      { batchSize: 100, flushIntervalMs: 60_000, logger },
    );
    try {
      await store.migrate();
      const now = Date.now();
      const rows = Array.from({ length: 250 }, (_, index) => recordRow(record(index, now - index)));
      store.handOver(rows.slice(0, 64));
      store.handOver(rows.slice(64));
      assert.equal(store.outstanding + store.written, 250);
      // Two full batches are written without waiting for the interval; the last 50 wait for it, or a flush.
      const deadline = Date.now() + 5000;
      while (store.written < 200 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(store.written, 200);
      assert.equal(store.outstanding, 50);
      assert.deepEqual(await store.flush(2000), { unwritten: 0 });
      assert.equal(store.written, 250);
      assert.equal(store.outstanding, 0);
      assert.equal((await store.query({}, null, 1000)).records.length, 250);
      assert.deepEqual(warnings, []);
    } finally {
      await store.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it(
    'runs ten nice steps below the request thread, so contended CPU goes to requests first',
    {
      skip: process.platform === 'linux' ? false : 'thread priorities are set on Linux only',
    },
    async () => {
      const directory = mkdtempSync(join(tmpdir(), 'gw-request-log-nice-'));
      const store = new ThreadedRequestLogStore({ stateDir: directory, retentionDays: 30 });
      try {
        await store.migrate();
        const threads = readdirSync('/proc/self/task').filter(
          (id) => readFileSync(`/proc/self/task/${id}/comm`, 'utf8').trim() === 'request-log',
        );
        assert.equal(threads.length, 1, 'one thread named request-log');
        const own = niceIn(`/proc/self/task/${process.pid}/stat`);
        assert.equal(niceIn(`/proc/self/task/${threads[0]}/stat`), Math.min(19, own + 10));
        assert.equal(niceIn(`/proc/self/task/${process.pid}/stat`), own, 'the request thread keeps its own');
      } finally {
        await store.close();
        rmSync(directory, { recursive: true, force: true });
      }
    },
  );
});

describe('request log store: postgres on its own', () => {
  const backend = postgresBackend();
  after(() => backend.cleanup());

  it('drops whole day partitions in retention (pg_inherits no longer lists them)', async () => {
    const store = await backend.open({ retentionDays: 2 });
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    const days = [5, 4, 3, 1, 0].map((ago) => today - ago * DAY_MS);
    await store.write(days.map((day, index) => boundRecord(record(index, day + HOUR_MS))));
    // Another instance, which has seen the oldest day's partition before retention drops it.
    const other = await backend.open({ retentionDays: 2, shared: true });
    await other.write([boundRecord(record(50, (days[0] ?? 0) + 2 * HOUR_MS))]);
    const before = await store.partitionNames();
    for (const day of days) assert.ok(before.includes(partitionOf(day)), `${partitionOf(day)} exists`);
    const result = await store.retention(Date.now());
    const gone = days.slice(0, 3).map(partitionOf);
    assert.deepEqual([...result.dropped_partitions].sort(), gone);
    const now = await store.partitionNames();
    for (const name of gone) assert.ok(!now.includes(name), `${name} dropped`);
    assert.ok(now.includes(partitionOf(today)) && now.includes(partitionOf(today + 2 * DAY_MS)));
    assert.equal((await store.query({}, null, 10)).records.length, 2);
    // A record for a dropped day (a late writer) makes its partition again rather than failing, also
    // in the instance that still believes the partition exists.
    await store.write([boundRecord(record(99, days[0] ?? 0))]);
    await other.write([boundRecord(record(98, days[0] ?? 0))]);
    assert.equal((await store.query({}, null, 10)).records.length, 4);
  });

  it('takes two writers (two pools) into one database without losing a row or a count', async () => {
    const first = await backend.open();
    const second = await backend.open({ shared: true });
    const batches = Array.from({ length: 10 }, (_, batch) =>
      Array.from({ length: 50 }, (_, index) =>
        boundRecord(record(batch * 50 + index, BASE + index * 60_000)),
      ),
    );
    await Promise.all(batches.map((batch, index) => (index % 2 === 0 ? first : second).write(batch)));
    const all = batches.flat();
    // Times repeat across batches here, so compare the sets, and the order by time alone.
    const read = await second.query({}, null, 1000);
    assert.deepEqual(read.records.map((entry) => entry.request_id).sort(), expected({}, all).sort());
    assert.ok(
      read.records.every((entry, index, list) => index === 0 || (list[index - 1]?.time ?? 0) >= entry.time),
    );
    const stats = await first.stats({}, 'hour', 'model');
    assert.equal(stats.source, 'rollup');
    assertStatsMatch(stats.rows, all);
  });
});

function partitionOf(time: number): string {
  return `request_log_${new Date(time).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/** A typical record: UUID request id, one attempt, no prompt text (logging.prompts off). */
function typical(index: number, time: number): RequestRecord {
  return boundRecord({
    ...record(index, time),
    request_id: randomBytes(16)
      .toString('hex')
      .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-'),
    user_agent: 'OpenAI/JS 6.49.0',
    client_address: '10.0.12.34',
    attempts: [{ backend: 'backend-0', model: 'qwen2.5:0.5b', outcome: 'ok', duration_ms: 812 }],
    prompt: null,
    answer: null,
  });
}

describe('request log store: size per record (for docs/request-log.md)', () => {
  const ROWS = 10_000;
  const rows = Array.from({ length: ROWS }, (_, index) => typical(index, BASE + index * 100));
  const sqlite = sqliteBackend();
  const postgres = postgresBackend();
  after(async () => {
    await sqlite.cleanup();
    await postgres.cleanup();
  });

  it('takes a few hundred bytes per record with its indexes in SQLite', async (context) => {
    const store = await sqlite.open();
    for (let start = 0; start < ROWS; start += 500) await store.write(rows.slice(start, start + 500));
    const bytes = store.sizeBytes();
    assert.ok(bytes !== null);
    const perRecord = bytes / ROWS;
    context.diagnostic(`sqlite: ${Math.round(perRecord)} bytes per record (table and indexes, ${ROWS} rows)`);
    assert.ok(perRecord > 100 && perRecord < 2000, `${perRecord}`);
  });

  it('takes a few hundred bytes per record with its indexes in PostgreSQL', async (context) => {
    const store = await postgres.open();
    for (let start = 0; start < ROWS; start += 500) await store.write(rows.slice(start, start + 500));
    const perRecord = (await store.sizeBytes()) / ROWS;
    context.diagnostic(
      `postgres: ${Math.round(perRecord)} bytes per record (partitions and indexes, ${ROWS} rows)`,
    );
    assert.ok(perRecord > 100 && perRecord < 3000, `${perRecord}`);
  });
});
