/**
 * npm run bench -- --request-log: the request log's queries at size (issue 21). Fills each store (a
 * SQLite file in a temporary directory; a new PostgreSQL database, dropped at the end) with --rows
 * synthetic records (default 10 million) spread over 30 days, through the store's own write (so the
 * hourly rollups are filled as in production; SQLite one transaction per batch, PostgreSQL multi-row
 * INSERTs), then measures, each --repeat times (default 20), p50 and p95:
 *
 * - the newest 50 for one key (target under 50 ms),
 * - a filtered page deep in the data: a model and a status class, 15 days back through a cursor
 *   (target under 50 ms),
 * - a 30-day chart by model: hourly stats grouped by model (target under 200 ms),
 * - export throughput: the first 100,000 records of one model, records/s.
 *
 * Flags: --rows N (fewer for a quick run, e.g. --rows 100000), --repeat N, --store sqlite|postgres.
 * PostgreSQL at REQUEST_LOG_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432). Filling 10
 * million rows takes minutes per store. Results in bench/results/request-log.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresRequestLogStore } from '../src/request-log/postgres-request-log-store.js';
import { DAY_MS, encodeCursor, HOUR_MS, type RequestLogStore } from '../src/request-log/request-log-store.js';
import type { RequestRecord } from '../src/request-log/request-record.js';
import { SqliteRequestLogStore } from '../src/request-log/sqlite-request-log-store.js';

const POSTGRES = process.env['REQUEST_LOG_BENCH_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432';
const BATCH = 10_000;
const KEYS = 1000;
const MODELS = 20;
const BACKENDS = 5;
const EXPORT_RECORDS = 100_000;

export interface RequestLogBenchOptions {
  readonly rows: number;
  readonly repeat: number;
  readonly stores: readonly string[];
}

function progress(message: string): void {
  process.stderr.write(`[request-log bench] ${message}\n`);
}

/**
 * The i-th of `rows` synthetic records, spread evenly over the 30 days before `end`: 1,000 keys, 20
 * models, 5 backends, mostly 200s with some 429s and 5xx, a fifth cache hits, one attempt, no prompt
 * text (as with logging.prompts off, the default). Deterministic, so both stores hold the same data.
 */
export function syntheticRecord(index: number, rows: number, end: number): RequestRecord {
  const time = end - 30 * DAY_MS + Math.floor((index * 30 * DAY_MS) / rows);
  // A cheap hash, so that neighbouring records differ in every field.
  const hash = Math.imul(index ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  const model = `model-${hash % MODELS}`;
  const backend = `backend-${(hash >>> 8) % BACKENDS}`;
  const roll = (hash >>> 16) % 100;
  const status = roll < 96 ? 200 : roll < 98 ? 429 : roll < 99 ? 502 : 503;
  const cached = (hash >>> 4) % 5 === 0;
  const duration = 50 + ((hash >>> 3) % 3000);
  return {
    time,
    request_id: `${index.toString(16).padStart(8, '0')}-bench-${(hash % 65_536).toString(16)}`,
    key_id: `key-${(hash >>> 12) % KEYS}`,
    team: `team-${(hash >>> 12) % 50}`,
    protocol: 'openai-chat',
    route: '/v1/chat/completions',
    model,
    route_name: model,
    backend,
    upstream_model: model,
    status,
    error_code: status === 200 ? null : status === 429 ? 'rate_limit_exceeded' : 'upstream_error',
    attempts: [{ backend, model, outcome: status === 200 ? 'ok' : 'error', duration_ms: duration }],
    cache: cached ? 'HIT' : 'MISS',
    ttfb_ms: Math.floor(duration / 4),
    duration_ms: duration,
    prompt_tokens: 100 + (hash % 2000),
    completion_tokens: 20 + (hash % 500),
    cached_tokens: 0,
    reasoning_tokens: 0,
    cost_micros: 50 + (hash % 5000),
    client_address: `10.0.${(hash >>> 20) % 256}.${hash % 256}`,
    user_agent: 'OpenAI/Python 1.54.0',
    prompt: null,
    answer: null,
  };
}

/**
 * Writes the records in batches of BATCH, `parallel` batches in flight (PostgreSQL takes several
 * connections; SQLite has one writer anyway).
 */
async function fill(store: RequestLogStore, rows: number, end: number, parallel: number): Promise<number> {
  const started = performance.now();
  let lastReport = started;
  let done = 0;
  const inFlight = new Set<Promise<void>>();
  for (let start = 0; start < rows; start += BATCH) {
    const batch: RequestRecord[] = [];
    for (let index = start; index < Math.min(rows, start + BATCH); index++)
      batch.push(syntheticRecord(index, rows, end));
    const write: Promise<void> = store.write(batch).then(() => {
      inFlight.delete(write);
      done += batch.length;
    });
    inFlight.add(write);
    if (inFlight.size >= parallel) await Promise.race(inFlight);
    const now = performance.now();
    if (now - lastReport > 5000) {
      lastReport = now;
      const rate = done / ((now - started) / 1000);
      progress(
        `${store.kind}: ${done.toLocaleString('en')} of ${rows.toLocaleString('en')} records (${Math.round(rate).toLocaleString('en')}/s, about ${Math.round((rows - done) / rate)} s left)`,
      );
    }
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  progress(
    `${store.kind}: ${rows.toLocaleString('en')} records in ${Math.round(seconds)} s (${Math.round(rows / seconds).toLocaleString('en')}/s)`,
  );
  return seconds;
}

interface Timing {
  readonly p50: number;
  readonly p95: number;
  readonly runs: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Runs `work` once to warm up, then `repeat` times; p50 and p95 of the wall time in ms. */
async function timed(repeat: number, work: (run: number) => Promise<unknown>): Promise<Timing> {
  await work(-1);
  const times: number[] = [];
  for (let run = 0; run < repeat; run++) {
    const started = performance.now();
    await work(run);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p95: percentile(times, 0.95), runs: repeat };
}

interface StoreResult {
  readonly store: string;
  readonly rows: number;
  readonly fillSeconds: number;
  readonly bytes: number | null;
  readonly newestForKey: Timing;
  readonly deepFilteredPage: Timing;
  readonly chart30DaysByModel: Timing & { source: string };
  readonly exportRecordsPerSecond: Timing;
}

async function measure(
  kind: string,
  store: RequestLogStore,
  options: RequestLogBenchOptions,
  end: number,
): Promise<Omit<StoreResult, 'fillSeconds' | 'bytes'>> {
  const { repeat, rows } = options;
  progress(`${kind}: the newest 50 for one key`);
  const newestForKey = await timed(repeat, async (run) => {
    const page = await store.query({ key: `key-${((run + 1) * 37) % KEYS}` }, null, 50);
    if (page.records.length === 0) throw new Error('no records for the key');
  });
  progress(`${kind}: a filtered page 15 days deep`);
  const deepFilteredPage = await timed(repeat, async (run) => {
    // The position a reader paging back would reach after about half the data: its cursor.
    const cursor = encodeCursor({ time: end - 15 * DAY_MS - run * HOUR_MS, id: Number.MAX_SAFE_INTEGER });
    const page = await store.query(
      { model: `model-${(run + MODELS) % MODELS}`, status_class: '2xx' },
      cursor,
      50,
    );
    if (page.records.length === 0 && rows >= 100_000) throw new Error('no records deep in the data');
  });
  progress(`${kind}: a 30-day chart by model (hourly)`);
  const to = Math.ceil(end / HOUR_MS) * HOUR_MS;
  let source = '';
  const chart = await timed(repeat, async () => {
    const stats = await store.stats({ from: to - 30 * DAY_MS, to }, 'hour', 'model');
    source = stats.source;
  });
  progress(`${kind}: export throughput (${EXPORT_RECORDS.toLocaleString('en')} records of one model)`);
  const exportRepeat = Math.max(1, Math.min(repeat, 5));
  const rates: number[] = [];
  for (let run = -1; run < exportRepeat; run++) {
    const started = performance.now();
    let count = 0;
    for await (const record of store.export({ model: `model-${(run + 1) % MODELS}` })) {
      if (record.id < 0) throw new Error('impossible');
      count++;
      if (count >= EXPORT_RECORDS) break;
    }
    if (run >= 0) rates.push(count / ((performance.now() - started) / 1000));
  }
  rates.sort((a, b) => a - b);
  return {
    store: kind,
    rows,
    newestForKey,
    deepFilteredPage,
    chart30DaysByModel: { ...chart, source },
    // For a rate, the slow end is the low one: "p95" is the rate 95% of runs reached.
    exportRecordsPerSecond: {
      p50: percentile(rates, 0.5),
      p95: percentile(rates, 0.05),
      runs: exportRepeat,
    },
  };
}

async function onServer<T>(work: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const client = new pg.Client({ connectionString: `${POSTGRES}/${database}` });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function benchSqlite(options: RequestLogBenchOptions, end: number): Promise<StoreResult> {
  const directory = mkdtempSync(join(tmpdir(), 'gw-request-log-bench-'));
  const store = new SqliteRequestLogStore({ stateDir: directory, retentionDays: 3660 });
  try {
    await store.migrate();
    progress(`sqlite: filling ${store.path}`);
    const fillSeconds = await fill(store, options.rows, end, 1);
    const bytes = ['', '-wal']
      .map((suffix) => {
        try {
          return statSync(`${store.path}${suffix}`).size;
        } catch {
          return 0;
        }
      })
      .reduce((a, b) => a + b, 0);
    return { ...(await measure('sqlite', store, options, end)), fillSeconds, bytes };
  } finally {
    await store.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

async function benchPostgres(options: RequestLogBenchOptions, end: number): Promise<StoreResult> {
  const database = `gw_bench_${randomBytes(4).toString('hex')}`;
  await onServer((client) => client.query(`CREATE DATABASE ${database}`));
  const store = new PostgresRequestLogStore({
    url: `${POSTGRES}/${database}`,
    retentionDays: 3660,
    queryTimeoutMs: 600_000,
  });
  try {
    await store.migrate();
    progress(`postgres: filling database ${database}`);
    const fillSeconds = await fill(store, options.rows, end, 3);
    // What autovacuum does on its own in a while: planner statistics for the new data.
    progress('postgres: ANALYZE');
    await onServer((client) => client.query('ANALYZE'), database);
    const bytes = await onServer(
      async (client) =>
        Number(
          (await client.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size'))
            .rows[0]?.size ?? 0,
        ),
      database,
    );
    return { ...(await measure('postgres', store, options, end)), fillSeconds, bytes };
  } finally {
    await store.close();
    await onServer((client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  }
}

function row(result: StoreResult): Record<string, string> {
  const ms = (timing: Timing): string => `${timing.p50.toFixed(1)} / ${timing.p95.toFixed(1)}`;
  return {
    store: result.store,
    rows: result.rows.toLocaleString('en'),
    'fill s': result.fillSeconds.toFixed(0),
    'MB on disk': result.bytes === null ? '-' : (result.bytes / 1e6).toFixed(0),
    'newest 50 for a key, ms p50/p95': ms(result.newestForKey),
    'deep filtered page, ms p50/p95': ms(result.deepFilteredPage),
    '30-day chart by model, ms p50/p95': `${ms(result.chart30DaysByModel)} (${result.chart30DaysByModel.source})`,
    'export, records/s p50/p95': `${Math.round(result.exportRecordsPerSecond.p50)} / ${Math.round(result.exportRecordsPerSecond.p95)}`,
  };
}

export async function runRequestLogBench(options: RequestLogBenchOptions): Promise<number> {
  if (!Number.isInteger(options.rows) || options.rows < 1000) {
    progress('--rows: a whole number, at least 1000');
    return 1;
  }
  if (!Number.isInteger(options.repeat) || options.repeat < 1) {
    progress('--repeat: a whole number, at least 1');
    return 1;
  }
  const end = Date.now();
  const results: StoreResult[] = [];
  for (const kind of options.stores) {
    if (kind === 'sqlite') results.push(await benchSqlite(options, end));
    else if (kind === 'postgres') results.push(await benchPostgres(options, end));
    else {
      progress(`--store: '${kind}' is not sqlite or postgres`);
      return 1;
    }
  }
  console.table(results.map(row));
  let met = true;
  for (const result of results) {
    const checks: [string, number, number][] = [
      ['newest 50 for a key (p95)', result.newestForKey.p95, 50],
      ['deep filtered page (p95)', result.deepFilteredPage.p95, 50],
      ['30-day chart by model (p95)', result.chart30DaysByModel.p95, 200],
    ];
    for (const [what, value, target] of checks) {
      const ok = value < target;
      met &&= ok;
      console.log(
        `${result.store}: ${what} ${value.toFixed(1)} ms, target under ${target} ms: ${ok ? 'met' : 'MISSED'}`,
      );
    }
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  console.log(`machine: ${machine}; ${new Date().toISOString()}`);
  if (options.rows < 10_000_000)
    console.log(`(${options.rows.toLocaleString('en')} rows: the targets are set for 10 million)`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    'bench/results/request-log.json',
    `${JSON.stringify({ date: new Date().toISOString(), machine, options, results, targetsMet: met }, null, 2)}\n`,
  );
  progress('results written to bench/results/request-log.json');
  return 0;
}
