import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../config/load.js';
import { openStores } from '../state/stores.js';
import { parseGroupBy, parseUsageParams, UsageParamError, type UsageParams } from '../usage/usage-query.js';
import { CONTROL_CHARACTER, stripControls, USAGE_COUNTER_COLUMNS, usageCsv } from '../usage/usage-rows.js';
import type { UsageGroup, UsageRow } from '../usage/usage.js';
import { problemDetail } from './problem-detail.js';

export const USAGE_HELP = `Usage: ai-gateway usage [options]

Shows usage per key and model (requests, errors, cached answers, prompt and completion tokens, and an
estimated cost when usage.prices applies), as GET /admin/usage does.

Options:
  --key ID            only this key id
  --model NAME        only this model (the name clients sent); a pattern as in models[].name: exact,
                      prefix* or *
  --from TIME         start, inclusive (default: 24 hours before --to)
  --to TIME           end, exclusive (default: now); hours that start in [from, to) count
                      TIME: an ISO 8601 date (2026-11-27, midnight UTC), a date-time
                      (2026-11-27T09:00:00Z; UTC without an offset), or a time before now (24h, 7d)
  --group-by LIST     key, model, day, hour, or several comma-separated (default key,model); an empty
                      value ('') gives one row of totals
  --json              print the JSON of GET /admin/usage
  --csv               print CSV (RFC 4180, a header line)

Where the usage is:
  default             the state store of the config (--config FILE or GATEWAY_CONFIG): Redis when
                      redis.url (or REDIS_URL) is set, else the SQLite file under server.state_dir. A
                      running gateway sends its counters every second: the last second may be missing.
  --url URL           a running gateway's admin API instead, with --admin-token TOKEN (or --token, or
                      GATEWAY_ADMIN_TOKEN); that gateway's own counters are then up to date

Output: a table for people; --json or --csv for scripts.
`;

class UsageCommandError extends Error {}

interface UsageAnswer {
  data: UsageRow[];
  from: string;
  to: string;
  /** With --key and --url: the key's and its team's budgets in their current windows (issue 20). */
  budgets?: BudgetStatusRow[];
}

/** A budget's spending now, as GET /admin/usage?key= answers it. */
export interface BudgetStatusRow {
  scope: string;
  unit: 'usd' | 'tokens';
  limit: number;
  window: string;
  soft: boolean;
  spent: number;
  reserved: number;
  remaining: number;
  window_end: string | null;
}

const BUDGET_COLUMNS = ['SCOPE', 'WINDOW', 'LIMIT', 'SPENT', 'RESERVED', 'REMAINING', 'RESETS'];

/** The budgets as an aligned table: scope, window, limit, spent, reserved, remaining, reset. */
export function budgetTable(rows: readonly BudgetStatusRow[]): string {
  const amount = (row: BudgetStatusRow, value: number): string =>
    row.unit === 'usd' ? `$${value.toFixed(4)}` : String(Math.round(value));
  const lines = [
    BUDGET_COLUMNS,
    ...rows.map((row) => [
      printable(row.scope),
      printable(row.window) + (row.soft ? ' (soft)' : ''),
      amount(row, row.limit),
      amount(row, row.spent),
      amount(row, row.reserved),
      amount(row, row.remaining),
      row.window_end === null ? 'never' : printable(row.window_end),
    ]),
  ];
  const widths = BUDGET_COLUMNS.map((_, index) =>
    Math.max(...lines.map((line) => (line[index] ?? '').length)),
  );
  return (
    lines
      .map((line) =>
        line
          .map((text, index) =>
            index >= 2 && index <= 5 ? text.padStart(widths[index] ?? 0) : text.padEnd(widths[index] ?? 0),
          )
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** Where the command writes and what it reads; process's own by default (tests pass their own). */
export interface UsageIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => number;
}

const PROCESS_IO: UsageIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  now: Date.now,
};

async function queryRemote(
  url: string,
  token: string | undefined,
  params: UsageParams,
  csv: boolean,
): Promise<string> {
  if (token === undefined || token === '')
    throw new UsageCommandError('--url needs --admin-token or GATEWAY_ADMIN_TOKEN');
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (typeof value === 'string') search.set(name, value);
  const path = `/admin/usage${search.size > 0 ? `?${search.toString()}` : ''}`;
  let response: Response;
  try {
    response = await fetch(`${url.replace(/\/+$/, '')}${path}`, {
      headers: { authorization: `Bearer ${token}`, accept: csv ? 'text/csv' : 'application/json' },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new UsageCommandError(`GET ${path}: ${(error as Error).message}`);
  }
  const text = await response.text();
  if (!response.ok) throw new UsageCommandError(`GET ${path}: ${response.status} ${problemDetail(text)}`);
  return text;
}

async function queryLocal(
  configPath: string | null,
  params: UsageParams,
  io: UsageIo,
): Promise<{ answer: UsageAnswer; groupBy: UsageGroup[] }> {
  let query;
  try {
    query = parseUsageParams(params, io.now());
  } catch (error) {
    if (error instanceof UsageParamError)
      throw new UsageCommandError(`--${error.param.replace('_', '-')}: ${error.detail}`);
    throw error;
  }
  const config = loadConfig({ path: configPath, env: io.env });
  const stores = openStores(config, pino({ level: 'silent' }));
  try {
    const data = await stores.usage.query(query);
    return {
      answer: { data, from: new Date(query.from).toISOString(), to: new Date(query.to).toISOString() },
      groupBy: [...query.groupBy],
    };
  } catch (error) {
    throw new UsageCommandError(`the usage store is unavailable: ${(error as Error).message}`);
  } finally {
    await stores.close();
  }
}

const ESCAPED_IN_TABLE = new RegExp(`\\\\|${CONTROL_CHARACTER.source}`, 'g');
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * The text as a terminal should show it: each control character (ESC, BEL, line breaks, bidirectional
 * overrides: see CONTROL_CHARACTER) written as an escape, `\x1b`, `\n`, `\u202e`, and a backslash as
 * `\\`, so that what is shown is what is stored and nothing is run (issue 16, finding 7).
 */
export function printable(text: string): string {
  return text.replace(ESCAPED_IN_TABLE, (character) => {
    const short = SHORT_ESCAPES[character];
    if (short !== undefined) return short;
    const code = character.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

const CONTROLS_LEFT_BY_JSON = new RegExp(CONTROL_CHARACTER.source, 'g');

/** JSON.stringify escapes C0 controls only: the others (DEL, C1, bidirectional marks) as \uXXXX too. */
function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    CONTROLS_LEFT_BY_JSON,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A gateway's CSV answer (perhaps an older gateway's) with control characters left out, line ends kept. */
function terminalSafeCsv(text: string): string {
  return text.split('\r\n').map(stripControls).join('\r\n');
}

/**
 * The rows as an aligned table: the group_by columns, then the counters (numbers right-aligned). Key
 * ids and model names come from clients: their control characters are shown escaped.
 */
export function usageTable(rows: readonly UsageRow[], groupBy: readonly UsageGroup[]): string {
  const columns = [...groupBy, ...USAGE_COUNTER_COLUMNS];
  const numeric = (column: string): boolean => !(groupBy as readonly string[]).includes(column);
  const cell = (row: UsageRow, column: string): string => {
    const value = (row as unknown as Record<string, unknown>)[column];
    if (typeof value === 'number') return String(value);
    if (typeof value === 'string') return printable(value);
    return '-';
  };
  const lines = [
    columns.map((column) => column.toUpperCase()),
    ...rows.map((row) => columns.map((column) => cell(row, column))),
  ];
  const widths = columns.map((_, index) => Math.max(...lines.map((line) => (line[index] ?? '').length)));
  return (
    lines
      .map((line) =>
        line
          .map((text, index) => {
            const width = widths[index] ?? 0;
            return numeric(columns[index] ?? '') ? text.padStart(width) : text.padEnd(width);
          })
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export async function runUsage(argv: string[], io: UsageIo = PROCESS_IO): Promise<number> {
  if (argv[0] === 'help') {
    io.stdout.write(USAGE_HELP);
    return 0;
  }
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: {
          key: { type: 'string' },
          model: { type: 'string' },
          from: { type: 'string' },
          to: { type: 'string' },
          'group-by': { type: 'string' },
          json: { type: 'boolean' },
          csv: { type: 'boolean' },
          url: { type: 'string' },
          'admin-token': { type: 'string' },
          token: { type: 'string' },
          config: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      });
    } catch (error) {
      throw new UsageCommandError((error as Error).message);
    }
    const { values } = parsed;
    if (values.help === true) {
      io.stdout.write(USAGE_HELP);
      return 0;
    }
    if (values.json === true && values.csv === true)
      throw new UsageCommandError('--json and --csv: choose one');
    const params: UsageParams = {
      key: values.key,
      model: values.model,
      from: values.from,
      to: values.to,
      group_by: values['group-by'],
    };
    let answer: UsageAnswer;
    let groupBy: UsageGroup[];
    if (values.url !== undefined) {
      const token = values['admin-token'] ?? values.token ?? io.env['GATEWAY_ADMIN_TOKEN'];
      const text = await queryRemote(values.url, token, params, values.csv === true);
      if (values.csv === true) {
        io.stdout.write(terminalSafeCsv(text));
        return 0;
      }
      answer = JSON.parse(text) as UsageAnswer;
      // The server checked group_by already; parsed again here only to lay out the columns.
      groupBy = parseGroupBy(params.group_by);
    } else {
      const configPath = values.config ?? (io.env['GATEWAY_CONFIG'] || null);
      ({ answer, groupBy } = await queryLocal(configPath, params, io));
    }
    const from = printable(answer.from);
    const to = printable(answer.to);
    if (values.json === true) io.stdout.write(`${terminalSafeJson(answer)}\n`);
    else if (values.csv === true) io.stdout.write(usageCsv(answer.data, groupBy));
    else if (answer.data.length === 0) io.stdout.write(`No usage from ${from} to ${to}.\n`);
    else {
      io.stdout.write(`Usage from ${from} to ${to} (UTC hours that start in that span)\n\n`);
      io.stdout.write(usageTable(answer.data, groupBy));
    }
    if (
      values.json !== true &&
      values.csv !== true &&
      answer.budgets !== undefined &&
      answer.budgets.length > 0
    )
      io.stdout.write(`\nBudgets now\n\n${budgetTable(answer.budgets)}`);
    return 0;
  } catch (error) {
    if (error instanceof UsageCommandError) {
      // The message may quote a gateway's answer.
      io.stderr.write(`ai-gateway usage: ${printable(error.message)}\n`);
      return 1;
    }
    throw error;
  }
}
