import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { UpstreamCall } from '../backends/adapter.js';
import { ClientClosedError, ShuttingDownError } from '../errors/errors.js';

/**
 * Ties each upstream call to its client: when the client's connection closes before the answer is
 * complete, the call's signal aborts and the upstream request is cancelled. Open streams are also
 * tracked so that shutdown can end them.
 */
export class UpstreamCalls {
  private readonly streams = new Set<AbortController>();
  /** Each call's controller, and the answer to its client. */
  private readonly all = new Map<AbortController, ServerResponse>();

  open(
    request: FastifyRequest,
    reply: FastifyReply,
    options: { stream: boolean },
  ): UpstreamCall & { close(): void } {
    const controller = new AbortController();
    const response = reply.raw;
    const onClose = (): void => {
      if (!response.writableFinished) controller.abort(new ClientClosedError());
    };
    response.on('close', onClose);
    this.all.set(controller, response);
    if (options.stream) this.streams.add(controller);
    return {
      signal: controller.signal,
      requestId: request.id,
      abort: (reason: Error) => {
        controller.abort(reason);
      },
      close: () => {
        response.off('close', onClose);
        this.all.delete(controller);
        this.streams.delete(controller);
      },
    };
  }

  /** Ends every open stream with an error event (their upstream requests are aborted). */
  abortStreams(): number {
    const count = this.streams.size;
    for (const controller of this.streams) controller.abort(new ShuttingDownError());
    return count;
  }

  /**
   * After the grace period: abort whatever is still waiting on an upstream. Each handler answers 503
   * (ShuttingDownError), on a connection that then closes.
   */
  abortAll(): void {
    for (const [controller, response] of this.all) {
      if (!response.headersSent) response.setHeader('connection', 'close');
      controller.abort(new ShuttingDownError());
    }
  }

  get streamCount(): number {
    return this.streams.size;
  }

  get size(): number {
    return this.all.size;
  }
}
