/**
 * The Python client (clients/python) under `npm test`: its unittest suite, which starts a real gateway
 * from dist/ (`node dist/cli.js serve`) itself, and an import with every warning turned into an error.
 * Needs python3 (3.9 or later) on the PATH, or PYTHON naming it. `npm test` builds dist/ first; run
 * `npm run build` before running this file on its own.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE = fileURLToPath(new URL('../../clients/python/', import.meta.url));
const PYTHON = process.env['PYTHON'] ?? 'python3';
const TIMEOUT_MS = 120_000;

interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
}

/** Runs python with `args` in `cwd`; stdout and stderr interleaved in `output`. */
function python(args: string[], cwd: string): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, {
      cwd,
      env: {
        ...process.env,
        // The node that runs these tests runs the gateway too.
        AI_GATEWAY_NODE: process.execPath,
        PYTHONDONTWRITEBYTECODE: '1',
        PYTHONUNBUFFERED: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      output += `\n[killed: no exit within ${TIMEOUT_MS} ms]`;
    }, TIMEOUT_MS);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        error.code === 'ENOENT'
          ? new Error(
              `${PYTHON} was not found: the Python client's tests need Python 3.9 or later on the PATH ` +
                '(or PYTHON set to its path)',
            )
          : error,
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

describe('Python client (clients/python)', () => {
  it('imports under python3 -W error, on Python 3.9 or later', async () => {
    const result = await python(
      [
        '-W',
        'error',
        '-c',
        'import sys; assert sys.version_info >= (3, 9), sys.version; import ai_gateway_client',
      ],
      PACKAGE,
    );
    assert.equal(result.code, 0, `python3 -W error -c 'import ai_gateway_client' failed:\n${result.output}`);
  });

  it(
    'passes its unittest suite against a real gateway',
    { timeout: TIMEOUT_MS + 30_000 },
    async (context) => {
      const result = await python(['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'], ROOT);
      assert.equal(
        result.code,
        0,
        `python3 -m unittest discover -s clients/python/tests exited with ${String(result.code ?? result.signal)}:\n${result.output}`,
      );
      const ran = /^Ran (\d+) tests? in /m.exec(result.output);
      assert.ok(ran !== null && Number(ran[1]) > 0, `no Python test ran:\n${result.output}`);
      context.diagnostic(`${ran[1]} Python tests passed`);
    },
  );
});
