import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';

type Json = Record<string, unknown>;

function object(value: unknown, where: string): Json {
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `${where} is an object`);
  return value as Json;
}

/** Follows a path of keys through the document, failing with the path when a step is missing. */
function at(document: Json, ...keys: string[]): Json {
  let node: unknown = document;
  const walked: string[] = [];
  for (const key of keys) {
    walked.push(key);
    node = object(node, walked.slice(0, -1).join(' > ') || 'the document')[key];
    assert.ok(node !== undefined, `the document has ${walked.join(' > ')}`);
  }
  return object(node, walked.join(' > '));
}

/** Every "$ref" string anywhere in the document. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refs(item, out);
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out.push(value);
      else refs(value, out);
    }
  }
  return out;
}

describe('GET /openapi.json and /docs', () => {
  let running: RunningGateway;
  let document: Json;

  before(async () => {
    running = await startGateway(
      testConfig({
        backends: [{ name: 'demo', type: 'demo' }],
        models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
      }),
    );
    const response = await fetch(`${running.url}/openapi.json`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    document = object(await response.json(), 'the OpenAPI document');
  });
  after(async () => {
    await running.stop();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(document['openapi'], '3.1.0');
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(validator.version, '3.1');
  });

  it('is checked by a validator that does refuse a broken document', async () => {
    const broken = structuredClone(document);
    delete broken['info'];
    const result = await new Validator().validate(broken);
    assert.equal(result.valid, false);
  });

  it('has no $ref that points nowhere', () => {
    const found = refs(document);
    assert.ok(found.length > 0);
    for (const ref of found) {
      assert.ok(ref.startsWith('#/'), `${ref} is a local reference`);
      at(document, ...ref.slice(2).split('/'));
    }
  });

  it('documents every public route', () => {
    const paths = at(document, 'paths');
    for (const [path, method] of [
      ['/v1/chat/completions', 'post'],
      ['/v1/embeddings', 'post'],
      ['/v1/models', 'get'],
      ['/v1/models/{model}', 'get'],
      ['/health/live', 'get'],
      ['/health/ready', 'get'],
      // Issue 18: every client's protocol.
      ['/v1/responses', 'post'],
      ['/v1/responses/{response_id}', 'get'],
      ['/v1/responses/{response_id}', 'delete'],
      ['/v1/messages', 'post'],
      ['/v1/messages/count_tokens', 'post'],
      ['/v1/completions', 'post'],
      ['/api/chat', 'post'],
      ['/api/generate', 'post'],
      ['/api/embed', 'post'],
      ['/api/embeddings', 'post'],
      ['/api/tags', 'get'],
      ['/api/show', 'post'],
      ['/api/version', 'get'],
    ] as const) {
      at(paths, path, method, 'responses');
    }
    assert.equal(paths['/openapi.json'], undefined, 'the document does not list itself');
  });

  it('documents the chat request body: model and messages required, roles enumerated', () => {
    const schema = at(
      document,
      'paths',
      '/v1/chat/completions',
      'post',
      'requestBody',
      'content',
      'application/json',
      'schema',
    );
    assert.deepEqual(schema['required'], ['model', 'messages']);
    const properties = at(schema, 'properties');
    assert.equal(at(properties, 'model')['type'], 'string');
    const messages = at(properties, 'messages');
    assert.equal(messages['type'], 'array');
    assert.equal(messages['minItems'], 1);
    const message = at(messages, 'items');
    assert.deepEqual(message['required'], ['role']);
    const roles = JSON.stringify(at(message, 'properties', 'role'));
    for (const role of ['system', 'developer', 'user', 'assistant', 'tool'])
      assert.ok(roles.includes(`"${role}"`), role);
    for (const field of ['stream', 'temperature', 'max_tokens', 'stop', 'tools']) at(properties, field);
  });

  it('documents the chat answer as JSON and as server-sent events', () => {
    const content = at(document, 'paths', '/v1/chat/completions', 'post', 'responses', '200', 'content');
    assert.deepEqual(Object.keys(content).sort(), ['application/json', 'text/event-stream']);
    assert.deepEqual(at(content, 'application/json', 'schema')['required'], [
      'id',
      'object',
      'created',
      'model',
      'choices',
    ]);
  });

  it('documents the embeddings request body: model and input required, encoding_format float|base64', () => {
    const schema = at(
      document,
      'paths',
      '/v1/embeddings',
      'post',
      'requestBody',
      'content',
      'application/json',
      'schema',
    );
    assert.deepEqual(schema['required'], ['model', 'input']);
    const encoding = JSON.stringify(at(schema, 'properties', 'encoding_format'));
    assert.ok(encoding.includes('"float"') && encoding.includes('"base64"'));
  });

  it('documents the models list and the health answers', () => {
    const models = at(
      document,
      'paths',
      '/v1/models',
      'get',
      'responses',
      '200',
      'content',
      'application/json',
      'schema',
    );
    assert.deepEqual(models['required'], ['object', 'data']);
    const live = at(
      document,
      'paths',
      '/health/live',
      'get',
      'responses',
      '200',
      'content',
      'application/json',
      'schema',
    );
    assert.deepEqual(live['required'], ['status']);
    const responses = at(document, 'paths', '/health/ready', 'get', 'responses');
    for (const status of ['200', '503']) {
      assert.deepEqual(at(responses, status, 'content', 'application/json', 'schema')['required'], [
        'status',
        'checks',
      ]);
    }
  });

  it('documents GET /v1/models/{model}: the model id as a path parameter, the model object as the answer', () => {
    const operation = at(document, 'paths', '/v1/models/{model}', 'get');
    assert.deepEqual(
      (operation['parameters'] as Json[]).map((parameter) => [
        parameter['name'],
        parameter['in'],
        parameter['required'],
      ]),
      [['model', 'path', true]],
    );
    assert.match(String(operation['description']), /`\/` and `:`/);
    const model = at(operation, 'responses', '200', 'content', 'application/json', 'schema');
    assert.deepEqual(model['required'], ['id', 'object', 'created', 'owned_by']);
    assert.equal(at(document, 'paths')['/v1/models/{*}'], undefined, 'the wildcard is not shown as such');
  });

  it('documents the Problem schema and uses it for every error response of the API routes', () => {
    const problem = at(document, 'components', 'schemas', 'Problem');
    assert.deepEqual(problem['required'], [
      'type',
      'title',
      'status',
      'detail',
      'instance',
      'request_id',
      'error',
    ]);
    assert.deepEqual(at(problem, 'properties', 'error')['required'], ['message', 'type', 'code', 'param']);
    for (const [path, method] of [
      ['/v1/chat/completions', 'post'],
      ['/v1/embeddings', 'post'],
      ['/v1/models', 'get'],
      ['/v1/models/{model}', 'get'],
    ] as const) {
      const responses = at(document, 'paths', path, method, 'responses');
      const errors = Object.keys(responses).filter((status) => /^[45]/.test(status));
      assert.deepEqual(errors.sort(), ['4XX', '5XX'], `${method} ${path}`);
      for (const status of errors) {
        assert.deepEqual(at(responses, status, 'content', 'application/problem+json', 'schema'), {
          $ref: '#/components/schemas/Problem',
        });
      }
    }
  });

  it('declares bearer security schemes: API keys for the API routes, the admin token for /admin, none for health', () => {
    const schemes = at(document, 'components', 'securitySchemes');
    const bearer = Object.entries(schemes).filter(([, scheme]) => {
      const value = object(scheme, 'a security scheme');
      return value['type'] === 'http' && value['scheme'] === 'bearer';
    });
    assert.deepEqual(bearer.map(([schemeName]) => schemeName).sort(), [
      'adminToken',
      'apiKey',
      'metricsToken',
    ]);
    const name = 'apiKey';
    for (const [path, method] of [
      ['/admin/keys', 'post'],
      ['/admin/keys', 'get'],
      ['/admin/keys/{id}', 'get'],
      ['/admin/keys/{id}', 'patch'],
      ['/admin/keys/{id}', 'delete'],
      ['/admin/teams', 'post'],
      ['/admin/teams', 'get'],
      ['/admin/teams/{id}', 'get'],
      ['/admin/teams/{id}', 'patch'],
      ['/admin/teams/{id}', 'delete'],
    ] as const) {
      assert.deepEqual(
        at(document, 'paths', path, method)['security'],
        [{ adminToken: [] }],
        `${method} ${path}`,
      );
      assert.deepEqual(at(document, 'paths', path, method)['tags'], ['Admin'], `${method} ${path}`);
    }
    for (const [path, method] of [
      ['/v1/chat/completions', 'post'],
      ['/v1/embeddings', 'post'],
      ['/v1/models', 'get'],
      ['/v1/models/{model}', 'get'],
    ] as const) {
      assert.deepEqual(
        at(document, 'paths', path, method)['security'],
        [{ [name]: [] }],
        `${method} ${path}`,
      );
    }
    for (const path of ['/health/live', '/health/ready', '/metrics']) {
      assert.equal(at(document, 'paths', path, 'get')['security'], undefined, path);
    }
  });

  it('serves the interactive docs as HTML at /docs', async () => {
    let response = await fetch(`${running.url}/docs`);
    // Whether /docs answers itself or redirects to /docs/ or /docs/static/index.html, fetch follows it.
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    let html = await response.text();
    assert.match(html, /<html/i);
    assert.match(html, /swagger-ui/i);

    response = await fetch(`${running.url}/docs/static/index.html`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    html = await response.text();
    assert.match(html, /<html/i);
  });

  it('gives the docs page the same document as /openapi.json', async () => {
    const response = await fetch(`${running.url}/docs/json`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), document);
  });
});
