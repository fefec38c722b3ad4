import { parseArgs } from 'node:util';
import pino from 'pino';
import { toKeyView } from '../admin/admin-routes.js';
import type { KeyView } from '../api/admin-schemas.js';
import { sha256Hex } from '../auth/api-key.js';
import { createKey } from '../auth/key-factory.js';
import { parseTimestamp } from '../auth/timestamp.js';
import type { RateLimitPolicyConfig } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import { parseRate } from '../config/rate-string.js';
import { openStores } from '../state/stores.js';
import { problemDetail } from './problem-detail.js';

export const KEYS_HELP = `Usage: ai-gateway keys <command> [options]

Commands:
  create --name NAME [--models a,b*] [--rpm N] [--tpm N] [--expires 30d|12h|ISO-8601] [--metadata k=v ...]
                      create a key; the key is printed once and only its SHA-256 is stored
  list                list keys (never their secrets)
  revoke ID           revoke a key (refused by every instance within 1 s)
  hash                read a key on standard input, print its SHA-256 and the config line

Where the keys are:
  default             the state store of the config (--config FILE or GATEWAY_CONFIG): Redis when
                      redis.url (or REDIS_URL) is set, else the SQLite file under server.state_dir
  --url URL           a running gateway's admin API instead, with --admin-token TOKEN or
                      GATEWAY_ADMIN_TOKEN

Output: a table for people; --json prints JSON (create prints the same object as POST /admin/keys).
`;

class UsageError extends Error {}

interface Target {
  create(body: Record<string, unknown>): Promise<KeyView & { key: string }>;
  list(): Promise<KeyView[]>;
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
      const { key, record } = createKey({
        name: body['name'] as string,
        models: body['models'] as string[] | undefined,
        rateLimit: body['rate_limit'] as RateLimitPolicyConfig | undefined,
        expiresAt: body['expires_at'] as string | undefined,
        metadata: body['metadata'] as Record<string, string> | undefined,
      });
      await stores.keys.create(record);
      return { ...toKeyView(record), key };
    },
    list: async () => [...staticKeys, ...(await stores.keys.list()).map(toKeyView)],
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

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new UsageError(`--${name}: must be a positive whole number`);
  return value;
}

function table(rows: KeyView[]): string {
  const columns: [string, (row: KeyView) => string][] = [
    ['ID', (row) => row.id],
    ['NAME', (row) => row.name],
    ['MODELS', (row) => (row.models === null ? '*' : row.models.join(','))],
    [
      'STATUS',
      (row) =>
        row.revoked_at !== null
          ? 'revoked'
          : row.expires_at !== null && !(Date.parse(row.expires_at) > Date.now())
            ? 'expired'
            : 'active',
    ],
    ['EXPIRES', (row) => row.expires_at ?? '-'],
    ['SOURCE', (row) => row.source],
  ];
  const cells = [columns.map(([title]) => title), ...rows.map((row) => columns.map(([, get]) => get(row)))];
  const widths = columns.map((_, index) => Math.max(...cells.map((line) => (line[index] ?? '').length)));
  return (
    cells
      .map((line) =>
        line
          .map((cell, index) => cell.padEnd(widths[index] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
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
    if (!['create', 'list', 'revoke'].includes(command))
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
          const metadata: Record<string, string> = {};
          for (const pair of values.metadata ?? []) {
            const at = pair.indexOf('=');
            if (at < 1) throw new UsageError(`--metadata: '${pair}' is not key=value`);
            metadata[pair.slice(0, at)] = pair.slice(at + 1);
          }
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
