/**
 * Issue 17, item 3: a body over server.body_limit_bytes is refused with 413 from its Content-Length (or,
 * chunked, once the limit is passed), and the client must be able to read that 413. Closing the socket
 * while the client is still sending made Node's fetch, undici and the official `openai` SDK see EPIPE or
 * "Connection error" (and the SDK sent the whole body twice more). The gateway now reads and discards the
 * rest of a refused body, within a bound in bytes and in time, before it closes the connection.
 *
 * The gateway runs in its own process (node dist/cli.js; needs npm run build): with client and server in
 * one event loop, the client reads the answer before the reset arrives and the fault does not show.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { request as undiciRequest } from 'undici';
import { stringify } from 'yaml';
import { sha256Hex } from '../../src/auth/api-key.js';
import { killStrayChildren, ServeProcess } from '../support/cli-process.js';
import { TEST_KEY } from '../support/gateway-harness.js';
import type { Problem } from '../support/problem.js';

const LIMIT = 64 * 1024;
/** Far more than loopback's socket buffers hold: the client is still sending when the 413 is sent. */
const BODY_BYTES = 12 * 1024 * 1024;
const CHAT = '/v1/chat/completions';
/** The most the gateway reads of a refused body before it gives up (at least 16 MiB). */
const LINGER_BYTES = 16 * 1024 * 1024;

const CONTENT = 'x'.repeat(BODY_BYTES);
const BODY = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: CONTENT }] });
/** The largest socket buffer the kernel may grow to (`net.ipv4.<name>`'s third field), or 16 MiB. */
function kernelSocketBufferMax(name: 'tcp_rmem' | 'tcp_wmem'): number {
  try {
    const max = Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
    if (Number.isSafeInteger(max) && max > 0) return max;
  } catch {
    // not Linux: the fallback below
  }
  return 16 * 1024 * 1024;
}

/** Sends per client. */
const ATTEMPTS = 5;

/** The same body as a stream with no length: fetch and undici send it chunked. */
function chunkedBody(text: string, chunkBytes = 64 * 1024): ReadableStream<Uint8Array> {
  const bytes = Buffer.from(text);
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.subarray(offset, offset + chunkBytes));
      offset += chunkBytes;
    },
  });
}

/** The body in 64 KiB pieces, for undici's stream body (sent chunked). */
function* pieces(text: string, pieceBytes = 64 * 1024): Generator<Buffer> {
  const bytes = Buffer.from(text);
  for (let offset = 0; offset < bytes.length; offset += pieceBytes)
    yield bytes.subarray(offset, offset + pieceBytes);
}

function assertTooLarge(status: number, problem: Problem): void {
  assert.equal(status, 413);
  assert.equal(problem.status, 413);
  assert.equal(problem.error.code, 'payload_too_large');
  assert.equal(problem.instance, CHAT);
  assert.match(problem.detail, new RegExp(`${LIMIT} bytes`));
}

const headers = { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' };

describe('a body over server.body_limit_bytes: every client reads the 413 (issue 17, item 3)', () => {
  let directory: string;
  let serve: ServeProcess;
  let url: string;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'gw-oversized-'));
    writeFileSync(
      join(directory, 'gateway.yaml'),
      stringify({
        server: { port: 0, body_limit_bytes: LIMIT, state_dir: join(directory, 'state') },
        backends: [{ name: 'demo', type: 'demo' }],
        models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
        auth: { keys: [{ id: 'test-key', sha256: sha256Hex(TEST_KEY) }] },
      }),
    );
    serve = new ServeProcess({ cwd: directory, args: ['--config', 'gateway.yaml'] });
    url = await serve.listening();
  });
  after(async () => {
    await serve.stop();
    killStrayChildren();
    rmSync(directory, { recursive: true, force: true });
  });

  const client = (maxRetries: number, requestId = 'sdk'): OpenAI =>
    new OpenAI({
      baseURL: `${url}/v1`,
      apiKey: TEST_KEY,
      maxRetries,
      timeout: 20_000,
      defaultHeaders: { 'x-request-id': requestId },
    });

  // Whether the reset overtakes the answer is a race: each client sends several times, and every time
  // must read the answer.
  it('the openai SDK (maxRetries 0) gets APIError 413 with the problem body, for a body with Content-Length', async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const error = await client(0)
        .chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: CONTENT }] })
        .then(
          () => null,
          (caught: unknown) => caught,
        );
      assert.ok(error instanceof OpenAI.APIError, `expected an APIError, got ${String(error)}`);
      assert.equal(error.status, 413, `attempt ${attempt}: the SDK saw ${error.message}`);
      assert.equal((error.error as { code?: string } | undefined)?.code, 'payload_too_large');
    }
  });

  it('the openai SDK with its default retries sends the body once: a 413 is not retried, a broken connection was', async () => {
    const requestId = 'sdk-default-retries';
    const error = await client(2, requestId)
      .chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: CONTENT }] })
      .then(
        () => null,
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof OpenAI.APIError);
    assert.equal(error.status, 413, `the SDK saw ${error.message}`);
    // Every attempt was answered before the SDK gave up; the log lines come in the order of answers.
    const marker = await fetch(`${url}/health/live`, { headers: { 'x-request-id': 'after-sdk-retries' } });
    await marker.body?.cancel();
    await serve.waitForLog('the marker request', (line) => line['request_id'] === 'after-sdk-retries');
    const attempts = serve.logs.filter(
      (line) => line['msg'] === 'request_complete' && line['request_id'] === requestId,
    );
    assert.deepEqual(
      attempts.map((line) => line['status']),
      [413],
    );
  });

  it('fetch reads 413 and the problem body, for a body with Content-Length', async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const response = await fetch(`${url}${CHAT}`, { method: 'POST', headers, body: BODY });
      assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assertTooLarge(response.status, (await response.json()) as Problem);
    }
  });

  it('fetch reads 413 and the problem body, for a chunked body (a stream, duplex: half)', async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const response = await fetch(`${url}${CHAT}`, {
        method: 'POST',
        headers,
        body: chunkedBody(BODY),
        duplex: 'half',
      });
      assertTooLarge(response.status, (await response.json()) as Problem);
    }
  });

  it('undici.request reads 413 and the problem body, for a body with Content-Length', async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const response = await undiciRequest(`${url}${CHAT}`, { method: 'POST', headers, body: BODY });
      assertTooLarge(response.statusCode, (await response.body.json()) as Problem);
    }
  });

  it('undici.request reads 413 and the problem body, for a chunked body', async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const response = await undiciRequest(`${url}${CHAT}`, {
        method: 'POST',
        headers,
        body: Readable.from(pieces(BODY)),
      });
      assertTooLarge(response.statusCode, (await response.body.json()) as Problem);
    }
  });

  it('a 401 to a large body without a key is readable too', async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const response = await fetch(`${url}${CHAT}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: BODY,
      });
      assert.equal(response.status, 401);
      assert.equal(((await response.json()) as Problem).error.code, 'invalid_api_key');
    }
  });

  it('the connection still closes after the 413 (Connection: close), and the gateway keeps serving', async () => {
    const response = await fetch(`${url}${CHAT}`, { method: 'POST', headers, body: BODY });
    assert.equal(response.status, 413);
    assert.equal(response.headers.get('connection'), 'close');
    await response.body?.cancel();
    const ok = await fetch(`${url}${CHAT}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'Hello' }] }),
    });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  });

  /**
   * Sends `head`, then `piece` as fast as the gateway takes it, for ever: only the gateway ends this.
   * Returns what the gateway answered and how many bytes of body it took before it closed.
   */
  async function sendUntilClosed(
    head: string,
    piece: Buffer,
  ): Promise<{ received: string; written: number }> {
    const { port } = new URL(url);
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    socket.on('error', () => undefined);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    let open = true;
    const closed = new Promise<void>((resolve) =>
      socket.once('close', () => {
        open = false;
        resolve();
      }),
    );
    socket.write(head);
    let written = 0;
    // Twenty times the bound: a gateway that read it all would fail the assertions below.
    while (open && written < 20 * LINGER_BYTES) {
      if (!socket.write(piece)) {
        await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
      } else {
        // A turn of the event loop, so the answer is read as it arrives: when the kernel takes every
        // write at once this loop would otherwise read nothing until the gateway's close, whose reset
        // discards what was received and not yet read (seen once in CI: an empty answer).
        await new Promise((resolve) => setImmediate(resolve));
      }
      written += piece.length;
    }
    await closed;
    return { received, written };
  }

  /**
   * What the socket buffers on both sides may hold on top of what the gateway read: the kernel's most
   * for a receive buffer (autotuned on loopback; 32 MiB on Debian 12) and a send buffer, or 16 MiB
   * where /proc does not say. A gateway that read the whole body would take 320 MiB, far more.
   */
  const BUFFERED = kernelSocketBufferMax('tcp_rmem') + kernelSocketBufferMax('tcp_wmem');

  it('reads no more than the bound of a chunked body that never ends, then closes', async () => {
    const { received, written } = await sendUntilClosed(
      `POST ${CHAT} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ${TEST_KEY}\r\n` +
        'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 'y'), Buffer.from('\r\n')]),
    );
    assert.match(received, /^HTTP\/1\.1 413 /);
    assert.ok(
      written < LINGER_BYTES + BUFFERED,
      `${Math.round(written / 1024 / 1024)} MiB were taken before the connection closed`,
    );
  });

  it('reads no more than the bound of a body declared far larger, then closes', async () => {
    const { received, written } = await sendUntilClosed(
      `POST ${CHAT} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ${TEST_KEY}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${100 * LINGER_BYTES}\r\n\r\n`,
      Buffer.alloc(0x10000, 'y'),
    );
    assert.match(received, /^HTTP\/1\.1 413 /);
    assert.ok(
      written < LINGER_BYTES + BUFFERED,
      `${Math.round(written / 1024 / 1024)} MiB were taken before the connection closed`,
    );
  });

  it('waits at most 5 s for the rest of a body that keeps arriving at a steady pace, then closes', async () => {
    const { port } = new URL(url);
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    socket.on('error', () => undefined);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const declared = 15 * 1024 * 1024;
    socket.write(
      `POST ${CHAT} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ${TEST_KEY}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`,
    );
    // 640 KiB/s, ten times the pace below which a body is not waited for: the whole body would take 24 s.
    const piece = Buffer.alloc(64 * 1024, 'y');
    let written = 0;
    const started = performance.now();
    const timer = setInterval(() => {
      if (socket.writable) socket.write(piece);
      written += piece.length;
    }, 100);
    try {
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    } finally {
      clearInterval(timer);
    }
    const elapsed = performance.now() - started;
    assert.match(received, /^HTTP\/1\.1 413 /);
    assert.ok(written < declared, 'the connection closed before the body was complete');
    assert.ok(elapsed < 12_000, `closed after ${Math.round(elapsed)} ms`);
  });
});
