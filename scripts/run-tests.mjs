// Runs every *.test.ts under src/, test/ and clients/typescript/ with node's test runner (TypeScript
// through tsx), then prints one closing line "N passed, N failed, N skipped". Arguments narrow the run to
// matching paths.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function findTests(directory) {
  const out = [];
  if (!existsSync(directory)) return out;
  for (const name of readdirSync(directory)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(directory, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const filters = process.argv.slice(2);
const files = ['src', 'test', 'clients/typescript']
  .flatMap((directory) => findTests(join(root, directory)))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();

if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

/**
 * Files whose assertions bound a duration or an ordering under real timers (an idle timeout's delivery,
 * a health probe's answer, how workers share connections, a failover's window). With the rest of the
 * suite running beside them (gateways, child processes, PostgreSQL databases) on a 2-core machine, each
 * failed now and then from lack of CPU, not from a fault. They run last, one at a time.
 */
const ALONE = [
  'test/e2e/redis-cluster.test.ts',
  'test/e2e/reliability-clock-skew.test.ts',
  'test/e2e/stream-idle-keepalive.test.ts',
  'test/e2e/upstream-secrets.test.ts',
  'test/e2e/workers.test.ts',
];

const countsFile = join(mkdtempSync(join(tmpdir(), 'gw-tests-')), 'counts.jsonl');

function run(group, concurrency) {
  return new Promise((resolvePromise) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        `--test-concurrency=${concurrency}`,
        // Per test, and per file: test/e2e/keys-cli.test.ts starts some 40 CLI processes, about 50 s in
        // all on a calm CI machine and over 60 s on a slow one (every subtest passing).
        '--test-timeout=180000',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=./scripts/count-reporter.mjs',
        '--test-reporter-destination=stdout',
        ...group,
      ],
      {
        cwd: root,
        stdio: 'inherit',
        env: {
          ...process.env,
          LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
          GW_TEST_COUNTS_FILE: countsFile,
        },
      },
    );
    child.on('exit', (code) => resolvePromise(code ?? 1));
  });
}

const together = files.filter((file) => !ALONE.includes(file));
const alone = files.filter((file) => ALONE.includes(file));
let code = 0;
if (together.length > 0) code = Math.max(code, await run(together, 2));
if (alone.length > 0) code = Math.max(code, await run(alone, 1));

// One closing line for both runs (the reporter wrote each run's counts to the file).
const totals = { passed: 0, failed: 0, skipped: 0, reasons: new Set() };
const lines = existsSync(countsFile) ? readFileSync(countsFile, 'utf8').split('\n') : [];
for (const line of lines.filter((entry) => entry !== '')) {
  const counts = JSON.parse(line);
  totals.passed += counts.passed;
  totals.failed += counts.failed;
  totals.skipped += counts.skipped;
  for (const reason of counts.reasons) totals.reasons.add(reason);
}
rmSync(dirname(countsFile), { recursive: true, force: true });
for (const reason of totals.reasons) process.stdout.write(`\nskipped: ${reason}`);
process.stdout.write(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
// A run that crashed before reporting still fails the whole.
process.exit(code !== 0 || totals.failed > 0 ? 1 : 0);
