/** A streamed chat completion: an async iterable of chunks read from the response's server-sent events. */
import { GatewayConnectionError, GatewayError } from './errors.js';
import { SseParser } from './sse.js';
import type { OpenStream } from './transport.js';
import type { ChatCompletionChunk, ResponseMeta } from './types.js';

/**
 * Iterate it once with `for await`. It ends after `data: [DONE]`; an error event sent by the gateway
 * after the stream started (a problem object) is thrown as a GatewayError, and a stream that ends
 * without `[DONE]` as a GatewayConnectionError (code `stream_incomplete`). The call's AbortSignal, or
 * `abort()`, ends the iteration with the abort reason. Breaking out of the loop or aborting closes the
 * connection, and the gateway cancels the upstream request. A stream is never retried once started.
 */
export class ChatCompletionStream implements AsyncIterable<ChatCompletionChunk> {
  /** The response's metadata: request id, cache status, backend, rate limits. */
  readonly response: ResponseMeta;
  private started = false;

  constructor(private readonly open: OpenStream) {
    this.response = open.meta;
  }

  /** The request id (X-Request-ID) of this stream. */
  get requestId(): string | null {
    return this.response.requestId;
  }

  /** Stops the stream and closes the connection; the iteration rejects with `reason` (an AbortError). */
  abort(reason: unknown = new DOMException('The stream was aborted', 'AbortError')): void {
    this.open.abort(reason);
    if (!this.started) this.open.release();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk> {
    if (this.started) throw new Error('A ChatCompletionStream can be iterated only once');
    this.started = true;
    const { body, meta, signal } = this.open;
    if (body === null) {
      this.open.release();
      throw new GatewayConnectionError('The stream has no body', {
        code: 'stream_incomplete',
        response: meta,
      });
    }
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    let finished = false;
    try {
      for (;;) {
        let read: Awaited<ReturnType<typeof reader.read>>;
        try {
          read = await reader.read();
        } catch (cause) {
          signal.throwIfAborted();
          throw new GatewayConnectionError('The stream broke before data: [DONE]', {
            cause,
            code: 'stream_incomplete',
            response: meta,
          });
        }
        signal.throwIfAborted();
        const text = read.done ? decoder.decode() : decoder.decode(read.value, { stream: true });
        for (const event of parser.push(text)) {
          signal.throwIfAborted();
          if (event.data === '[DONE]') {
            // The gateway ends the response right after [DONE]: read to its end, so that the
            // connection is left whole (and can be reused), not cut.
            try {
              while (!(await reader.read()).done);
            } catch {
              // The answer is complete; how the connection ended does not matter.
            }
            finished = true;
            return;
          }
          yield parseChunk(event.data, meta);
        }
        if (read.done) {
          parser.end();
          throw new GatewayConnectionError('The stream ended before data: [DONE]', {
            code: 'stream_incomplete',
            response: meta,
          });
        }
      }
    } finally {
      if (!finished) await reader.cancel().catch(() => undefined);
      this.open.release();
    }
  }
}

function parseChunk(data: string, meta: ResponseMeta): ChatCompletionChunk {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new GatewayError({
      status: meta.status,
      code: 'invalid_response',
      message: `An event of the stream is not JSON: ${data.slice(0, 200)}`,
      requestId: meta.requestId,
      response: meta,
    });
  }
  if (typeof parsed === 'object' && parsed !== null && 'error' in parsed) {
    // The gateway's error after the stream started: the problem object, its own status inside.
    throw GatewayError.fromBody(undefined, parsed, { requestId: meta.requestId, response: meta });
  }
  return parsed as ChatCompletionChunk;
}
