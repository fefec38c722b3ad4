import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { validateConfig } from '../../config/load.js';
import { GatewayError } from '../../errors/errors.js';
import type { UpstreamCall } from '../adapter.js';
import { isModelNotFound, UpstreamClient } from './upstream-client.js';

/** 404 bodies real servers send when the model does not exist. */
const MODEL_MISSING: Record<string, string> = {
  openai: JSON.stringify({
    error: {
      message: 'The model `gpt-5-nano-x` does not exist or you do not have access to it.',
      type: 'invalid_request_error',
      param: null,
      code: 'model_not_found',
    },
  }),
  'vllm (object: error)': JSON.stringify({
    object: 'error',
    message: 'The model `llama` does not exist.',
    type: 'NotFoundError',
    param: null,
    code: 404,
  }),
  'vllm (error object)': JSON.stringify({
    error: { message: 'The model `llama` does not exist.', type: 'NotFoundError', param: 'model', code: 404 },
  }),
  'ollama (old)': JSON.stringify({ error: "model 'llama3.2:3b' not found" }),
  ollama: JSON.stringify({ error: 'model "llama3.2:3b" not found, try pulling it first' }),
  'a proxy': JSON.stringify({ error: { message: 'no such model' } }),
  'ollama (OpenAI-compatible)': JSON.stringify({
    error: {
      message: 'model "llama3.2:3b" not found, try pulling it first',
      type: 'api_error',
      param: null,
      code: null,
    },
  }),
};

/** 404 bodies of a server that does not have the path at all. */
const PATH_MISSING: Record<string, string> = {
  'FastAPI / vLLM': JSON.stringify({ detail: 'Not Found' }),
  'an HTML page': '<html><head><title>404 Not Found</title></head><body>nginx</body></html>',
  "Go's default": '404 page not found',
  'an empty body': '',
  'Express-style JSON': JSON.stringify({ error: 'Cannot POST /v1/embeddings' }),
  'a route message naming models': JSON.stringify({ message: 'Route /v1/models/x not found' }),
  'a JSON array': '["model not found"]',
};

describe('isModelNotFound', () => {
  for (const [server, body] of Object.entries(MODEL_MISSING)) {
    it(`is true for ${server}`, () => {
      assert.equal(isModelNotFound(body), true);
    });
  }
  for (const [server, body] of Object.entries(PATH_MISSING)) {
    it(`is false for ${server}`, () => {
      assert.equal(isModelNotFound(body), false);
    });
  }
});

describe('UpstreamClient maps an upstream 404', () => {
  let server: Server;
  let client: UpstreamClient;
  /** What the next request is answered with. */
  let answer: { status: number; type: string; body: string } = { status: 200, type: 'text/plain', body: '' };

  before(async () => {
    server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(answer.status, { 'content-type': answer.type });
        response.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const config = validateConfig(
      {
        backends: [
          { name: 'up', type: 'openai', url: `http://127.0.0.1:${port}/v1`, api_key: 'sk-up-secret' },
        ],
        models: [{ name: 'm', targets: [{ backend: 'up' }] }],
        auth: { keys: [] },
      },
      {},
    );
    client = new UpstreamClient(config.backends[0]!);
  });
  after(async () => {
    await client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function call(): UpstreamCall {
    const controller = new AbortController();
    return { signal: controller.signal, requestId: 'r', abort: (reason) => controller.abort(reason) };
  }

  async function failure(path: string): Promise<GatewayError> {
    try {
      await client.postJson(path, '{}', call());
    } catch (error) {
      assert.ok(error instanceof GatewayError, String(error));
      return error;
    }
    assert.fail('the request did not fail');
  }

  for (const [server, body] of Object.entries(MODEL_MISSING)) {
    it(`model_not_found (404) when the body says the model does not exist: ${server}`, async () => {
      answer = { status: 404, type: 'application/json', body };
      const error = await failure('/chat/completions');
      assert.equal(error.code, 'model_not_found');
      assert.equal(error.status, 404);
      assert.match(error.message, /^Backend .up.: .*(not (exist|found)|no such model)/);
    });
  }

  for (const [server, body] of Object.entries(PATH_MISSING)) {
    it(`upstream_error (502) naming the path for any other 404: ${server}`, async () => {
      answer = { status: 404, type: body.startsWith('<') ? 'text/html' : 'application/json', body };
      const error = await failure('/embeddings');
      assert.equal(error.code, 'upstream_error');
      assert.equal(error.status, 502);
      assert.equal(error.retryable, false);
      assert.equal(error.message, "Backend 'up' does not serve /v1/embeddings (it answered 404)");
    });
  }

  it('leaves the other statuses as they were: 400 invalid_request, 500 upstream_error', async () => {
    answer = { status: 400, type: 'application/json', body: JSON.stringify({ error: { message: 'bad' } }) };
    assert.equal((await failure('/chat/completions')).code, 'invalid_request');
    answer = { status: 500, type: 'application/json', body: JSON.stringify({ detail: 'Not Found' }) };
    const error = await failure('/chat/completions');
    assert.equal(error.code, 'upstream_error');
    assert.equal(error.retryable, true);
  });
});
