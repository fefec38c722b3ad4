/**
 * The CLI as a user runs it: `node dist/cli.js <command>` in a child process. `npm test` builds dist/
 * first; run `npm run build` before running this file on its own.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const WAIT_MS = 15_000;
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

/** The environment of a child: none of the gateway's variables leak in from the test runner. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const gatewayVariables = new Set([
    'GATEWAY_CONFIG',
    'HOST',
    'PORT',
    'REDIS_URL',
    'LOG_LEVEL',
    'GATEWAY_ADMIN_TOKEN',
    'OLLAMA_URL',
  ]);
  const inherited = Object.entries(process.env).filter(([name]) => !gatewayVariables.has(name));
  return { ...Object.fromEntries(inherited), ...extra };
}

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to completion. */
function runCli(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: childEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `ai-gateway ${args.join(' ')} did not exit within ${WAIT_MS} ms; stdout: ${stdout}; stderr: ${stderr}`,
        ),
      );
    }, WAIT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(deadline);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A port nobody listens on right now: bind port 0, note the port, close. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return address.port;
}

/** A `serve` process whose stdout is read line by line: JSON log lines and the plain-text key banner. */
class ServeProcess {
  readonly lines: string[] = [];
  readonly logs: Record<string, unknown>[] = [];
  stderr = '';
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  private partial = '';
  private readonly waiters = new Set<() => void>();

  constructor(cwd: string, env: Record<string, string>) {
    this.child = spawn(process.execPath, [CLI, 'serve'], {
      cwd,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      const parts = (this.partial + text).split('\n');
      this.partial = parts.pop() ?? '';
      for (const line of parts) {
        this.lines.push(line);
        if (line.startsWith('{')) {
          try {
            this.logs.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            // not a log line
          }
        }
      }
      this.notify();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code) => {
        this.exitCode = code;
        this.notify();
        resolve(code);
      });
    });
  }

  private notify(): void {
    for (const waiter of this.waiters) waiter();
  }

  /** Resolves once a stdout line satisfies the predicate; fails if the process exits first. */
  waitForLine(description: string, predicate: (line: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.lines.find(predicate);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.exitCode !== undefined) {
          done();
          reject(
            new Error(
              `serve exited (${String(this.exitCode)}) before ${description}; stderr: ${this.stderr}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out waiting for ${description}; stdout: ${this.lines.join('\n')}; stderr: ${this.stderr}`,
          ),
        );
      }, WAIT_MS);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  waitForLog(
    description: string,
    predicate: (log: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>> {
    return this.waitForLine(description, (line) => {
      if (!line.startsWith('{')) return false;
      try {
        return predicate(JSON.parse(line) as Record<string, unknown>);
      } catch {
        return false;
      }
    }).then((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Lines that hold nothing but a gateway key (the banner's "shown only this once" line). */
  keyLines(): string[] {
    return this.lines.map((line) => line.trim()).filter((line) => KEY_LINE.test(line));
  }

  /** SIGTERM, then waits for the exit; SIGKILL if the graceful shutdown hangs. */
  async stop(): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.child.kill('SIGKILL');
    }, WAIT_MS);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
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
    const serve = new ServeProcess(directory, { HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' });
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
    assert.deepEqual(serve.keyLines(), [firstKey]);
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
    assert.deepEqual(serve.keyLines(), []);
    assert.ok(!serve.lines.join('\n').includes('sk-gw-'));

    assert.equal(await serve.stop(), 0);
    running.delete(serve);
  });
});
