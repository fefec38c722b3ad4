import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { Authenticator } from '../auth/authenticator.js';
import { ensureFirstKey } from '../auth/first-start.js';
import type { GatewayConfig } from '../config/config.js';
import { servePrimaryMetrics } from '../observability/cluster-metrics.js';
import { openStores } from '../state/stores.js';
import { baseUrl } from './base-url.js';

/** A worker that dies this many times within CRASH_WINDOW_MS stops the gateway instead of looping. */
const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 60_000;
const RESTART_DELAY_MS = 500;

/**
 * server.workers > 1: this process only supervises. It creates the first API key if there is none (so
 * that workers do not race to), forks the workers (each a whole gateway; node:cluster shares the port
 * between them), restarts one that dies, gathers /metrics across them, and on SIGTERM/SIGINT passes the
 * signal on and exits once every worker has shut down gracefully (a second signal kills them).
 */
export async function runPrimary(
  config: GatewayConfig,
  logger: Logger,
  banner: (url: string, first: { id: string; key: string } | null) => void,
): Promise<void> {
  let first: { id: string; key: string } | null = null;
  if (config.auth.enabled) {
    const stores = openStores(config, logger);
    try {
      first = await ensureFirstKey(new Authenticator(config.auth.keys, stores.keys, logger), stores.keys);
    } finally {
      await stores.close();
    }
  }
  if (config.metrics.enabled) servePrimaryMetrics();

  let stopping = false;
  let failed = false;
  let listening = 0;
  let announced = false;
  const crashes: number[] = [];
  const fork = (): Worker => cluster.fork();

  cluster.on('listening', (worker, address) => {
    listening++;
    logger.debug({ worker: worker.id, port: address.port }, 'worker listening');
    if (!announced && listening >= config.server.workers) {
      announced = true;
      const host = address.address === '' ? config.server.host : address.address;
      const url = baseUrl(host, address.port);
      logger.info({ url, workers: config.server.workers, pid: process.pid }, 'listening');
      banner(url, first);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info('every worker has stopped: shutdown complete');
        logger.flush();
        process.exit(failed ? 1 : 0);
      }
      return;
    }
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && (crashes[0] ?? now) < now - CRASH_WINDOW_MS) crashes.shift();
    if (crashes.length >= MAX_CRASHES) {
      logger.fatal({ crashes: crashes.length }, 'workers keep dying: stopping the gateway');
      failed = true;
      stopAll('SIGTERM');
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(1);
      return;
    }
    logger.error({ worker: worker.id, code, signal }, 'worker died: starting another');
    setTimeout(fork, RESTART_DELAY_MS);
  });

  const stopAll = (signal: NodeJS.Signals): void => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: stopping every worker at once');
      stopAll('SIGKILL');
      logger.flush();
      process.exit(1);
    }
    logger.info(
      { signal, workers: Object.keys(cluster.workers ?? {}).length },
      'signal received: shutting down',
    );
    stopAll('SIGTERM');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Each worker reloads its own config (and logs whether it took it).
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: asking every worker to reload the config');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
  });

  for (let index = 0; index < config.server.workers; index++) fork();
  await Promise.resolve();
}
