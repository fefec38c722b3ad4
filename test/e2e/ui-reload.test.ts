/**
 * POST /admin/reload (issue 22, the admin UI's Config page) against the real CLI: it reloads the config
 * file as SIGHUP does, says what needs a restart, and refuses a broken file with its problems while the
 * running config stays. Runs dist/cli.js: `npm run build` first when run alone.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killStrayChildren, ServeProcess } from '../support/cli-process.js';

const ADMIN_TOKEN = 'admin-token-for-the-reload-endpoint';
const VIEWER_TOKEN = 'viewer-token-for-the-reload-endpoint';
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

function document(extra: { model?: boolean; sessionTtlMs?: number } = {}): string {
  return JSON.stringify({
    server: { port: 0 },
    backends: [{ name: 'demo', type: 'demo' }],
    models: [
      { name: 'demo', targets: [{ backend: 'demo' }] },
      ...(extra.model === true ? [{ name: 'added', targets: [{ backend: 'demo' }] }] : []),
    ],
    auth: { admin_token_sha256: sha256(ADMIN_TOKEN), viewer_token_sha256: sha256(VIEWER_TOKEN) },
    ...(extra.sessionTtlMs === undefined ? {} : { ui: { session_ttl_ms: extra.sessionTtlMs } }),
  });
}

function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.new`, text);
  renameSync(`${path}.new`, path);
}

async function reload(
  url: string,
  token: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${url}/admin/reload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('POST /admin/reload', () => {
  let directory: string;
  let configPath: string;
  let serve: ServeProcess;
  let url: string;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'gw-ui-reload-'));
    configPath = join(directory, 'config.yaml');
    writeFileSync(configPath, document());
    serve = new ServeProcess({ cwd: directory, args: ['--config', 'config.yaml'] });
    url = await serve.listening();
  });
  after(async () => {
    await serve.stop();
    killStrayChildren();
    rmSync(directory, { recursive: true, force: true });
  });

  it('reloads the config file as SIGHUP does, and names what needs a restart', async () => {
    const models = async (): Promise<string> => {
      const response = await fetch(`${url}/admin/config`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      return JSON.stringify(((await response.json()) as Record<string, unknown>)['models']);
    };
    assert.ok(!(await models()).includes('"added"'));
    replaceFile(configPath, document({ model: true, sessionTtlMs: 60_000 }));
    const answer = await reload(url, ADMIN_TOKEN);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { status: 'reloaded', restart_required: ['ui'] });
    assert.ok((await models()).includes('"added"'));
    await serve.waitForLog(
      'the reload line',
      (log) => log['msg'] === 'config reloaded' && log['trigger'] === 'admin API',
    );
  });

  it('refuses a broken file with its problems, and the running config stays', async () => {
    replaceFile(configPath, 'models:\n  - name: [unterminated\n');
    const answer = await reload(url, ADMIN_TOKEN);
    assert.equal(answer.status, 200);
    assert.equal(answer.json['status'], 'refused');
    assert.ok(Array.isArray(answer.json['problems']) && answer.json['problems'].length > 0);
    const chat = await fetch(`${url}/admin/config`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(chat.status, 200);
  });

  it('is refused to the viewer token (403)', async () => {
    const answer = await reload(url, VIEWER_TOKEN);
    assert.equal(answer.status, 403);
  });
});
