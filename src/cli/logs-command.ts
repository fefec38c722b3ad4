import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseFilters, parseLimit, type FilterParams } from '../admin/requests-routes.js';
import { loadConfig } from '../config/load.js';
import { GatewayError } from '../errors/errors.js';
import type { RequestLogFilters, RequestLogStore } from '../request-log/request-log-store.js';
import type { RequestRecord } from '../request-log/request-record.js';
import { CONTROL_CHARACTER } from '../usage/usage-rows.js';
import { problemDetail } from './problem-detail.js';
import { printable } from './usage-command.js';

export const LOGS_HELP = `Usage: ai-gateway logs [options]

Shows the request log (one record per request: time, status, key, model, backend, duration, tokens,
cost, error), newest first, as GET /admin/requests does; --follow shows new requests as they end.

Filters (all optional; every one given must match):
  --key ID              the key id
  --team ID             the team
  --model NAME          the model the client asked for (exactly)
  --backend NAME        the backend that answered last
  --status S            an exact status (429) or a class (2xx, 4xx, 5xx)
  --error-code CODE     the gateway's error code (upstream_error, rate_limit_exceeded, ...)
  --cache S             HIT, MISS or BYPASS
  --since TIME          only requests that ended at or after TIME
  --until TIME          only requests that ended before TIME
                        TIME: a span before now (30s, 15m, 1h, 7d), an ISO 8601 date-time
                        (2026-11-27T14:02:00Z; UTC without an offset) or ms since the epoch
  --min-duration MS     only requests that took at least MS milliseconds
  --request-id ID       the request with this id (X-Request-ID)
  --limit N             records to show, 1-1000 (default 50)

Output:
  (default)             a table for people
  --json                one JSON record per line (NDJSON), for scripts
  --follow, -f          keep running and show each new matching request as it ends (server-sent
                        events from GET /admin/requests/stream; needs --url); Ctrl-C ends it

Where the log is:
  --url URL             a running gateway's admin API, with --admin-token TOKEN (or --token, or
                        GATEWAY_ADMIN_TOKEN)
  default               the request log of the config (--config FILE or GATEWAY_CONFIG): the SQLite
                        file request-log.db under server.state_dir, or request_log.postgres_url. A
                        running gateway writes its records in batches: the last half second may be
                        missing.
`;

class LogsCommandError extends Error {}

/** Where the command writes and what it reads; the process's own by default (tests pass their own). */
export interface LogsIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => number;
  /** Ends --follow when aborted (Ctrl-C ends the process anyway). */
  readonly signal?: AbortSignal;
}

const PROCESS_IO: LogsIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  now: Date.now,
};

const SPAN_UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** --since and --until as the API's `from` and `to`: a span before now becomes ms since the epoch. */
export function timeFlag(text: string | undefined, now: number): string | undefined {
  if (text === undefined) return undefined;
  const span = /^(\d{1,9})([smhd])$/.exec(text);
  if (span === null) return text;
  return String(now - Number(span[1]) * (SPAN_UNITS[span[2] ?? 's'] ?? 1000));
}

/** The flags as the query parameters of /admin/requests (and its stream), all strings. */
export function filterParamsOf(
  values: Record<string, string | boolean | undefined>,
  now: number,
): FilterParams & { limit?: string } {
  const string = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const params: Record<string, string | undefined> = {
    key: string('key'),
    team: string('team'),
    model: string('model'),
    backend: string('backend'),
    status: string('status'),
    error_code: string('error-code'),
    cache: string('cache'),
    from: timeFlag(string('since'), now),
    to: timeFlag(string('until'), now),
    min_duration_ms: string('min-duration'),
    request_id: string('request-id'),
    limit: string('limit'),
  };
  return Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined));
}

const FLAG_OF: Readonly<Record<string, string>> = {
  error_code: '--error-code',
  from: '--since',
  to: '--until',
  min_duration_ms: '--min-duration',
  request_id: '--request-id',
};

/** Checks the filters here, as the gateway would: a mistake names the flag, not the query parameter. */
function checkedFilters(params: FilterParams & { limit?: string }): {
  filters: RequestLogFilters;
  limit: number;
} {
  try {
    const { limit, ...filters } = params;
    return { filters: parseFilters(filters), limit: parseLimit(limit) };
  } catch (error) {
    if (error instanceof GatewayError && error.param !== null) {
      const flag = FLAG_OF[error.param] ?? `--${error.param}`;
      throw new LogsCommandError(`${flag}: ${error.message.replace(/^[a-z_]+: /, '')}`);
    }
    throw error;
  }
}

const CONTROLS_LEFT_BY_JSON = new RegExp(CONTROL_CHARACTER.source, 'g');

/** JSON.stringify escapes C0 controls only: the others (DEL, C1, bidirectional marks) as \uXXXX too. */
function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    CONTROLS_LEFT_BY_JSON,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export const LOG_COLUMNS = [
  'TIME',
  'STATUS',
  'KEY',
  'MODEL',
  'BACKEND',
  'DURATION',
  'TOKENS',
  'COST',
  'ERROR',
] as const;
/** Widths for --follow, where rows come one at a time and can't be aligned on the widest. */
const FOLLOW_WIDTHS = [20, 6, 16, 24, 12, 9, 11, 10, 0];
const RIGHT_ALIGNED = new Set([1, 5, 6, 7]);

/**
 * One record as table cells. Key ids, models and error codes come from clients and upstreams: their
 * control characters are shown escaped (printable), never sent to the terminal.
 */
export function logCells(record: RequestRecord): string[] {
  const tokens =
    record.prompt_tokens === null && record.completion_tokens === null
      ? '-'
      : `${record.prompt_tokens ?? 0}/${record.completion_tokens ?? 0}`;
  return [
    new Date(record.time).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    String(record.status),
    printable(record.key_id ?? '-'),
    printable(record.model ?? '-'),
    printable(record.backend ?? '-'),
    `${record.duration_ms} ms`,
    tokens,
    record.cost_micros === null ? '-' : `$${(record.cost_micros / 1_000_000).toFixed(6)}`,
    printable(record.error_code ?? '') +
      (record.cache === 'HIT' ? (record.error_code ? ' ' : '') + 'cache hit' : ''),
  ];
}

function formatLine(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((text, index) => {
      const width = widths[index] ?? 0;
      return RIGHT_ALIGNED.has(index) ? text.padStart(width) : text.padEnd(width);
    })
    .join('  ')
    .trimEnd();
}

/** The records as an aligned table, TIME (UTC) … ERROR; tokens as prompt/completion. */
export function logTable(records: readonly RequestRecord[]): string {
  const lines = [[...LOG_COLUMNS], ...records.map(logCells)];
  const widths = LOG_COLUMNS.map((_, index) => Math.max(...lines.map((line) => (line[index] ?? '').length)));
  return lines.map((line) => formatLine(line, widths)).join('\n') + '\n';
}

function remoteBase(url: string, token: string | undefined): { base: string; authorization: string } {
  if (token === undefined || token === '')
    throw new LogsCommandError('--url needs --admin-token or GATEWAY_ADMIN_TOKEN');
  return { base: url.replace(/\/+$/, ''), authorization: `Bearer ${token}` };
}

async function fetchPage(
  url: string,
  token: string | undefined,
  params: Record<string, string>,
): Promise<RequestRecord[]> {
  const { base, authorization } = remoteBase(url, token);
  const path = `/admin/requests?${new URLSearchParams(params).toString()}`;
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      headers: { authorization, accept: 'application/json' },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new LogsCommandError(`GET ${path}: ${(error as Error).message}`);
  }
  const text = await response.text();
  if (!response.ok) throw new LogsCommandError(`GET ${path}: ${response.status} ${problemDetail(text)}`);
  return (JSON.parse(text) as { data: RequestRecord[] }).data;
}

/** The config's request log, read directly: the SQLite file in the state directory, or PostgreSQL. */
async function queryLocal(
  configPath: string | null,
  filters: RequestLogFilters,
  limit: number,
  io: LogsIo,
): Promise<RequestRecord[]> {
  const config = loadConfig({ path: configPath, env: io.env });
  const settings = config.requestLog;
  let store: RequestLogStore;
  if (settings.store === 'postgres' && settings.postgresUrl !== null) {
    const { PostgresRequestLogStore } = await import('../request-log/postgres-request-log-store.js');
    store = new PostgresRequestLogStore({ url: settings.postgresUrl, retentionDays: settings.retentionDays });
  } else {
    const file = join(config.server.stateDir, 'request-log.db');
    // Not created here: a mistyped state_dir would otherwise show an empty log instead of a mistake.
    if (!existsSync(file))
      throw new LogsCommandError(
        `no request log at ${file} (server.state_dir of ${configPath ?? 'the embedded defaults'}); pass --config, or --url for a running gateway`,
      );
    const { SqliteRequestLogStore } = await import('../request-log/sqlite-request-log-store.js');
    store = new SqliteRequestLogStore({
      stateDir: config.server.stateDir,
      retentionDays: settings.retentionDays,
    });
  }
  try {
    await store.migrate();
    return (await store.query(filters, null, limit)).records;
  } catch (error) {
    throw new LogsCommandError(`the request log store is unavailable: ${(error as Error).message}`);
  } finally {
    await store.close().catch(() => undefined);
  }
}

/**
 * Reads server-sent events from a body, calling `onEvent` with each event's data (comments and other
 * fields are skipped). Resolves when the body ends.
 */
export async function readEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (data: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = pending.indexOf('\n\n')) >= 0) {
      const event = pending.slice(0, end);
      pending = pending.slice(end + 2);
      const data = event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
        .join('\n');
      if (data !== '') onEvent(data);
    }
  }
}

async function follow(
  url: string,
  token: string | undefined,
  params: Record<string, string>,
  json: boolean,
  io: LogsIo,
): Promise<void> {
  const { base, authorization } = remoteBase(url, token);
  const { limit: _limit, ...filters } = params;
  const path = `/admin/requests/stream?${new URLSearchParams(filters).toString()}`;
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      headers: { authorization, accept: 'text/event-stream' },
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    });
  } catch (error) {
    if (io.signal?.aborted === true) return;
    throw new LogsCommandError(`GET ${path}: ${(error as Error).message}`);
  }
  if (!response.ok || response.body === null)
    throw new LogsCommandError(`GET ${path}: ${response.status} ${problemDetail(await response.text())}`);
  if (!json) io.stdout.write(`${formatLine([...LOG_COLUMNS], FOLLOW_WIDTHS)}\n`);
  try {
    await readEvents(response.body, (data) => {
      const record = JSON.parse(data) as RequestRecord;
      io.stdout.write(
        json ? `${terminalSafeJson(record)}\n` : `${formatLine(logCells(record), FOLLOW_WIDTHS)}\n`,
      );
    });
  } catch (error) {
    if (io.signal?.aborted === true) return;
    throw new LogsCommandError(`the live tail ended: ${(error as Error).message}`);
  }
  throw new LogsCommandError(
    'the gateway ended the live tail (it is shutting down, or this client fell behind)',
  );
}

export async function runLogs(argv: string[], io: LogsIo = PROCESS_IO): Promise<number> {
  if (argv[0] === 'help') {
    io.stdout.write(LOGS_HELP);
    return 0;
  }
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: {
          key: { type: 'string' },
          team: { type: 'string' },
          model: { type: 'string' },
          backend: { type: 'string' },
          status: { type: 'string' },
          'error-code': { type: 'string' },
          cache: { type: 'string' },
          since: { type: 'string' },
          until: { type: 'string' },
          'min-duration': { type: 'string' },
          'request-id': { type: 'string' },
          limit: { type: 'string' },
          json: { type: 'boolean' },
          follow: { type: 'boolean', short: 'f' },
          url: { type: 'string' },
          'admin-token': { type: 'string' },
          token: { type: 'string' },
          config: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      });
    } catch (error) {
      throw new LogsCommandError((error as Error).message);
    }
    const { values } = parsed;
    if (values.help === true) {
      io.stdout.write(LOGS_HELP);
      return 0;
    }
    const params = filterParamsOf(values, io.now());
    const { filters, limit } = checkedFilters(params);
    const token = values['admin-token'] ?? values.token ?? io.env['GATEWAY_ADMIN_TOKEN'];
    if (values.follow === true) {
      if (values.url === undefined)
        throw new LogsCommandError('--follow needs --url (the live tail comes from a running gateway)');
      await follow(values.url, token, params, values.json === true, io);
      return 0;
    }
    const records =
      values.url !== undefined
        ? await fetchPage(values.url, token, params)
        : await queryLocal(values.config ?? (io.env['GATEWAY_CONFIG'] || null), filters, limit, io);
    if (values.json === true) {
      for (const record of records) io.stdout.write(`${terminalSafeJson(record)}\n`);
    } else if (records.length === 0) io.stdout.write('No requests match.\n');
    else io.stdout.write(logTable(records));
    return 0;
  } catch (error) {
    if (error instanceof LogsCommandError) {
      // The message may quote a gateway's answer.
      io.stderr.write(`ai-gateway logs: ${printable(error.message)}\n`);
      return 1;
    }
    throw error;
  }
}
