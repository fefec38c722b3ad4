/**
 * Issue 16, finding 13: /metrics lists every key id, and is open unless a token is set. The real CLI
 * warns at start when it is open on a non-loopback address, and metrics.token (from ${NAME}) closes it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killStrayChildren, ServeProcess } from '../support/cli-process.js';

const TOKEN = 'scrape-token-0123456789abcdef';
const WARNING = /^\/metrics is served on 0\.0\.0\.0 without a token/;

function document(metrics: Record<string, unknown>): string {
  return JSON.stringify({
    server: { host: '0.0.0.0', port: 0 },
    backends: [{ name: 'demo', type: 'demo' }],
    models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
    auth: { enabled: false },
    metrics,
  });
}

describe('/metrics exposure at start', () => {
  let directory: string;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-metrics-exposure-'));
  });
  after(() => {
    killStrayChildren();
    rmSync(directory, { recursive: true, force: true });
  });

  it('warns when /metrics is open on 0.0.0.0', async () => {
    writeFileSync(join(directory, 'open.yaml'), document({}));
    const serve = new ServeProcess({ cwd: directory, args: ['--config', 'open.yaml'] });
    try {
      await serve.listening();
      const warning = serve.logs.find((log) => WARNING.test(String(log['msg'])));
      assert.ok(warning !== undefined, serve.lines.join('\n'));
      assert.equal(warning['level'], 40);
    } finally {
      await serve.stop();
    }
  });

  it('takes metrics.token from the environment: no warning, and /metrics needs the token', async () => {
    writeFileSync(join(directory, 'token.yaml'), document({ token: '${SCRAPE_TOKEN}' }));
    const serve = new ServeProcess({
      cwd: directory,
      args: ['--config', 'token.yaml'],
      env: { SCRAPE_TOKEN: TOKEN },
    });
    try {
      const url = (await serve.listening()).replace('0.0.0.0', '127.0.0.1');
      assert.ok(!serve.logs.some((log) => WARNING.test(String(log['msg']))));
      const without = await fetch(`${url}/metrics`);
      assert.equal(without.status, 401);
      await without.body?.cancel();
      const withToken = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(withToken.status, 200);
      assert.match(await withToken.text(), /gateway_http_requests_total/);
    } finally {
      await serve.stop();
    }
  });
});
