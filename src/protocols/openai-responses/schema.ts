/**
 * The Responses API's request body as the route validates it (TypeBox: validation, types and the
 * OpenAPI document from one source). Unlike chat completions, unknown fields are refused (400 naming
 * them): a Responses field the gateway does not know changes what the client expects back, and
 * dropping it silently would answer another question. Every field of OpenAI's request is known; those
 * a self-hosted backend cannot serve are refused with a reason by to-conversation.ts. Input items and
 * tools are checked item by item there, so that an error names the exact field (`input[2].content[0]`).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Strict = <T extends Parameters<typeof Type.Object>[0]>(properties: T) =>
  Type.Object(properties, { additionalProperties: false });

/** OpenAI's bounds on metadata: 16 pairs, keys of 64 characters, values of 512. */
const Metadata = Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 512 }), {
  maxProperties: 16,
});

const Effort = Type.Union(
  ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'].map((value) => Type.Literal(value)),
);
const Summary = Type.Union(['auto', 'concise', 'detailed'].map((value) => Type.Literal(value)));

export const INCLUDABLE = [
  'reasoning.encrypted_content',
  'message.output_text.logprobs',
  'message.input_image.image_url',
  'file_search_call.results',
  'web_search_call.results',
  'web_search_call.action.sources',
  'computer_call_output.output.image_url',
  'code_interpreter_call.outputs',
] as const;

const Item = Type.Object(
  {},
  {
    description: 'An input item: a message, function_call, function_call_output, reasoning or item_reference',
  },
);

export const ResponsesRequestSchema = Strict({
  model: Type.String({ minLength: 1, maxLength: 256, description: 'A model name routed by the gateway' }),
  input: Type.Optional(
    Type.Union([Type.String(), Type.Array(Item, { maxItems: 100_000 })], {
      description: 'Text, or a list of input items',
    }),
  ),
  instructions: Type.Optional(Nullable(Type.String())),
  previous_response_id: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
  store: Type.Optional(Nullable(Type.Boolean())),
  stream: Type.Optional(Nullable(Type.Boolean())),
  stream_options: Type.Optional(Nullable(Strict({ include_obfuscation: Type.Optional(Type.Boolean()) }))),
  tools: Type.Optional(Type.Array(Type.Object({}), { maxItems: 128 })),
  tool_choice: Type.Optional(Type.Union([Type.String(), Type.Object({})])),
  parallel_tool_calls: Type.Optional(Nullable(Type.Boolean())),
  max_output_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  max_tool_calls: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
  temperature: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 2 }))),
  top_p: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }))),
  top_logprobs: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 20 }))),
  text: Type.Optional(
    Strict({
      format: Type.Optional(Type.Object({ type: Type.String() })),
      verbosity: Type.Optional(Nullable(Type.Union(['low', 'medium', 'high'].map((v) => Type.Literal(v))))),
    }),
  ),
  reasoning: Type.Optional(
    Nullable(
      Strict({
        effort: Type.Optional(Nullable(Effort)),
        summary: Type.Optional(Nullable(Summary)),
        generate_summary: Type.Optional(Nullable(Summary)),
        context: Type.Optional(Nullable(Type.String())),
        mode: Type.Optional(Nullable(Type.String())),
      }),
    ),
  ),
  include: Type.Optional(
    Nullable(Type.Array(Type.Union(INCLUDABLE.map((value) => Type.Literal(value))), { maxItems: 16 })),
  ),
  metadata: Type.Optional(Nullable(Metadata)),
  user: Type.Optional(Type.String({ maxLength: 256 })),
  safety_identifier: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
  truncation: Type.Optional(Nullable(Type.Union([Type.Literal('auto'), Type.Literal('disabled')]))),
  service_tier: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  prompt_cache_key: Type.Optional(Nullable(Type.String({ maxLength: 1024 }))),
  prompt_cache_retention: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  prompt_cache_options: Type.Optional(Nullable(Type.Object({}))),
  /** Codex sends it (a turn's metadata as JSON text, over 512 characters); the gateway reads none of it. */
  client_metadata: Type.Optional(
    Nullable(
      Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 65_536 }), { maxProperties: 64 }),
    ),
  ),
  background: Type.Optional(Nullable(Type.Boolean())),
  conversation: Type.Optional(Type.Unknown()),
  prompt: Type.Optional(Type.Unknown()),
  moderation: Type.Optional(Type.Unknown()),
  context_management: Type.Optional(Type.Unknown()),
});

export type ResponsesRequest = Static<typeof ResponsesRequestSchema>;

/** The Response object, loosely: documentation of what POST, GET and the stream's last event carry. */
export const ResponseObjectSchema = Type.Object(
  {
    id: Type.String({ description: 'resp_…' }),
    object: Type.Literal('response'),
    created_at: Type.Integer(),
    status: Type.String({ description: 'completed, incomplete or failed' }),
    model: Type.String(),
    output: Type.Array(Type.Object({ type: Type.String() })),
    usage: Nullable(Type.Object({})),
  },
  { description: "OpenAI's Response object" },
);

export const DeletedResponseSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('response'),
  deleted: Type.Literal(true),
});
