/**
 * Ollama's API (docs/protocols/ollama.md), so that an application written for Ollama (Open WebUI's
 * Ollama connection, Continue, ollama-js, ollama-python) can use the gateway as its OLLAMA_HOST with a
 * gateway key in `Authorization: Bearer`. Generation goes through the same pipeline as chat completions
 * (serveGeneration), embeddings through the embeddings pipeline (serveEmbeddings); every error on these
 * routes is Ollama's `{"error": "..."}` with the gateway's status.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { EmbeddingsResponse } from '../../api/schemas.js';
import type { KeyRecord } from '../../auth/key-record.js';
import type { ConversationRequest } from '../../conversation/model.js';
import { GatewayError, InvalidRequestError, ModelNotFoundError } from '../../errors/errors.js';
import { conversationOutput, type ConversationProtocol } from '../../pipeline/output.js';
import { serveGeneration } from '../../pipeline/serve-generation.js';
import type { GatewayContext } from '../../server/context.js';
import type { ProtocolRouteConfig } from '../../server/error-handler.js';
import { serveEmbeddings, type EmbeddingsWriter } from '../../server/routes/embeddings.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import { OLLAMA_JSON, ollamaErrorShape } from './errors.js';
import { chatAnswer, createdAt, generateAnswer, loadAnswer, nowNs } from './from-conversation.js';
import { OllamaStreamEncoder, type OllamaEndpoint } from './stream-events.js';
import {
  chatToConversation,
  generateToConversation,
  unloads,
  type OllamaChatBody,
  type OllamaGenerateBody,
} from './to-conversation.js';
import { requestModels } from '../../auth/team-models.js';

/**
 * The version /api/version reports: new enough that clients which check it (Open WebUI, Continue)
 * send tools, images, `think` and structured `format`, all of which the gateway carries. It is not the
 * version of anything the gateway runs.
 */
export const OLLAMA_VERSION = '0.12.11';

/** What an Ollama client gets when it probes the root (Open WebUI, ollama-js): Ollama's own words. */
export const OLLAMA_RUNNING = 'Ollama is running';

/** The capabilities /api/show claims: what the gateway carries, not what each model can do. */
export const OLLAMA_CAPABILITIES = ['completion', 'tools', 'vision'] as const;

/** When the gateway started: every model's `modified_at`. */
const STARTED_NS = nowNs();

const TAGS = ['Ollama-compatible'];
type RouteConfig = ProtocolRouteConfig;
const config: RouteConfig = { errorShape: ollamaErrorShape };

const ErrorBody = Type.Object({ error: Type.String() }, { description: "Ollama's error body" });
const errorContent = { 'application/json': { schema: ErrorBody } };
const ollamaErrors = {
  '4xx': { description: 'A client error, as Ollama writes it: {"error": "..."}', content: errorContent },
  '5xx': { description: 'A gateway or upstream error: {"error": "..."}', content: errorContent },
} as const;

const Model = Type.String({
  minLength: 1,
  maxLength: 256,
  description: 'A model name routed by the gateway',
});
const Loose = { additionalProperties: true } as const;
const Options = Type.Optional(Type.Object({}, { ...Loose, description: "Ollama's model options" }));
const Stream = Type.Optional(
  Type.Union([Type.Boolean(), Type.Null()], { description: 'true (the default): NDJSON lines' }),
);

const ChatBodySchema = Type.Object(
  {
    model: Model,
    messages: Type.Optional(
      Type.Array(Type.Object({ role: Type.String() }, Loose), {
        maxItems: 100_000,
        description:
          'role system, user, assistant or tool; content; images (base64); tool_calls; tool_name; thinking',
      }),
    ),
    tools: Type.Optional(Type.Array(Type.Object({}, Loose), { maxItems: 128 })),
    format: Type.Optional(Type.Unknown({ description: '"json" or a JSON schema' })),
    options: Options,
    think: Type.Optional(Type.Unknown({ description: 'true, false, "low", "medium" or "high"' })),
    keep_alive: Type.Optional(Type.Unknown()),
    stream: Stream,
  },
  { ...Loose, description: "Ollama's chat request" },
);

const GenerateBodySchema = Type.Object(
  {
    model: Model,
    prompt: Type.Optional(Type.String({ description: 'Empty: load the model (answered at once)' })),
    system: Type.Optional(Type.String()),
    suffix: Type.Optional(Type.String({ description: 'Refused unless empty (fill in the middle)' })),
    images: Type.Optional(Type.Array(Type.String(), { maxItems: 10_000 })),
    format: Type.Optional(Type.Unknown()),
    options: Options,
    think: Type.Optional(Type.Unknown()),
    raw: Type.Optional(Type.Boolean()),
    keep_alive: Type.Optional(Type.Unknown()),
    stream: Stream,
  },
  { ...Loose, description: "Ollama's generate request" },
);

const EmbedBodySchema = Type.Object(
  {
    model: Model,
    input: Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 2048 })]),
    truncate: Type.Optional(Type.Boolean()),
    dimensions: Type.Optional(Type.Integer({ minimum: 1 })),
    options: Options,
    keep_alive: Type.Optional(Type.Unknown()),
  },
  { ...Loose, description: "Ollama's embed request" },
);

const EmbeddingsBodySchema = Type.Object(
  {
    model: Model,
    prompt: Type.String(),
    options: Options,
    keep_alive: Type.Optional(Type.Unknown()),
  },
  { ...Loose, description: "Ollama's older embeddings request" },
);

const ShowBodySchema = Type.Object(
  {
    model: Type.Optional(Model),
    name: Type.Optional(Type.String({ maxLength: 256, description: 'The older name of `model`' })),
  },
  Loose,
);

interface EmbedBody {
  readonly model: string;
  readonly input: string | string[];
  readonly dimensions?: number;
}

const AnswerBody = Type.Object({}, { ...Loose, description: "Ollama's answer" });
const ndjson = (description: string) => ({
  200: {
    description,
    content: {
      'application/json': { schema: AnswerBody },
      'application/x-ndjson': { schema: Type.String({ description: 'One JSON object a line' }) },
    },
  },
  ...ollamaErrors,
});

/** Ollama's durations, timestamps and done reason, written by the encoder and the answer functions. */
function ollamaProtocol(endpoint: OllamaEndpoint, model: string, startedAt: bigint): ConversationProtocol {
  return {
    contentType: OLLAMA_JSON,
    answer: (answer) => {
      const timing = { startedAt, firstTokenAt: null };
      const body =
        endpoint === 'chat'
          ? chatAnswer(answer, model, timing, nowNs())
          : generateAnswer(answer, model, timing, nowNs());
      return JSON.stringify(body);
    },
    encoder: () => new OllamaStreamEncoder(endpoint, model, startedAt),
  };
}

/**
 * The name to route: the client's, or without Ollama's default tag (`demo:latest` → `demo`) when only
 * that is routed. A name the key may not use or that nothing routes is Ollama's 404, in its words.
 */
export function routedModel(context: GatewayContext, key: KeyRecord, model: string): string {
  const candidates = model.endsWith(':latest') ? [model, model.slice(0, -':latest'.length)] : [model];
  let refusal: GatewayError | null = null;
  for (const name of candidates) {
    try {
      context.router.resolve(name, key.models);
      return name;
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      refusal ??= error;
    }
  }
  if (refusal !== null && refusal.code !== 'model_not_found' && refusal.code !== 'model_not_allowed')
    throw refusal;
  throw new ModelNotFoundError(`model '${model}' not found`);
}

async function generate(
  request: FastifyRequest,
  reply: FastifyReply,
  context: GatewayContext,
  endpoint: OllamaEndpoint,
  conversation: ConversationRequest,
): Promise<FastifyReply> {
  const model = conversation.model;
  const routed = routedModel(context, request.gateway.key as KeyRecord, model);
  const carrier = toChatRequest({ ...conversation, model: routed });
  const output = conversationOutput(ollamaProtocol(endpoint, model, request.gateway.startedAt));
  return serveGeneration(request, reply, context, carrier, output, null);
}

/** A load (or unload) call: Ollama answers it at once; the gateway has nothing to load. */
function load(
  request: FastifyRequest,
  reply: FastifyReply,
  context: GatewayContext,
  endpoint: OllamaEndpoint,
  body: { model: string; keep_alive?: unknown },
): FastifyReply {
  routedModel(context, request.gateway.key as KeyRecord, body.model);
  const reason = unloads(body.keep_alive) ? 'unload' : 'load';
  return reply.type(OLLAMA_JSON).send(JSON.stringify(loadAnswer(endpoint, body.model, reason, nowNs())));
}

/** An embed answer in Ollama's form: the vectors in input order, the prompt's tokens, the time taken. */
function embedWriter(model: string, startedAt: bigint): EmbeddingsWriter {
  return (answer) =>
    JSON.stringify({
      model,
      embeddings: vectors(answer),
      total_duration: Number(nowNs() - startedAt),
      load_duration: 0,
      prompt_eval_count: answer.usage.prompt_tokens,
    });
}

function vectors(answer: EmbeddingsResponse): number[][] {
  return [...answer.data]
    .sort((a, b) => a.index - b.index)
    .map((item) => (Array.isArray(item.embedding) ? item.embedding : []));
}

/** Ollama's model details, with honest placeholders: the gateway does not know the weights behind a name. */
function details(): Record<string, unknown> {
  return {
    parent_model: '',
    format: '',
    family: '',
    families: null,
    parameter_size: '',
    quantization_level: '',
  };
}

/** Not a digest of weights (the gateway has none): a stable sha256 of the name, for clients that show one. */
function digestOf(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

export function registerOllamaApi(app: FastifyInstance, context: GatewayContext): void {
  app.post<{ Body: OllamaChatBody }, RouteConfig>(
    '/api/chat',
    {
      onRequest: context.authenticate,
      config,
      schema: {
        tags: TAGS,
        summary: 'Ollama: chat',
        description:
          'Ollama\'s /api/chat. Streams NDJSON unless `stream: false`: a line per delta, each tool call whole on its own line, a last line with `done: true`; an error after the stream started is a last `{"error": ...}` line. No messages: Ollama\'s load call, answered at once.',
        security: [{ apiKey: [] }],
        body: ChatBodySchema,
        response: ndjson('The answer (JSON), or its NDJSON lines'),
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (!Array.isArray(body.messages) || body.messages.length === 0)
        return load(request, reply, context, 'chat', body);
      return generate(request, reply, context, 'chat', chatToConversation(body));
    },
  );

  app.post<{ Body: OllamaGenerateBody }, RouteConfig>(
    '/api/generate',
    {
      onRequest: context.authenticate,
      config,
      schema: {
        tags: TAGS,
        summary: 'Ollama: generate',
        description:
          "Ollama's /api/generate: the prompt goes to the backend as one user message (its chat template applies, also with `raw`). `suffix`, `template` and `context` are refused. An empty prompt is Ollama's load call, answered at once.",
        security: [{ apiKey: [] }],
        body: GenerateBodySchema,
        response: ndjson('The answer (JSON), or its NDJSON lines'),
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.prompt === undefined || body.prompt === null || body.prompt === '') {
        // Ollama checks the rest of the request before it loads; so does the gateway.
        generateToConversation({ ...body, prompt: '' });
        return load(request, reply, context, 'generate', body);
      }
      return generate(request, reply, context, 'generate', generateToConversation(body));
    },
  );

  app.post<{ Body: EmbedBody }, RouteConfig>(
    '/api/embed',
    {
      onRequest: context.authenticate,
      config,
      schema: {
        tags: TAGS,
        summary: 'Ollama: embed',
        description:
          "Ollama's /api/embed, through the gateway's embeddings pipeline. `truncate`, `options` and `keep_alive` are accepted and not forwarded: each backend truncates (or refuses) as it does by default.",
        security: [{ apiKey: [] }],
        body: EmbedBodySchema,
        response: {
          200: {
            description: '{model, embeddings, ...}',
            content: { 'application/json': { schema: AnswerBody } },
          },
          ...ollamaErrors,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const input = typeof body.input === 'string' ? (body.input === '' ? [] : body.input) : body.input;
      const key = request.gateway.key as KeyRecord;
      const model = routedModel(context, key, body.model);
      if (Array.isArray(input) && input.length === 0) {
        // Nothing to embed: Ollama answers an empty list without running the model.
        return reply.type(OLLAMA_JSON).send(JSON.stringify({ model: body.model, embeddings: [] }));
      }
      const embeddings = {
        model,
        input,
        ...(body.dimensions === undefined ? {} : { dimensions: body.dimensions }),
      };
      return serveEmbeddings(
        request,
        reply,
        context,
        embeddings,
        null,
        embedWriter(body.model, request.gateway.startedAt),
      );
    },
  );

  app.post<{ Body: { model: string; prompt: string } }, RouteConfig>(
    '/api/embeddings',
    {
      onRequest: context.authenticate,
      config,
      schema: {
        tags: TAGS,
        summary: 'Ollama: embeddings (older)',
        description: "Ollama's older /api/embeddings: one prompt, one `embedding`.",
        security: [{ apiKey: [] }],
        body: EmbeddingsBodySchema,
        response: {
          200: { description: '{embedding}', content: { 'application/json': { schema: AnswerBody } } },
          ...ollamaErrors,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const model = routedModel(context, request.gateway.key as KeyRecord, body.model);
      if (body.prompt === '') return reply.type(OLLAMA_JSON).send(JSON.stringify({ embedding: [] }));
      return serveEmbeddings(request, reply, context, { model, input: body.prompt }, null, (answer) =>
        JSON.stringify({ embedding: vectors(answer)[0] ?? [] }),
      );
    },
  );

  app.get<{ Body: unknown }, RouteConfig>(
    '/api/tags',
    {
      onRequest: context.authenticate,
      config,
      schema: {
        tags: TAGS,
        summary: 'Ollama: the models this key may use',
        description:
          "The names GET /v1/models lists, in Ollama's form. Size, digest and details are placeholders: the gateway routes names and does not know the weights behind them.",
        security: [{ apiKey: [] }],
        response: {
          200: { description: '{models: [...]}', content: { 'application/json': { schema: AnswerBody } } },
          ...ollamaErrors,
        },
      },
    },
    async (request, reply) => {
      const names = await context.discovery.listModels(requestModels(request.gateway));
      const modified = createdAt(STARTED_NS);
      const models = names.map((name) => ({
        name,
        model: name,
        modified_at: modified,
        size: 0,
        digest: digestOf(name),
        details: details(),
      }));
      return reply.type(OLLAMA_JSON).send(JSON.stringify({ models }));
    },
  );

  app.post<{ Body: { model?: string; name?: string } }, RouteConfig>(
    '/api/show',
    {
      onRequest: context.authenticate,
      config,
      schema: {
        tags: TAGS,
        summary: 'Ollama: show a model',
        description: `A model this key may use: placeholder details, and the capabilities the gateway carries (${OLLAMA_CAPABILITIES.join(', ')}); 404 {"error": "model 'x' not found"} otherwise.`,
        security: [{ apiKey: [] }],
        body: ShowBodySchema,
        response: {
          200: { description: 'The model', content: { 'application/json': { schema: AnswerBody } } },
          ...ollamaErrors,
        },
      },
    },
    async (request, reply) => {
      const model = request.body.model ?? request.body.name;
      if (model === undefined || model === '')
        throw new InvalidRequestError("'model' is required", { param: 'model' });
      routedModel(context, request.gateway.key as KeyRecord, model);
      return reply.type(OLLAMA_JSON).send(
        JSON.stringify({
          modelfile: '',
          parameters: '',
          template: '',
          details: details(),
          model_info: {},
          capabilities: [...OLLAMA_CAPABILITIES],
          modified_at: createdAt(STARTED_NS),
        }),
      );
    },
  );

  app.get<{ Body: unknown }, RouteConfig>(
    '/api/ps',
    {
      onRequest: context.authenticate,
      config,
      schema: {
        tags: TAGS,
        summary: 'Ollama: running models (none: the gateway loads nothing)',
        security: [{ apiKey: [] }],
        response: {
          200: { description: '{models: []}', content: { 'application/json': { schema: AnswerBody } } },
          ...ollamaErrors,
        },
      },
    },
    async (_request, reply) => reply.type(OLLAMA_JSON).send('{"models":[]}'),
  );

  app.get<{ Body: unknown }, RouteConfig>(
    '/api/version',
    {
      config,
      schema: {
        tags: TAGS,
        summary: 'Ollama: version',
        description: `Always ${OLLAMA_VERSION}: an Ollama version whose features the gateway carries, so that clients enable them. No key needed, as with Ollama.`,
        response: {
          200: { description: '{version}', content: { 'application/json': { schema: AnswerBody } } },
        },
      },
    },
    async (_request, reply) => reply.type(OLLAMA_JSON).send(JSON.stringify({ version: OLLAMA_VERSION })),
  );

  app.get<{ Body: unknown }, RouteConfig>(
    '/',
    {
      config,
      schema: {
        tags: TAGS,
        summary: 'Ollama: "Ollama is running"',
        description: 'What Ollama answers on its root, which Open WebUI and ollama-js probe. No key needed.',
        response: {
          200: { description: OLLAMA_RUNNING, content: { 'text/plain': { schema: Type.String() } } },
        },
      },
    },
    async (_request, reply) => reply.type('text/plain; charset=utf-8').send(OLLAMA_RUNNING),
  );
}
