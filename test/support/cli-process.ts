/**
 * The built CLI as a user runs it: `node dist/cli.js <args>` in a child process, either run to
 * completion ({@link runCli}) or kept running as a server whose stdout is read line by line
 * ({@link ServeProcess}). `npm test` builds dist/ first; run `npm run build` before running a test
 * file that uses this on its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI's entry point. */
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** How long a command may run, or a line be waited for, before the test gives up on it. */
export const WAIT_MS = 15_000;

/** The gateway's own variables: none of them leaks from the test runner into a child. */
const GATEWAY_VARIABLES = new Set([
  'GATEWAY_CONFIG',
  'HOST',
  'PORT',
  'REDIS_URL',
  'LOG_LEVEL',
  'GATEWAY_ADMIN_TOKEN',
  'OLLAMA_URL',
]);

/** Every child started here that has not exited yet (see {@link killStrayChildren}). */
const children = new Set<ChildProcess>();

function start(args: string[], cwd: string, env: NodeJS.ProcessEnv, stdin: 'ignore' | 'pipe'): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: [stdin, 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => {
    children.delete(child);
  });
  return child;
}

/** The environment of a child: the test runner's, without the gateway's variables, plus `extra`. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !GATEWAY_VARIABLES.has(name));
  return { ...Object.fromEntries(inherited), ...extra };
}

/** SIGKILLs every child started by this module that is still running; for a file-level `after`. */
export function killStrayChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** What a command that ran to completion left behind. */
export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node dist/cli.js ...args` to completion in `cwd`, with {@link childEnv}(`env`); `input` (if
 * given) is its standard input. Rejects (the child killed) if it has not exited within {@link WAIT_MS}.
 */
export function runCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; input?: string },
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = start(
      args,
      options.cwd,
      childEnv(options.env),
      options.input === undefined ? 'ignore' : 'pipe',
    );
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
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

/**
 * A running `node dist/cli.js serve ...args` whose stdout is read line by line: every line (JSON log
 * lines and the plain-text key banner) in `lines`, the JSON ones parsed in `logs`. LOG_LEVEL is
 * `info` unless `env` says otherwise: the test runner sets it to silent, and 'listening' is an info log.
 */
export class ServeProcess {
  /** Every complete stdout line so far. */
  readonly lines: string[] = [];
  /** The stdout lines that are JSON objects (the log lines), parsed. */
  readonly logs: Record<string, unknown>[] = [];
  /** Everything written to stderr so far. */
  stderr = '';
  /** The exit code and signal, once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private exitCode: number | null | undefined;
  private partial = '';
  private readonly waiters = new Set<() => void>();

  constructor(options: { cwd: string; args?: string[]; env?: Record<string, string> }) {
    this.child = start(
      ['serve', ...(options.args ?? [])],
      options.cwd,
      childEnv({ LOG_LEVEL: 'info', ...options.env }),
      'ignore',
    );
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
      this.child.on('exit', (code, signal) => {
        this.exitCode = code;
        this.notify();
        resolve({ code, signal });
      });
    });
  }

  private notify(): void {
    for (const waiter of this.waiters) waiter();
  }

  /** The process id (the primary's, with server.workers > 1). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process has not exited yet. */
  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Sends `signal` to the process; true if it was delivered. */
  kill(signal: NodeJS.Signals): boolean {
    return this.child.kill(signal);
  }

  /** Resolves with the first stdout line that satisfies the predicate; fails if the process exits first. */
  waitForLine(
    description: string,
    predicate: (line: string) => boolean,
    timeoutMs = WAIT_MS,
  ): Promise<string> {
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
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves with the first JSON log line that satisfies the predicate; fails if the process exits first. */
  waitForLog(
    description: string,
    predicate: (log: Record<string, unknown>) => boolean,
    timeoutMs = WAIT_MS,
  ): Promise<Record<string, unknown>> {
    return this.waitForLine(
      description,
      (line) => {
        if (!line.startsWith('{')) return false;
        try {
          return predicate(JSON.parse(line) as Record<string, unknown>);
        } catch {
          return false;
        }
      },
      timeoutMs,
    ).then((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** The gateway's base URL, from its 'listening' log line; fails if the process exits first. */
  async listening(): Promise<string> {
    const log = await this.waitForLog("the 'listening' log line", (entry) => entry['msg'] === 'listening');
    return String(log['url']);
  }

  /** SIGTERM, then waits for the exit and returns its code; SIGKILL if the graceful shutdown hangs. */
  async stop(): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.child.kill('SIGKILL');
    }, WAIT_MS);
    try {
      return (await this.exited).code;
    } finally {
      clearTimeout(timer);
    }
  }
}
