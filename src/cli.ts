#!/usr/bin/env -S node --max-semi-space-size=32
import cluster from 'node:cluster';
import { watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ReloadOutcome } from './admin/operations-routes.js';
import type { GatewayConfig } from './config/config.js';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.js';
import { openMetricsWarning } from './observability/metrics-exposure.js';
import { baseUrl } from './server/base-url.js';

const HELP = `ai-gateway: an OpenAI-compatible gateway for self-hosted models

Usage:
  ai-gateway serve [--config FILE]      serve (also: GATEWAY_CONFIG=FILE)
  ai-gateway check-config [--config FILE]
                                        validate a config file and exit (0 valid, 2 invalid)
  ai-gateway keys create|list|show|revoke|hash
                                        manage API keys (ai-gateway keys --help)
  ai-gateway teams list|create|show|update|delete
                                        manage teams (ai-gateway teams --help)
  ai-gateway usage [--key K] [--model M] [--from T] [--to T] [--group-by key,model,day,hour]
                                        usage per key and model (ai-gateway usage --help)
  ai-gateway logs [--key K] [--model M] [--status 5xx] [--since 1h] [--follow] [--json]
                                        the request log, one line per request (ai-gateway logs --help)
  ai-gateway <command> --help           help for one command

Environment: HOST, PORT, REDIS_URL, LOG_LEVEL, GATEWAY_ADMIN_TOKEN, OLLAMA_URL, GATEWAY_CONFIG.
`;

const SERVE_HELP = `Usage: ai-gateway serve [--config FILE]

Serves the gateway. Without --config (or GATEWAY_CONFIG) it uses the embedded defaults: 127.0.0.1:8080,
the built-in "demo" model, and Ollama at OLLAMA_URL (default http://127.0.0.1:11434) for every other
model. A config mistake stops the start with exit status 2. SIGTERM or SIGINT shuts down gracefully.
`;

function configPath(value: string | undefined): string | null {
  const path = value ?? process.env['GATEWAY_CONFIG'];
  return path === undefined || path === '' ? null : path;
}

/**
 * server.watch_config: reloads when the file changes. The directory is watched (editors and config
 * management often replace the file rather than write it), and bursts of events make one reload.
 */
function watchConfigFile(path: string, reload: (trigger: string) => void, logger: Logger): void {
  const file = basename(path);
  let timer: NodeJS.Timeout | null = null;
  try {
    watch(dirname(resolve(path)), (_event, name) => {
      if (name !== file) return;
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        reload('file change');
      }, 300);
    }).unref();
  } catch (error) {
    logger.warn(
      { detail: (error as Error).message },
      'cannot watch the config file; SIGHUP still reloads it',
    );
  }
}

/** On a first start, the key that was made for it: shown once, with a request to try. */
function printFirstKey(base: string, first: { id: string; key: string } | null): void {
  if (first === null) return;
  process.stdout.write(
    `\nNo API key was configured, so one was created (id ${first.id}). It is shown only this once:\n\n` +
      `    ${first.key}\n\n` +
      `Try it:\n\n    curl ${base}/v1/chat/completions -H "Authorization: Bearer ${first.key}" \\\n` +
      `      -H "Content-Type: application/json" -d '{"model":"demo","messages":[{"role":"user","content":"Hello"}]}'\n\n`,
  );
}

async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help === true) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const path = configPath(values.config);
  const config = loadConfig({ path, env: process.env });
  // The server is loaded only to serve: the other commands start in a fraction of the time.
  const [{ createLogger }, { buildGateway }, { ensureFirstKey }] = await Promise.all([
    import('./logging/logger.js'),
    import('./server/app.js'),
    import('./auth/first-start.js'),
  ]);
  const logger = createLogger({
    level: config.logLevel,
    pretty: process.stdout.isTTY,
    maxBufferBytes: config.logMaxBufferBytes,
  });
  if (!config.auth.enabled && !cluster.isWorker) {
    logger.warn('auth.enabled is false: anyone who can reach this port can use every model');
  }
  const openMetrics = openMetricsWarning(config);
  if (openMetrics !== null && !cluster.isWorker) logger.warn(openMetrics);
  if (config.server.workers > 1 && cluster.isPrimary) {
    const { runPrimary } = await import('./server/cluster-primary.js');
    await runPrimary(config, logger, printFirstKey);
    return -1;
  }
  const gateway = await buildGateway({ config, logger });
  // With workers, the primary made the first key before forking them.
  const first =
    config.auth.enabled && !cluster.isWorker
      ? await ensureFirstKey(gateway.context.authenticator, gateway.keyStore)
      : null;
  const address = await gateway.listen();
  const base = baseUrl(address.host, address.port);
  logger.info({ url: base, backends: config.backends.map((backend) => backend.name) }, 'listening');
  printFirstKey(base, first);
  const reload = (trigger: string): ReloadOutcome => {
    let next: GatewayConfig;
    try {
      next = loadConfig({ path, env: process.env });
    } catch (error) {
      const problems = error instanceof ConfigError ? error.problems : [(error as Error).message];
      logger.error({ trigger, problems }, 'config reload refused: the running config stays');
      return { status: 'refused', problems };
    }
    const needsRestart = gateway.reload(next);
    logger.info(
      {
        trigger,
        backends: next.backends.map((backend) => backend.name),
        models: next.models.map((m) => m.name),
      },
      'config reloaded',
    );
    if (needsRestart.length > 0)
      logger.warn({ sections: needsRestart }, 'these changes take effect only after a restart');
    return { status: 'reloaded', restart_required: needsRestart };
  };
  // POST /admin/reload: a worker asks the primary, which signals every worker (this one included).
  gateway.setReloader(() => {
    if (!cluster.isWorker) return reload('admin API');
    process.kill(process.ppid, 'SIGHUP');
    return { status: 'requested' };
  });
  process.on('SIGHUP', () => {
    reload('SIGHUP');
  });
  if (config.server.watchConfig && path !== null) watchConfigFile(path, reload, logger);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    logger.info({ signal }, 'signal received: shutting down');
    gateway.shutdown().then(
      () => {
        logger.info('shutdown complete');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return -1;
}

function checkConfig(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } } });
  const path = configPath(values.config);
  loadConfig({ path, env: process.env });
  process.stdout.write(`${path ?? 'embedded defaults'}: valid\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'check-config':
      return checkConfig(rest);
    case 'keys': {
      const { runKeys } = await import('./cli/keys-command.js');
      return runKeys(rest);
    }
    case 'teams': {
      const { runTeams } = await import('./cli/teams-command.js');
      return runTeams(rest);
    }
    case 'usage': {
      const { runUsage } = await import('./cli/usage-command.js');
      return runUsage(rest);
    }
    case 'logs': {
      const { runLogs } = await import('./cli/logs-command.js');
      return runLogs(rest);
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`Unknown command '${command}'.\n\n${HELP}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(
        `Configuration error:\n${error.problems.map((problem) => `  ${problem}`).join('\n')}\n`,
      );
      process.exit(2);
    }
    if (
      error instanceof TypeError &&
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true
    ) {
      process.stderr.write(`${error.message}\n\n${HELP}`);
      process.exit(1);
    }
    process.stderr.write(`Fatal: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
