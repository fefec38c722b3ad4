import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EmbeddedStore } from '../state/embedded/embedded-store.js';
import { EmbeddedUsageStore } from '../usage/embedded-usage-store.js';
import { hourOf } from '../usage/hours.js';
import type { UsageRow } from '../usage/usage.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { printable, runUsage, USAGE_HELP, usageTable, type UsageIo, budgetTable } from './usage-command.js';

const NOW = Date.now();
const HOUR = hourOf(NOW - 3_600_000);

function io(env: Record<string, string> = {}): UsageIo & { out: string; err: string } {
  const captured = {
    out: '',
    err: '',
    env,
    now: () => NOW,
    stdout: {
      write: (text: string) => {
        captured.out += text;
      },
    },
    stderr: {
      write: (text: string) => {
        captured.err += text;
      },
    },
  };
  return captured;
}

/** A config file with the demo backend and a state dir, in a new temporary directory, and its store. */
function demoConfig(prefix: string): { directory: string; config: string; embedded: EmbeddedStore } {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  const stateDir = join(directory, 'state');
  const config = join(directory, 'gateway.yaml');
  writeFileSync(
    config,
    `server:\n  state_dir: ${JSON.stringify(stateDir)}\nbackends:\n  - name: demo\n    type: demo\nmodels:\n  - name: demo\n    targets: [{ backend: demo }]\n`,
  );
  return { directory, config, embedded: new EmbeddedStore(stateDir) };
}

describe('usageTable', () => {
  it('aligns the group columns left and the numbers right, cost - when unpriced', () => {
    const rows: UsageRow[] = [
      {
        key: 'team-a',
        model: 'llama',
        requests: 12,
        errors: 1,
        cached: 0,
        prompt_tokens: 1234,
        completion_tokens: 56,
        total_tokens: 1290,
        cost: 0.0123,
      },
      {
        key: 'b',
        model: 'qwen-long-name',
        requests: 3,
        errors: 0,
        cached: 2,
        prompt_tokens: 5,
        completion_tokens: 6,
        total_tokens: 11,
        cost: null,
      },
    ];
    assert.equal(
      usageTable(rows, ['key', 'model']),
      [
        'KEY     MODEL           REQUESTS  ERRORS  CACHED  PROMPT_TOKENS  COMPLETION_TOKENS  TOTAL_TOKENS    COST',
        'team-a  llama                 12       1       0           1234                 56          1290  0.0123',
        'b       qwen-long-name         3       0       2              5                  6            11       -',
        '',
      ].join('\n'),
    );
  });
});

describe('ai-gateway usage (in process, on the SQLite file of a config)', () => {
  let directory: string;
  let config: string;

  before(async () => {
    const setup = demoConfig('gw-usage-cli-');
    ({ directory, config } = setup);
    const embedded = setup.embedded;
    await new EmbeddedUsageStore(embedded.db, 90).add([
      {
        hour: HOUR,
        keyId: 'team-a',
        model: 'demo',
        requests: 2,
        errors: 1,
        cached: 0,
        promptTokens: 20,
        completionTokens: 10,
        costMicros: null,
      },
      {
        hour: HOUR,
        keyId: 'team-b',
        model: 'demo',
        requests: 1,
        errors: 0,
        cached: 1,
        promptTokens: 5,
        completionTokens: 5,
        costMicros: 1500,
      },
    ]);
    await embedded.close();
  });

  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('prints a table by default', async () => {
    const out = io();
    assert.equal(await runUsage(['--config', config], out), 0, out.err);
    const lines = out.out.split('\n');
    assert.match(lines[0] ?? '', /^Usage from \S+Z to \S+Z/);
    assert.match(lines[2] ?? '', /^KEY\s+MODEL\s+REQUESTS/);
    assert.match(lines[3] ?? '', /^team-a\s+demo\s+2\s+1\s+0\s+20\s+10\s+30\s+-$/);
    assert.match(lines[4] ?? '', /^team-b\s+demo\s+1\s+0\s+1\s+5\s+5\s+10\s+0\.0015$/);
  });

  it('prints the JSON of GET /admin/usage with --json, and CSV with --csv', async () => {
    const json = io({ GATEWAY_CONFIG: config });
    assert.equal(await runUsage(['--json', '--group-by', 'model', '--key', 'team-a'], json), 0, json.err);
    const answer = JSON.parse(json.out) as { data: UsageRow[]; from: string; to: string };
    assert.deepEqual(answer.data, [
      {
        model: 'demo',
        requests: 2,
        errors: 1,
        cached: 0,
        prompt_tokens: 20,
        completion_tokens: 10,
        total_tokens: 30,
        cost: null,
      },
    ]);
    assert.equal(answer.to, new Date(NOW).toISOString());
    const csv = io();
    assert.equal(await runUsage(['--config', config, '--csv', '--group-by', ''], csv), 0, csv.err);
    assert.equal(
      csv.out,
      'requests,errors,cached,prompt_tokens,completion_tokens,total_tokens,cost\r\n3,1,1,25,15,40,0.0015\r\n',
    );
  });

  it('says so when there is no usage in the span', async () => {
    const out = io();
    assert.equal(await runUsage(['--config', config, '--from', '2020-01-01', '--to', '2020-01-02'], out), 0);
    assert.equal(out.out, 'No usage from 2020-01-01T00:00:00.000Z to 2020-01-02T00:00:00.000Z.\n');
  });

  it('names the option at fault, and exits 1', async () => {
    for (const [args, message] of [
      [['--group-by', 'week'], /^ai-gateway usage: --group-by: 'week' is not a grouping/],
      [['--from', 'yesterday'], /^ai-gateway usage: --from: 'yesterday' is not a time/],
      [['--from', '2020-01-02', '--to', '2020-01-01'], /^ai-gateway usage: --from: must be before to/],
      [['--json', '--csv'], /^ai-gateway usage: --json and --csv: choose one/],
      [['--nonsense'], /^ai-gateway usage: Unknown option '--nonsense'/],
      [
        ['--url', 'http://127.0.0.1:1'],
        /^ai-gateway usage: --url needs --admin-token or GATEWAY_ADMIN_TOKEN/,
      ],
    ] as const) {
      const out = io();
      assert.equal(await runUsage(['--config', config, ...args], out), 1, args.join(' '));
      assert.match(out.err, message);
      assert.equal(out.out, '');
    }
  });

  it('shows its help', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const out = io();
      assert.equal(await runUsage(args, out), 0);
      assert.equal(out.out, USAGE_HELP);
    }
  });
});

// Issue 16, finding 7: model names (and key ids) with control characters reached the terminal raw.
describe('ai-gateway usage with control characters in key ids and model names', () => {
  /** ESC sequences that clear the screen and set the window title, BEL, a line break, an RTL override. */
  const HOSTILE_MODEL = '\u001b[2J\u001b]0;owned\u0007gpt\nfake\u202eexe\u009b1m';
  const ESCAPED_MODEL = '\\x1b[2J\\x1b]0;owned\\x07gpt\\nfake\\u202eexe\\x9b1m';
  /** Anything a terminal could act on; a line break is allowed only as a line end. */
  const UNSAFE =
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
  const row: UsageRow = {
    key: 'team\u0007a',
    model: HOSTILE_MODEL,
    requests: 1,
    errors: 1,
    cached: 0,
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
    cost: null,
  };
  let directory: string;
  let config: string;
  let server: Server;
  let url: string;

  before(async () => {
    const setup = demoConfig('gw-usage-cli-controls-');
    ({ directory, config } = setup);
    const embedded = setup.embedded;
    await new EmbeddedUsageStore(embedded.db, 90).add([
      {
        hour: HOUR,
        keyId: 'team\u0007a',
        model: HOSTILE_MODEL,
        requests: 1,
        errors: 1,
        cached: 0,
        promptTokens: 0,
        completionTokens: 0,
        costMicros: null,
      },
    ]);
    await embedded.close();
    // A gateway (an older one, or not a gateway at all) whose answers carry the raw names.
    server = createServer((request, response) => {
      if (request.headers.accept === 'text/csv') {
        response.writeHead(200, { 'content-type': 'text/csv' });
        response.end(`key,model,requests\r\nteam\u0007a,"${HOSTILE_MODEL}",1\r\n`);
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ data: [row], from: '2030-01-01T00:00:00.000Z\u001b[31m', to: 'x' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(directory, { recursive: true, force: true });
  });

  it('printable() writes control characters as escapes and a backslash doubled', () => {
    assert.equal(printable(HOSTILE_MODEL), ESCAPED_MODEL);
    assert.equal(printable('a\\x1b\tb\r\u2066\u007f'), 'a\\\\x1b\\tb\\r\\u2066\\x7f');
    assert.equal(printable('plain llama3.2:1b é 世界'), 'plain llama3.2:1b é 世界');
  });

  it('shows them escaped in the table, from the store and from a gateway', async () => {
    for (const args of [
      ['--config', config],
      ['--url', url, '--admin-token', 't'],
    ]) {
      const out = io();
      assert.equal(await runUsage(args, out), 0, out.err);
      assert.doesNotMatch(out.out, UNSAFE, args[0]);
      const lines = out.out.split('\n');
      assert.match(
        lines.at(-2) ?? '',
        /^team\\x07a\s+\\x1b\[2J\\x1b\]0;owned\\x07gpt\\nfake\\u202eexe\\x9b1m\s+1\s+1\s/,
      );
    }
  });

  it('leaves them out of CSV and escapes them in JSON, from the store and from a gateway', async () => {
    for (const source of [
      ['--config', config],
      ['--url', url, '--admin-token', 't'],
    ]) {
      const csv = io();
      assert.equal(await runUsage([...source, '--csv'], csv), 0, csv.err);
      assert.doesNotMatch(csv.out.replaceAll('\r\n', ''), UNSAFE, source[0]);
      assert.match(csv.out, /\r\nteama,"?\[2J\]0;ownedgptfakeexe1m"?,1/);
      const json = io();
      assert.equal(await runUsage([...source, '--json'], json), 0, json.err);
      assert.doesNotMatch(json.out.slice(0, -1), UNSAFE, source[0]);
      // Still the same names, once parsed.
      const answer = JSON.parse(json.out) as { data: UsageRow[] };
      assert.equal(answer.data[0]?.model, HOSTILE_MODEL);
      assert.equal(answer.data[0]?.key, 'team\u0007a');
    }
  });
});

describe('budgetTable', () => {
  it('shows each budget with its amounts in its unit, soft ones marked, and when it resets', () => {
    const table = budgetTable([
      {
        scope: 'key:ci-bot',
        unit: 'usd',
        limit: 5,
        window: 'day',
        soft: false,
        spent: 1.2345,
        reserved: 0.01,
        remaining: 3.7555,
        window_end: '2026-12-03T00:00:00.000Z',
      },
      {
        scope: 'team:research',
        unit: 'tokens',
        limit: 2_000_000,
        window: 'total',
        soft: true,
        spent: 1500,
        reserved: 0,
        remaining: 1_998_500,
        window_end: null,
      },
    ]);
    const lines = table.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? '', /^SCOPE\s+WINDOW\s+LIMIT\s+SPENT\s+RESERVED\s+REMAINING\s+RESETS$/);
    assert.match(
      lines[1] ?? '',
      /^key:ci-bot\s+day\s+\$5\.0000\s+\$1\.2345\s+\$0\.0100\s+\$3\.7555\s+2026-12-03T00:00:00\.000Z$/,
    );
    assert.match(lines[2] ?? '', /^team:research\s+total \(soft\)\s+2000000\s+1500\s+0\s+1998500\s+never$/);
  });
});
