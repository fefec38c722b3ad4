/**
 * Node's `clientError`: a request its HTTP parser refused (bad bytes, headers too large) or one that did
 * not arrive in time. Replaces Fastify's handler, which logs the whole error at trace level, and Node's
 * HTTP parser errors carry `rawPacket`: the raw bytes of the request, API key and prompt included
 * (issue 16, finding 4). Only the error's code is logged here; the client gets a problem+json body.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { InvalidRequestError, toProblem } from '../errors/errors.js';
import { isLingering } from './lingering-close.js';

interface ClientErrorShape {
  readonly status: number;
  readonly reason: string;
  readonly detail: string;
}

function shapeOf(code: string | undefined): ClientErrorShape {
  switch (code ?? '') {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        reason: 'request_timeout',
        detail: 'The request did not arrive in time (server.request_timeout_ms); send it again',
      };
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return {
        status: 408,
        reason: 'headers_timeout',
        detail: "The request's headers did not arrive in time (server.headers_timeout_ms)",
      };
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        reason: 'header_overflow',
        detail: "The request's headers are too large; send fewer or shorter headers",
      };
    default:
      return { status: 400, reason: 'malformed', detail: 'The request is not valid HTTP/1.1' };
  }
}

export function clientErrorHandler(
  logger: Logger,
): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    // A reset connection has nobody left to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const shape = shapeOf(error.code);
    // The code only: never the error object, whose rawPacket (and message, for some parser errors) may
    // hold what the client sent.
    logger.debug({ code: error.code ?? null, reason: shape.reason }, 'client error');
    // As Node's own handler: answer unless a response on this socket has already begun.
    const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    // A socket reading the rest of a refused body has had its answer (lingering-close.ts).
    if (socket.writable && inProgress?.headersSent !== true && !isLingering(socket)) {
      const problem = toProblem(
        new InvalidRequestError(shape.detail, { status: shape.status }),
        '',
        randomUUID(),
      );
      const body = JSON.stringify(problem);
      socket.end(
        `HTTP/1.1 ${shape.status} ${statusText(shape.status)}\r\n` +
          'Content-Type: application/problem+json\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          'Connection: close\r\n\r\n' +
          body,
      );
    }
    // Closed once the answer is written: a half-open socket would let a dripping client stay.
    socket.destroySoon();
  };
}

function statusText(status: number): string {
  return status === 408
    ? 'Request Timeout'
    : status === 431
      ? 'Request Header Fields Too Large'
      : 'Bad Request';
}
