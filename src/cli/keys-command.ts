import { parseArgs } from 'node:util';
import pino from 'pino';
import { toKeyView } from '../admin/admin-routes.js';
import type { KeyView } from '../api/admin-schemas.js';
import { sha256Hex } from '../auth/api-key.js';
import { createKey } from '../auth/key-factory.js';
import { parseTimestamp } from '../auth/timestamp.js';
import type { RateLimitPolicyConfig } from '../config/schema.js';
import { budgetsOf, loadConfig, priorityOf } from '../config/load.js';
import { parseRate } from '../config/rate-string.js';
import { openStores } from '../state/stores.js';
import { problemDetail } from './problem-detail.js';
import {
  details,
  formatBudget,
  formatRateLimit,
  parseBudgetFlag,
  type BudgetInput,
  parseMetadata,
  parsePriorityFlag,
  positive,
  table as columns,
  UsageError,
} from './limit-flags.js';

export const KEYS_HELP = `Usage: ai-gateway keys <command> [options]

Commands:
  create --name NAME [--models a,b*] [--rpm N] [--tpm N] [--expires 30d|12h|ISO-8601] [--metadata k=v ...]
         [--team ID] [--priority interactive|batch|0-1000] [--max-concurrency N]
         [--budget usd=5/day] [--budget tokens=2000000/month,soft ...]
                      create a key; the key is printed once and only its SHA-256 is stored
  list                list keys (never their secrets)
  show ID             one key: its team, priority, cap, budgets and limits
  revoke ID           revoke a key (refused by every instance within 1 s)
  hash                read a key on standard input, print its SHA-256 and the config line

Where the keys are:
  default             the state store of the config (--config FILE or GATEWAY_CONFIG): Redis when
                      redis.url (or REDIS_URL) is set, else the SQLite file under server.state_dir
  --url URL           a running gateway's admin API instead, with --admin-token TOKEN or
                      GATEWAY_ADMIN_TOKEN

Output: a table for people; --json prints JSON (create prints the same object as POST /admin/keys).
`;

interface Target {
  create(body: Record<string, unknown>): Promise<KeyView & { key: string }>;
  list(): Promise<KeyView[]>;
  show(id: string): Promise<KeyView>;
  revoke(id: string): Promise<KeyView>;
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
  return {
    create: (body) => call('POST', '/admin/keys', body),
    list: async () => (await call<{ data: KeyView[] }>('GET', '/admin/keys')).data,
    show: (id) => call('GET', `/admin/keys/${encodeURIComponent(id)}`),
    revoke: (id) => call('DELETE', `/admin/keys/${encodeURIComponent(id)}`),
    close: () => Promise.resolve(),
  };
}

function localTarget(configPath: string | null): Target {
  const config = loadConfig({ path: configPath, env: process.env });
  const stores = openStores(config, pino({ level: 'silent' }));
  const staticKeys = config.auth.keys.map((key) =>
    toKeyView({
      ...key,
      createdAt: null,
      expiresAt: null,
      revokedAt: null,
      source: 'config',
    }),
  );
  return {
    async create(body) {
      // As the admin API: a key's team must exist (a config team or one of the store).
      const team = body['team'] as string | undefined;
      if (
        team !== undefined &&
        !config.teams.some((candidate) => candidate.id === team) &&
        (await stores.teams.get(team)) === null
      )
        throw new UsageError(`--team: no team has the id '${team}' (see ai-gateway teams list)`);
      const budgets = body['budgets'] as BudgetInput[] | undefined;
      const { key, record } = createKey({
        name: body['name'] as string,
        models: body['models'] as string[] | undefined,
        rateLimit: body['rate_limit'] as RateLimitPolicyConfig | undefined,
        expiresAt: body['expires_at'] as string | undefined,
        metadata: body['metadata'] as Record<string, string> | undefined,
        team,
        priority: body['priority'] === undefined ? undefined : priorityOf(body['priority'] as 'batch'),
        maxConcurrency: body['max_concurrency'] as number | undefined,
        budgets: budgets === undefined ? undefined : budgetsOf(budgets, '--budget', []),
      });
      await stores.keys.create(record);
      return { ...toKeyView(record), key };
    },
    list: async () => [...staticKeys, ...(await stores.keys.list()).map(toKeyView)],
    async show(id) {
      const found = staticKeys.find((key) => key.id === id);
      if (found !== undefined) return found;
      const record = await stores.keys.get(id);
      if (record === null) throw new UsageError(`no key has the id ${id}`);
      return toKeyView(record);
    },
    async revoke(id) {
      if (staticKeys.some((key) => key.id === id))
        throw new UsageError(`${id} is a static key of the config file; remove it there`);
      const record = await stores.keys.revoke(id, new Date().toISOString());
      if (record === null) throw new UsageError(`no key has the id ${id}`);
      return toKeyView(record);
    },
    close: () => stores.close(),
  };
}

/**
 * "30d", "12h", "45m" from now, an RFC 3339 date-time, or a date alone (midnight UTC). A time that does
 * not exist (a leap second, February 30, hour 24) or has no offset (whose local time?) is refused.
 */
export function parseExpiry(text: string, now = Date.now()): string {
  const relative = /^(\d+)([dhm])$/.exec(text);
  let time: number | null;
  if (relative !== null) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2] as 'd' | 'h' | 'm'];
    time = now + Number(relative[1]) * unit;
  } else {
    time = parseTimestamp(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
    if (time === null)
      throw new UsageError(
        `--expires: '${text}' is neither 30d/12h/45m nor an ISO-8601 time that exists (such as 2026-06-30 or 2026-06-30T12:00:00Z)`,
      );
  }
  // 0d would be a key expired on arrival; a count too large for a date has no ISO form.
  if (time <= now) throw new UsageError('--expires: must be in the future');
  if (Number.isNaN(new Date(time).getTime())) throw new UsageError(`--expires: '${text}' is too far ahead`);
  return new Date(time).toISOString();
}

function status(row: KeyView): string {
  return row.revoked_at !== null
    ? 'revoked'
    : row.expires_at !== null && !(Date.parse(row.expires_at) > Date.now())
      ? 'expired'
      : 'active';
}

function table(rows: KeyView[]): string {
  return columns<KeyView>(
    [
      ['ID', (row) => row.id],
      ['NAME', (row) => row.name],
      ['MODELS', (row) => (row.models === null ? '*' : row.models.join(','))],
      ['TEAM', (row) => row.team ?? '-'],
      ['PRIORITY', (row) => String(row.priority)],
      ['BUDGETS', (row) => (row.budgets.length === 0 ? '-' : row.budgets.map(formatBudget).join(', '))],
      ['STATUS', status],
      ['EXPIRES', (row) => row.expires_at ?? '-'],
      ['SOURCE', (row) => row.source],
    ],
    rows,
  );
}

/** Every field of one key, for `keys show`. */
function showKey(row: KeyView): string {
  return details([
    ['id', row.id],
    ['name', row.name],
    ['source', row.source],
    ['status', status(row)],
    ['team', row.team ?? '-'],
    ['priority', String(row.priority)],
    ['max concurrency', row.max_concurrency === null ? '-' : String(row.max_concurrency)],
    ['budgets', row.budgets.length === 0 ? '-' : row.budgets.map(formatBudget).join(', ')],
    ['models', row.models === null ? '*' : row.models.join(', ')],
    ['rate limit', formatRateLimit(row.rate_limit)],
    ['created', row.created_at ?? '-'],
    ['expires', row.expires_at ?? '-'],
    ['revoked', row.revoked_at ?? '-'],
    [
      'metadata',
      Object.entries(row.metadata)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || '-',
    ],
  ]);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function runKeys(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(KEYS_HELP);
    return command === undefined ? 1 : 0;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      url: { type: 'string' },
      'admin-token': { type: 'string' },
      json: { type: 'boolean' },
      name: { type: 'string' },
      models: { type: 'string' },
      rpm: { type: 'string' },
      tpm: { type: 'string' },
      expires: { type: 'string' },
      metadata: { type: 'string', multiple: true },
      team: { type: 'string' },
      priority: { type: 'string' },
      'max-concurrency': { type: 'string' },
      budget: { type: 'string', multiple: true },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    process.stdout.write(KEYS_HELP);
    return 0;
  }
  const json = values.json === true;
  try {
    if (command === 'hash') {
      const key = (await readStdin()).replace(/\r?\n$/, '');
      if (key === '') throw new UsageError('hash: give the key on standard input');
      const hash = sha256Hex(key);
      process.stdout.write(
        json
          ? `${JSON.stringify({ sha256: hash })}\n`
          : `sha256: ${hash}\n\n# in auth.keys:\n- id: my-key\n  sha256: ${hash}\n`,
      );
      return 0;
    }
    if (!['create', 'list', 'show', 'revoke'].includes(command))
      throw new UsageError(`unknown keys command '${command}'`);
    const configPath = values.config ?? (process.env['GATEWAY_CONFIG'] || null);
    const target =
      values.url === undefined
        ? localTarget(configPath)
        : remoteTarget(values.url, values['admin-token'] ?? process.env['GATEWAY_ADMIN_TOKEN']);
    try {
      switch (command) {
        case 'create': {
          if (values.name === undefined || values.name === '')
            throw new UsageError('create: --name is required');
          const rpm = positive('rpm', values.rpm);
          const tpm = positive('tpm', values.tpm);
          const rateLimit: RateLimitPolicyConfig = {
            ...(rpm === undefined ? {} : { requests: `${rpm}/minute` }),
            ...(tpm === undefined ? {} : { tokens: `${tpm}/minute` }),
          };
          const metadata = parseMetadata(values.metadata);
          const body: Record<string, unknown> = { name: values.name };
          if (values.models !== undefined)
            body['models'] = values.models
              .split(',')
              .map((model) => model.trim())
              .filter((model) => model !== '');
          if (rpm !== undefined || tpm !== undefined) {
            for (const text of Object.values(rateLimit) as string[])
              if (parseRate(text) === null) throw new UsageError(`bad rate ${text}`);
            body['rate_limit'] = rateLimit;
          }
          if (values.expires !== undefined) body['expires_at'] = parseExpiry(values.expires);
          if (Object.keys(metadata).length > 0) body['metadata'] = metadata;
          if (values.team !== undefined) body['team'] = values.team;
          if (values.priority !== undefined) body['priority'] = parsePriorityFlag(values.priority);
          const maxConcurrency = positive('max-concurrency', values['max-concurrency']);
          if (maxConcurrency !== undefined) body['max_concurrency'] = maxConcurrency;
          if (values.budget !== undefined) body['budgets'] = values.budget.map(parseBudgetFlag);
          const created = await target.create(body);
          if (json) process.stdout.write(`${JSON.stringify(created)}\n`);
          else {
            process.stdout.write(table([created]));
            process.stdout.write(`\nThe key, shown only this once:\n\n    ${created.key}\n\n`);
          }
          return 0;
        }
        case 'list': {
          const keys = await target.list();
          process.stdout.write(json ? `${JSON.stringify({ data: keys })}\n` : table(keys));
          return 0;
        }
        case 'show': {
          const id = positionals[0];
          if (id === undefined) throw new UsageError('show: give the key id (see keys list)');
          const key = await target.show(id);
          process.stdout.write(json ? `${JSON.stringify(key)}\n` : showKey(key));
          return 0;
        }
        default: {
          const id = positionals[0];
          if (id === undefined) throw new UsageError('revoke: give the key id (see keys list)');
          const revoked = await target.revoke(id);
          process.stdout.write(
            json ? `${JSON.stringify(revoked)}\n` : `revoked ${revoked.id} at ${revoked.revoked_at ?? ''}\n`,
          );
          return 0;
        }
      }
    } finally {
      await target.close();
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`ai-gateway keys: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
