import type { ServerResponse } from 'node:http';

/**
 * Server-sent events on a raw response, with backpressure: a write that fills the socket's buffer
 * waits for `drain` (or the connection's end) before the next chunk is pulled from the upstream, so a
 * slow reader slows the upstream instead of growing memory.
 */
export class SseWriter {
  constructor(private readonly response: ServerResponse) {}

  open(headers: Record<string, string | number | string[] | undefined>): void {
    this.response.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    this.response.flushHeaders();
  }

  get closed(): boolean {
    return this.response.destroyed || this.response.writableEnded;
  }

  async data(payload: string): Promise<void> {
    if (this.closed) return;
    if (!this.response.write(`data: ${payload}\n\n`)) await this.drained();
  }

  end(): void {
    if (!this.closed) this.response.end();
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.response.off('drain', done);
        this.response.off('close', done);
        resolve();
      };
      this.response.on('drain', done);
      this.response.on('close', done);
    });
  }
}
