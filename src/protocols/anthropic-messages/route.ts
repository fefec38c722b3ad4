/**
 * Anthropic's Messages API as an ingress protocol: POST /v1/messages and /v1/messages/count_tokens, so
 * that Claude Code and Anthropic's SDKs can use the models behind the gateway. A request is translated
 * to the conversation model, carried through the pipeline as a chat completion request
 * (serveGeneration: keys and allow-lists, cache, limits, routing, retries, usage, metrics, logs,
 * traces), and the answer written back as a Message or as Anthropic's server-sent events. Every error
 * on these routes, from the 401 of a bad key to an upstream's 5xx, is in Anthropic's shape, with the
 * `request-id` header Anthropic's SDKs read (X-Request-ID stays).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ChatCompletionRequest } from '../../api/schemas.js';
import type { KeyRecord } from '../../auth/key-record.js';
import type { ConversationRequest } from '../../conversation/model.js';
import { conversationOutput, type ConversationProtocol } from '../../pipeline/output.js';
import { serveGeneration } from '../../pipeline/serve-generation.js';
import { countPromptTokens, countTextTokens } from '../../rate-limit/token-estimate.js';
import type { GatewayContext } from '../../server/context.js';
import type { ProtocolRouteConfig } from '../../server/error-handler.js';
import { inSpan } from '../../observability/tracing.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import { anthropicErrorShape } from './errors.js';
import { toMessage } from './from-conversation.js';
import {
  AnthropicErrorSchema,
  CountTokensRequestSchema,
  MessageSchema,
  MessagesRequestSchema,
  TokenCountSchema,
  type CountTokensRequest,
  type MessagesRequest,
} from './schema.js';
import { MessagesEventEncoder } from './stream-events.js';
import { toConversation } from './to-conversation.js';
import { allowedModels } from '../../auth/team-models.js';

const TAGS = ['Anthropic-compatible'];

const errorContent = { 'application/json': { schema: AnthropicErrorSchema } };
const errorResponses = {
  '4xx': { description: "A client error, in Anthropic's error shape", content: errorContent },
  '5xx': { description: "A gateway or upstream error, in Anthropic's error shape", content: errorContent },
} as const;

const config: ProtocolRouteConfig = { errorShape: anthropicErrorShape };

/** Anthropic's SDKs read the request id from `request-id` (APIError.requestID, `_request_id`). */
function requestIdHeader(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  reply.header('request-id', request.id);
  done();
}

/** ...also on an error raised before this route's own hooks ran (the gateway shutting down). */
function requestIdOnSend(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (error: null, payload: unknown) => void,
): void {
  if (!reply.hasHeader('request-id')) reply.header('request-id', request.id);
  done(null, payload);
}

/**
 * A stream's `message_start` carries the prompt's tokens before the backend has counted them (its count
 * follows in `message_delta`, and Anthropic's SDKs keep that one): a character count, 4 to a token. Not
 * the tokenizer, which would load its tables (35 MB of heap) into a gateway without token limits, and
 * spend ~12 ms of CPU on each turn of a Claude Code session (a 20,000-token prompt).
 */
export function roughInputTokens(conversation: ConversationRequest): number {
  let chars = 0;
  for (const part of conversation.system ?? []) chars += part.text.length;
  for (const message of conversation.messages) {
    for (const part of message.parts) {
      if (part.type === 'text' || part.type === 'reasoning') chars += part.text.length;
      else if (part.type === 'tool_call') chars += part.name.length + part.arguments.length;
      else if (part.type === 'tool_result')
        for (const item of part.content) chars += item.type === 'text' ? item.text.length : 0;
    }
  }
  if (conversation.tools !== undefined) chars += JSON.stringify(conversation.tools).length;
  return Math.ceil(chars / 4);
}

/**
 * The prompt's tokens by the gateway's tokenizer (o200k_base; an estimate for other models): the
 * carrier's messages, system prompt and tool definitions (countPromptTokens), plus what that leaves out,
 * the assistant's tool calls and reasoning. Images are not counted.
 */
export function countInputTokens(conversation: ConversationRequest, carrier: ChatCompletionRequest): number {
  let total = countPromptTokens(carrier);
  for (const message of conversation.messages) {
    for (const part of message.parts) {
      if (part.type === 'tool_call') total += countTextTokens(part.name) + countTextTokens(part.arguments);
      else if (part.type === 'reasoning') total += countTextTokens(part.text);
    }
  }
  return total;
}

/** Messages out: a complete answer as a Message, a stream as Anthropic's events. */
export function messagesProtocol(inputTokens: () => number): ConversationProtocol {
  return {
    contentType: 'application/json',
    // Anthropic has no marker for a stored answer; every answer gets a fresh id.
    answer: (answer) => JSON.stringify(toMessage(answer)),
    encoder: () => new MessagesEventEncoder({ inputTokens }),
  };
}

export function registerMessages(app: FastifyInstance, context: GatewayContext): void {
  app.post<{ Body: MessagesRequest }, ProtocolRouteConfig>(
    '/v1/messages',
    {
      onRequest: [requestIdHeader, context.authenticate],
      onSend: requestIdOnSend,
      config,
      schema: {
        tags: TAGS,
        summary: 'Create a message (Anthropic Messages API)',
        description:
          'Anthropic\'s Messages API over the gateway\'s models, for Claude Code and Anthropic\'s SDKs. The key goes in `x-api-key` or `Authorization: Bearer`; `anthropic-version` and `anthropic-beta` are accepted and ignored. With `stream: true` the answer is Anthropic\'s server-sent events (message_start, ping, content_block_start/delta/stop, message_delta, message_stop); an error after the stream started is a last `event: error`. Errors are `{"type":"error","error":{"type","message"},"request_id"}`. What is mapped and what is refused: docs/protocols/anthropic-messages.md.',
        security: [{ apiKey: [] }],
        body: MessagesRequestSchema,
        response: {
          200: {
            description: 'The message (JSON), or its events (server-sent events)',
            content: {
              'application/json': { schema: MessageSchema },
              'text/event-stream': {
                schema: Type.String({ description: 'event: <type>\\ndata: <event JSON>' }),
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const conversation = toConversation(request.body);
      const carrier = toChatRequest(conversation);
      const inputTokens = (): number => roughInputTokens(conversation);
      return serveGeneration(
        request,
        reply,
        context,
        carrier,
        conversationOutput(messagesProtocol(inputTokens)),
        null,
      );
    },
  );

  app.post<{ Body: CountTokensRequest }, ProtocolRouteConfig>(
    '/v1/messages/count_tokens',
    {
      onRequest: [requestIdHeader, context.authenticate],
      onSend: requestIdOnSend,
      config,
      schema: {
        tags: TAGS,
        summary: 'Count the tokens of a message request (Anthropic Messages API)',
        description:
          "The prompt's tokens (messages, system prompt, tools) counted by the gateway's tokenizer (o200k_base): an estimate for the models behind it, whose tokenizers differ; images are not counted. No upstream is called. The key's model allow-list applies, and the request counts against the key's request limits (not its token limits), as a cache hit does.",
        security: [{ apiKey: [] }],
        body: CountTokensRequestSchema,
        response: { 200: TokenCountSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const conversation = toConversation(request.body);
      const carrier = toChatRequest(conversation);
      const key = request.gateway.key as KeyRecord;
      // The allow-list and the model's existence, as for a generation; no upstream call, no usage row.
      const plan = context.router.resolve(conversation.model, allowedModels(key, request.gateway.team));
      const grant = await inSpan(request.gateway.trace, 'rate_limit', () =>
        context.rateLimiter.acquire({ key, team: request.gateway.team, route: plan.route, tokens: null }),
      );
      reply.headers(grant.headers);
      const inputTokens = countInputTokens(conversation, carrier);
      return reply.type('application/json').send(JSON.stringify({ input_tokens: inputTokens }));
    },
  );
}
