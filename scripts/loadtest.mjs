// npm run loadtest: the locust scenario in loadtest/locustfile.py, run headless against a gateway this
// script starts itself (the built-in demo backend, static keys, in-process rate limits and cache).
//
//   npm run loadtest -- --users 50 --spawn-rate 20 --duration 20s --html loadtest/report.html
//
// Each flag also has an environment variable: LOADTEST_USERS, LOADTEST_SPAWN_RATE, LOADTEST_DURATION,
// LOADTEST_HTML; LOCUST names the locust executable (default: `locust` on the PATH). Prints locust's
// summary, writes its HTML report, stops the gateway and exits with locust's status (0: no failures).
// Exit 2: locust or the built gateway (dist/) is missing.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import { startFlags } from './start-flags.mjs';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    users: { type: 'string', short: 'u' },
    'spawn-rate': { type: 'string', short: 'r' },
    duration: { type: 'string', short: 't' },
    html: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm run loadtest -- [--users 50] [--spawn-rate 20] [--duration 20s] [--html FILE]');
  process.exit(0);
}
const users = values.users ?? process.env.LOADTEST_USERS ?? '50';
const spawnRate = values['spawn-rate'] ?? process.env.LOADTEST_SPAWN_RATE ?? '20';
const duration = values.duration ?? process.env.LOADTEST_DURATION ?? '20s';
const html = values.html ?? process.env.LOADTEST_HTML ?? 'loadtest/report.html';
for (const [name, value] of [
  ['--users', users],
  ['--spawn-rate', spawnRate],
]) {
  if (!/^[1-9]\d*$/.test(value)) fail(`${name} must be a positive whole number, not '${value}'`);
}
if (duration === '' || !/^(\d+|(\d+h)?(\d+m)?(\d+s)?)$/.test(duration)) {
  fail(`--duration must look like 20, 20s, 2m or 1h30m, not '${duration}'`);
}

function fail(message, code = 2) {
  console.error(`loadtest: ${message}`);
  process.exit(code);
}

/** The locust executable: $LOCUST, else the first `locust` on the PATH; null when there is none. */
function findLocust() {
  const candidates = process.env.LOCUST
    ? [process.env.LOCUST]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter((directory) => directory !== '')
        .map((directory) => join(directory, 'locust'));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** A key of the gateway's own shape: sk-gw- and 40 base62 characters (modulo bias is fine for a test). */
function newKey() {
  return `sk-gw-${Array.from(randomBytes(40), (byte) => BASE62[byte % 62]).join('')}`;
}
const sha256 = (text) => createHash('sha256').update(text).digest('hex');

const locust = findLocust();
if (locust === null) fail('locust is not installed: apt-get install python3-locust');
const cli = join(root, 'dist/cli.js');
if (!existsSync(cli)) fail('the gateway is not built (dist/cli.js is missing): run npm run build first');

// Most keys have limits the scenario never reaches; the limited ones allow 5 requests a minute, so the
// users on them reach their limit within seconds and get 429s (which the scenario expects).
const generous = Array.from({ length: 4 }, (_, index) => ({ id: `loadtest-${index + 1}`, key: newKey() }));
const limited = Array.from({ length: 2 }, (_, index) => ({
  id: `loadtest-limited-${index + 1}`,
  key: newKey(),
}));
const workDir = mkdtempSync(join(tmpdir(), 'gw-loadtest-'));
const configPath = join(workDir, 'gateway.yaml');
writeFileSync(
  configPath,
  // JSON is YAML.
  JSON.stringify({
    server: { host: '127.0.0.1', port: 0, state_dir: join(workDir, 'state') },
    backends: [{ name: 'demo', type: 'demo' }],
    models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
    auth: {
      enabled: true,
      keys: [
        ...generous.map(({ id, key }) => ({
          id,
          sha256: sha256(key),
          rate_limit: { requests: '1000000/minute', tokens: '1000000000/minute' },
        })),
        ...limited.map(({ id, key }) => ({ id, sha256: sha256(key), rate_limit: { requests: '5/minute' } })),
      ],
    },
    cache: { enabled: true },
    logging: { level: 'info' },
  }),
);

// The gateway's own variables must not leak in from this shell (PORT would override port 0, REDIS_URL
// would add Redis); LOG_LEVEL is set to info so that the 'listening' line is written.
const gatewayEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) =>
      ![
        'GATEWAY_CONFIG',
        'HOST',
        'PORT',
        'REDIS_URL',
        'GATEWAY_ADMIN_TOKEN',
        'METRICS_TOKEN',
        'OLLAMA_URL',
      ].includes(name),
  ),
);
gatewayEnv.LOG_LEVEL = 'info';
// With the Node options of `npm start`.
const gateway = spawn(process.execPath, [...startFlags(root), cli, 'serve', '--config', configPath], {
  cwd: workDir,
  env: gatewayEnv,
  stdio: ['ignore', 'pipe', 'pipe'],
});
let gatewayExited = false;
let gatewayStderr = '';
gateway.stderr.setEncoding('utf8').on('data', (text) => {
  gatewayStderr = (gatewayStderr + text).slice(-4000);
});
gateway.once('exit', () => {
  gatewayExited = true;
});

/** Resolves with the URL of the gateway's 'listening' log line; stdout is drained (discarded) after it. */
function listening() {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('the gateway did not start within 15 s')), 15_000);
    const onData = (text) => {
      buffered += text;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        let parsed;
        try {
          parsed = JSON.parse(line);
        } catch {
          continue;
        }
        if (parsed.msg === 'listening' && typeof parsed.url === 'string') {
          clearTimeout(timer);
          gateway.stdout.off('data', onData);
          gateway.stdout.resume();
          resolve(parsed.url);
          return;
        }
      }
    };
    gateway.stdout.setEncoding('utf8').on('data', onData);
    gateway.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited with ${code} before listening: ${gatewayStderr}`));
    });
  });
}

async function stopGateway() {
  if (gatewayExited) return;
  const exited = new Promise((resolve) => gateway.once('exit', resolve));
  gateway.kill('SIGTERM');
  const timer = setTimeout(() => gateway.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

let status = 1;
try {
  const url = await listening();
  const htmlPath = isAbsolute(html) ? html : join(root, html);
  const args = [
    '-f',
    join(root, 'loadtest/locustfile.py'),
    '--headless',
    '-u',
    users,
    '-r',
    spawnRate,
    '-t',
    duration,
    '--host',
    url,
    '--html',
    htmlPath,
    '--only-summary',
  ];
  console.log(`loadtest: gateway at ${url}; locust ${args.join(' ')}`);
  const child = spawn(locust, args, {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      GATEWAY_LOADTEST_KEYS: generous.map(({ key }) => key).join(','),
      GATEWAY_LOADTEST_LIMITED_KEYS: limited.map(({ key }) => key).join(','),
      GATEWAY_LOADTEST_MODEL: 'demo',
      // No loadtest/__pycache__ left in the tree.
      PYTHONDONTWRITEBYTECODE: '1',
    },
  });
  // Ctrl-C reaches locust too (same process group); it stops and prints its summary.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  status = await new Promise((resolve) => {
    child.once('error', (error) => {
      console.error(`loadtest: could not run ${locust}: ${error.message}`);
      resolve(2);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 1)));
  });
  if (gatewayExited) {
    console.error(`loadtest: the gateway exited during the run: ${gatewayStderr}`);
    status = status === 0 ? 1 : status;
  } else {
    console.log(`loadtest: HTML report in ${htmlPath}`);
  }
} catch (error) {
  console.error(`loadtest: ${error.message}`);
} finally {
  await stopGateway();
  rmSync(workDir, { recursive: true, force: true });
}
process.exit(status);
