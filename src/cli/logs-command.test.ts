import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteRequestLogStore } from '../request-log/sqlite-request-log-store.js';
import type { RequestRecord } from '../request-log/request-record.js';
import {
  filterParamsOf,
  logCells,
  logTable,
  LOGS_HELP,
  readEvents,
  runLogs,
  timeFlag,
  type LogsIo,
} from './logs-command.js';

const NOW = Date.UTC(2026, 11, 2, 14, 0, 0);

function io(env: Record<string, string> = {}): LogsIo & { out: string; err: string } {
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

function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    time: NOW - 60_000,
    request_id: 'req-1',
    key_id: 'team-a',
    team: null,
    protocol: 'openai-chat',
    route: '/v1/chat/completions',
    model: 'small',
    route_name: 'small',
    backend: 'local',
    upstream_model: 'qwen',
    status: 200,
    error_code: null,
    attempts: [],
    cache: 'MISS',
    ttfb_ms: 40,
    duration_ms: 120,
    prompt_tokens: 11,
    completion_tokens: 6,
    cached_tokens: 0,
    reasoning_tokens: 0,
    cost_micros: 23,
    client_address: '127.0.0.1',
    user_agent: null,
    prompt: null,
    answer: null,
    ...overrides,
  };
}

describe('ai-gateway logs: flags', () => {
  it('--since and --until take a span before now, or pass a time as it is', () => {
    assert.equal(timeFlag('1h', NOW), String(NOW - 3_600_000));
    assert.equal(timeFlag('30s', NOW), String(NOW - 30_000));
    assert.equal(timeFlag('7d', NOW), String(NOW - 7 * 86_400_000));
    assert.equal(timeFlag('2026-12-01T10:00:00Z', NOW), '2026-12-01T10:00:00Z');
    assert.equal(timeFlag(undefined, NOW), undefined);
  });

  it('maps the flags to the query parameters of /admin/requests, leaving out those not given', () => {
    assert.deepEqual(
      filterParamsOf(
        { key: 'k', 'error-code': 'upstream_error', since: '15m', 'min-duration': '500', json: true },
        NOW,
      ),
      { key: 'k', error_code: 'upstream_error', from: String(NOW - 900_000), min_duration_ms: '500' },
    );
  });

  it('names the flag that is wrong, not the query parameter', async () => {
    for (const [flags, pattern] of [
      [['--status', '6xx'], /^ai-gateway logs: --status: '6xx'/],
      [['--since', 'yesterday'], /^ai-gateway logs: --since: 'yesterday' is not a time/],
      [['--cache', 'maybe'], /^ai-gateway logs: --cache:/],
      [['--min-duration=-1'], /^ai-gateway logs: --min-duration:/],
      [['--limit', '5000'], /^ai-gateway logs: --limit:/],
      [['--follow'], /--follow needs --url/],
      [['--url', 'http://127.0.0.1:1'], /--url needs --admin-token/],
      [['--colour'], /Unknown option '--colour'/],
    ] as const) {
      const captured = io();
      assert.equal(await runLogs([...flags], captured), 1, flags.join(' '));
      assert.match(captured.err, pattern, flags.join(' '));
    }
  });

  it('--help prints the help', async () => {
    const captured = io();
    assert.equal(await runLogs(['--help'], captured), 0);
    assert.equal(captured.out, LOGS_HELP);
  });
});

describe('ai-gateway logs: output', () => {
  it('a table: time in UTC, status, key, model, backend, duration, tokens, cost, error', () => {
    const table = logTable([
      record(),
      record({
        status: 502,
        error_code: 'upstream_error',
        completion_tokens: null,
        prompt_tokens: null,
        cost_micros: null,
      }),
    ]);
    const lines = table.trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      /^TIME\s+STATUS\s+KEY\s+MODEL\s+BACKEND\s+DURATION\s+TOKENS\s+COST\s+ERROR$/,
    );
    assert.match(
      lines[1] ?? '',
      /^2026-12-02T13:59:00Z\s+200\s+team-a\s+small\s+local\s+120 ms\s+11\/6\s+\$0\.000023$/,
    );
    assert.match(lines[2] ?? '', /502\s+team-a\s+small\s+local\s+120 ms\s+-\s+-\s+upstream_error$/);
  });

  it('shows control characters that clients sent escaped, never raw', () => {
    const cells = logCells(
      record({ key_id: 'evil\u001b[31m', model: 'm\u202egpt', error_code: null, cache: 'HIT' }),
    );
    assert.equal(cells[2], 'evil\\x1b[31m');
    assert.equal(cells[3], 'm\\u202egpt');
    assert.equal(cells[8], 'cache hit');
  });

  it('reads server-sent events split anywhere, skipping comments', async () => {
    const text =
      ': subscribed\n\nevent: request\nid: a\ndata: {"n":1}\n\n: heartbeat\n\nevent: request\ndata: {"n":2}\n\n';
    const bytes = new TextEncoder().encode(text);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let index = 0; index < bytes.length; index += 7)
          controller.enqueue(bytes.slice(index, index + 7));
        controller.close();
      },
    });
    const events: string[] = [];
    await readEvents(body, (data) => events.push(data));
    assert.deepEqual(events, ['{"n":1}', '{"n":2}']);
  });
});

describe('ai-gateway logs: the SQLite file of the config, without --url', () => {
  let directory: string;
  let config: string;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'gw-logs-command-'));
    const stateDir = join(directory, 'state');
    const store = new SqliteRequestLogStore({ stateDir, retentionDays: 30 });
    await store.migrate();
    await store.write([
      record({ request_id: 'old', time: NOW - 2 * 3_600_000 }),
      record({ request_id: 'new-error', status: 503, error_code: 'service_unavailable' }),
      record({ request_id: 'other-key', key_id: 'team-b\u0007' }),
    ]);
    await store.close();
    config = join(directory, 'gateway.yaml');
    writeFileSync(
      config,
      `server:\n  state_dir: ${stateDir}\nbackends:\n  - name: demo\n    type: demo\nmodels:\n  - name: demo\n    targets: [{ backend: demo }]\n`,
    );
  });
  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('--json: NDJSON, newest first, filtered, control characters escaped', async () => {
    const captured = io();
    assert.equal(await runLogs(['--config', config, '--since', '1h', '--json'], captured), 0, captured.err);
    const lines = captured.out.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.ok(lines.every((line) => !line.includes('\u0007')));
    const ids = lines.map((line) => (JSON.parse(line) as { request_id: string }).request_id).sort();
    assert.deepEqual(ids, ['new-error', 'other-key']);
  });

  it('filters by status class and key', async () => {
    const captured = io();
    assert.equal(
      await runLogs(['--config', config, '--status', '5xx', '--key', 'team-a'], captured),
      0,
      captured.err,
    );
    const rows = captured.out.trimEnd().split('\n').slice(1);
    assert.equal(rows.length, 1);
    assert.match(rows[0] ?? '', /503\s+team-a.*service_unavailable$/);
  });

  it('says so when nothing matches, and when the state directory has no request log', async () => {
    const none = io();
    assert.equal(await runLogs(['--config', config, '--model', 'nothing'], none), 0);
    assert.equal(none.out, 'No requests match.\n');
    const elsewhere = join(directory, 'elsewhere.yaml');
    writeFileSync(
      elsewhere,
      `server:\n  state_dir: ${join(directory, 'empty')}\nbackends:\n  - name: demo\n    type: demo\nmodels:\n  - name: demo\n    targets: [{ backend: demo }]\n`,
    );
    const missing = io();
    assert.equal(await runLogs(['--config', elsewhere], missing), 1);
    assert.match(missing.err, /no request log at .*request-log\.db/);
  });
});
