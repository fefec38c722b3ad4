/**
 * A private redis-server for one test file: `--port N --save "" --appendonly no` on a free loopback
 * port (or a given one, to restart on the port a gateway already uses), started and waited for (PING
 * answered), stalled with SIGSTOP, stopped with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';

/** A running private redis-server. */
export interface PrivateRedis {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`, for a config's `redis.url`. */
  readonly url: string;
  /** Kills the server (SIGKILL) and resolves once the process has exited. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGSTOP: the server keeps its connections open and answers nothing (a stalled Redis). */
  stall(): void;
  /** SIGCONT: a stalled server answers again. */
  resume(): void;
}

/** Re-exported for the files that import it from here; it lives in free-port.ts. */
export { freePort } from './free-port.js';

/** Starts a private redis-server on a free port; resolves once it answers PING. */
export async function startRedisServer(timeoutMs = 10_000): Promise<PrivateRedis> {
  return startRedisServerOn(await freePort(), timeoutMs);
}

/** Starts a private redis-server on `port`; resolves once it answers PING, fails (server killed) otherwise. */
export async function startRedisServerOn(port: number, timeoutMs = 10_000): Promise<PrivateRedis> {
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
    // A spawn that failed (no redis-server on the PATH) may never emit 'exit'.
    child.once('error', (error) => {
      stderr += error.message;
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };

  // The probe queues its PING and retries the connection while redis starts.
  const probe = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 20, maxRetriesPerRequest: null });
  probe.on('error', () => {
    // refused while redis starts; retried
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe.ping(),
      exited.then(() => {
        throw new Error(`redis-server exited at start; stderr: ${stderr}`);
      }),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`redis-server did not answer PING within ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
      }),
    ]);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    stall: () => {
      child.kill('SIGSTOP');
    },
    resume: () => {
      child.kill('SIGCONT');
    },
  };
}
