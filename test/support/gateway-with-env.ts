/**
 * startGateway (gateway-harness.ts) with two more knobs: the environment buildGateway reads (the OTEL_*
 * variables that turn tracing on; by default an empty one, so nothing leaks in from the test runner) and
 * the log level of the captured logger. The environment is also what the config is validated with
 * (GATEWAY_ADMIN_TOKEN, METRICS_TOKEN...), as in startGateway.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { buildGateway } from '../../src/server/app.js';
import { TEST_KEY, type RunningGateway } from './gateway-harness.js';

export interface EnvOptions {
  readonly env?: Record<string, string>;
  /** pino level of the captured logger; 'info' by default, like startGateway. */
  readonly logLevel?: string;
}

export async function startGatewayWithEnv(
  document: Record<string, unknown>,
  options: EnvOptions = {},
): Promise<RunningGateway> {
  const env = options.env ?? {};
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
  const logger = pino({ level: options.logLevel ?? 'info' }, sink);
  const gateway = await buildGateway({ config, logger, env: { ...env } });
  const address = await gateway.listen();
  const url = `http://127.0.0.1:${address.port}`;
  let stopped: Promise<void> | null = null;
  return {
    gateway,
    url,
    logs,
    rawLogs,
    client: (clientOptions = {}) =>
      new OpenAI({
        baseURL: `${url}/v1`,
        apiKey: clientOptions.apiKey ?? TEST_KEY,
        maxRetries: 0,
        timeout: clientOptions.timeout ?? 10_000,
      }),
    stop() {
      stopped ??= (async () => {
        try {
          await gateway.shutdown();
        } finally {
          rmSync(stateDir, { recursive: true, force: true });
        }
      })();
      return stopped;
    },
  };
}
