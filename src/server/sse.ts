import type { ServerResponse } from 'node:http';

/**
 * How long a stream may send the client nothing before the gateway sends a `: keep-alive` comment, so
 * that proxies and load balancers with an idle timeout (commonly 60 s) do not cut a healthy stream while
 * the upstream thinks (issue 17; RELIABILITY.md #9). SSE readers ignore comments.
 */
export const KEEP_ALIVE_MS = 15_000;

/**
 * Server-sent events on a raw response, with backpressure: a write that fills the socket's buffer
 * waits for `drain` (or the connection's end) before the next chunk is pulled from the upstream, so a
 * slow reader slows the upstream instead of growing memory. With `keepAliveMs`, a comment goes out
 * whenever nothing else has for that long.
 */
export class SseWriter {
  private keepAlive: NodeJS.Timeout | null = null;
  private draining = false;

  constructor(
    private readonly response: ServerResponse,
    /** 0: no keep-alive comments of the gateway's own. */
    private readonly keepAliveMs = 0,
  ) {}

  open(
    headers: Record<string, string | number | string[] | undefined>,
    contentType = 'text/event-stream; charset=utf-8',
  ): void {
    this.response.writeHead(200, {
      ...headers,
      'content-type': contentType,
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    this.response.flushHeaders();
    if (this.keepAliveMs > 0) {
      this.keepAlive = setTimeout(() => {
        this.comment('keep-alive');
        this.keepAlive?.refresh(); // again after another quiet interval (also while draining)
      }, this.keepAliveMs);
      this.keepAlive.unref();
    }
  }

  get closed(): boolean {
    return this.response.destroyed || this.response.writableEnded;
  }

  async data(payload: string): Promise<void> {
    if (this.closed) return;
    this.keepAlive?.refresh();
    if (!this.response.write(`data: ${payload}\n\n`)) await this.drained();
  }

  /** Text already framed by the protocol (`event: ...` lines, NDJSON lines); nothing when empty. */
  async frames(text: string): Promise<void> {
    if (text === '' || this.closed) return;
    this.keepAlive?.refresh();
    if (!this.response.write(text)) await this.drained();
  }

  /**
   * A comment line (`: text`), e.g. an upstream's keep-alive passed on. Dropped before the stream is
   * open (headers not sent: the answer may still be retried elsewhere) and while the socket's buffer is
   * full (bytes are pending anyway: the connection is not idle).
   */
  comment(text: string): void {
    if (this.closed || this.draining || !this.response.headersSent) return;
    this.keepAlive?.refresh();
    this.response.write(`: ${text}\n\n`);
  }

  end(): void {
    if (this.keepAlive !== null) clearTimeout(this.keepAlive);
    if (!this.closed) this.response.end();
  }

  private drained(): Promise<void> {
    this.draining = true;
    return new Promise((resolve) => {
      const done = (): void => {
        this.draining = false;
        this.response.off('drain', done);
        this.response.off('close', done);
        resolve();
      };
      this.response.on('drain', done);
      this.response.on('close', done);
    });
  }
}
