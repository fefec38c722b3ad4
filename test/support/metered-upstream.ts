/**
 * An OpenAI-compatible stand-in whose usage is known in advance, for budget tests: it reports as
 * prompt_tokens exactly what the gateway counts for the prompt (the same tokenizer), and produces exactly
 * the request's max_completion_tokens (or max_tokens) completion tokens, one token (`t`) per chunk when
 * streaming, with usage on the last chunk when stream_options.include_usage asks for it. So a request's
 * real cost equals the worst case the gateway reserved for it, to the micro-dollar.
 *
 * Markers in the last user message change one request: `produce:N` produces N tokens instead (fewer than
 * max tokens), `delay:MS` waits MS between streamed chunks. It records requests, in-flight counts and
 * answers the client (the gateway) abandoned.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ChatCompletionRequest } from '../../src/api/schemas.js';
import { countPromptTokens } from '../../src/rate-limit/token-estimate.js';

/** Tokens produced when a request sets no max tokens. */
export const METERED_DEFAULT_TOKENS = 16;

export interface MeteredRequest {
  readonly model: string;
  readonly stream: boolean;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export class MeteredUpstream {
  readonly requests: MeteredRequest[] = [];
  /** Answers whose connection the gateway closed before their end. */
  aborts = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Listens on 127.0.0.1, port 0. */
  static async start(): Promise<MeteredUpstream> {
    let upstream: MeteredUpstream | null = null;
    const server = createServer((request, response) => {
      void upstream?.handle(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    upstream = new MeteredUpstream(server, `http://127.0.0.1:${port}`);
    server.on('connection', (socket) => {
      upstream?.sockets.add(socket);
      socket.on('close', () => upstream?.sockets.delete(socket));
    });
    return upstream;
  }

  /** The requests of one model. */
  of(model: string): MeteredRequest[] {
    return this.requests.filter((request) => request.model === model);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if ((request.url ?? '').split('?')[0] !== '/v1/chat/completions') {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatCompletionRequest & {
      stream_options?: { include_usage?: boolean };
    };
    const lastUser = [...body.messages].reverse().find((message) => message.role === 'user');
    const text = typeof lastUser?.content === 'string' ? lastUser.content : '';
    const produce = /produce:(\d+)/.exec(text)?.[1];
    const delayMs = Number(/delay:(\d+)/.exec(text)?.[1] ?? 0);
    const completionTokens =
      produce !== undefined
        ? Number(produce)
        : (body.max_completion_tokens ?? body.max_tokens ?? METERED_DEFAULT_TOKENS);
    const promptTokens = countPromptTokens(body);
    const stream = body.stream === true;
    this.requests.push({ model: body.model, stream, promptTokens, completionTokens });
    response.on('close', () => {
      if (!response.writableFinished) this.aborts++;
    });
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    const base = { id: 'chatcmpl-metered', created: 1700000000, model: body.model };
    if (!stream) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 't'.repeat(completionTokens) },
              finish_reason: 'length',
            },
          ],
          usage,
        }),
      );
      return;
    }
    const event = (value: unknown): string =>
      `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', ...(value as object) })}\n\n`;
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    response.write(event({ choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] }));
    for (let index = 0; index < completionTokens; index++) {
      if (response.destroyed) return;
      response.write(event({ choices: [{ index: 0, delta: { content: 't' }, finish_reason: null }] }));
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    if (response.destroyed) return;
    response.write(event({ choices: [{ index: 0, delta: {}, finish_reason: 'length' }] }));
    if (body.stream_options?.include_usage === true) response.write(event({ choices: [], usage }));
    response.end('data: [DONE]\n\n');
  }
}
