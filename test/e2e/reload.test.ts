/**
 * Config reload without a restart (SIGHUP, and server.watch_config): the real CLI, a stand-in upstream
 * whose stream is slow enough to be in flight during the reload.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killStrayChildren, ServeProcess } from '../support/cli-process.js';
import { StandInUpstream } from '../support/stand-in-upstream.js';

const KEY = 'sk-gw-reloadAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const NEW_KEY = 'sk-gw-reloadNewBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

function document(
  upstreamUrl: string,
  extra: { model?: boolean; key?: boolean; port?: number; watch?: boolean },
) {
  return JSON.stringify({
    server: { port: extra.port ?? 0, ...(extra.watch === true ? { watch_config: true } : {}) },
    backends: [
      { name: 'vllm', type: 'openai', url: `${upstreamUrl}/v1` },
      ...(extra.model === true ? [{ name: 'demo', type: 'demo' }] : []),
    ],
    models: [
      { name: 'qwen', targets: [{ backend: 'vllm' }] },
      ...(extra.model === true ? [{ name: 'added', targets: [{ backend: 'demo' }] }] : []),
    ],
    auth: {
      keys: [
        { id: 'original', sha256: sha256(KEY) },
        ...(extra.key === true ? [{ id: 'added-key', sha256: sha256(NEW_KEY) }] : []),
      ],
    },
    cache: { enabled: false },
  });
}

/** Writes the file the way config management does: a new file renamed over the old one. */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.new`, text);
  renameSync(`${path}.new`, path);
}

async function chat(url: string, model: string, key = KEY): Promise<number> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await response.arrayBuffer();
  return response.status;
}

const reloads = (serve: ServeProcess, message: string): number =>
  serve.logs.filter((log) => log['msg'] === message).length;

describe('config reload on SIGHUP', () => {
  let upstream: StandInUpstream;
  let directory: string;
  let configPath: string;
  let serve: ServeProcess;
  let url: string;

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    directory = mkdtempSync(join(tmpdir(), 'gw-reload-'));
    configPath = join(directory, 'config.yaml');
    writeFileSync(configPath, document(upstream.url, {}));
    serve = new ServeProcess({ cwd: directory, args: ['--config', 'config.yaml'] });
    url = await serve.listening();
  });
  after(async () => {
    await serve.stop();
    killStrayChildren();
    await upstream.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('serves a model and a key added by the new config, without dropping a stream in flight', async () => {
    assert.equal(await chat(url, 'added'), 404);
    assert.equal(await chat(url, 'qwen', NEW_KEY), 401);
    upstream.behaviour = { kind: 'slow-stream', delayMs: 150 };
    const stream = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'qwen', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(stream.status, 200);
    const reader = stream.body?.getReader();
    assert.ok(reader !== undefined);
    const first = await reader.read();
    assert.ok(first.value !== undefined && first.value.length > 0, 'the stream has started');

    replaceFile(configPath, document(upstream.url, { model: true, key: true }));
    assert.ok(serve.kill('SIGHUP'));
    await serve.waitForLog('the reload', (log) => log['msg'] === 'config reloaded');

    assert.equal(await chat(url, 'added'), 200);
    assert.equal(await chat(url, 'qwen', NEW_KEY), 200);
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      text += new TextDecoder().decode(next.value);
    }
    assert.ok(text.trimEnd().endsWith('data: [DONE]'), `the stream in flight completed: ${text}`);
    assert.ok(!text.includes('"error"'), text);
    upstream.behaviour = { kind: 'normal' };
  });

  it('refuses a broken config, logs why, and keeps serving the running one', async () => {
    const before = reloads(serve, 'config reload refused: the running config stays');
    replaceFile(configPath, 'models:\n  - name: [unterminated\n');
    assert.ok(serve.kill('SIGHUP'));
    const refused = await serve.waitForLog(
      'the refusal',
      (log) =>
        log['msg'] === 'config reload refused: the running config stays' &&
        reloads(serve, 'config reload refused: the running config stays') > before,
    );
    assert.ok(Array.isArray(refused['problems']) && refused['problems'].length > 0);
    assert.equal(await chat(url, 'added'), 200, 'the last good config is still in force');
    assert.ok(serve.running);

    // A config that parses but is wrong is refused the same way, with the field's path.
    replaceFile(
      configPath,
      document(upstream.url, { model: true, key: true }).replace('"backend":"demo"', '"backend":"nope"'),
    );
    assert.ok(serve.kill('SIGHUP'));
    const wrong = await serve.waitForLog(
      'the second refusal',
      (log) =>
        log['msg'] === 'config reload refused: the running config stays' &&
        JSON.stringify(log['problems']).includes("no backend named 'nope'"),
    );
    assert.ok(wrong !== undefined);
    assert.equal(await chat(url, 'added'), 200);
  });

  it('says which changes need a restart, and applies the rest', async () => {
    replaceFile(configPath, document(upstream.url, { model: false, key: true, port: 1 }));
    assert.ok(serve.kill('SIGHUP'));
    const warning = await serve.waitForLog(
      'the restart warning',
      (log) => log['msg'] === 'these changes take effect only after a restart',
    );
    assert.deepEqual(warning['sections'], ['server']);
    assert.equal(await chat(url, 'added'), 404, 'the model removed by the new config is gone');
    assert.equal(await chat(url, 'qwen'), 200, 'still listening on the old port');
  });
});

describe('config reload on file change (server.watch_config)', () => {
  let upstream: StandInUpstream;
  let directory: string;
  let configPath: string;
  let serve: ServeProcess;
  let url: string;

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    directory = mkdtempSync(join(tmpdir(), 'gw-reload-watch-'));
    configPath = join(directory, 'config.yaml');
    writeFileSync(configPath, document(upstream.url, { watch: true }));
    serve = new ServeProcess({ cwd: directory, args: ['--config', 'config.yaml'] });
    url = await serve.listening();
  });
  after(async () => {
    await serve.stop();
    killStrayChildren();
    await upstream.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('reloads when the file is replaced', async () => {
    assert.equal(await chat(url, 'added'), 404);
    replaceFile(configPath, document(upstream.url, { watch: true, model: true }));
    const reloaded = await serve.waitForLog('the reload', (log) => log['msg'] === 'config reloaded');
    assert.equal(reloaded['trigger'], 'file change');
    assert.equal(await chat(url, 'added'), 200);
  });
});
