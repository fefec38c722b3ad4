/**
 * ConverseStream's body, `application/vnd.amazon.eventstream`, as messages: AWS's own code reassembles
 * the frames (getChunkedStream of @smithy/core/event-streams) and checks their CRCs and decodes their
 * headers (EventStreamCodec of @smithy/eventstream-codec); nothing of the binary format is written here.
 * Each message is an event (`:message-type: event`, its `:event-type` and a JSON payload), an exception
 * the service modelled (`exception`, `:exception-type`, `{message}`) or an unmodelled error (`error`,
 * `:error-code`, `:error-message`).
 */
import { getChunkedStream } from '@smithy/core/event-streams';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import type { MessageHeaders } from '@smithy/types';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

export interface EventStreamMessage {
  readonly kind: 'event' | 'exception' | 'error';
  /** The event type, exception type or error code. */
  readonly type: string;
  /** The payload as text (for an error, its message). */
  readonly payload: string;
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);

function header(headers: MessageHeaders, name: string): string {
  const value = headers[name];
  return value !== undefined && value.type === 'string' ? value.value : '';
}

/** Decodes the messages of a body as its chunks arrive; a broken frame (bad CRC, cut short) throws. */
export async function* decodeEventStream(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<EventStreamMessage> {
  for await (const frame of getChunkedStream(chunks)) {
    const message = codec.decode(frame);
    const kind = header(message.headers, ':message-type');
    if (kind === 'exception') {
      yield {
        kind,
        type: header(message.headers, ':exception-type') || 'exception',
        payload: toUtf8(message.body),
      };
    } else if (kind === 'error') {
      yield {
        kind,
        type: header(message.headers, ':error-code') || 'UnknownError',
        payload: header(message.headers, ':error-message'),
      };
    } else {
      yield { kind: 'event', type: header(message.headers, ':event-type'), payload: toUtf8(message.body) };
    }
  }
}
