/**
 * `npm run loadtest` as CI runs it, briefly: scripts/loadtest.mjs starts its own gateway (demo backend,
 * static keys, cache on) and runs loadtest/locustfile.py headless against it for a few seconds. Needs
 * locust (`apt-get install python3-locust`; `.ci/run` installs it when missing; skipped without it,
 * except under CI=true) and the built dist/.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireTool } from '../support/system-tool.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), 'gw-loadtest-test-'));
const needsLocust = { skip: requireTool(process.env['LOCUST'] ?? 'locust', 'python3-locust') };

after(() => {
  rmSync(workDir, { recursive: true, force: true });
});

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/loadtest.mjs', ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`scripts/loadtest.mjs did not finish within 45 s:\n${output}`));
    }, 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(deadline);
      resolve({ code, output });
    });
  });
}

/** The `# reqs` and `# fails` of one row of locust's summary table, by the row's name. */
function row(output: string, name: string): { requests: number; failures: number } | null {
  const escaped = name.replace(/[[\]()]/g, '\\$&');
  const match = new RegExp(`^\\S*\\s+${escaped}\\s+(\\d+)\\s+(\\d+)\\(`, 'm').exec(output);
  return match === null ? null : { requests: Number(match[1]), failures: Number(match[2]) };
}

describe('npm run loadtest (the locust scenario, 8 s)', () => {
  it('runs every kind of user against its own gateway with no unexpected failure', needsLocust, async () => {
    const report = join(workDir, 'report.html');
    const { code, output } = await run([
      '--users',
      '10',
      '--spawn-rate',
      '10',
      '--duration',
      '8s',
      '--html',
      report,
    ]);
    assert.equal(code, 0, output);
    const total = row(output, 'Aggregated');
    assert.ok(total !== null, `no summary in the output:\n${output}`);
    assert.ok(total.requests > 50, output);
    assert.equal(total.failures, 0, output);
    // Each part of the scenario happened: cache hits, streams read to [DONE], a limited key refused.
    for (const name of [
      'chat, repeated [HIT]',
      'chat, unique [MISS]',
      'stream, unique [MISS]',
      'limited key [429 expected]',
    ]) {
      const counts = row(output, name);
      assert.ok(counts !== null && counts.requests > 0, `no '${name}' requests in:\n${output}`);
    }
    assert.ok(statSync(report).size > 0, 'no HTML report');
  });

  it('says how to install locust when it is missing, and exits 2', async () => {
    const { code, output } = await run(['--duration', '1s'], { LOCUST: join(workDir, 'no-such-locust') });
    assert.equal(code, 2, output);
    assert.match(output, /locust is not installed: apt-get install python3-locust/);
  });
});
