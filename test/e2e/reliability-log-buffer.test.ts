/**
 * Issue 17, item 7: a stalled log reader. With stdout a pipe that nobody reads (a stuck log collector,
 * a blocked container log driver), pino's asynchronous destination kept every line: 74,000 requests
 * left 28.6 MB of lines in memory and RSS climbed until an out-of-memory kill. Now at most
 * logging.max_buffer_bytes are held; later lines are dropped, counted in
 * gateway_log_lines_dropped_total, and said once on stderr (and once more when stdout is read again).
 * And SIGTERM still ends the process: the exit-time flush no longer waits for the pipe for ever.
 *
 * The real CLI in a child process whose stdout is a pipe this test stops reading.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { CLI, childEnv } from '../support/cli-process.js';

/** The bound under test: small, so that a few thousand requests go past it. */
const MAX_BUFFER_BYTES = 256 * 1024;
/**
 * What the pipe itself holds besides the gateway's buffer: the kernel's socket buffers and what this
 * process read before it paused. A few hundred KiB on Linux; generous.
 */
const PIPE_SLACK_BYTES = 1024 * 1024;
/** Enough requests that their lines (~300 bytes each) are several times the bound and the slack. */
const REQUESTS = 8_000;
const WAIT_MS = 20_000;

interface Gateway {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves when `predicate` holds for stderr; fails after WAIT_MS. */
  waitForStderr(description: string, predicate: (text: string) => boolean): Promise<void>;
}

/**
 * Starts `serve` with stdout a pipe: read until the 'listening' line, then paused and never read
 * again (stderr is read throughout).
 */
async function startWithStuckStdout(configPath: string): Promise<Gateway> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', configPath], {
    env: childEnv({ LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
    for (const waiter of waiters) waiter();
  });
  const stdout = child.stdout;
  assert.ok(stdout !== null);
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      reject(new Error(`no 'listening' line; stderr: ${stderr}`));
    }, WAIT_MS);
    const onData = (chunk: string): void => {
      text += chunk;
      const match = /"url":"([^"]+)"[^\n]*"msg":"listening"/.exec(text);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      stdout.off('data', onData);
      stdout.pause();
      resolve(match[1]);
    };
    stdout.setEncoding('utf8').on('data', onData);
  });
  return {
    child,
    url,
    stderr: () => stderr,
    waitForStderr: (description, predicate) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (!predicate(stderr)) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out waiting for ${description} on stderr: ${stderr}`));
        }, WAIT_MS);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
  };
}

/** Sends `count` chat requests, 16 at a time; every one must be answered 200. */
async function sendRequests(url: string, count: number, agent: Agent): Promise<void> {
  const body = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hello' }] });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const response = await request(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        dispatcher: agent,
      });
      await response.body.text();
      assert.equal(response.statusCode, 200);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

async function droppedMetric(url: string, agent: Agent): Promise<number> {
  const response = await request(`${url}/metrics`, { dispatcher: agent });
  const text = await response.body.text();
  const match = /^gateway_log_lines_dropped_total (\d+)$/m.exec(text);
  assert.ok(match?.[1] !== undefined, 'gateway_log_lines_dropped_total is exposed');
  return Number(match[1]);
}

/** Reads stdout from now on: what the pipe held, then what is written. */
function readStdout(child: ChildProcess): { text(): string; waitFor(marker: string): Promise<void> } {
  const stdout = child.stdout;
  assert.ok(stdout !== null);
  let text = '';
  const waiters = new Set<() => void>();
  stdout.on('data', (chunk: string) => {
    text += chunk;
    for (const waiter of waiters) waiter();
  });
  stdout.resume();
  return {
    text: () => text,
    waitFor: (marker) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (!text.includes(marker)) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${marker} not on stdout within ${WAIT_MS} ms`));
        }, WAIT_MS);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
  };
}

function exitWithin(child: ChildProcess, ms: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) {
      resolve(child.exitCode);
      return;
    }
    const timer = setTimeout(() => {
      reject(new Error(`did not exit within ${ms} ms of SIGTERM`));
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const DROPPING =
  /"max_buffer_bytes":262144,"msg":"stdout is not read: log lines past the buffer bound are dropped/;
const RECOVERED = /"dropped_lines":(\d+),"msg":"stdout is read again/;

describe('a stalled log reader (issue 17, item 7)', () => {
  let directory: string;
  let configPath: string;
  const children: ChildProcess[] = [];
  const agent = new Agent({ connections: 16 });

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-log-buffer-'));
    configPath = join(directory, 'gateway.yaml');
    writeFileSync(
      configPath,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0, state_dir: join(directory, 'state'), shutdown_grace_ms: 2000 },
        backends: [{ name: 'demo', type: 'demo' }],
        models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
        auth: { enabled: false },
        cache: { enabled: false },
        usage: { enabled: false },
        logging: { max_buffer_bytes: MAX_BUFFER_BYTES },
      }),
    );
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await agent.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('holds at most logging.max_buffer_bytes of lines, counts the dropped ones and says so on stderr, once each way', async () => {
    const gateway = await startWithStuckStdout(configPath);
    children.push(gateway.child);
    await sendRequests(gateway.url, REQUESTS, agent);

    const droppedWhileStuck = await droppedMetric(gateway.url, agent);
    assert.ok(droppedWhileStuck > 0, 'lines past the bound were dropped');
    await gateway.waitForStderr('the notice that lines are dropped', (text) => DROPPING.test(text));
    assert.equal(gateway.stderr().match(new RegExp(DROPPING, 'g'))?.length, 1, 'said once');

    // The log collector comes back: what was held arrives, then the gateway says how much it dropped.
    const stdout = readStdout(gateway.child);
    await gateway.waitForStderr('the notice that lines are written again', (text) => RECOVERED.test(text));
    const heldBytes = Buffer.byteLength(stdout.text());
    assert.ok(
      heldBytes <= MAX_BUFFER_BYTES + PIPE_SLACK_BYTES,
      `${heldBytes} bytes were held; at most ${MAX_BUFFER_BYTES} + what the pipe holds`,
    );
    const recovered = Number(RECOVERED.exec(gateway.stderr())?.[1]);
    assert.ok(recovered >= droppedWhileStuck, `the notice counts ${recovered} dropped lines`);
    assert.equal(await droppedMetric(gateway.url, agent), recovered, 'the metric and the notice agree');

    // Lines are written again.
    const marker = 'after-recovery-0123';
    const answer = await request(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': marker },
      body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hello' }] }),
      dispatcher: agent,
    });
    await answer.body.text();
    await stdout.waitFor(marker);
    gateway.child.kill('SIGTERM');
    assert.equal(await exitWithin(gateway.child, WAIT_MS), 0);
  });

  it('exits on SIGTERM while stdout is not read (the exit flush does not wait for the pipe)', async () => {
    const gateway = await startWithStuckStdout(configPath);
    children.push(gateway.child);
    await sendRequests(gateway.url, REQUESTS / 3, agent);
    await gateway.waitForStderr('the notice that lines are dropped', (text) => DROPPING.test(text));
    gateway.child.kill('SIGTERM');
    // The grace period is 2 s; before, the process never exited.
    assert.equal(await exitWithin(gateway.child, 10_000), 0);
  });
});
