import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ChatCompletionRequest } from '../../api/schemas.js';
import { ChatCompletionRequestSchema, ChatCompletionSchema } from '../../api/schemas.js';
import { completionId, nowSeconds } from '../../backends/ids.js';
import { answerJson } from '../../cache/cache-store.js';
import { toProblem } from '../../errors/errors.js';
import type { GatewayContext } from '../context.js';
import { errorResponses } from './openapi-fragments.js';
import type { ProtocolOutput } from '../../pipeline/output.js';
import { serveGeneration } from '../../pipeline/serve-generation.js';

export function registerChatCompletions(app: FastifyInstance, context: GatewayContext): void {
  app.post<{ Body: ChatCompletionRequest }>(
    '/v1/chat/completions',
    {
      onRequest: context.authenticate,
      schema: {
        tags: ['OpenAI-compatible'],
        summary: 'Create a chat completion',
        description:
          'OpenAI chat completions. With `stream: true` the answer is server-sent events of chat.completion.chunk objects ending in `data: [DONE]`; an error after the stream started is a last `data: {"error": {...}}` event.',
        security: [{ apiKey: [] }],
        body: ChatCompletionRequestSchema,
        response: {
          200: {
            description: 'The completion (JSON), or its chunks (server-sent events)',
            content: {
              'application/json': { schema: ChatCompletionSchema },
              'text/event-stream': {
                schema: Type.String({ description: 'data: <chat.completion.chunk JSON>' }),
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) =>
      serveGeneration(
        request,
        reply,
        context,
        request.body,
        chatOutput(request.body.stream_options?.include_usage === true),
        request.gateway.bodyText,
      ),
  );
}

/**
 * Chat completions out: the backend's answer and chunks as they are (the pipeline carries this very
 * format), a stored answer with a fresh id and time and "cached": true, `data: [DONE]` at the end.
 */
export function chatOutput(includeUsage: boolean): ProtocolOutput {
  return {
    contentType: 'application/json',
    answer: (completion) => JSON.stringify(completion),
    stored(entry) {
      // The stored answer's JSON with a fresh id and time: neither parsed nor re-serialised.
      const rest = answerJson(entry).slice(1, -1);
      return `{"id":"${completionId()}","created":${nowSeconds()},${rest}${rest === '' ? '' : ','}"cached":true}`;
    },
    stream: () => ({
      contentType: 'text/event-stream; charset=utf-8',
      comments: true,
      // The usage-only chunk (choices: []) goes out only when the client asked for it.
      chunk: (chunk) =>
        includeUsage || chunk.choices.length > 0 ? `data: ${JSON.stringify(chunk)}\n\n` : '',
      end: () => 'data: [DONE]\n\n',
      error: (error, instance, requestId) =>
        `data: ${JSON.stringify(toProblem(error, instance, requestId))}\n\n`,
    }),
  };
}
