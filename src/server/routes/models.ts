import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ModelListSchema, ModelSchema, type ModelList } from '../../api/schemas.js';
import { InvalidRequestError, ModelNotFoundError } from '../../errors/errors.js';
import type { GatewayContext } from '../context.js';
import { errorResponses } from './openapi-fragments.js';
import { requestModels } from '../../auth/team-models.js';

const STARTED = Math.floor(Date.now() / 1000);
/** As long as a request's `model` may be. */
const MAX_MODEL_ID = 256;
const MODEL_PARAM = Type.String({
  description: 'The model id; may contain `/` and `:`, as is or percent-encoded',
});

/** A model as GET /v1/models lists it and GET /v1/models/{id} answers it. */
function modelObject(id: string): ModelList['data'][number] {
  return { id, object: 'model', created: STARTED, owned_by: 'ai-gateway' };
}

export function registerModels(app: FastifyInstance, context: GatewayContext): void {
  app.get(
    '/v1/models',
    {
      onRequest: context.authenticate,
      schema: {
        tags: ['OpenAI-compatible'],
        summary: 'List the models this key may use',
        security: [{ apiKey: [] }],
        response: { 200: ModelListSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const names = await context.discovery.listModels(requestModels(request.gateway));
      const list: ModelList = { object: 'list', data: names.map(modelObject) };
      return reply.type('application/json').send(JSON.stringify(list));
    },
  );

  // A wildcard, not `:id`: model ids contain `/` (meta-llama/Llama-3.1-8B), which the openai SDK sends
  // percent-encoded and curl users as is; Fastify decodes both, and `:` (llama3.2:3b) alike.
  app.get<{ Params: { '*': string } }>(
    '/v1/models/*',
    {
      onRequest: context.authenticate,
      schema: {
        tags: ['OpenAI-compatible'],
        summary: 'Retrieve a model this key may use',
        description:
          'The model as `GET /v1/models` lists it. The id is the rest of the path and may contain `/` and `:` (`/v1/models/meta-llama/Llama-3.1-8B`, `/v1/models/llama3.2:3b`), as is or percent-encoded. A model this key may not use is answered 404 `model_not_found`, as one that does not exist.',
        security: [{ apiKey: [] }],
        params: Type.Object({ '*': MODEL_PARAM }),
        response: { 200: ModelSchema, ...errorResponses },
      },
      // The document names the wildcard as a parameter generated clients can use: /v1/models/{model}.
      config: {
        swaggerTransform: ({ schema }) => ({
          schema: { ...schema, params: Type.Object({ model: MODEL_PARAM }) },
          url: '/v1/models/:model',
        }),
      },
    },
    async (request, reply) => {
      const id = request.params['*'];
      if (id === '' || id.length > MAX_MODEL_ID) {
        throw new InvalidRequestError(
          `The model id (the path after /v1/models/) must be 1 to ${MAX_MODEL_ID} characters`,
          { param: 'model' },
        );
      }
      // The list this key sees, so that a model it may not use is not told apart from one that does not
      // exist (the same 404, the same words).
      const names = await context.discovery.listModels(requestModels(request.gateway));
      if (!names.includes(id)) {
        throw new ModelNotFoundError(
          `The model '${id}' does not exist; GET /v1/models lists the models you can use`,
        );
      }
      return reply.type('application/json').send(JSON.stringify(modelObject(id)));
    },
  );
}
