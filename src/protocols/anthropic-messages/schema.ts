/**
 * TypeBox schemas of Anthropic's Messages API as this gateway takes it: the one source for validation
 * (Fastify's Ajv), the handler's types and the OpenAPI document. The shape of each message and of the
 * request is checked here; what a content block, a tool, `tool_choice` or `thinking` holds is checked by
 * to-conversation.ts, which can say precisely what is wrong or not supported (Ajv's errors for a union
 * of a dozen block types would list every branch). Unknown fields are allowed, as Anthropic adds them
 * often: those the backends cannot honour are refused by name, the rest ignored (docs/protocols/
 * anthropic-messages.md).
 */
import { Type, type Static } from '@sinclair/typebox';

const ContentBlockSchema = Type.Object(
  {
    type: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'text, image, tool_use, tool_result, ...',
    }),
  },
  { description: 'A content block' },
);

const ContentSchema = Type.Union([Type.String(), Type.Array(ContentBlockSchema, { maxItems: 10_000 })], {
  description: 'A string, or content blocks',
});

const MessageParamSchema = Type.Object({
  role: Type.Union([Type.Literal('user'), Type.Literal('assistant'), Type.Literal('system')]),
  content: ContentSchema,
});

/** What /v1/messages and /v1/messages/count_tokens share. */
const commonFields = {
  model: Type.String({ minLength: 1, maxLength: 256, description: 'A model name routed by the gateway' }),
  // Anthropic's own limit.
  messages: Type.Array(MessageParamSchema, { minItems: 1, maxItems: 100_000 }),
  system: Type.Optional(ContentSchema),
  tools: Type.Optional(
    Type.Array(Type.Object({}, { description: 'name, description, input_schema' }), { maxItems: 1_000 }),
  ),
  tool_choice: Type.Optional(Type.Object({ type: Type.String({ description: 'auto, any, tool or none' }) })),
  thinking: Type.Optional(
    Type.Object({ type: Type.String({ description: 'enabled (with budget_tokens), disabled or adaptive' }) }),
  ),
  output_config: Type.Optional(Type.Object({}, { description: 'effort, format (a JSON schema)' })),
};

export const MessagesRequestSchema = Type.Object(
  {
    ...commonFields,
    max_tokens: Type.Integer({ minimum: 1, description: 'Required, as Anthropic requires it' }),
    stream: Type.Optional(Type.Boolean()),
    stop_sequences: Type.Optional(Type.Array(Type.String(), { maxItems: 16 })),
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    top_k: Type.Optional(Type.Integer({ minimum: 0 })),
    metadata: Type.Optional(
      Type.Object({ user_id: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])) }),
    ),
  },
  { description: "Anthropic's Messages API request" },
);
export type MessagesRequest = Static<typeof MessagesRequestSchema> & Record<string, unknown>;

export const CountTokensRequestSchema = Type.Object(commonFields, {
  description: "Anthropic's token counting request",
});
export type CountTokensRequest = Static<typeof CountTokensRequestSchema> & Record<string, unknown>;

/** A block or tool as Ajv let it through: its `type` checked, the rest read by to-conversation.ts. */
export type Json = Record<string, unknown>;

const UsageSchema = Type.Object({
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cache_creation_input_tokens: Type.Union([Type.Integer(), Type.Null()]),
  cache_read_input_tokens: Type.Union([Type.Integer(), Type.Null()]),
});

export const MessageSchema = Type.Object(
  {
    id: Type.String(),
    type: Type.Literal('message'),
    role: Type.Literal('assistant'),
    model: Type.String(),
    content: Type.Array(
      Type.Object({ type: Type.String({ description: 'thinking, redacted_thinking, text or tool_use' }) }),
    ),
    stop_reason: Type.Union([Type.String(), Type.Null()]),
    stop_sequence: Type.Union([Type.String(), Type.Null()]),
    usage: UsageSchema,
  },
  { description: "Anthropic's Message object" },
);

export const TokenCountSchema = Type.Object({ input_tokens: Type.Integer() });

export const AnthropicErrorSchema = Type.Object(
  {
    type: Type.Literal('error'),
    error: Type.Object({ type: Type.String(), message: Type.String() }),
    request_id: Type.String(),
  },
  { description: "An error in Anthropic's shape" },
);
