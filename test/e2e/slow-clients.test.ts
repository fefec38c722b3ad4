/**
 * Issue 16, finding 3: connections held for ever. A client that sends headers announcing a large body
 * and then drips it kept its socket past 150 s (also after its 401), and 1,100 such sockets exhausted
 * the file descriptors. Now: a refusal whose body is unread closes the connection, a request that does
 * not arrive within server.request_timeout_ms (its headers within server.headers_timeout_ms) is cut off
 * with 408, and connections past server.max_connections are closed as they come.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';

const DEMO = {
  backends: [{ name: 'demo', type: 'demo' }],
  models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
};

interface Dripping {
  readonly socket: Socket;
  /** Everything the gateway sent on this socket. */
  received(): string;
  /** Resolves when the gateway closed the socket (or it errored), with the milliseconds it took. */
  readonly closed: Promise<number>;
  stop(): void;
}

/** Opens a connection, writes `head`, then one byte of body every `everyMs` until closed. */
function drip(url: string, head: string, everyMs = 50): Dripping {
  const { port } = new URL(url);
  const socket = connect({ host: '127.0.0.1', port: Number(port) });
  const started = performance.now();
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => undefined);
  socket.write(head);
  const timer = setInterval(() => {
    if (!socket.destroyed && socket.writable) socket.write('a');
  }, everyMs);
  const closed = new Promise<number>((resolve) => {
    socket.once('close', () => {
      clearInterval(timer);
      resolve(performance.now() - started);
    });
  });
  return {
    socket,
    received: () => text,
    closed,
    stop() {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

/** Waits for the promise, or fails the test after `ms` (the socket is then destroyed by the caller). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function chatHead(key: string | null, contentLength: number): string {
  return (
    'POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n' +
    (key === null ? '' : `Authorization: Bearer ${key}\r\n`) +
    `Content-Length: ${contentLength}\r\n\r\n{"model":"demo",`
  );
}

describe('slow and idle clients (issue 16, finding 3)', () => {
  let running: RunningGateway;

  before(async () => {
    running = await startGateway(
      testConfig({
        ...DEMO,
        server: { request_timeout_ms: 1_500, headers_timeout_ms: 1_000, max_connections: 20 },
      }),
    );
  });
  after(async () => {
    await running.stop();
  });

  it('answers 401 to a dripped body without a key, with Connection: close, and closes the socket', async () => {
    const client = drip(running.url, chatHead(null, 1_000_000));
    try {
      // Long before the request timeout: the refusal itself ends the connection.
      await within(client.closed, 1_000, 'the socket was not closed after the 401');
      assert.match(client.received(), /^HTTP\/1\.1 401 /);
      assert.match(client.received(), /\r\nconnection: close\r\n/i);
    } finally {
      client.stop();
    }
  });

  it('cuts off a dripped body with a valid key after server.request_timeout_ms, with 408', async () => {
    const client = drip(running.url, chatHead(TEST_KEY, 1_000_000));
    try {
      const elapsed = await within(client.closed, 10_000, 'the dripping request was not cut off');
      assert.ok(elapsed >= 1_400, `closed after ${Math.round(elapsed)} ms, before the timeout`);
      assert.match(client.received(), /^HTTP\/1\.1 408 /);
      assert.match(client.received(), /application\/problem\+json/);
    } finally {
      client.stop();
    }
  });

  it('cuts off headers that never end after server.headers_timeout_ms', async () => {
    const { port } = new URL(running.url);
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.write('GET /v1/models HTTP/1.1\r\nHost: gateway\r\nX-Slow: ');
    try {
      await within(
        new Promise((resolve) => socket.once('close', resolve)),
        10_000,
        'the half-sent headers kept the socket',
      );
      assert.match(text, /^HTTP\/1\.1 408 /);
    } finally {
      socket.destroy();
    }
  });

  it('closes connections past server.max_connections at once, and serves again when they go', async () => {
    const { port } = new URL(running.url);
    const open: Socket[] = [];
    try {
      for (let index = 0; index < 20; index++) {
        const socket = connect({ host: '127.0.0.1', port: Number(port) });
        socket.on('error', () => undefined);
        await new Promise((resolve) => socket.once('connect', resolve));
        open.push(socket);
      }
      // Wait until the server has counted all of them (it accepts asynchronously).
      for (;;) {
        const count = await new Promise<number>((resolve, reject) =>
          running.gateway.app.server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
        );
        if (count >= 20) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      const extra = connect({ host: '127.0.0.1', port: Number(port) });
      extra.on('error', () => undefined);
      extra.write('GET /health/live HTTP/1.1\r\nHost: gateway\r\n\r\n');
      let answered = '';
      extra.on('data', (chunk: Buffer) => (answered += chunk.toString()));
      await within(
        new Promise((resolve) => extra.once('close', resolve)),
        5_000,
        'the extra connection stayed',
      );
      assert.equal(answered, '', 'the connection past the cap was served');
    } finally {
      for (const socket of open) socket.destroy();
    }
    // Room again: a request is served.
    for (;;) {
      const count = await new Promise<number>((resolve, reject) =>
        running.gateway.app.server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
      );
      if (count === 0) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const response = await fetch(`${running.url}/health/live`);
    assert.equal(response.status, 200);
  });
});
