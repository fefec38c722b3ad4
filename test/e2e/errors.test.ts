/**
 * Every error the gateway core can produce, against real servers: the outside contract's problem+json
 * shape (CONTRACT.md, "Errors"), what OpenAI's own SDK shows of it, the X-Request-ID rule, bad input
 * (RELIABILITY.md 13, 14), upstream failures (5, 6, 10) and secrets in logs and error bodies (15).
 */
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { StandInUpstream } from '../support/stand-in-upstream.js';
import type { Problem } from '../support/problem.js';
import {
  RESTRICTED_KEY,
  TEST_KEY,
  standInConfig,
  startGateway,
  type RunningGateway,
} from '../support/gateway-harness.js';

/** A wrong key sent on purpose: it must never show up in a log line or an error body. */
const MARKER_KEY = 'sk-gw-MARKERwrongkeyZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ';
const UPSTREAM_KEY = 'upstream-secret-key';
const SECRETS = [TEST_KEY, RESTRICTED_KEY, UPSTREAM_KEY, MARKER_KEY, 'MARKERwrongkey'];

const CHAT = '/v1/chat/completions';
const HELLO = [{ role: 'user', content: 'Hi' }];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The OpenAI `error.type` each code must carry, so that OpenAI's SDKs classify it. */
const OPENAI_TYPE: Record<string, string> = {
  invalid_request: 'invalid_request_error',
  invalid_api_key: 'authentication_error',
  model_not_allowed: 'permission_error',
  not_found: 'not_found_error',
  model_not_found: 'not_found_error',
  method_not_allowed: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  rate_limit_exceeded: 'rate_limit_error',
  internal_error: 'server_error',
  upstream_error: 'server_error',
  service_unavailable: 'server_error',
  upstream_timeout: 'server_error',
};

/** One request sent to a gateway, as the client saw it; the request_complete lines must match these. */
interface Sent {
  id: string;
  method: string;
  path: string;
  status: number;
}

/** A running gateway plus everything sent to it and everything it answered with an error. */
interface Target {
  readonly label: string;
  readonly running: RunningGateway;
  readonly sent: Sent[];
}

const targets: Target[] = [];
const errorBodies: string[] = [];
const titleOfCode = new Map<string, string>();

async function launch(label: string, document: Record<string, unknown>): Promise<Target> {
  const target = { label, running: await startGateway(document), sent: [] };
  targets.push(target);
  return target;
}

function record(
  target: Target,
  method: string,
  path: string,
  status: number,
  id: string | null | undefined,
): void {
  assert.ok(typeof id === 'string' && id !== '', `${method} ${path} answered ${status} without X-Request-ID`);
  target.sent.push({ id, method, path, status });
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** Sends one request with fetch and records it. */
async function send(
  target: Target,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Uint8Array; auth?: boolean } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== false && headers['authorization'] === undefined)
    headers['authorization'] = `Bearer ${TEST_KEY}`;
  const init: RequestInit = { method, headers };
  if (options.body !== undefined) init.body = options.body;
  const response = await fetch(target.running.url + path, init);
  const text = await response.text();
  record(
    target,
    method,
    path.split('?', 1)[0] ?? path,
    response.status,
    response.headers.get('x-request-id'),
  );
  if (response.status >= 400) errorBodies.push(text);
  return { status: response.status, headers: response.headers, text };
}

/** POSTs a JSON chat request with the test key. */
async function chat(target: Target, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return send(target, 'POST', CHAT, {
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/**
 * Checks the contract's problem+json shape member by member and returns the parsed problem.
 * `detail` may be a string (contained) or a RegExp.
 */
function assertProblem(
  answer: Answer,
  expected: {
    status: number;
    code: string;
    instance?: string;
    detail?: string | RegExp;
    param?: string | null;
  },
): Problem {
  assert.equal(
    answer.status,
    expected.status,
    `expected ${expected.status}, got ${answer.status}: ${answer.text}`,
  );
  assert.equal(answer.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  const problem = JSON.parse(answer.text) as Problem;
  assert.deepEqual(Object.keys(problem).sort(), [
    'detail',
    'error',
    'instance',
    'request_id',
    'status',
    'title',
    'type',
  ]);
  assert.match(problem.type, /^https:\/\/[a-z0-9.-]+\/\S*$/);
  assert.ok(
    problem.type.endsWith('/' + expected.code.replaceAll('_', '-')),
    `type ${problem.type} should end in /${expected.code.replaceAll('_', '-')}`,
  );
  assert.equal(problem.status, expected.status);
  assert.equal(typeof problem.title, 'string');
  assert.ok(problem.title.length > 0);
  // One title per code, whatever the request.
  const title = titleOfCode.get(expected.code);
  if (title === undefined) titleOfCode.set(expected.code, problem.title);
  else assert.equal(problem.title, title, `code ${expected.code} changed its title`);
  assert.equal(typeof problem.detail, 'string');
  assert.ok(problem.detail.length > 0);
  if (typeof expected.detail === 'string')
    assert.ok(problem.detail.includes(expected.detail), `detail: ${problem.detail}`);
  else if (expected.detail !== undefined) assert.match(problem.detail, expected.detail);
  if (expected.instance !== undefined) assert.equal(problem.instance, expected.instance);
  assert.equal(problem.request_id, answer.headers.get('x-request-id'));
  assert.deepEqual(Object.keys(problem.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(problem.error.message, problem.detail);
  assert.equal(problem.error.code, expected.code);
  assert.equal(problem.error.type, OPENAI_TYPE[expected.code]);
  if (expected.param !== undefined) assert.equal(problem.error.param, expected.param);
  else assert.ok(problem.error.param === null || typeof problem.error.param === 'string');
  assertNoInternals(problem);
  return problem;
}

/** Nothing in a body that only the gateway's insides should know. */
function assertNoInternals(problem: Problem): void {
  const text = JSON.stringify(problem);
  for (const leak of [
    '    at ',
    'node:internal',
    '.ts:',
    '.js:',
    'TypeError',
    'ReferenceError',
    'Cannot read prop',
    'undefined',
  ]) {
    assert.ok(!text.includes(leak), `error body leaks '${leak}': ${text}`);
  }
}

/** Runs a call through the official OpenAI client that must fail, and returns its APIError. */
async function sdkError(
  target: Target,
  path: string,
  call: Promise<unknown>,
): Promise<InstanceType<typeof OpenAI.APIError>> {
  let caught: unknown = null;
  try {
    await call;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof OpenAI.APIError, `expected an APIError, got ${String(caught)}`);
  assert.ok(typeof caught.status === 'number', 'the SDK saw an HTTP status');
  record(target, 'POST', path, caught.status, caught.requestID);
  errorBodies.push(JSON.stringify(caught.error));
  return caught;
}

describe('errors through the official openai client', () => {
  let upstream: StandInUpstream;
  let target: Target;

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    // standInConfig routes demo, llama, stand-in-* and qwen: there is no '*' route.
    target = await launch('sdk', standInConfig(upstream.url));
  });
  after(async () => {
    await target.running.stop();
    await upstream.stop();
  });

  function client(apiKey = TEST_KEY): OpenAI {
    return target.running.client({ apiKey });
  }

  it('shows 401 invalid_api_key when no key is sent', async () => {
    const error = await sdkError(
      target,
      CHAT,
      client().chat.completions.create(
        { model: 'qwen', messages: [{ role: 'user', content: 'Hi' }] },
        { headers: { authorization: null } },
      ),
    );
    assert.equal(error.status, 401);
    assert.equal(error.code, 'invalid_api_key');
    assert.equal(error.type, 'authentication_error');
    assert.match(error.message, /Missing API key/);
    assert.ok(error instanceof OpenAI.AuthenticationError);
    assert.equal(upstream.requests.length, 0);
  });

  it('shows 401 invalid_api_key for a wrong key, without echoing it', async () => {
    const error = await sdkError(
      target,
      CHAT,
      client(MARKER_KEY).chat.completions.create({
        model: 'qwen',
        messages: [{ role: 'user', content: 'Hi' }],
      }),
    );
    assert.equal(error.status, 401);
    assert.equal(error.code, 'invalid_api_key');
    assert.match(error.message, /Invalid API key/);
    assert.ok(!error.message.includes('MARKER'));
    assert.equal(upstream.requests.length, 0);
  });

  it('shows 401 invalid_api_key for a malformed Authorization header', async () => {
    for (const header of [`Basic ${MARKER_KEY}`, `Bearer ${MARKER_KEY} extra`, 'Bearer']) {
      const error = await sdkError(
        target,
        CHAT,
        client().chat.completions.create(
          { model: 'qwen', messages: [{ role: 'user', content: 'Hi' }] },
          { headers: { authorization: header } },
        ),
      );
      assert.equal(error.status, 401, header);
      assert.equal(error.code, 'invalid_api_key');
      assert.match(error.message, /Malformed Authorization header/);
      assert.ok(!error.message.includes('MARKER'));
    }
  });

  it('accepts x-api-key as an alternative to Authorization, and refuses a wrong one', async () => {
    const completion = await client('unused').chat.completions.create(
      { model: 'qwen', messages: [{ role: 'user', content: 'Hi' }] },
      { headers: { authorization: null, 'x-api-key': TEST_KEY, 'x-request-id': 'sdk-x-api-key-ok' } },
    );
    record(target, 'POST', CHAT, 200, 'sdk-x-api-key-ok');
    assert.equal(completion.object, 'chat.completion');
    const error = await sdkError(
      target,
      CHAT,
      client('unused').chat.completions.create(
        { model: 'qwen', messages: [{ role: 'user', content: 'Hi' }] },
        { headers: { authorization: null, 'x-api-key': MARKER_KEY } },
      ),
    );
    assert.equal(error.status, 401);
    assert.equal(error.code, 'invalid_api_key');
  });

  it('shows 403 model_not_allowed when the key may not use the model', async () => {
    const before = upstream.requests.length;
    const error = await sdkError(
      target,
      CHAT,
      client(RESTRICTED_KEY).chat.completions.create({
        model: 'qwen',
        messages: [{ role: 'user', content: 'Hi' }],
      }),
    );
    assert.equal(error.status, 403);
    assert.equal(error.code, 'model_not_allowed');
    assert.equal(error.type, 'permission_error');
    assert.equal(error.param, 'model');
    assert.match(error.message, /may not use model 'qwen'/);
    assert.ok(error instanceof OpenAI.PermissionDeniedError);
    assert.equal(upstream.requests.length, before, 'nothing was sent upstream');
  });

  it('shows 404 model_not_found for a model no route matches', async () => {
    const error = await sdkError(
      target,
      CHAT,
      client().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }),
    );
    assert.equal(error.status, 404);
    assert.equal(error.code, 'model_not_found');
    assert.equal(error.param, 'model');
    assert.match(error.message, /'gpt-4o' does not exist/);
    assert.ok(error instanceof OpenAI.NotFoundError);
  });

  it('shows 404 model_not_found for embeddings too', async () => {
    const error = await sdkError(
      target,
      '/v1/embeddings',
      client().embeddings.create({ model: 'text-embedding-3-small', input: 'x' }),
    );
    assert.equal(error.status, 404);
    assert.equal(error.code, 'model_not_found');
  });

  it('shows 400 invalid_request naming the field for a validation error', async () => {
    const empty = await sdkError(
      target,
      CHAT,
      client().chat.completions.create({ model: 'qwen', messages: [] }),
    );
    assert.equal(empty.status, 400);
    assert.equal(empty.code, 'invalid_request');
    assert.equal(empty.type, 'invalid_request_error');
    assert.equal(empty.param, 'messages');
    assert.match(empty.message, /messages/);
    assert.ok(empty instanceof OpenAI.BadRequestError);

    const hot = await sdkError(
      target,
      CHAT,
      client().chat.completions.create({
        model: 'qwen',
        messages: [{ role: 'user', content: 'Hi' }],
        temperature: 3,
      }),
    );
    assert.equal(hot.status, 400);
    assert.equal(hot.param, 'temperature');
    assert.match(hot.message, /temperature: must be <= 2/);
  });

  it('shows 401 on GET /v1/models without a key', async () => {
    let caught: unknown = null;
    try {
      await client().models.list({ headers: { authorization: null } });
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof OpenAI.AuthenticationError);
    assert.equal(caught.code, 'invalid_api_key');
    record(target, 'GET', '/v1/models', 401, caught.requestID);
  });
});

describe('problem+json responses and bad input', () => {
  let upstream: StandInUpstream;
  let target: Target;
  let small: Target;

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    target = await launch('main', standInConfig(upstream.url));
    small = await launch('small-body-limit', {
      ...standInConfig(upstream.url),
      server: { port: 0, body_limit_bytes: 1024 },
    });
  });
  after(async () => {
    await small.running.stop();
    await target.running.stop();
    await upstream.stop();
  });

  describe('X-Request-ID', () => {
    it('echoes a well-formed client id in the header, the body and the log', async () => {
      for (const id of ['client-id_1.2:3', 'a', 'x'.repeat(128)]) {
        const answer = await send(target, 'POST', CHAT, {
          auth: false,
          headers: { 'x-request-id': id, 'content-type': 'application/json' },
          body: '{}',
        });
        assert.equal(answer.headers.get('x-request-id'), id);
        const problem = assertProblem(answer, { status: 401, code: 'invalid_api_key', instance: CHAT });
        assert.equal(problem.request_id, id);
      }
    });

    it('replaces an ill-formed client id with a new UUID', async () => {
      for (const id of ['has space', 'x'.repeat(129), 'semi;colon', 'a%20b', 'slash/id', '']) {
        const answer = await send(target, 'GET', '/v1/models', {
          auth: false,
          headers: { 'x-request-id': id },
        });
        const returned = answer.headers.get('x-request-id') ?? '';
        assert.match(returned, UUID, `for ${JSON.stringify(id)}`);
        assert.equal(assertProblem(answer, { status: 401, code: 'invalid_api_key' }).request_id, returned);
      }
    });

    it('returns a request id on a successful response too, and a different one for each request', async () => {
      const first = await send(target, 'GET', '/v1/models');
      const second = await send(target, 'GET', '/v1/models');
      assert.equal(first.status, 200);
      assert.match(first.headers.get('x-request-id') ?? '', UUID);
      assert.notEqual(first.headers.get('x-request-id'), second.headers.get('x-request-id'));
    });
  });

  describe('routes and methods', () => {
    it('answers 404 not_found for an unknown route, with the path (not the query) as instance', async () => {
      const answer = await send(target, 'GET', '/v1/nothing-here?token=abc');
      const problem = assertProblem(answer, {
        status: 404,
        code: 'not_found',
        instance: '/v1/nothing-here',
        detail: 'No route for GET /v1/nothing-here',
      });
      assert.ok(!problem.detail.includes('token=abc'));
    });

    it('answers 404 not_found for an unknown route even without a key', async () => {
      const answer = await send(target, 'POST', '/v2/chat/completions', {
        auth: false,
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assertProblem(answer, { status: 404, code: 'not_found', instance: '/v2/chat/completions' });
    });

    it('answers 405 method_not_allowed with an Allow header for a wrong method on a known path', async () => {
      const answer = await send(target, 'DELETE', CHAT);
      assertProblem(answer, {
        status: 405,
        code: 'method_not_allowed',
        instance: CHAT,
        detail: 'does not accept DELETE',
      });
      assert.equal(answer.headers.get('allow'), 'POST');
      const put = await send(target, 'PUT', '/v1/models', {
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assertProblem(put, { status: 405, code: 'method_not_allowed', instance: '/v1/models' });
      assert.ok(
        (put.headers.get('allow') ?? '').split(', ').includes('GET'),
        `allow: ${put.headers.get('allow')}`,
      );
    });
  });

  describe('bodies that are not JSON objects', () => {
    it('answers 400 invalid_request for malformed JSON', async () => {
      const answer = await chat(target, '{"model": "qwen", "messages": [');
      assertProblem(answer, {
        status: 400,
        code: 'invalid_request',
        instance: CHAT,
        detail: 'not valid JSON',
      });
    });

    it('answers 415 unsupported_media_type for text/plain', async () => {
      const answer = await send(target, 'POST', CHAT, {
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ model: 'qwen', messages: HELLO }),
      });
      assertProblem(answer, {
        status: 415,
        code: 'unsupported_media_type',
        instance: CHAT,
        detail: "'text/plain'",
      });
    });

    it('answers 415 unsupported_media_type for a body without Content-Type', async () => {
      const answer = await send(target, 'POST', CHAT, {
        body: new TextEncoder().encode(JSON.stringify({ model: 'qwen', messages: HELLO })),
      });
      assertProblem(answer, { status: 415, code: 'unsupported_media_type', detail: 'Missing Content-Type' });
    });

    it('answers 400 invalid_request for an empty body, with or without Content-Type', async () => {
      const typed = await send(target, 'POST', CHAT, {
        headers: { 'content-type': 'application/json' },
        body: '',
      });
      assertProblem(typed, { status: 400, code: 'invalid_request', detail: /empty/ });
      const whitespace = await chat(target, '  \n ');
      assertProblem(whitespace, { status: 400, code: 'invalid_request', detail: /empty/ });
      const untyped = await send(target, 'POST', CHAT);
      assertProblem(untyped, { status: 400, code: 'invalid_request' });
    });

    it('answers 400 invalid_request when the body is JSON but not an object', async () => {
      for (const body of ['[]', '"hello"', '42', 'null']) {
        assertProblem(await chat(target, body), { status: 400, code: 'invalid_request' });
      }
    });

    it('answers 400 invalid_request for invalid UTF-8', async () => {
      const prefix = new TextEncoder().encode('{"model":"qwen","messages":[{"role":"user","content":"');
      const suffix = new TextEncoder().encode('"}]}');
      const body = new Uint8Array([...prefix, 0xc3, 0x28, 0xff, ...suffix]);
      const before = upstream.requests.length;
      const answer = await send(target, 'POST', CHAT, {
        headers: { 'content-type': 'application/json' },
        body,
      });
      assertProblem(answer, { status: 400, code: 'invalid_request', detail: 'UTF-8' });
      assert.equal(upstream.requests.length, before);
    });

    it('answers 400 invalid_request (never 500) for nesting deeper than 64 levels', async () => {
      for (const depth of [65, 10_000]) {
        const deep = '['.repeat(depth) + ']'.repeat(depth);
        const answer = await chat(
          target,
          `{"model":"qwen","messages":[{"role":"user","content":"Hi"}],"extra":${deep}}`,
        );
        assertProblem(answer, { status: 400, code: 'invalid_request', detail: 'deeper than 64' });
      }
      // Brackets inside strings are text, not nesting.
      const inString = await chat(target, {
        model: 'qwen',
        messages: [{ role: 'user', content: '['.repeat(200) }],
      });
      assert.equal(inString.status, 200);
    });

    it('answers 400 invalid_request for a __proto__ or constructor.prototype key', async () => {
      const before = upstream.requests.length;
      const proto = await chat(
        target,
        '{"model":"qwen","messages":[{"role":"user","content":"Hi"}],"__proto__":{"isAdmin":true}}',
      );
      assertProblem(proto, { status: 400, code: 'invalid_request', instance: CHAT });
      const nested = await chat(
        target,
        '{"model":"qwen","messages":[{"role":"user","content":"Hi","__proto__":{"x":1}}]}',
      );
      assertProblem(nested, { status: 400, code: 'invalid_request' });
      const ctor = await chat(
        target,
        '{"model":"qwen","messages":[{"role":"user","content":"Hi"}],"constructor":{"prototype":{"x":1}}}',
      );
      assertProblem(ctor, { status: 400, code: 'invalid_request' });
      assert.equal(upstream.requests.length, before, 'nothing was sent upstream');
    });
  });

  describe('bodies that fail validation', () => {
    it('answers 400 invalid_request naming `messages` when it is missing', async () => {
      const answer = await chat(target, { model: 'qwen' });
      assertProblem(answer, {
        status: 400,
        code: 'invalid_request',
        param: 'messages',
        detail: 'messages: is required',
      });
    });

    it('answers 400 invalid_request naming `messages` when it is empty', async () => {
      const answer = await chat(target, { model: 'qwen', messages: [] });
      assertProblem(answer, {
        status: 400,
        code: 'invalid_request',
        param: 'messages',
        detail: /messages: must NOT have fewer than 1/,
      });
    });

    it('lists every offending field in one detail', async () => {
      const answer = await chat(target, {
        model: 42,
        temperature: 'hot',
        messages: [{ role: 'robot', content: 'Hi' }],
      });
      const problem = assertProblem(answer, { status: 400, code: 'invalid_request', param: 'model' });
      assert.match(problem.detail, /model: must be string/);
      assert.match(problem.detail, /temperature: must be number/);
      assert.match(problem.detail, /messages\[0\]\.role: must be one of "system"/);
    });

    it('answers 400 invalid_request for a temperature out of range', async () => {
      const answer = await chat(target, { model: 'qwen', messages: HELLO, temperature: 3 });
      assertProblem(answer, {
        status: 400,
        code: 'invalid_request',
        param: 'temperature',
        detail: 'temperature: must be <= 2',
      });
    });

    it('does not coerce types: "0.5" is not a temperature', async () => {
      const answer = await chat(target, { model: 'qwen', messages: HELLO, temperature: '0.5' });
      assertProblem(answer, { status: 400, code: 'invalid_request', param: 'temperature' });
    });

    it('answers 400 invalid_request for an embeddings request without input', async () => {
      const answer = await send(target, 'POST', '/v1/embeddings', {
        headers: { 'content-type': 'application/json' },
        body: '{"model":"qwen"}',
      });
      assertProblem(answer, {
        status: 400,
        code: 'invalid_request',
        instance: '/v1/embeddings',
        param: 'input',
      });
    });

    it('checks the key before the body: a bad body without a key is 401', async () => {
      const answer = await send(target, 'POST', CHAT, {
        auth: false,
        headers: { 'content-type': 'application/json' },
        body: '{not json',
      });
      assertProblem(answer, { status: 401, code: 'invalid_api_key' });
    });
  });

  describe('bodies over the limit (server.body_limit_bytes: 1024)', () => {
    const big = JSON.stringify({ model: 'qwen', messages: [{ role: 'user', content: 'x'.repeat(2000) }] });

    it('accepts a body under the limit', async () => {
      const answer = await chat(small, { model: 'qwen', messages: HELLO });
      assert.equal(answer.status, 200);
    });

    it('answers 413 payload_too_large for a body declared larger by Content-Length', async () => {
      const answer = await chat(small, big);
      assertProblem(answer, { status: 413, code: 'payload_too_large', instance: CHAT, detail: '1024 bytes' });
    });

    it('answers 413 payload_too_large for a chunked body, before the client has finished sending it', async () => {
      const url = new URL(small.running.url);
      const request = httpRequest({
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: CHAT,
        headers: {
          authorization: `Bearer ${TEST_KEY}`,
          'content-type': 'application/json',
          'x-request-id': 'chunked-413',
        },
      });
      // A reset connection instead of an answer fails the test at once.
      const response = new Promise<IncomingMessage>((resolve, reject) => {
        request.once('response', resolve);
        request.once('error', reject);
      });
      // 4 KiB in 256-byte chunks, and the request is never ended: the 413 must come anyway.
      request.write('{"model":"qwen","messages":[{"role":"user","content":"');
      for (let index = 0; index < 16; index++) request.write('y'.repeat(256));
      assert.equal(request.getHeader('content-length'), undefined);
      const answer = await response;
      const chunks: Buffer[] = [];
      for await (const chunk of answer) chunks.push(chunk as Buffer);
      request.destroy();
      const text = Buffer.concat(chunks).toString('utf8');
      const headers = new Headers();
      for (const [name, value] of Object.entries(answer.headers))
        if (typeof value === 'string') headers.set(name, value);
      record(small, 'POST', CHAT, answer.statusCode ?? 0, headers.get('x-request-id'));
      errorBodies.push(text);
      assert.equal(headers.get('x-request-id'), 'chunked-413');
      assertProblem(
        { status: answer.statusCode ?? 0, headers, text },
        { status: 413, code: 'payload_too_large', instance: CHAT },
      );
    });
  });

  it('answers 503 service_unavailable with Retry-After while shutting down, health aside', async () => {
    const lifecycle = target.running.gateway.context.lifecycle;
    lifecycle.shuttingDown = true;
    try {
      const answer = await send(target, 'GET', '/v1/models');
      assertProblem(answer, {
        status: 503,
        code: 'service_unavailable',
        instance: '/v1/models',
        detail: 'shutting down',
      });
      assert.equal(answer.headers.get('retry-after'), '1');
      assert.equal((await send(target, 'GET', '/health/live')).status, 200);
    } finally {
      lifecycle.shuttingDown = false;
    }
  });
});

describe('upstream failures', () => {
  let upstream: StandInUpstream;
  let target: Target;

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    target = await launch('upstream-failures', standInConfig(upstream.url));
  });
  afterEach(() => {
    upstream.behaviour = { kind: 'normal' };
  });
  after(async () => {
    await target.running.stop();
    await upstream.stop();
  });

  const backends = [
    { model: 'qwen', backend: 'vllm', path: '/v1/chat/completions' },
    { model: 'llama', backend: 'ollama', path: '/api/chat' },
  ] as const;

  for (const { model, backend, path } of backends) {
    describe(`the ${backend} backend (model ${model})`, () => {
      it('answers 400 with the upstream message in detail when the upstream answers 400', async () => {
        upstream.behaviour = {
          kind: 'status',
          status: 400,
          body: JSON.stringify({ error: { message: 'context length exceeded by 42 tokens' } }),
        };
        const answer = await chat(target, { model, messages: HELLO });
        assertProblem(answer, {
          status: 400,
          code: 'invalid_request',
          instance: CHAT,
          detail: `Backend '${backend}': context length exceeded by 42 tokens`,
        });
        assert.equal(upstream.requests.at(-1)?.path, path);
      });

      it("passes Ollama's plain-string error message on a 404 as 404 model_not_found", async () => {
        upstream.behaviour = {
          kind: 'status',
          status: 404,
          body: JSON.stringify({ error: "model 'nope' not found" }),
        };
        const answer = await chat(target, { model, messages: HELLO });
        assertProblem(answer, { status: 404, code: 'model_not_found', detail: "model 'nope' not found" });
      });

      it('answers 429 rate_limit_exceeded carrying the upstream Retry-After', async () => {
        upstream.behaviour = { kind: 'status', status: 429, headers: { 'retry-after': '7' } };
        const answer = await chat(target, { model, messages: HELLO });
        assertProblem(answer, { status: 429, code: 'rate_limit_exceeded', detail: 'stand-in failure 429' });
        assert.equal(answer.headers.get('retry-after'), '7');
      });

      it('drops an upstream Retry-After that is not whole seconds', async () => {
        upstream.behaviour = { kind: 'status', status: 429, headers: { 'retry-after': 'soon; rm -rf' } };
        const answer = await chat(target, { model, messages: HELLO });
        assertProblem(answer, { status: 429, code: 'rate_limit_exceeded' });
        assert.equal(answer.headers.get('retry-after'), null);
      });

      for (const status of [500, 503]) {
        it(`answers 502 upstream_error when the upstream answers ${status}`, async () => {
          upstream.behaviour = { kind: 'status', status };
          const answer = await chat(target, { model, messages: HELLO });
          assertProblem(answer, {
            status: 502,
            code: 'upstream_error',
            detail: `Backend '${backend}' failed with status ${status}`,
          });
        });
      }

      for (const status of [401, 403]) {
        it(`answers 502 upstream_error, without the upstream message, when the upstream refuses the gateway's credentials (${status})`, async () => {
          upstream.behaviour = {
            kind: 'status',
            status,
            body: JSON.stringify({ error: { message: `Incorrect API key provided: ${UPSTREAM_KEY}` } }),
          };
          const answer = await chat(target, { model, messages: HELLO });
          const problem = assertProblem(answer, {
            status: 502,
            code: 'upstream_error',
            detail: `refused the gateway's credentials (${status})`,
          });
          assert.ok(!problem.detail.includes('Incorrect API key'));
          assert.ok(!answer.text.includes(UPSTREAM_KEY));
        });
      }

      it('answers 504 upstream_timeout when the upstream answers 408', async () => {
        upstream.behaviour = { kind: 'status', status: 408 };
        const answer = await chat(target, { model, messages: HELLO });
        assertProblem(answer, { status: 504, code: 'upstream_timeout' });
      });

      it('answers 502 upstream_error when the upstream answers 200 with a body that is not JSON', async () => {
        upstream.behaviour = { kind: 'not-json' };
        const answer = await chat(target, { model, messages: HELLO });
        assertProblem(answer, { status: 502, code: 'upstream_error', detail: 'not JSON' });
      });

      it('answers 502 upstream_error for an upstream 500 on embeddings too', async () => {
        upstream.behaviour = { kind: 'status', status: 500 };
        const answer = await send(target, 'POST', '/v1/embeddings', {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model, input: 'x' }),
        });
        assertProblem(answer, { status: 502, code: 'upstream_error', instance: '/v1/embeddings' });
      });

      it('answers an upstream error on a stream request as problem+json, since nothing was streamed yet', async () => {
        upstream.behaviour = { kind: 'status', status: 503 };
        const answer = await chat(target, { model, messages: HELLO, stream: true });
        assertProblem(answer, { status: 502, code: 'upstream_error' });
      });
    });
  }

  describe('redirects', () => {
    let elsewhere: TcpServer | null = null;
    let connections = 0;

    before(async () => {
      // The stand-in redirects to http://127.0.0.2:9/elsewhere: listen there to see whether anyone comes.
      const server = createTcpServer((socket) => {
        connections++;
        socket.destroy();
      });
      elsewhere = await new Promise<TcpServer | null>((resolve) => {
        server.once('error', () => {
          resolve(null);
        });
        server.listen(9, '127.0.0.2', () => {
          resolve(server);
        });
      });
    });
    after(async () => {
      const server = elsewhere;
      if (server === null) return;
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    });

    for (const { model, backend } of backends) {
      it(`answers 502 upstream_error for a redirect and never follows it (${backend})`, async (context) => {
        upstream.behaviour = { kind: 'redirect' };
        const before = upstream.requests.length;
        const answer = await chat(target, { model, messages: HELLO });
        assertProblem(answer, {
          status: 502,
          code: 'upstream_error',
          detail: 'redirect (307); redirects are not followed',
        });
        assert.equal(upstream.requests.length, before + 1, 'one request to the stand-in, no retry');
        if (elsewhere === null)
          context.diagnostic('could not listen on 127.0.0.2:9; only the answer was checked');
        assert.equal(connections, 0, 'nothing connected to the redirect target');
      });
    }
  });

  it('answers problem+json when the upstream reports an error before its first chunk (nothing was streamed)', async () => {
    upstream.behaviour = { kind: 'stream-error-event-after', chunks: 0 };
    const answer = await chat(target, { model: 'llama', messages: HELLO, stream: true });
    assertProblem(answer, { status: 502, code: 'upstream_error', detail: /stand-in model crashed/ });
    assert.equal(answer.headers.get('x-gateway-backend'), 'ollama');
    assert.equal(answer.headers.get('x-gateway-attempts'), '1');
  });

  it('ends a stream whose upstream reports an error with a last error event, never [DONE]', async () => {
    upstream.behaviour = { kind: 'stream-error-event-after', chunks: 1 };
    const answer = await chat(target, { model: 'llama', messages: HELLO, stream: true });
    assert.equal(answer.status, 200);
    assert.ok(!answer.text.includes('[DONE]'));
    const last = answer.text.trim().split('\n\n').at(-1) ?? '';
    assert.ok(last.startsWith('data: '), last);
    const event = JSON.parse(last.slice('data: '.length)) as Problem;
    assert.equal(event.error.code, 'upstream_error');
    assert.equal(event.error.message, event.detail);
    assert.equal(event.request_id, answer.headers.get('x-request-id'));
    assert.match(event.detail, /stand-in model crashed/);
    assertNoInternals(event);
  });

  it('skips tool_calls entries from Ollama that are not objects instead of failing', async () => {
    upstream.behaviour = {
      kind: 'status',
      status: 200,
      body: JSON.stringify({
        model: 'llama3.2:1b',
        message: { role: 'assistant', content: 'x', tool_calls: [null, 'junk'] },
        done: true,
      }),
    };
    const answer = await chat(target, { model: 'llama', messages: HELLO });
    assert.equal(answer.status, 200);
    const completion = JSON.parse(answer.text) as {
      choices: { message: Record<string, unknown>; finish_reason: string }[];
    };
    assert.equal(completion.choices[0]?.message['content'], 'x');
    assert.equal(completion.choices[0]?.message['tool_calls'], undefined);
    assert.equal(completion.choices[0]?.finish_reason, 'stop');
  });
});

describe('unreachable and stalling upstreams', () => {
  describe('connection refused', () => {
    let target: Target;

    before(async () => {
      const gone = new StandInUpstream();
      const url = await gone.start();
      await gone.stop();
      target = await launch('connection-refused', standInConfig(url));
    });
    after(async () => {
      await target.running.stop();
    });

    for (const model of ['qwen', 'llama']) {
      it(`answers 502 upstream_error when the backend refuses the connection (${model})`, async () => {
        const answer = await chat(target, { model, messages: HELLO });
        assertProblem(answer, {
          status: 502,
          code: 'upstream_error',
          instance: CHAT,
          detail: /Could not reach backend '(vllm|ollama)' \(ECONNREFUSED\)/,
        });
        const stream = await chat(target, { model, messages: HELLO, stream: true });
        assertProblem(stream, { status: 502, code: 'upstream_error' });
      });
    }

    it('still answers what needs no backend', async () => {
      const answer = await chat(target, { model: 'demo', messages: HELLO });
      assert.equal(answer.status, 200);
    });
  });

  describe('a stall before the first byte (timeout_ms: 300)', () => {
    let upstream: StandInUpstream;
    let target: Target;

    before(async () => {
      upstream = new StandInUpstream();
      await upstream.start();
      target = await launch('stall', standInConfig(upstream.url, { timeout_ms: 300 }));
    });
    afterEach(() => {
      upstream.behaviour = { kind: 'normal' };
    });
    after(async () => {
      await target.running.stop();
      await upstream.stop();
    });

    for (const [model, stream] of [
      ['qwen', false],
      ['llama', false],
      ['qwen', true],
      ['llama', true],
    ] as const) {
      it(`answers 504 upstream_timeout at 300 ms (not undici's coarse timer) and closes the upstream connection (${model}${stream ? ', stream' : ''})`, async () => {
        upstream.behaviour = { kind: 'stall' };
        const aborts = upstream.aborts;
        const requests = upstream.requests.length;
        const started = performance.now();
        const answer = await chat(target, { model, messages: HELLO, stream });
        const elapsed = performance.now() - started;
        assertProblem(answer, {
          status: 504,
          code: 'upstream_timeout',
          instance: CHAT,
          detail: 'no answer within 300 ms',
        });
        // The configured time, -10% and + a margin for a loaded machine; undici's own coarse timer alone
        // would answer 500 to 1000 ms late.
        assert.ok(elapsed >= 270 && elapsed < 500, `answered after ${Math.round(elapsed)} ms`);
        assert.equal(upstream.requests.length, requests + 1, 'the stand-in got the request (no retry)');
        await upstream.waitForAborts(aborts + 1);
      });
    }

    it('answers normally when the upstream is quick', async () => {
      const answer = await chat(target, { model: 'qwen', messages: HELLO });
      assert.equal(answer.status, 200);
    });
  });
});

describe('secrets and request logs, after every error path above', () => {
  it('ran against every gateway this file started', () => {
    assert.deepEqual(
      targets.map((target) => target.label),
      ['sdk', 'main', 'small-body-limit', 'upstream-failures', 'connection-refused', 'stall'],
    );
    assert.ok(errorBodies.length > 50, `only ${errorBodies.length} error bodies were captured`);
  });

  it('never puts a client key, an upstream key or a marker key in a log line or an error body', () => {
    for (const target of targets) {
      assert.ok(target.running.rawLogs.length > 0, `${target.label} logged nothing`);
      for (const line of target.running.rawLogs) {
        for (const secret of SECRETS)
          assert.ok(!line.includes(secret), `${target.label} logged a secret: ${line}`);
      }
    }
    for (const body of errorBodies) {
      for (const secret of SECRETS)
        assert.ok(!body.includes(secret), `an error body carries a secret: ${body}`);
    }
  });

  it('logs exactly one request_complete line per request, with request_id, method, path, status and duration_ms', () => {
    for (const target of targets) {
      const complete = (): Record<string, unknown>[] =>
        target.running.logs.filter((line) => line['msg'] === 'request_complete');
      // Lines are written when each response closes; every gateway has stopped, so they are all in by now.
      const lines = complete();
      assert.equal(
        lines.length,
        target.sent.length,
        `${target.label}: ${lines.length} lines for ${target.sent.length} requests`,
      );
      for (const sent of target.sent) {
        const matching = lines.filter((line) => line['request_id'] === sent.id);
        assert.equal(
          matching.length,
          1,
          `${target.label}: ${matching.length} lines for ${sent.method} ${sent.path} (${sent.id})`,
        );
        const line = matching[0]!;
        assert.equal(line['method'], sent.method);
        assert.equal(line['path'], sent.path);
        assert.equal(line['status'], sent.status, `${target.label}: ${sent.method} ${sent.path}`);
        assert.equal(typeof line['duration_ms'], 'number');
        assert.ok((line['duration_ms'] as number) >= 0);
        assert.equal(line['level'], 30);
      }
    }
  });

  it('records the error code of every error in its request_complete line', () => {
    for (const target of targets) {
      for (const line of target.running.logs) {
        if (line['msg'] !== 'request_complete') continue;
        const status = line['status'] as number;
        if (status >= 400)
          assert.equal(typeof line['error_code'], 'string', `${target.label}: ${JSON.stringify(line)}`);
      }
    }
  });
});
