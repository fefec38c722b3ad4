/**
 * TypeBox schemas of the public API: the one source for request validation (Fastify's Ajv), the
 * TypeScript types used by handlers and adapters, and the OpenAPI document.
 * Request objects allow unknown fields on purpose: an OpenAI-compatible server may understand
 * parameters we do not know, and the `openai` backend passes them through.
 */
import { Type, type Static } from '@sinclair/typebox';

const MessageRole = Type.Union(
  ['system', 'developer', 'user', 'assistant', 'tool', 'function'].map((role) => Type.Literal(role)),
  { description: 'Who wrote the message' },
);

const ContentPart = Type.Object(
  { type: Type.String({ minLength: 1, description: 'text, image_url, input_audio, ...' }) },
  { description: 'A part of a multi-part message' },
);

export const ChatMessageSchema = Type.Object({
  role: MessageRole,
  content: Type.Optional(
    Type.Union([Type.String(), Type.Array(ContentPart, { maxItems: 10_000 }), Type.Null()]),
  ),
  name: Type.Optional(Type.String()),
  tool_calls: Type.Optional(Type.Array(Type.Object({}), { maxItems: 10_000 })),
  tool_call_id: Type.Optional(Type.String()),
});

const StopSchema = Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 16 }), Type.Null()]);

export const ChatCompletionRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 256, description: 'A model name routed by the gateway' }),
    messages: Type.Array(ChatMessageSchema, { minItems: 1, maxItems: 100_000 }),
    stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    stream_options: Type.Optional(
      Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }), Type.Null()]),
    ),
    temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
    top_p: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()])),
    n: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 128 }), Type.Null()])),
    max_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    stop: Type.Optional(StopSchema),
    seed: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    presence_penalty: Type.Optional(Type.Union([Type.Number({ minimum: -2, maximum: 2 }), Type.Null()])),
    frequency_penalty: Type.Optional(Type.Union([Type.Number({ minimum: -2, maximum: 2 }), Type.Null()])),
    // OpenAI's own bounds (issue 16: everything that grows with client input is bounded).
    tools: Type.Optional(Type.Array(Type.Object({ type: Type.String() }), { maxItems: 128 })),
    tool_choice: Type.Optional(Type.Union([Type.String(), Type.Object({})])),
    response_format: Type.Optional(Type.Object({ type: Type.String() })),
    user: Type.Optional(Type.String()),
  },
  { description: 'OpenAI chat completion request; unknown fields are passed to OpenAI-compatible backends' },
);
export type ChatCompletionRequest = Static<typeof ChatCompletionRequestSchema> & Record<string, unknown>;
export type ChatMessage = Static<typeof ChatMessageSchema> & Record<string, unknown>;

export const UsageSchema = Type.Object({
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
});
export type Usage = Static<typeof UsageSchema>;

const ToolCallSchema = Type.Object({
  id: Type.String(),
  type: Type.Literal('function'),
  function: Type.Object({ name: Type.String(), arguments: Type.String() }),
});
export type ToolCall = Static<typeof ToolCallSchema>;

export const ChatCompletionSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('chat.completion'),
  created: Type.Integer(),
  model: Type.String(),
  choices: Type.Array(
    Type.Object({
      index: Type.Integer(),
      message: Type.Object({
        role: Type.Literal('assistant'),
        content: Type.Union([Type.String(), Type.Null()]),
        tool_calls: Type.Optional(Type.Array(ToolCallSchema)),
      }),
      finish_reason: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  usage: Type.Optional(UsageSchema),
  cached: Type.Optional(Type.Boolean({ description: 'true when the answer came from the gateway cache' })),
});
export type ChatCompletion = Static<typeof ChatCompletionSchema>;

export const ChatCompletionChunkSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('chat.completion.chunk'),
  created: Type.Integer(),
  model: Type.String(),
  choices: Type.Array(
    Type.Object({
      index: Type.Integer(),
      delta: Type.Object({
        role: Type.Optional(Type.Literal('assistant')),
        content: Type.Optional(Type.Union([Type.String(), Type.Null()])),
        tool_calls: Type.Optional(Type.Array(Type.Object({}))),
      }),
      finish_reason: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  usage: Type.Optional(Type.Union([UsageSchema, Type.Null()])),
});
export type ChatCompletionChunk = Static<typeof ChatCompletionChunkSchema>;

export const EmbeddingsRequestSchema = Type.Object({
  model: Type.String({ minLength: 1, maxLength: 256 }),
  input: Type.Union([
    Type.String(),
    // OpenAI takes at most 2,048 inputs in one request.
    Type.Array(Type.String(), { minItems: 1, maxItems: 2048 }),
    Type.Array(Type.Integer(), { minItems: 1, maxItems: 1_000_000 }),
    Type.Array(Type.Array(Type.Integer(), { minItems: 1, maxItems: 1_000_000 }), {
      minItems: 1,
      maxItems: 2048,
    }),
  ]),
  encoding_format: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')])),
  dimensions: Type.Optional(Type.Integer({ minimum: 1 })),
  user: Type.Optional(Type.String()),
});
export type EmbeddingsRequest = Static<typeof EmbeddingsRequestSchema> & Record<string, unknown>;

export const EmbeddingsResponseSchema = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(
    Type.Object({
      object: Type.Literal('embedding'),
      index: Type.Integer(),
      embedding: Type.Union([
        Type.Array(Type.Number()),
        Type.String({ description: 'base64 of float32 LE' }),
      ]),
    }),
  ),
  model: Type.String(),
  usage: Type.Object({ prompt_tokens: Type.Integer(), total_tokens: Type.Integer() }),
  cached: Type.Optional(Type.Boolean()),
});
export type EmbeddingsResponse = Static<typeof EmbeddingsResponseSchema>;

export const ModelSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('model'),
  created: Type.Integer(),
  owned_by: Type.String(),
});
export const ModelListSchema = Type.Object({ object: Type.Literal('list'), data: Type.Array(ModelSchema) });
export type ModelList = Static<typeof ModelListSchema>;

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ format: 'uri' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.String(),
    request_id: Type.String(),
    error: Type.Object({
      message: Type.String(),
      type: Type.String(),
      code: Type.String(),
      param: Type.Union([Type.String(), Type.Null()]),
    }),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details, with an OpenAI-style error member' },
);

export const LiveSchema = Type.Object({ status: Type.Literal('alive') });
export const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('healthy'), Type.Literal('unhealthy')]),
  checks: Type.Record(
    Type.String(),
    Type.Object({ status: Type.String(), detail: Type.Optional(Type.String()) }),
  ),
});
