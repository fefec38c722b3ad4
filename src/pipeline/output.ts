/**
 * How a protocol writes what the pipeline produces. The pipeline (serve-generation.ts) carries answers
 * as OpenAI chat completions and their chunks (docs/conversation.md); each ingress protocol turns them
 * into its own bodies and stream frames, through the conversation model unless it is chat completions
 * itself (which passes them through untouched: nothing is lost, nothing is re-encoded).
 */
import type { ChatCompletion, ChatCompletionChunk } from '../api/schemas.js';
import type { CachedEntry } from '../cache/cache-store.js';
import { AnswerAccumulator } from '../conversation/events.js';
import type { Answer, StreamEvent } from '../conversation/model.js';
import type { GatewayError } from '../errors/errors.js';
import { toAnswer } from '../protocols/openai-chat/answer.js';
import { ChunkDecoder } from '../protocols/openai-chat/stream-events.js';

export interface ProtocolOutput {
  /** The content type of a complete answer's body. */
  readonly contentType: string;
  /** The body of a complete answer from the backend. */
  answer(completion: ChatCompletion): string | Promise<string>;
  /** The body of a stored answer (a cache hit): fresh ids, and the protocol's "cached" marker if it has one. */
  stored(entry: CachedEntry): string | Promise<string>;
  /** A new stream's framing. */
  stream(): StreamOutput;
}

export interface StreamOutput {
  readonly contentType: string;
  /** Whether the stream may carry comments (SSE keep-alives); NDJSON cannot. */
  readonly comments: boolean;
  /** The frames for one chunk (the usage-only chunk included), '' for none. */
  chunk(chunk: ChatCompletionChunk): string;
  /** The frames after the last chunk of a complete answer. */
  end(): string | Promise<string>;
  /** The last frames when the stream fails after it started. */
  error(error: GatewayError, instance: string, requestId: string): string;
}

/** A protocol that speaks the conversation model: it writes answers and stream events, not chunks. */
export interface ConversationProtocol {
  readonly contentType: string;
  /** A complete answer's body; `cached` for a stored answer. */
  answer(answer: Answer, cached: boolean): string | Promise<string>;
  /** A new stream's encoder. */
  encoder(): EventEncoder;
}

export interface EventEncoder {
  readonly contentType: string;
  readonly comments: boolean;
  /** Frames for these events, '' for none. */
  events(events: readonly StreamEvent[]): string;
  /** Frames after the last event of a complete answer; `answer` is the whole answer, accumulated. */
  end(answer: Answer): string | Promise<string>;
  error(error: GatewayError, instance: string, requestId: string): string;
}

/** A ProtocolOutput for a protocol written over the conversation model. */
export function conversationOutput(protocol: ConversationProtocol): ProtocolOutput {
  return {
    contentType: protocol.contentType,
    answer: (completion) => protocol.answer(toAnswer(completion), false),
    stored: (entry) => protocol.answer(toAnswer(entry.body as ChatCompletion), true),
    stream(): StreamOutput {
      const decoder = new ChunkDecoder();
      const encoder = protocol.encoder();
      const accumulator = new AnswerAccumulator();
      const pass = (events: readonly StreamEvent[]): string => {
        for (const event of events) accumulator.add(event);
        return encoder.events(events);
      };
      return {
        contentType: encoder.contentType,
        comments: encoder.comments,
        chunk: (chunk) => pass(decoder.decode(chunk)),
        end: async () => {
          const last = pass(decoder.end());
          return last + (await encoder.end(accumulator.result()));
        },
        error: (error, instance, requestId) => encoder.error(error, instance, requestId),
      };
    },
  };
}
