/**
 * Lingering close for a refusal sent before its request's body was read: 413 from the Content-Length
 * (or once a chunked body passes the limit), 401 and 429 decided on the headers.
 *
 * Closing such a connection at once, while the client is still sending, makes the kernel answer the
 * client's next segments with a reset: Node's fetch, undici and the official `openai` SDK then report
 * EPIPE or "Connection error" instead of the answer already on its way, and the SDK sends the whole body
 * twice more (issue 17, item 3). As Apache and NGINX do (lingering close), the rest of the body is read
 * and thrown away, and the connection is closed once all of it has arrived, so the client reads the
 * answer. A client must not be able to hold the socket that way (issue 16, finding 3), so the wait is
 * bounded in bytes, in time, and in pace: a body arriving slower than `minBytesPerCheck` every
 * `checkEveryMs` (a dripping client) is not waited for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface LingerBounds {
  /**
   * The most read of a refused body. Also for one declared larger: most clients stop sending once they
   * have the answer, and one that does not is cut off here.
   */
  readonly maxBytes: number;
  /** The longest wait for the rest of the body, from the refusal. */
  readonly maxMs: number;
  /** How often the pace is checked. */
  readonly checkEveryMs: number;
  /** Less than this between two checks, and the body is not waited for. */
  readonly minBytesPerCheck: number;
}

/** 16 MiB or 4 times the body limit, 5 s, and at least 64 KiB/s. */
export function lingerBounds(bodyLimitBytes: number): LingerBounds {
  return {
    maxBytes: Math.max(16 * 1024 * 1024, 4 * bodyLimitBytes),
    maxMs: 5_000,
    checkEveryMs: 250,
    minBytesPerCheck: 16 * 1024,
  };
}

/** The override below is an own property; deleting it brings back the prototype's method. */
type OwnDestroySoon = { destroySoon?: () => void };

const lingering = new WeakSet<Socket>();

/** Whether the socket is reading the rest of a refused body; Node's request timeout must not answer it. */
export function isLingering(socket: Socket): boolean {
  return lingering.has(socket);
}

/**
 * Reads and discards the rest of `request`'s body, and closes its connection (answered with
 * `Connection: close`) once the body has all arrived or a bound is reached. Call it when the refusal is
 * sent; nothing happens for a complete body.
 */
export function lingerUntilBodyRead(
  request: IncomingMessage,
  response: ServerResponse,
  bounds: LingerBounds,
): void {
  const socket = request.socket;
  if (request.complete || lingering.has(socket)) return;
  // How Node closes a `Connection: close` socket once its last answer is written.
  const close = socket.destroySoon.bind(socket);
  lingering.add(socket);

  let received = 0;
  let receivedAtCheck = 0;
  let responded = false;
  let done = false;
  const startedAt = performance.now();
  const finish = (): void => {
    if (done) return;
    done = true;
    clearInterval(timer);
    request.off('data', onData);
    request.off('end', finish);
    if (responded) close();
  };
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > bounds.maxBytes) finish();
  };
  const timer = setInterval(() => {
    const slow = received - receivedAtCheck < bounds.minBytesPerCheck;
    receivedAtCheck = received;
    if (slow || performance.now() - startedAt >= bounds.maxMs) finish();
  }, bounds.checkEveryMs);
  timer.unref();

  // Reading it ourselves also keeps Node from dumping the body, which would leave nothing to count.
  request.on('data', onData);
  request.once('end', finish);
  request.resume();
  socket.once('close', () => {
    lingering.delete(socket);
    finish();
  });
  // Node calls this once the answer is written; any other caller (a client error) closes as before.
  socket.destroySoon = () => {
    delete (socket as OwnDestroySoon).destroySoon;
    if (!response.writableFinished || done) {
      close();
      return;
    }
    responded = true;
  };
}
