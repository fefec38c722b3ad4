/**
 * A stand-in OpenAI-compatible server for concurrency tests (issue 20): it counts the requests in
 * flight at it (from the request's arrival until its answer's last byte has left, or the connection
 * closed) and the most ever in flight at once, records each request's tag (the last user message) in
 * order of arrival, and holds every answer until the test releases it, or answers after a fixed delay.
 *
 * A held stream sends its headers and a first chunk at once and the rest only when released, so a
 * stream is in flight here (and must hold its gateway slot) until its last byte.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How the server answers: hold until released, or answer by itself after `delayMs`. */
export type HeldMode = { readonly kind: 'hold' } | { readonly kind: 'delay'; readonly delayMs: number };

interface Pending {
  readonly tag: string;
  readonly release: () => void;
}

export class HeldUpstream {
  mode: HeldMode = { kind: 'hold' };
  /** Requests whose answer has not ended yet. */
  inFlight = 0;
  /** The most requests ever in flight at once. */
  maxInFlight = 0;
  /** Requests whose connection closed before their answer ended. */
  aborted = 0;
  /** Requests answered completely. */
  completed = 0;
  /** The tag (last user message) of every request, in order of arrival. */
  readonly arrivals: string[] = [];
  private readonly pending: Pending[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor() {
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Listens on 127.0.0.1, port 0; resolves to the base URL (without /v1). */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Tags of the requests being held, oldest first. */
  get held(): string[] {
    return this.pending.map((entry) => entry.tag);
  }

  /** Lets the `count` oldest held answers finish; returns their tags. */
  release(count = 1): string[] {
    const released = this.pending.splice(0, count);
    for (const entry of released) entry.release();
    return released.map((entry) => entry.tag);
  }

  /** Lets the held answer of the request tagged `tag` finish; false when none is held. */
  releaseTag(tag: string): boolean {
    const index = this.pending.findIndex((entry) => entry.tag === tag);
    if (index < 0) return false;
    const [entry] = this.pending.splice(index, 1);
    entry?.release();
    return true;
  }

  /** Lets every held answer finish. */
  releaseAll(): void {
    this.release(this.pending.length);
  }

  async stop(): Promise<void> {
    this.releaseAll();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      this.inFlight--;
      if (response.writableFinished) this.completed++;
      else this.aborted++;
    };
    // 'finish': the last byte was handed to the socket, before the client can have read it.
    response.once('finish', end);
    response.once('close', end);

    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/v1/chat/completions') {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: `no route ${String(path)}` } }));
      return;
    }
    const tag = tagOf(body);
    this.arrivals.push(tag);
    const model = String(body['model']);
    const stream = body['stream'] === true;
    const base = { id: 'chatcmpl-held', created: 1700000000, model };
    if (stream) {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      response.write(
        sse({
          ...base,
          object: 'chat.completion.chunk',
          choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
        }),
      );
    }
    await this.wait(tag, response);
    if (response.destroyed) return;
    const usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };
    if (!stream) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [
            { index: 0, message: { role: 'assistant', content: `answer ${tag}` }, finish_reason: 'stop' },
          ],
          usage,
        }),
      );
      return;
    }
    const chunk = { ...base, object: 'chat.completion.chunk' };
    response.write(
      sse({ ...chunk, choices: [{ index: 0, delta: { content: `answer ${tag}` }, finish_reason: null }] }),
    );
    response.write(sse({ ...chunk, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage }));
    response.end('data: [DONE]\n\n');
  }

  /** Until released (or the delay passed); a request whose client left is no longer held. */
  private wait(tag: string, response: ServerResponse): Promise<void> {
    const mode = this.mode;
    if (mode.kind === 'delay')
      return new Promise((resolve) => {
        setTimeout(resolve, mode.delayMs);
      });
    return new Promise((resolve) => {
      const entry: Pending = { tag, release: resolve };
      this.pending.push(entry);
      response.once('close', () => {
        const index = this.pending.indexOf(entry);
        if (index >= 0) this.pending.splice(index, 1);
        resolve();
      });
    });
  }
}

function sse(event: unknown): string {
  return `data: ${JSON.stringify(event)}\n\n`;
}

/** The text of the last user message: each test request carries a tag of its own there. */
function tagOf(body: Record<string, unknown>): string {
  const messages = Array.isArray(body['messages']) ? (body['messages'] as { content?: unknown }[]) : [];
  const content = messages.at(-1)?.content;
  return typeof content === 'string' ? content : '';
}
