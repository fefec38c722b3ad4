/**
 * "The two commands on a fresh machine" (issue 17): `npm test` passes where redis-server or locust is
 * not installed, skipping what needs them with a notice naming the Debian package; under CI=true a
 * missing tool fails the run. The end-to-end cases run a real test file that needs redis-server
 * (test/e2e/health.test.ts) through the test runner with a PATH that holds no redis-server.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isInstalled, requireTool } from './system-tool.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'gw-system-tool-'));
after(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** A directory holding one executable file, `name`. */
function pathWith(name: string): string {
  const bin = mkdtempSync(join(directory, 'bin-'));
  writeFileSync(join(bin, name), '#!/bin/sh\n');
  chmodSync(join(bin, name), 0o755);
  return bin;
}

describe('requireTool', () => {
  it('is false (run the tests) when the command is an executable on the PATH', () => {
    const bin = pathWith('some-tool');
    assert.equal(isInstalled('some-tool', bin), true);
    assert.equal(
      requireTool('some-tool', 'some-package', { PATH: `/nonexistent:${bin}`, CI: 'true' }),
      false,
    );
  });

  it('takes an absolute path as the command itself', () => {
    const bin = pathWith('locust');
    assert.equal(requireTool(join(bin, 'locust'), 'python3-locust', { PATH: '' }), false);
    assert.equal(isInstalled(join(bin, 'no-such-locust'), bin), false);
  });

  it('skips, naming the Debian package, when the command is missing or not executable', () => {
    const bin = pathWith('other-tool');
    writeFileSync(join(bin, 'redis-server'), 'not executable');
    assert.equal(
      requireTool('redis-server', 'redis-server', { PATH: bin }),
      'redis-server is not installed: apt-get install redis-server',
    );
    assert.equal(
      requireTool('locust', 'python3-locust', { PATH: bin, CI: 'false' }),
      'locust is not installed: apt-get install python3-locust',
    );
  });

  it('throws under CI=true when the command is missing, naming the package', () => {
    assert.throws(
      () => requireTool('redis-server', 'redis-server', { PATH: directory, CI: 'true' }),
      /redis-server is not installed: apt-get install redis-server \(CI=true/,
    );
  });
});

/** `node scripts/run-tests.mjs <file>` with PATH holding node only (no redis-server). */
function runTests(file: string, ci: boolean): Promise<{ code: number | null; output: string }> {
  const environment: NodeJS.ProcessEnv = { ...process.env, PATH: dirname(process.execPath) };
  delete environment['CI'];
  delete environment['NODE_TEST_CONTEXT']; // else node:test sees a nested run and runs nothing
  if (ci) environment['CI'] = 'true';
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/run-tests.mjs', file], {
      cwd: root,
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so that a run that hangs is ended whole
    });
    const deadline = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, 120_000);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(deadline);
      resolve({ code, output });
    });
  });
}

describe(
  'npm test without redis-server on the PATH',
  { skip: isInstalled('redis-server', dirname(process.execPath)) && 'redis-server is beside node' },
  () => {
    it('passes: the tests that need it are skipped and the closing lines say which package to install', async () => {
      const { code, output } = await runTests('test/e2e/health.test.ts', false);
      assert.equal(code, 0, output);
      assert.match(output, /^skipped: redis-server is not installed: apt-get install redis-server$/m);
      const counts = /^(\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(output);
      assert.ok(counts !== null, output);
      assert.ok(Number(counts[1]) > 0, output); // the tests without Redis still ran
      assert.equal(counts[2], '0', output);
      assert.ok(Number(counts[3]) > 0, output);
    });

    it('fails under CI=true, naming the package', async () => {
      const { code, output } = await runTests('test/e2e/health.test.ts', true);
      assert.notEqual(code, 0, output);
      assert.match(output, /redis-server is not installed: apt-get install redis-server \(CI=true/);
      assert.match(output, /^\d+ passed, [1-9]\d* failed, \d+ skipped$/m);
    });
  },
);
