/**
 * Issue 16, finding 11: a YAML syntax error on the line of an inline secret, at start and on reload
 * (the real CLI), is reported by line and column; the secret appears nowhere in what is written.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killStrayChildren, runCli, ServeProcess } from '../support/cli-process.js';

const SECRET = 'sk-live-inline-secret-9f8e7d6c5b4a';

/** A valid config whose backend key is inline; `broken` puts a syntax error on the key's line (line 5). */
function document(broken: boolean): string {
  return [
    'server: {port: 0}',
    'backends:',
    '  - name: upstream',
    '    type: openai',
    broken ? `    api_key: "${SECRET}` : `    api_key: ${SECRET}`,
    '    url: http://127.0.0.1:9/v1',
    'models: [{name: m, targets: [{backend: upstream}]}]',
    'auth: {enabled: false}',
    '',
  ].join('\n');
}

describe('a YAML syntax error on the line of an inline secret', () => {
  let directory: string;
  let configPath: string;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-syntax-secret-'));
    configPath = join(directory, 'config.yaml');
  });
  after(() => {
    killStrayChildren();
    rmSync(directory, { recursive: true, force: true });
  });

  it('stops the start with the line and column, not the text', async () => {
    writeFileSync(configPath, document(true));
    const finished = await runCli(['check-config', '--config', 'config.yaml'], { cwd: directory });
    assert.equal(finished.code, 2);
    assert.match(finished.stderr, /config\.yaml: line \d+, column \d+: /);
    assert.ok(!`${finished.stdout}${finished.stderr}`.includes(SECRET), finished.stderr);
  });

  it('refuses the reload with the line and column in the log, not the text', async () => {
    writeFileSync(configPath, document(false));
    const serve = new ServeProcess({ cwd: directory, args: ['--config', 'config.yaml'] });
    try {
      await serve.listening();
      writeFileSync(`${configPath}.new`, document(true));
      renameSync(`${configPath}.new`, configPath);
      assert.ok(serve.kill('SIGHUP'));
      const refused = await serve.waitForLog(
        'the refusal',
        (log) => log['msg'] === 'config reload refused: the running config stays',
      );
      assert.match(JSON.stringify(refused['problems']), /config\.yaml: line \d+, column \d+: /);
      const leaking = serve.lines.filter((line) => line.includes(SECRET));
      assert.deepEqual(leaking, []);
      assert.ok(!serve.stderr.includes(SECRET), serve.stderr);
    } finally {
      await serve.stop();
    }
  });
});
