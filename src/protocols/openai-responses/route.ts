/**
 * The OpenAI Responses API as an ingress protocol: POST /v1/responses (JSON or server-sent events),
 * GET and DELETE /v1/responses/{id} for stored responses. A request is translated to the conversation
 * model and served by the same pipeline as chat completions (keys, limits, cache, routing, usage...);
 * errors are problem+json, whose `error` member is OpenAI's, as on every OpenAI route.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { KeyRecord } from '../../auth/key-record.js';
import { nowSeconds } from '../../backends/ids.js';
import { GatewayError, InvalidRequestError, ServiceUnavailableError } from '../../errors/errors.js';
import { conversationOutput } from '../../pipeline/output.js';
import { serveGeneration } from '../../pipeline/serve-generation.js';
import type { GatewayContext } from '../../server/context.js';
import { errorResponses } from '../../server/routes/openapi-fragments.js';
import { toChatRequest } from '../openai-chat/from-conversation.js';
import { echoOf, type Json } from './from-conversation.js';
import { newResponseId, parseItemId } from './ids.js';
import {
  DeletedResponseSchema,
  ResponseObjectSchema,
  ResponsesRequestSchema,
  type ResponsesRequest,
} from './schema.js';
import { ResponseStore, type StoredResponse } from './store.js';
import { responsesProtocol, type Persist } from './stream-events.js';
import { checkServable, inputItems, itemReferences, toConversation, type Item } from './to-conversation.js';

/** Distinct stored responses one request's item_references may read: each is one read of the store. */
const MAX_REFERENCED_RESPONSES = 64;

const ResponseIdParams = Type.Object({
  response_id: Type.String({ minLength: 1, maxLength: 256, description: 'resp_…' }),
});

/** The retrieve call's query (strings: query values are not coerced); only stream changes anything. */
const RetrieveQuery = Type.Object(
  {
    stream: Type.Optional(Type.String({ maxLength: 8 })),
    include: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 16 })])),
    'include[]': Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 16 })])),
    include_obfuscation: Type.Optional(Type.String({ maxLength: 8 })),
    starting_after: Type.Optional(Type.String({ maxLength: 16 })),
  },
  { additionalProperties: false },
);

function notFound(message: string, param: string): GatewayError {
  return new GatewayError('not_found', message, { param });
}

/**
 * A read of the state store that fails is a 503 the client may retry, not a 500. The store's own
 * message (it may name a host) stays out of the answer.
 */
async function reading<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch {
    throw new ServiceUnavailableError(
      'The state store of stored responses did not answer; retry the request',
      1,
    );
  }
}

function keyOf(request: Pick<FastifyRequest, 'gateway'>): KeyRecord {
  return request.gateway.key as KeyRecord;
}

/**
 * The items this request continues and adds: the stored conversation of previous_response_id, then its
 * own input with each item_reference replaced by the output item it names (of this key's responses).
 */
async function conversationItems(
  store: ResponseStore,
  keyId: string,
  body: ResponsesRequest,
): Promise<{ history: Item[]; input: Item[] }> {
  let history: Item[] = [];
  const previousId = body.previous_response_id;
  if (previousId != null) {
    const previous = await reading(store.get(keyId, previousId));
    if (previous === null)
      throw notFound(
        `Previous response with id '${previousId}' not found: it does not exist, has expired, was stored with store: false, or belongs to another API key`,
        'previous_response_id',
      );
    history = [...previous.input, ...(previous.response['output'] as Item[])];
  }
  const input = inputItems(body.input);
  const references = itemReferences(input);
  if (references.length === 0) return { history, input };
  const records = new Map<string, StoredResponse | null>();
  const resolved = [...input];
  for (const { index, id } of references) {
    const named = parseItemId(id);
    let item: Item | undefined;
    if (named !== null) {
      if (!records.has(named.responseId)) {
        if (records.size >= MAX_REFERENCED_RESPONSES)
          throw new InvalidRequestError(
            `item_references may name items of at most ${MAX_REFERENCED_RESPONSES} responses in one request`,
            { param: `input[${index}].id` },
          );
        records.set(named.responseId, await reading(store.get(keyId, named.responseId)));
      }
      const output = records.get(named.responseId)?.response['output'];
      const candidate = Array.isArray(output) ? (output[named.outputIndex] as Item | undefined) : undefined;
      if (candidate?.['id'] === id) item = candidate;
    }
    if (item === undefined)
      throw notFound(
        `Item with id '${id}' not found: item_reference names an output item of a response stored by this API key`,
        `input[${index}].id`,
      );
    resolved[index] = item;
  }
  return { history, input: resolved };
}

/**
 * Stores the finished response with its conversation (store: true), within the size bound. Never
 * fails the answer: a response that could not be stored is said in the log, and continuing it is a 404.
 */
export function persistence(
  request: Pick<FastifyRequest, 'log' | 'gateway'>,
  context: Pick<GatewayContext, 'config'>,
  store: ResponseStore,
  items: readonly Item[],
  enabled: boolean,
): Persist {
  if (!enabled) return () => Promise.resolve();
  const keyId = keyOf(request).id;
  return async (response: Json) => {
    try {
      const result = await store.put(
        keyId,
        { response, input: items },
        context.config.responses.storeTtlSeconds,
      );
      if (!result.stored)
        request.log.warn(
          { response_id: response['id'], bytes: result.bytes, limit_bytes: store.maxBytes },
          'response not stored: its conversation is over the size bound of a stored response; previous_response_id cannot continue it',
        );
    } catch (error) {
      // The answer is served either way; a later previous_response_id to it gets 404.
      request.log.error(
        { response_id: response['id'], detail: (error as Error).message },
        'response not stored: the state store failed',
      );
    }
  };
}

export function registerResponses(app: FastifyInstance, context: GatewayContext): void {
  // The state store's key-value entries; the stores close with the gateway.
  const store = new ResponseStore(context.kv);

  app.post<{ Body: ResponsesRequest }>(
    '/v1/responses',
    {
      onRequest: context.authenticate,
      schema: {
        tags: ['OpenAI-compatible'],
        summary: 'Create a model response (OpenAI Responses API)',
        description:
          'OpenAI Responses over any backend: input as text or items (messages, function calls and their outputs, reasoning, item references), instructions, function tools, text.format, previous_response_id. With `stream: true` the answer is server-sent events (`event: response.created` … `response.completed`); an error after the stream started is an `error` event then `response.failed`. Hosted tools, files, background runs and unknown fields are refused (400 naming the field). Responses are stored (store: true, the default) under the API key for responses.store_ttl_seconds.',
        security: [{ apiKey: [] }],
        body: ResponsesRequestSchema,
        response: {
          200: {
            description: 'The response (JSON), or its events (server-sent events)',
            content: {
              'application/json': { schema: ResponseObjectSchema },
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
      const body = request.body;
      checkServable(body);
      const keyId = keyOf(request).id;
      const { history, input } = await conversationItems(store, keyId, body);
      const items = [...history, ...input];
      const conversation = toConversation(body, items, { historyLength: history.length });
      const echo = echoOf(body, newResponseId(), nowSeconds());
      const persist = persistence(request, context, store, items, body.store !== false);
      const output = conversationOutput(responsesProtocol(echo, body.model, persist));
      return serveGeneration(request, reply, context, toChatRequest(conversation), output, null);
    },
  );

  app.get<{ Params: { response_id: string }; Querystring: Record<string, unknown> }>(
    '/v1/responses/:response_id',
    {
      onRequest: context.authenticate,
      schema: {
        tags: ['OpenAI-compatible'],
        summary: 'Retrieve a stored response',
        description:
          'A response stored by this API key (store: true), as it was answered. Another key’s, an expired one or one stored with store: false is 404. Replaying it as a stream (stream=true) is not supported.',
        security: [{ apiKey: [] }],
        params: ResponseIdParams,
        querystring: RetrieveQuery,
        response: { 200: ResponseObjectSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      if (request.query['stream'] === 'true')
        throw new InvalidRequestError(
          'Replaying a stored response as a stream is not supported; retrieve it without stream',
          { param: 'stream' },
        );
      const id = request.params.response_id;
      const record = await reading(store.get(keyOf(request).id, id));
      if (record === null)
        throw notFound(`No response with id '${id}' is stored for this API key`, 'response_id');
      return reply.type('application/json').send(JSON.stringify(record.response));
    },
  );

  app.delete<{ Params: { response_id: string } }>(
    '/v1/responses/:response_id',
    {
      onRequest: context.authenticate,
      schema: {
        tags: ['OpenAI-compatible'],
        summary: 'Delete a stored response',
        security: [{ apiKey: [] }],
        params: ResponseIdParams,
        response: { 200: DeletedResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const id = request.params.response_id;
      if (!(await reading(store.delete(keyOf(request).id, id))))
        throw notFound(`No response with id '${id}' is stored for this API key`, 'response_id');
      return reply.type('application/json').send(JSON.stringify({ id, object: 'response', deleted: true }));
    },
  );
}
