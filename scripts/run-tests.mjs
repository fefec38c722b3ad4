// Runs every *.test.ts under src/, test/ and clients/typescript/ with node's test runner (TypeScript
// through tsx), then prints one closing line "N passed, N failed, N skipped". Arguments narrow the run to
// matching paths.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

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

const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    // Per test, and per file: test/e2e/keys-cli.test.ts starts some 40 CLI processes, about 50 s in
    // all on a calm CI machine and over 60 s on a slow one (every subtest passing).
    '--test-timeout=180000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/count-reporter.mjs',
    '--test-reporter-destination=stdout',
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' } },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 1)));
