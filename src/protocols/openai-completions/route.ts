/**
 * POST /v1/completions, OpenAI's legacy completions (docs/protocols/openai-completions.md), through the
 * same pipeline as chat completions: the prompt is one user message of the chat carrier. Errors stay
 * problem+json with OpenAI's `error` member, as on every OpenAI route.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { conversationOutput, type ConversationProtocol } from '../../pipeline/output.js';
import { serveGeneration } from '../../pipeline/serve-generation.js';
import type { GatewayContext } from '../../server/context.js';
import { errorResponses } from '../../server/routes/openapi-fragments.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import { completionBody } from './from-conversation.js';
import { CompletionChunkEncoder } from './stream-events.js';
import { completionsToConversation, includesUsage } from './to-conversation.js';

const CompletionRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 256, description: 'A model name routed by the gateway' }),
    prompt: Type.Union([Type.String(), Type.Array(Type.Unknown(), { minItems: 1, maxItems: 2048 })], {
      description: 'A string, or an array of one string (several prompts and token ids are refused)',
    }),
    max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { default: 16 })),
    temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
    top_p: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
    n: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 128 }), Type.Null()])),
    stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    stream_options: Type.Optional(
      Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }), Type.Null()]),
    ),
    logprobs: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 5 }), Type.Null()])),
    echo: Type.Optional(Type.Union([Type.Boolean(), Type.Null()], { description: 'Refused when true' })),
    stop: Type.Optional(
      Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 16 }), Type.Null()]),
    ),
    suffix: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Refused unless empty' })),
    best_of: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Refused above 1' }),
    ),
    seed: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    presence_penalty: Type.Optional(Type.Union([Type.Number({ minimum: -2, maximum: 2 }), Type.Null()])),
    frequency_penalty: Type.Optional(Type.Union([Type.Number({ minimum: -2, maximum: 2 }), Type.Null()])),
    user: Type.Optional(Type.String()),
  },
  {
    description: 'OpenAI legacy completion request; unknown fields are passed to OpenAI-compatible backends',
  },
);

const CompletionSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('text_completion'),
  created: Type.Integer(),
  model: Type.String(),
  choices: Type.Array(
    Type.Object({
      text: Type.String(),
      index: Type.Integer(),
      logprobs: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
      finish_reason: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  usage: Type.Optional(
    Type.Object({
      prompt_tokens: Type.Integer(),
      completion_tokens: Type.Integer(),
      total_tokens: Type.Integer(),
    }),
  ),
});

function completionsProtocol(includeUsage: boolean): ConversationProtocol {
  return {
    contentType: 'application/json',
    answer: (answer, cached) => JSON.stringify(completionBody(answer, cached)),
    encoder: () => new CompletionChunkEncoder(includeUsage),
  };
}

export function registerOpenAiCompletions(app: FastifyInstance, context: GatewayContext): void {
  app.post<{ Body: Record<string, unknown> }>(
    '/v1/completions',
    {
      onRequest: context.authenticate,
      schema: {
        tags: ['OpenAI-compatible'],
        summary: 'Create a completion (legacy)',
        description:
          'OpenAI legacy completions. The prompt goes to the backend as one user message, so its chat template applies. One prompt per request; `suffix`, `echo` and `best_of` above 1 are refused. With `stream: true` the answer is server-sent events of text_completion chunks ending in `data: [DONE]`.',
        security: [{ apiKey: [] }],
        body: CompletionRequestSchema,
        response: {
          200: {
            description: 'The completion (JSON), or its chunks (server-sent events)',
            content: {
              'application/json': { schema: CompletionSchema },
              'text/event-stream': {
                schema: Type.String({ description: 'data: <text_completion JSON>' }),
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const conversation = completionsToConversation(request.body);
      const output = conversationOutput(completionsProtocol(includesUsage(request.body)));
      return serveGeneration(request, reply, context, toChatRequest(conversation), output, null);
    },
  );
}
