import { parseArgs } from 'node:util';
import pino from 'pino';
import { toTeamView } from '../admin/teams-routes.js';
import type { TeamView } from '../api/admin-schemas.js';
import { teamFromConfig, type TeamRecord } from '../auth/team-record.js';
import { TeamExistsError, type TeamPatch } from '../auth/team-store.js';
import { budgetsOf, loadConfig } from '../config/load.js';
import { openStores } from '../state/stores.js';
import {
  details,
  formatBudget,
  formatRateLimit,
  parseBudgetFlag,
  parseMetadata,
  positive,
  table,
  UsageError,
  type BudgetInput,
} from './limit-flags.js';
import { problemDetail } from './problem-detail.js';

export const TEAMS_HELP = `Usage: ai-gateway teams <command> [options]

Commands:
  list                list teams (the config file's, then those created at run time)
  create --id ID [--name NAME] [--models a,b*] [--rpm N] [--tpm N] [--max-concurrency N]
         [--budget usd=200/month] [--budget tokens=2000000/day,soft ...] [--metadata k=v ...]
                      create a team; keys join it with keys create --team ID
  show ID             one team: models, rate limit, cap, budgets
  update ID [the options of create; --models '*' allows every model; --no-budgets, --no-max-concurrency,
            --no-rate-limit clear]
                      change a team created at run time (config teams change in the config file)
  delete ID           delete a team no key belongs to

Where the teams are: as for ai-gateway keys (--config FILE, or --url URL with --admin-token TOKEN).
Output: a table for people; --json prints the admin API's JSON.
`;

interface Target {
  list(): Promise<TeamView[]>;
  show(id: string): Promise<TeamView>;
  create(body: Record<string, unknown>): Promise<TeamView>;
  update(id: string, body: Record<string, unknown>): Promise<TeamView>;
  delete(id: string): Promise<TeamView>;
  close(): Promise<void>;
}

function remoteTarget(url: string, token: string | undefined): Target {
  if (token === undefined || token === '')
    throw new UsageError('--url needs --admin-token or GATEWAY_ADMIN_TOKEN');
  const base = url.replace(/\/+$/, '');
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok) throw new UsageError(`${method} ${path}: ${response.status} ${problemDetail(text)}`);
    return JSON.parse(text) as T;
  };
  const one = (id: string): string => `/admin/teams/${encodeURIComponent(id)}`;
  return {
    list: async () => (await call<{ data: TeamView[] }>('GET', '/admin/teams')).data,
    show: (id) => call('GET', one(id)),
    create: (body) => call('POST', '/admin/teams', body),
    update: (id, body) => call('PATCH', one(id), body),
    delete: (id) => call('DELETE', one(id)),
    close: () => Promise.resolve(),
  };
}

/** The body's fields as a record's (the same defaults as POST /admin/teams). */
function patchOf(body: Record<string, unknown>): TeamPatch {
  const budgets = body['budgets'] as BudgetInput[] | undefined;
  return {
    ...(body['name'] === undefined ? {} : { name: body['name'] as string }),
    ...(body['models'] === undefined ? {} : { models: body['models'] as string[] | null }),
    ...(body['rate_limit'] === undefined ? {} : { rateLimit: body['rate_limit'] }),
    ...(budgets === undefined ? {} : { budgets: budgetsOf(budgets, '--budget', []) }),
    ...(body['max_concurrency'] === undefined
      ? {}
      : { maxConcurrency: body['max_concurrency'] as number | null }),
    ...(body['metadata'] === undefined ? {} : { metadata: body['metadata'] as Record<string, string> }),
  };
}

function localTarget(configPath: string | null): Target {
  const config = loadConfig({ path: configPath, env: process.env });
  const stores = openStores(config, pino({ level: 'silent' }));
  const configTeams = config.teams.map(teamFromConfig);
  const configTeam = (id: string): TeamRecord | undefined => configTeams.find((team) => team.id === id);
  const readOnly = (id: string): UsageError =>
    new UsageError(`${id} is a team of the config file (teams); change it there`);
  return {
    list: async () => [...configTeams, ...(await stores.teams.list())].map(toTeamView),
    async show(id) {
      const record = configTeam(id) ?? (await stores.teams.get(id));
      if (record === null) throw new UsageError(`no team has the id ${id}`);
      return toTeamView(record);
    },
    async create(body) {
      const id = body['id'] as string;
      if (configTeam(id) !== undefined)
        throw new UsageError(`a team with the id ${id} is in the config file`);
      const record: TeamRecord = {
        id,
        name: id,
        models: null,
        rateLimit: null,
        budgets: [],
        maxConcurrency: null,
        metadata: {},
        createdAt: new Date().toISOString(),
        source: 'store',
        ...patchOf(body),
      };
      try {
        await stores.teams.create(record);
      } catch (error) {
        if (error instanceof TeamExistsError) throw new UsageError(`a team with the id ${id} exists already`);
        throw error;
      }
      return toTeamView(record);
    },
    async update(id, body) {
      if (configTeam(id) !== undefined) throw readOnly(id);
      const record = await stores.teams.update(id, patchOf(body));
      if (record === null) throw new UsageError(`no team has the id ${id}`);
      return toTeamView(record);
    },
    async delete(id) {
      if (configTeam(id) !== undefined) throw readOnly(id);
      const record = await stores.teams.get(id);
      if (record === null) throw new UsageError(`no team has the id ${id}`);
      const keys = [...config.auth.keys, ...(await stores.keys.list())].filter(
        (key) => key.team === id && !('revokedAt' in key && key.revokedAt !== null),
      );
      if (keys.length > 0)
        throw new UsageError(`the team ${id} still has ${keys.length} key${keys.length === 1 ? '' : 's'}`);
      await stores.teams.delete(id);
      return toTeamView(record);
    },
    close: () => stores.close(),
  };
}

function teamTable(rows: readonly TeamView[]): string {
  return table<TeamView>(
    [
      ['ID', (row) => row.id],
      ['NAME', (row) => row.name],
      ['MODELS', (row) => (row.models === null ? '*' : row.models.join(','))],
      ['RATE LIMIT', (row) => formatRateLimit(row.rate_limit)],
      ['MAX CONCURRENCY', (row) => (row.max_concurrency === null ? '-' : String(row.max_concurrency))],
      ['BUDGETS', (row) => (row.budgets.length === 0 ? '-' : row.budgets.map(formatBudget).join(', '))],
      ['SOURCE', (row) => row.source],
    ],
    rows,
  );
}

function showTeam(row: TeamView): string {
  return details([
    ['id', row.id],
    ['name', row.name],
    ['source', row.source],
    ['models', row.models === null ? '*' : row.models.join(', ')],
    ['rate limit', formatRateLimit(row.rate_limit)],
    ['max concurrency', row.max_concurrency === null ? '-' : String(row.max_concurrency)],
    ['budgets', row.budgets.length === 0 ? '-' : row.budgets.map(formatBudget).join(', ')],
    ['created', row.created_at ?? '-'],
    [
      'metadata',
      Object.entries(row.metadata)
        .map(([name, value]) => `${name}=${value}`)
        .join(', ') || '-',
    ],
  ]);
}

interface TeamFlags {
  name?: string | undefined;
  models?: string | undefined;
  rpm?: string | undefined;
  tpm?: string | undefined;
  'max-concurrency'?: string | undefined;
  budget?: string[] | undefined;
  metadata?: string[] | undefined;
  'no-budgets'?: boolean | undefined;
  'no-max-concurrency'?: boolean | undefined;
  'no-rate-limit'?: boolean | undefined;
}

/** The admin API body of create and update from the flags given (only those). */
export function teamBody(values: TeamFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (values.name !== undefined) body['name'] = values.name;
  if (values.models !== undefined)
    body['models'] =
      values.models.trim() === '*'
        ? null
        : values.models
            .split(',')
            .map((model) => model.trim())
            .filter((model) => model !== '');
  const rpm = positive('rpm', values.rpm);
  const tpm = positive('tpm', values.tpm);
  if (values['no-rate-limit'] === true) body['rate_limit'] = null;
  else if (rpm !== undefined || tpm !== undefined)
    body['rate_limit'] = {
      ...(rpm === undefined ? {} : { requests: `${rpm}/minute` }),
      ...(tpm === undefined ? {} : { tokens: `${tpm}/minute` }),
    };
  const maxConcurrency = positive('max-concurrency', values['max-concurrency']);
  if (values['no-max-concurrency'] === true) body['max_concurrency'] = null;
  else if (maxConcurrency !== undefined) body['max_concurrency'] = maxConcurrency;
  if (values['no-budgets'] === true) body['budgets'] = [];
  else if (values.budget !== undefined) body['budgets'] = values.budget.map(parseBudgetFlag);
  if (values.metadata !== undefined) body['metadata'] = parseMetadata(values.metadata);
  return body;
}

export async function runTeams(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(TEAMS_HELP);
    return command === undefined ? 1 : 0;
  }
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        url: { type: 'string' },
        'admin-token': { type: 'string' },
        json: { type: 'boolean' },
        id: { type: 'string' },
        name: { type: 'string' },
        models: { type: 'string' },
        rpm: { type: 'string' },
        tpm: { type: 'string' },
        'max-concurrency': { type: 'string' },
        budget: { type: 'string', multiple: true },
        metadata: { type: 'string', multiple: true },
        'no-budgets': { type: 'boolean' },
        'no-max-concurrency': { type: 'boolean' },
        'no-rate-limit': { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
    if (values.help === true) {
      process.stdout.write(TEAMS_HELP);
      return 0;
    }
    if (!['list', 'create', 'show', 'update', 'delete'].includes(command))
      throw new UsageError(`unknown teams command '${command}'`);
    const json = values.json === true;
    const id = positionals[0];
    if (['show', 'update', 'delete'].includes(command) && id === undefined)
      throw new UsageError(`${command}: give the team id (see teams list)`);
    let body: Record<string, unknown> = {};
    if (command === 'create' || command === 'update') {
      body = teamBody(values);
      if (command === 'create') {
        if (values.id === undefined || values.id === '') throw new UsageError('create: --id is required');
        body = { id: values.id, ...body };
      } else if (Object.keys(body).length === 0) {
        throw new UsageError('update: give at least one field to change (see teams --help)');
      }
    }
    const configPath = values.config ?? (process.env['GATEWAY_CONFIG'] || null);
    const target =
      values.url === undefined
        ? localTarget(configPath)
        : remoteTarget(values.url, values['admin-token'] ?? process.env['GATEWAY_ADMIN_TOKEN']);
    try {
      let team: TeamView;
      switch (command) {
        case 'list': {
          const teams = await target.list();
          process.stdout.write(json ? `${JSON.stringify({ data: teams })}\n` : teamTable(teams));
          return 0;
        }
        case 'create':
          team = await target.create(body);
          break;
        case 'update':
          team = await target.update(id as string, body);
          break;
        case 'delete':
          team = await target.delete(id as string);
          if (!json) {
            process.stdout.write(`deleted team ${team.id}\n`);
            return 0;
          }
          break;
        default:
          team = await target.show(id as string);
      }
      process.stdout.write(json ? `${JSON.stringify(team)}\n` : showTeam(team));
      return 0;
    } finally {
      await target.close();
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`ai-gateway teams: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}
