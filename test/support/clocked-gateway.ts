/**
 * startGateway (gateway-harness.ts) with a movable budget clock: buildGateway's `now`, which the budgets
 * read for their windows and reservations. A test moves it forward to roll a window over without
 * waiting for the hour or the day to end. Only forward: budget counters expire at their window's end
 * in Redis's own time, so a clock behind the real one would see them vanish.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { LOG_SERIALIZERS } from '../../src/logging/logger.js';
import { buildGateway } from '../../src/server/app.js';
import { TEST_KEY, type RunningGateway } from './gateway-harness.js';

/** A clock that reads the real one plus an offset the test moves forward. */
export class TestClock {
  private offsetMs = 0;

  readonly now = (): number => Date.now() + this.offsetMs;

  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    if (ms < 0) throw new Error('the test clock only moves forward');
    this.offsetMs += ms;
  }
}

/** As startGateway, with `clock` as the budgets' clock. */
export async function startClockedGateway(
  document: Record<string, unknown>,
  clock: TestClock,
  env: Record<string, string> = {},
): Promise<RunningGateway> {
  const stateDir = mkdtempSync(join(tmpdir(), 'gw-test-'));
  const server = { ...(document['server'] as Record<string, unknown> | undefined), state_dir: stateDir };
  const config = validateConfig({ ...document, server }, env);
  const logs: Record<string, unknown>[] = [];
  const rawLogs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        rawLogs.push(line);
        logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  const logger = pino({ level: 'info', serializers: LOG_SERIALIZERS }, sink);
  const gateway = await buildGateway({ config, logger, env: { ...env }, now: clock.now });
  const address = await gateway.listen();
  const url = `http://127.0.0.1:${address.port}`;
  return {
    gateway,
    url,
    logs,
    rawLogs,
    client: (options = {}) =>
      new OpenAI({
        baseURL: `${url}/v1`,
        apiKey: options.apiKey ?? TEST_KEY,
        maxRetries: 0,
        timeout: options.timeout ?? 10_000,
      }),
    async stop() {
      await gateway.shutdown();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
