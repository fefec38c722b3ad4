/**
 * Starts a real gateway (the same buildGateway the CLI uses) on 127.0.0.1, port 0, with a config
 * given as the YAML document would be, and captures every log line it writes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import pino from 'pino';
import { sha256Hex } from '../../src/auth/api-key.js';
import { validateConfig } from '../../src/config/load.js';
import { LOG_SERIALIZERS } from '../../src/logging/logger.js';
import { buildGateway, type Gateway } from '../../src/server/app.js';

export const TEST_KEY = 'sk-gw-testkeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
export const RESTRICTED_KEY = 'sk-gw-restrictedBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly url: string;
  readonly logs: Record<string, unknown>[];
  readonly rawLogs: string[];
  /** An official OpenAI client pointed at the gateway with the test key; no retries. */
  client(options?: { apiKey?: string; timeout?: number }): OpenAI;
  stop(): Promise<void>;
}

/**
 * A config document with the two test keys and the given backends and models. The response cache is
 * off unless `extra.cache` turns it on: most tests send the same request many times and expect each to
 * reach the stand-in upstream.
 */
export function testConfig(parts: {
  backends: unknown[];
  models: unknown[];
  server?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    server: { port: 0, ...parts.server },
    backends: parts.backends,
    models: parts.models,
    auth: {
      keys: [
        { id: 'test-key', sha256: sha256Hex(TEST_KEY) },
        { id: 'restricted-key', sha256: sha256Hex(RESTRICTED_KEY), models: ['demo', 'stand-in-*'] },
      ],
    },
    cache: { enabled: false },
    // Tests of other features see each upstream failure as it happens: one attempt, no breaker.
    // The routing tests turn retries and breakers back on through `extra`.
    routing: { max_attempts: 1, circuit_breaker: { enabled: false } },
    ...parts.extra,
  };
}

/** The usual test setup: an `openai` backend and an `ollama` backend on the stand-in, plus `demo`. */
export function standInConfig(
  upstreamUrl: string,
  backendOptions: Record<string, unknown> = {},
): Record<string, unknown> {
  return testConfig({
    backends: [
      {
        name: 'vllm',
        type: 'openai',
        url: `${upstreamUrl}/v1`,
        api_key: 'upstream-secret-key',
        ...backendOptions,
      },
      { name: 'ollama', type: 'ollama', url: upstreamUrl, ...backendOptions },
      { name: 'demo', type: 'demo' },
    ],
    models: [
      { name: 'demo', targets: [{ backend: 'demo' }] },
      { name: 'llama', targets: [{ backend: 'ollama', model: 'llama3.2:1b' }] },
      { name: 'stand-in-*', targets: [{ backend: 'vllm' }] },
      { name: 'qwen', targets: [{ backend: 'vllm', model: 'Qwen/Qwen2.5-0.5B' }] },
    ],
  });
}

export interface StartOptions {
  /**
   * The state directory to use (server.state_dir), kept when the gateway stops; by default each gateway
   * gets a new temporary directory, removed when it stops.
   */
  readonly stateDir?: string;
  /** pino level of the captured logger; 'info' by default. */
  readonly logLevel?: string;
}

export async function startGateway(
  document: Record<string, unknown>,
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<RunningGateway> {
  const ownStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'gw-test-'));
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
  const logger = pino({ level: options.logLevel ?? 'info', serializers: LOG_SERIALIZERS }, sink);
  // `env` is also where tracing reads OTEL_*: nothing leaks in from the test runner's environment.
  const gateway = await buildGateway({ config, logger, env: { ...env } });
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
      if (ownStateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Waits until a request_complete line matching the predicate has been logged. */
export async function waitForLog(
  running: RunningGateway,
  predicate: (line: Record<string, unknown>) => boolean,
  timeoutMs = 5000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = running.logs.find(predicate);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('timed out waiting for a log line');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
