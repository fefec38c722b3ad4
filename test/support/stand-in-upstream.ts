/**
 * A stand-in LLM server for tests: speaks OpenAI's API (/v1/chat/completions, /v1/embeddings,
 * /v1/models, SSE streaming with usage) and Ollama's (/api/chat with NDJSON streaming, /api/embed,
 * /api/tags), and fails on demand in every way a real one does: error statuses, a stall before the
 * first byte, a stream that goes silent or is cut midway, a redirect, a body that is not JSON.
 * It records every request, every TCP connection it accepts, and every connection closed by the client
 * before the answer ended. It listens on 127.0.0.1 unless told another loopback address (127.0.0.2, ...).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Behaviour =
  | { kind: 'normal' }
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'stall' }
  /** A 307 to `location` (by default a closed port on 127.0.0.2). */
  | { kind: 'redirect'; location?: string }
  | { kind: 'not-json' }
  | { kind: 'stream-silent-after'; chunks: number }
  | { kind: 'stream-cut-after'; chunks: number }
  | { kind: 'stream-error-event-after'; chunks: number }
  | { kind: 'slow-stream'; delayMs: number }
  /** An SSE comment line (`: text`) before each event, as a keep-alive, delayMs apart (not NDJSON). */
  | { kind: 'stream-with-comments'; comment: string; delayMs: number }
  /** Answers normally, but only after delayMs with nothing sent (for a non-streaming call in flight). */
  | { kind: 'slow-json'; delayMs: number };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | null;
  /** performance.now() when the request's body had been read. */
  receivedAt: number;
}

export const STAND_IN_TOKENS = ['Hello', ' from', ' the', ' stand-in', ' upstream', '.'];
export const STAND_IN_USAGE = {
  prompt_tokens: 11,
  completion_tokens: STAND_IN_TOKENS.length,
  total_tokens: 11 + STAND_IN_TOKENS.length,
};

export class StandInUpstream {
  behaviour: Behaviour = { kind: 'normal' };
  /** Behaviours by the request's `model`, before `behaviour` (queued ones still come first). */
  readonly byModel = new Map<string, Behaviour>();
  /** Names GET /v1/models lists. */
  openAiModels: string[] = ['stand-in'];
  /** Names GET /api/tags lists. */
  ollamaModels: string[] = ['stand-in:latest'];
  readonly requests: RecordedRequest[] = [];
  /** TCP connections accepted so far (whether or not a request followed). */
  connections = 0;
  /** Requests whose connection the client closed before the answer was complete. */
  aborts = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private abortWaiters: (() => void)[] = [];
  private requestWaiters: (() => void)[] = [];
  /** One-shot behaviours, used by the next requests in order before `behaviour` applies again. */
  private readonly queued: Behaviour[] = [];
  private host = '127.0.0.1';

  constructor() {
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
    this.server.on('connection', (socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Listens on `host` (a loopback address), port 0; resolves to the base URL. */
  async start(host = '127.0.0.1'): Promise<string> {
    this.host = host;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.url;
  }

  get url(): string {
    const address = this.server.address() as AddressInfo;
    return `http://${this.host}:${address.port}`;
  }

  /** The next requests get these behaviours, one each, in order; then `behaviour` applies again. */
  once(...behaviours: Behaviour[]): void {
    this.queued.push(...behaviours);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Resolves when the client has closed `count` requests early in total. */
  async waitForAborts(count: number, timeoutMs = 5000): Promise<void> {
    await this.waitFor(
      () => this.aborts >= count,
      this.abortWaiters,
      timeoutMs,
      `${count} aborts (saw ${this.aborts})`,
    );
  }

  async waitForRequests(count: number, timeoutMs = 5000): Promise<void> {
    await this.waitFor(
      () => this.requests.length >= count,
      this.requestWaiters,
      timeoutMs,
      `${count} requests (saw ${this.requests.length})`,
    );
  }

  private async waitFor(
    done: () => boolean,
    waiters: (() => void)[],
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`stand-in upstream: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private notify(waiters: (() => void)[]): void {
    for (const waiter of waiters.splice(0)) waiter();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text === '' ? null : (JSON.parse(text) as Record<string, unknown>);
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    this.requests.push({
      method: request.method ?? 'GET',
      path,
      headers: request.headers,
      body,
      receivedAt: performance.now(),
    });
    this.notify(this.requestWaiters);
    response.on('close', () => {
      if (!response.writableFinished) {
        this.aborts++;
        this.notify(this.abortWaiters);
      }
    });

    const behaviour = this.queued.shift() ?? this.byModel.get(String(body?.['model'])) ?? this.behaviour;
    switch (behaviour.kind) {
      case 'status':
        response.writeHead(behaviour.status, { 'content-type': 'application/json', ...behaviour.headers });
        response.end(
          behaviour.body ?? JSON.stringify({ error: { message: `stand-in failure ${behaviour.status}` } }),
        );
        return;
      case 'stall':
        return; // never answers
      case 'redirect':
        response.writeHead(307, { location: behaviour.location ?? 'http://127.0.0.2:9/elsewhere' });
        response.end();
        return;
      case 'not-json':
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('<html>not json</html>');
        return;
      case 'slow-json':
        await new Promise((resolve) => setTimeout(resolve, behaviour.delayMs));
        if (response.destroyed) return;
        break;
      case 'normal':
      case 'slow-stream':
      case 'stream-cut-after':
      case 'stream-error-event-after':
      case 'stream-silent-after':
      case 'stream-with-comments':
        break; // answered normally below; the stream behaviours act while streaming
    }

    if (path === '/v1/chat/completions') return this.openAiChat(body ?? {}, response, behaviour);
    if (path === '/v1/embeddings') return this.json(response, embeddings(body ?? {}, 'openai'));
    if (path === '/v1/models')
      return this.json(response, {
        object: 'list',
        data: this.openAiModels.map((id) => ({ id, object: 'model', created: 0, owned_by: 'test' })),
      });
    if (path === '/api/chat') return this.ollamaChat(body ?? {}, response, behaviour);
    if (path === '/api/embed') return this.json(response, embeddings(body ?? {}, 'ollama'));
    if (path === '/api/tags')
      return this.json(response, { models: this.ollamaModels.map((name) => ({ name })) });
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: `no route ${path}` }));
  }

  private json(response: ServerResponse, value: unknown): void {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(value));
  }

  private async openAiChat(
    body: Record<string, unknown>,
    response: ServerResponse,
    behaviour: Behaviour,
  ): Promise<void> {
    const model = String(body['model']);
    const created = 1700000000;
    if (body['stream'] !== true) {
      this.json(response, {
        id: 'chatcmpl-standin',
        object: 'chat.completion',
        created,
        model,
        system_fingerprint: 'fp_standin',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: STAND_IN_TOKENS.join('') },
            finish_reason: 'stop',
          },
        ],
        usage: STAND_IN_USAGE,
      });
      return;
    }
    const includeUsage =
      (body['stream_options'] as { include_usage?: boolean } | undefined)?.include_usage === true;
    const base = { id: 'chatcmpl-standin', object: 'chat.completion.chunk', created, model };
    const events: string[] = [
      JSON.stringify({
        ...base,
        choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
      }),
    ];
    for (const token of STAND_IN_TOKENS)
      events.push(
        JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: token }, finish_reason: null }] }),
      );
    events.push(JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
    if (includeUsage) events.push(JSON.stringify({ ...base, choices: [], usage: STAND_IN_USAGE }));
    events.push('[DONE]');
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const comment = behaviour.kind === 'stream-with-comments' ? `: ${behaviour.comment}\n\n` : '';
    await this.writeStream(
      response,
      events.map((event) => `${comment}data: ${event}\n\n`),
      'sse',
      behaviour,
    );
  }

  private async ollamaChat(
    body: Record<string, unknown>,
    response: ServerResponse,
    behaviour: Behaviour,
  ): Promise<void> {
    const model = String(body['model']);
    const stamp = '2026-01-01T00:00:00Z';
    if (body['stream'] === false) {
      this.json(response, {
        model,
        created_at: stamp,
        message: { role: 'assistant', content: STAND_IN_TOKENS.join('') },
        done: true,
        done_reason: 'stop',
        prompt_eval_count: STAND_IN_USAGE.prompt_tokens,
        eval_count: STAND_IN_USAGE.completion_tokens,
      });
      return;
    }
    const lines = STAND_IN_TOKENS.map((token) =>
      JSON.stringify({
        model,
        created_at: stamp,
        message: { role: 'assistant', content: token },
        done: false,
      }),
    );
    lines.push(
      JSON.stringify({
        model,
        created_at: stamp,
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: 'stop',
        prompt_eval_count: STAND_IN_USAGE.prompt_tokens,
        eval_count: STAND_IN_USAGE.completion_tokens,
      }),
    );
    response.writeHead(200, { 'content-type': 'application/x-ndjson' });
    await this.writeStream(
      response,
      lines.map((line) => `${line}\n`),
      'ndjson',
      behaviour,
    );
  }

  private async writeStream(
    response: ServerResponse,
    pieces: string[],
    format: 'sse' | 'ndjson',
    behaviour: Behaviour,
  ): Promise<void> {
    let written: Promise<void> = Promise.resolve();
    for (let index = 0; index < pieces.length; index++) {
      if (response.destroyed) return;
      if (behaviour.kind === 'stream-silent-after' && index === behaviour.chunks) return; // stays open, says nothing
      if (behaviour.kind === 'stream-cut-after' && index === behaviour.chunks) {
        // The response corks its socket until the next tick: cut only once the chunks have left, or
        // destroy() would drop them and the cut would come before the first byte.
        await written;
        response.socket?.destroy();
        return;
      }
      if (behaviour.kind === 'stream-error-event-after' && index === behaviour.chunks) {
        const error = JSON.stringify({ error: { message: 'stand-in model crashed' } });
        response.end(
          format === 'sse'
            ? `data: ${error}\n\n`
            : `${JSON.stringify({ error: 'stand-in model crashed' })}\n`,
        );
        return;
      }
      written = new Promise((resolve) => response.write(pieces[index], () => resolve()));
      if (behaviour.kind === 'slow-stream' || behaviour.kind === 'stream-with-comments')
        await new Promise((resolve) => setTimeout(resolve, behaviour.delayMs));
    }
    response.end();
  }
}

function embeddings(body: Record<string, unknown>, format: 'openai' | 'ollama'): unknown {
  const input = body['input'];
  const texts = Array.isArray(input) ? input.map(String) : [String(input)];
  const vectors = texts.map((text) => [text.length, 0.5, -0.25]);
  if (format === 'ollama')
    return { model: body['model'], embeddings: vectors, prompt_eval_count: texts.length * 2 };
  const base64 = body['encoding_format'] === 'base64';
  return {
    object: 'list',
    model: body['model'],
    data: vectors.map((vector, index) => ({
      object: 'embedding',
      index,
      embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
    })),
    usage: { prompt_tokens: texts.length * 2, total_tokens: texts.length * 2 },
  };
}
