/**
 * The CLI as a user runs it: `node dist/cli.js <command>` in a child process. `npm test` builds dist/
 * first; run `npm run build` before running this file on its own.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, ServeProcess } from '../support/cli-process.js';
import { freePort } from '../support/free-port.js';

const KEY_LINE = /^sk-gw-[0-9A-Za-z]{40}$/;

const BAD_CONFIG = `backends:
  - name: demo
    type: demo
  - name: vllm
    type: openai
    url: localhost:8000/v1
models:
  - name: "*"
    targets: [{ backend: demo }]
`;

const GOOD_CONFIG = `server:
  port: 0
backends:
  - name: demo
    type: demo
models:
  - name: demo
    targets: [{ backend: demo }]
`;

/** Lines that hold nothing but a gateway key (the banner's "shown only this once" line). */
function keyLines(serve: ServeProcess): string[] {
  return serve.lines.map((line) => line.trim()).filter((line) => KEY_LINE.test(line));
}

async function chat(port: number, key: string, requestId: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      'x-request-id': requestId,
    },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'Hello' }] }),
  });
}

describe('ai-gateway CLI: commands and config errors', () => {
  let directory: string;
  let badConfig: string;
  let goodConfig: string;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-cli-'));
    badConfig = join(directory, 'bad.yaml');
    goodConfig = join(directory, 'good.yaml');
    writeFileSync(badConfig, BAD_CONFIG);
    writeFileSync(goodConfig, GOOD_CONFIG);
  });
  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('check-config --config bad.yaml exits 2, naming the field on stderr', async () => {
    const result = await runCli(['check-config', '--config', badConfig], { cwd: directory });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /backends\[1\]\.url: must be an http\(s\) URL/);
    assert.equal(result.stdout, '');
  });

  it('serve --config bad.yaml exits 2 before listening, naming the field on stderr', async () => {
    const result = await runCli(['serve', '--config', badConfig], {
      cwd: directory,
      env: { LOG_LEVEL: 'info' },
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /backends\[1\]\.url: must be an http\(s\) URL/);
    assert.ok(!result.stdout.includes('listening'));
  });

  it('GATEWAY_CONFIG=bad.yaml serve exits 2 likewise', async () => {
    const result = await runCli(['serve'], {
      cwd: directory,
      env: { GATEWAY_CONFIG: badConfig, LOG_LEVEL: 'info' },
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /backends\[1\]\.url: must be an http\(s\) URL/);
  });

  it('check-config exits 2 for every problem of a config with several, listing them all', async () => {
    const path = join(directory, 'several.yaml');
    writeFileSync(path, 'servr: {}\ncache:\n  scope: tenant\n');
    const result = await runCli(['check-config', '--config', path], { cwd: directory });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /servr: unknown field/);
    assert.match(result.stderr, /cache\.scope: must be one of: key, global/);
  });

  it('check-config exits 2 for a config file that does not exist', async () => {
    const result = await runCli(['check-config', '--config', join(directory, 'missing.yaml')], {
      cwd: directory,
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /missing\.yaml: cannot read the config file/);
  });

  it('check-config with a good config exits 0', async () => {
    const result = await runCli(['check-config', '--config', goodConfig], { cwd: directory });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /good\.yaml: valid/);
    assert.equal(result.stderr, '');
  });

  it('check-config reads GATEWAY_CONFIG too', async () => {
    const result = await runCli(['check-config'], { cwd: directory, env: { GATEWAY_CONFIG: goodConfig } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /good\.yaml: valid/);
  });

  it('--help exits 0 and describes serve', async () => {
    const result = await runCli(['--help'], { cwd: directory });
    assert.equal(result.code, 0);
    assert.match(result.stdout, /ai-gateway serve/);
    assert.match(result.stdout, /check-config/);
  });

  it('serve --help exits 0 without serving', async () => {
    const result = await runCli(['serve', '--help'], { cwd: directory });
    assert.equal(result.code, 0);
    assert.match(result.stdout, /Usage: ai-gateway serve/);
  });

  it('an unknown command exits 1 and says so on stderr', async () => {
    const result = await runCli(['frobnicate'], { cwd: directory });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Unknown command 'frobnicate'/);
  });

  it('an unknown option exits 1', async () => {
    const result = await runCli(['check-config', '--confgi', goodConfig], { cwd: directory });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--confgi/);
  });
});

describe('ai-gateway serve: first start in an empty directory', () => {
  let directory: string;
  const running = new Set<ServeProcess>();
  let firstKey = '';

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-first-start-'));
  });
  after(async () => {
    await Promise.all([...running].map((server) => server.stop()));
    rmSync(directory, { recursive: true, force: true });
  });

  async function start(): Promise<{ serve: ServeProcess; port: number }> {
    const port = await freePort();
    const serve = new ServeProcess({
      cwd: directory,
      env: { HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' },
    });
    running.add(serve);
    const listening = await serve.waitForLog("the 'listening' log line", (log) => log['msg'] === 'listening');
    assert.equal(listening['url'], `http://127.0.0.1:${port}`);
    return { serve, port };
  }

  it('creates a key, prints it once, keeps its state under ./.gateway, and the key works', async () => {
    const { serve, port } = await start();
    const keyLine = await serve.waitForLine('the new key', (line) => KEY_LINE.test(line.trim()));
    firstKey = keyLine.trim();
    assert.ok(
      existsSync(join(directory, '.gateway')),
      'state_dir defaults to ./.gateway in the working directory',
    );

    const response = await chat(port, firstKey, 'first-start-1');
    assert.equal(response.status, 200);
    const body = (await response.json()) as { model: string; choices: { message: { content: string } }[] };
    assert.equal(body.model, 'demo');
    assert.match(body.choices[0]?.message.content ?? '', /demo model/);

    // The request's log line is written after the banner, so the whole banner has been read by now.
    const log = await serve.waitForLog(
      'the request log line',
      (entry) => entry['request_id'] === 'first-start-1',
    );
    assert.equal(log['status'], 200);
    assert.deepEqual(keyLines(serve), [firstKey]);
    // Every key-shaped string in the output (the banner also has a curl example) is that same key.
    const printed = new Set(serve.lines.join('\n').match(/sk-gw-[0-9A-Za-z]+/g));
    assert.deepEqual([...printed], [firstKey]);
    // The key never reaches a log line.
    assert.ok(serve.logs.every((entry) => !JSON.stringify(entry).includes(firstKey)));

    const refused = await chat(port, 'sk-gw-not-the-key-0000000000000000000000000000', 'first-start-2');
    assert.equal(refused.status, 401);
    await refused.body?.cancel();

    assert.equal(await serve.stop(), 0);
    running.delete(serve);
  });

  it('a second start in the same directory prints no new key, and the first key still works', async () => {
    assert.ok(KEY_LINE.test(firstKey), 'the previous test created a key');
    const { serve, port } = await start();

    const response = await chat(port, firstKey, 'second-start-1');
    assert.equal(response.status, 200);
    await response.body?.cancel();

    const log = await serve.waitForLog(
      'the request log line',
      (entry) => entry['request_id'] === 'second-start-1',
    );
    assert.equal(log['status'], 200);
    assert.deepEqual(keyLines(serve), []);
    assert.ok(!serve.lines.join('\n').includes('sk-gw-'));

    assert.equal(await serve.stop(), 0);
    running.delete(serve);
  });
});
