/**
 * RELIABILITY.md item 12 (issue 17, item 8): a client that never reads a large stream. The gateway
 * writes to the client only as fast as the client reads (sse.ts waits for `drain`), so it stops reading
 * the upstream too: what sits between the two is bounded by socket buffers, not by the stream's length.
 * Measured at the upstream: a 256 MiB stream, written as fast as the gateway takes it, stalls after a
 * few MiB while the client reads nothing; without backpressure the gateway would take all of it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';

const STREAM_BYTES = 256 * 1024 * 1024;
/**
 * The most that may be written upstream and not read by the client: the kernel's buffers of two
 * loopback connections (send and receive, autotuned to a few MiB each) and the gateway's own. A
 * gateway that ignored backpressure would take the whole 256 MiB.
 */
const BOUND_BYTES = 32 * 1024 * 1024;
/** The upstream counts as stalled once its write has waited for `drain` this long. */
const STALLED_MS = 1000;
const WAIT_MS = 30_000;

/** An OpenAI-style upstream that streams STREAM_BYTES of chunks as fast as its socket takes them. */
class FirehoseUpstream {
  written = 0;
  finished = false;
  closed = false;
  /** performance.now() since when the current write waits for `drain`; null while writing freely. */
  waitingSince: number | null = null;
  private readonly server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.on('close', () => {
        this.closed = true;
      });
      this.pump(response);
    });
  });

  private pump(response: ServerResponse): void {
    const chunk = `data: ${JSON.stringify({
      id: 'chatcmpl-firehose',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'firehose',
      choices: [{ index: 0, delta: { content: 'x'.repeat(1000) }, finish_reason: null }],
    })}\n\n`;
    const write = (): void => {
      this.waitingSince = null;
      while (this.written < STREAM_BYTES) {
        if (response.destroyed) return;
        this.written += chunk.length;
        if (!response.write(chunk)) {
          this.waitingSince = performance.now();
          response.once('drain', write);
          return;
        }
      }
      response.end('data: [DONE]\n\n');
      this.finished = true;
    };
    write();
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    assert.ok(address !== null && typeof address === 'object');
    return `http://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Resolves once `condition` holds, checked every 50 ms; fails after WAIT_MS with `describe()`. */
async function until(condition: () => boolean, describe: () => string): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a client that never reads a large stream (RELIABILITY.md item 12)', () => {
  const upstream = new FirehoseUpstream();
  let running: RunningGateway;

  before(async () => {
    const url = await upstream.start();
    running = await startGateway(
      testConfig({
        backends: [{ name: 'firehose', type: 'openai', url: `${url}/v1` }],
        models: [{ name: 'firehose', targets: [{ backend: 'firehose', model: 'firehose' }] }],
      }),
    );
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  it('stops reading the upstream within a bound while the client reads nothing, and aborts it when the client leaves', async () => {
    const { port } = new URL(running.url);
    const body = JSON.stringify({
      model: 'firehose',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    socket.on('error', () => undefined);
    let received = 0;
    const started = new Promise<void>((resolve) => {
      socket.once('data', (chunk: Buffer) => {
        received += chunk.length;
        // The stream has begun; from here on the client reads nothing.
        socket.pause();
        resolve();
      });
    });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ${TEST_KEY}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await started;

    await until(
      () =>
        upstream.finished ||
        (upstream.waitingSince !== null && performance.now() - upstream.waitingSince > STALLED_MS),
      () => `the upstream wrote ${upstream.written} bytes and never stalled`,
    );
    assert.equal(upstream.finished, false, 'the gateway took the whole stream from the upstream');
    const unread = upstream.written - received;
    assert.ok(unread <= BOUND_BYTES, `${unread} bytes written upstream and not read by the client`);

    socket.destroy();
    await until(
      () => upstream.closed,
      () => 'the upstream connection was not closed after the client left',
    );
  });
});
