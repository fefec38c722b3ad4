/**
 * Property-based fuzzing of every route's request schema (issue 16, "Also"), against a real gateway:
 * bodies from arbitrary JSON and from mutations of valid bodies (wrong types, arrays of hundreds, deep
 * nesting, unknown and empty keys, duplicate keys, odd unicode, numbers at the edges), query strings and
 * headers of every shape. Whatever is sent, the gateway never answers 500, answers every error as
 * problem+json with a detail, answers within a bound, and /health/live answers meanwhile.
 *
 * The seed is fixed and the budget small so that `npm test` runs the same cases every time; to search
 * further, run with FUZZ_SEED=<n> and FUZZ_RUNS=<factor> (a failure prints its seed and shrunk case).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { sha256Hex } from '../../src/auth/api-key.js';
import { StandInUpstream } from '../support/stand-in-upstream.js';
import type { Problem } from '../support/problem.js';
import {
  RESTRICTED_KEY,
  TEST_KEY,
  standInConfig,
  startGateway,
  type RunningGateway,
} from '../support/gateway-harness.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20_160_016);
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 1);
/** Every answer, whatever was sent, comes within this (generous for a loaded 2-core CI machine). */
const BOUND_MS = 2000;
const ADMIN_TOKEN = 'admin-token-for-the-fuzz-test';

interface Sent {
  readonly method: 'GET' | 'POST' | 'PATCH';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

const agent = new Agent({ connections: 8 });

/** One exchange, refused as a hang when it takes longer than the bound. */
async function exchange(url: string, sent: Sent): Promise<Answer> {
  const signal = AbortSignal.timeout(BOUND_MS);
  try {
    const response = await request(url + sent.path, {
      dispatcher: agent,
      method: sent.method,
      headers: sent.headers,
      signal,
      ...(sent.body === undefined ? {} : { body: sent.body }),
    });
    const text = await response.body.text();
    const type = response.headers['content-type'];
    return { status: response.statusCode, contentType: typeof type === 'string' ? type : '', text };
  } catch (error) {
    if (signal.aborted) throw new Error(`no answer within ${BOUND_MS} ms to ${summary(sent)}`);
    throw error;
  }
}

function summary(sent: Sent): string {
  const body =
    sent.body === undefined ? '' : ` ${sent.body.slice(0, 300)}${sent.body.length > 300 ? '…' : ''}`;
  return `${sent.method} ${sent.path.slice(0, 300)}${body}`;
}

/** The contract for any input: no 500, errors as problem+json with a detail and an error.message. */
function assertWellAnswered(sent: Sent, answer: Answer): void {
  const what = `${summary(sent)} → ${answer.status} ${answer.text.slice(0, 300)}`;
  assert.ok(answer.status < 500, what);
  if (answer.status < 400) return;
  assert.match(answer.contentType, /^application\/problem\+json/, what);
  const problem = JSON.parse(answer.text) as Problem;
  assert.equal(problem.status, answer.status, what);
  assert.ok(typeof problem.detail === 'string' && problem.detail.length > 0, what);
  assert.ok(typeof problem.error.message === 'string' && problem.error.message.length > 0, what);
}

/** Sends one fuzzed request with a /health/live probe beside it: both must answer within the bound. */
async function check(url: string, sent: Sent): Promise<number> {
  const [answer, live] = await Promise.all([
    exchange(url, sent),
    exchange(url, { method: 'GET', path: '/health/live', headers: {} }),
  ]);
  assertWellAnswered(sent, answer);
  assert.equal(live.status, 200, `/health/live beside ${summary(sent)}`);
  return answer.status;
}

/**
 * Runs a property over `runs` generated requests (times FUZZ_RUNS); resolves to how many answers each
 * status had, so that a test can show its generator reaches past validation.
 */
async function runProperty<T>(
  arbitrary: fc.Arbitrary<T>,
  toRequest: (value: T) => Sent,
  url: () => string,
  runs: number,
): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(arbitrary, async (value) => {
      const status = await check(url(), toRequest(value));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }),
    { seed: SEED, numRuns: Math.max(1, Math.round(runs * RUNS)) },
  );
  return statuses;
}

/** Both accepted and refused requests were among those generated (the fuzzing is not all 400s). */
function assertReached(statuses: Map<number, number>, expected: readonly number[]): void {
  const seen = [...statuses.keys()].sort();
  for (const status of expected) assert.ok(statuses.has(status), `saw ${status} among ${seen.join(', ')}`);
}

// ---- values --------------------------------------------------------------------------------------

const ODD_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  'a\udfffb',
  '\u202eexe.txt',
  '\ufeff',
  '👩‍👩‍👧‍👦',
  'e\u0301\u0301\u0301',
  '\u001b[31mred\u0007',
  'line\r\nInjected: yes',
  '%00%2e%2e%2f',
  '../../etc/passwd',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '*',
  'stand-in-*',
  'x'.repeat(5000),
  '2025-12-31T23:59:60Z',
  '0000-01-01T00:00:00Z',
  '+275760-09-13T00:00:00.000Z',
  '2026-02-30T00:00:00Z',
  '9999-12-31T23:59:59.999999999Z',
  '1/second',
  '0/minute',
  '99999999999999999999/day',
  '24h',
  '-1d',
  '1e400h',
  '99999999999d',
  'key,key,model,day,hour',
];
const oddString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(...ODD_STRINGS),
);

const EDGE_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  2,
  16,
  17,
  128,
  129,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  -Number.MAX_SAFE_INTEGER - 2,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  1e-300,
  2.0000001,
];
const edgeNumber = fc.oneof(fc.constantFrom(...EDGE_NUMBERS), fc.double({ noNaN: true }), fc.integer());
/** Number literals JSON allows whose value a JavaScript number cannot hold as written. */
const RAW_NUMBERS = [
  '1e400',
  '-1e400',
  '1E-400',
  '-0',
  '-0.0',
  '123456789012345678901234567890',
  '9007199254740993',
  '0.0000000000000000000000000001',
  '1.0',
];

/** JSON nested `depth` deep, as arrays or objects (the parser refuses more than 64 levels). */
const deep = fc.tuple(fc.integer({ min: 2, max: 300 }), fc.boolean()).map(([depth, arrays]) => {
  let value: unknown = 'bottom';
  for (let level = 0; level < depth; level++) value = arrays ? [value] : { a: value };
  return value;
});

/** A few hundred elements of one kind: wrong-typed messages, valid ones, numbers, strings, objects. */
const manyOf = (items: fc.Arbitrary<unknown>): fc.Arbitrary<unknown[]> =>
  fc
    .tuple(fc.integer({ min: 100, max: 500 }), items)
    .map(([count, item]) => Array<unknown>(count).fill(item));

const wideObject = fc
  .integer({ min: 50, max: 400 })
  .map((count) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`field_${index}`, index])));

const weird: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 4 },
  { arbitrary: oddString, weight: 3 },
  { arbitrary: edgeNumber, weight: 3 },
  { arbitrary: fc.constantFrom(null, true, false, [], {}), weight: 2 },
  {
    arbitrary: manyOf(
      fc.oneof(
        fc.constant({ role: 'user', content: 42 }),
        fc.constant({ role: 'user', content: 'Hi' }),
        fc.constant({ type: 'text' }),
        fc.constant('text'),
        fc.constant(7),
        fc.constant([1, 2, 3]),
      ),
    ),
    weight: 1,
  },
  { arbitrary: deep, weight: 1 },
  { arbitrary: wideObject, weight: 1 },
  { arbitrary: fc.dictionary(oddString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 }), weight: 1 },
);

// ---- mutations of valid bodies -----------------------------------------------------------------

type Path = readonly (string | number)[];

type Mutation =
  | { kind: 'set'; path: Path; value: unknown }
  | { kind: 'delete'; path: Path }
  | { kind: 'unknown-field'; name: string; value: unknown }
  /** The same member twice in the text: JSON.parse keeps the last one. */
  | { kind: 'duplicate'; name: string; value: unknown; first: boolean }
  | { kind: 'raw-number'; path: Path; literal: string };

const RAW_MARK = '\u0000raw-number\u0000';

/** Sets (or removes) the member at `path`, creating what is missing; `__proto__` becomes an own member. */
function setAt(target: unknown, path: Path, value: unknown, remove = false): void {
  let node = target as Record<string | number, unknown>;
  const define = (key: string | number, member: unknown): void => {
    Object.defineProperty(node, key, { value: member, enumerable: true, writable: true, configurable: true });
  };
  for (const [index, key] of path.entries()) {
    if (index === path.length - 1) {
      if (remove) Reflect.deleteProperty(node, key);
      else define(key, value);
      return;
    }
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (typeof next !== 'object' || next === null) define(key, typeof path[index + 1] === 'number' ? [] : {});
    node = node[key] as Record<string | number, unknown>;
  }
}

/** The JSON text of a valid body with the mutations applied, some of them on the text itself. */
function mutatedText(valid: unknown, mutations: readonly Mutation[]): string {
  const body = structuredClone(valid);
  const textual: Mutation[] = [];
  for (const mutation of mutations) {
    switch (mutation.kind) {
      case 'set':
        setAt(body, mutation.path, mutation.value);
        break;
      case 'delete':
        setAt(body, mutation.path, undefined, true);
        break;
      case 'unknown-field':
        setAt(body, [mutation.name], mutation.value);
        break;
      case 'raw-number':
        setAt(body, mutation.path, RAW_MARK);
        textual.push(mutation);
        break;
      case 'duplicate':
        textual.push(mutation);
        break;
    }
  }
  let text = JSON.stringify(body) ?? 'null';
  for (const mutation of textual) {
    if (mutation.kind === 'raw-number') text = text.replace(JSON.stringify(RAW_MARK), mutation.literal);
    else if (mutation.kind === 'duplicate' && text.startsWith('{') && text.length > 2) {
      const member = `${JSON.stringify(mutation.name)}:${JSON.stringify(mutation.value) ?? 'null'}`;
      text = mutation.first ? `{${member},${text.slice(1)}` : `${text.slice(0, -1)},${member}}`;
    }
  }
  return text;
}

function mutation(paths: readonly Path[], fields: readonly string[]): fc.Arbitrary<Mutation> {
  const path = fc.constantFrom(...paths);
  return fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('set' as const), path, value: weird }), weight: 6 },
    { arbitrary: fc.record({ kind: fc.constant('delete' as const), path }), weight: 1 },
    {
      arbitrary: fc.record({
        kind: fc.constant('unknown-field' as const),
        name: fc.oneof(oddString, fc.constant('')),
        value: weird,
      }),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant('duplicate' as const),
        name: fc.constantFrom(...fields),
        value: weird,
        first: fc.boolean(),
      }),
      weight: 1,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant('raw-number' as const),
        path,
        literal: fc.constantFrom(...RAW_NUMBERS),
      }),
      weight: 1,
    },
  );
}

/** A body for a route: any JSON at all, any text at all, or a valid body with 1 to 3 mutations. */
function bodies(
  valid: fc.Arbitrary<unknown>,
  paths: readonly Path[],
  fields: readonly string[],
): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)), weight: 2 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 80 }), weight: 1 },
    { arbitrary: valid.map((value) => JSON.stringify(value)), weight: 1 },
    {
      arbitrary: fc
        .tuple(valid, fc.array(mutation(paths, fields), { minLength: 1, maxLength: 3 }))
        .map(([value, mutations]) => mutatedText(value, mutations)),
      weight: 8,
    },
  );
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/JSON',
  'application/json; charset=utf-16',
  'application/json;;;',
  'text/plain',
  'multipart/form-data; boundary=x',
];
const contentType = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 12 },
  { arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 1 },
);

// ---- routes --------------------------------------------------------------------------------------

const MODELS = ['demo', 'stand-in-fuzz', 'llama', 'qwen', 'no-such-model'];
const message = fc.record({
  role: fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool'),
  content: fc.oneof(fc.string({ maxLength: 30 }), fc.constant([{ type: 'text', text: 'Hi' }])),
});
const validChat = fc.record(
  {
    model: fc.constantFrom(...MODELS),
    messages: fc.array(message, { minLength: 1, maxLength: 3 }),
    stream: fc.boolean(),
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    max_tokens: fc.integer({ min: 1, max: 64 }),
  },
  { requiredKeys: ['model', 'messages'] },
);
const CHAT_FIELDS = [
  'model',
  'messages',
  'stream',
  'stream_options',
  'temperature',
  'top_p',
  'n',
  'max_tokens',
  'max_completion_tokens',
  'stop',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'tools',
  'tool_choice',
  'response_format',
  'user',
  'logit_bias',
];
const CHAT_PATHS: Path[] = [
  ...CHAT_FIELDS.map((field) => [field]),
  ['messages', 0],
  ['messages', 0, 'role'],
  ['messages', 0, 'content'],
  ['messages', 0, 'content', 0],
  ['messages', 0, 'content', 0, 'type'],
  ['messages', 0, 'name'],
  ['messages', 0, 'tool_calls'],
  ['messages', 0, 'tool_call_id'],
  ['messages', 1],
  ['stream_options', 'include_usage'],
  ['stop', 0],
  ['tools', 0],
  ['tools', 0, 'type'],
  ['response_format', 'type'],
];

const validEmbeddings = fc.record({
  model: fc.constantFrom(...MODELS),
  input: fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.array(fc.string({ maxLength: 10 }), { minLength: 1, maxLength: 3 }),
    fc.array(fc.nat(50_000), { minLength: 1, maxLength: 5 }),
  ),
});
const EMBEDDINGS_FIELDS = ['model', 'input', 'encoding_format', 'dimensions', 'user'];
const EMBEDDINGS_PATHS: Path[] = [
  ...EMBEDDINGS_FIELDS.map((field) => [field]),
  ['input', 0],
  ['input', 0, 0],
  ['input', 1],
];

const validKeyCreate = fc.record(
  {
    name: fc.string({ minLength: 1, maxLength: 20 }),
    models: fc.constant(['demo', 'stand-in-*']),
    rate_limit: fc.constant({ requests: '10/minute', tokens: ['1000/hour', '5000/day'] }),
    expires_at: fc.constantFrom('2999-01-01T00:00:00Z', null),
    metadata: fc.constant({ team: 'fuzz' }),
  },
  { requiredKeys: ['name'] },
);
const KEY_FIELDS = ['name', 'models', 'rate_limit', 'expires_at', 'metadata'];
const KEY_PATHS: Path[] = [
  ...KEY_FIELDS.map((field) => [field]),
  ['models', 0],
  ['rate_limit', 'requests'],
  ['rate_limit', 'tokens'],
  ['rate_limit', 'tokens', 0],
  ['metadata', 'team'],
  ['metadata', ''],
];

/** Bytes of a string percent-encoded, or left as they are (invalid escapes included). */
const queryPart = fc.oneof(
  oddString.map((text) =>
    [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join(''),
  ),
  oddString.map((text) => encodeURIComponent(text.replace(/[\ud800-\udfff]/g, '?'))),
  fc.constantFrom(
    '%',
    '%zz',
    '%C3%28',
    '%ED%A0%80',
    '%E2%82',
    '+',
    'a[b]',
    'a[]',
    '.',
    '..',
    '__proto__',
    'constructor',
  ),
);
const queryString = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('key', 'model', 'from', 'to', 'group_by', 'limit'), queryPart),
      queryPart,
    ),
    { maxLength: 6 },
  )
  .chain((pairs) =>
    fc
      .constantFrom('&', ';', '&&')
      .map((separator) =>
        pairs.length === 0 ? '' : `?${pairs.map(([name, value]) => `${name}=${value}`).join(separator)}`,
      ),
  );

/** Header names a gateway reads, and others; values of printable ASCII (what an HTTP client may send). */
const HEADER_NAMES = [
  'authorization',
  'x-api-key',
  'x-request-id',
  'accept',
  'accept-encoding',
  'cache-control',
  'content-type',
  'origin',
  'traceparent',
  'tracestate',
  'x-forwarded-for',
  'x-forwarded-proto',
  'forwarded',
  'range',
  'if-none-match',
  'cookie',
  'anthropic-version',
];
const headerValue = fc.oneof(
  fc.string({ unit: 'binary-ascii', maxLength: 200 }).map((text) => text.replace(/[^\x21-\x7e]/g, 'x')),
  fc.constantFrom(
    `Bearer ${TEST_KEY}`,
    `Bearer ${ADMIN_TOKEN}`,
    'Bearer',
    'Bearer ',
    `Basic ${Buffer.from('a:b').toString('base64')}`,
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    'ff-zz-yy-xx',
    'text/csv',
    'no-cache',
    'no-store, max-age=0',
    'bytes=0-0',
    '*',
  ),
);
const headers = fc.dictionary(
  fc.oneof(fc.constantFrom(...HEADER_NAMES), fc.stringMatching(/^x-[a-z0-9-]{1,20}$/)),
  headerValue.filter((value) => value !== ''),
  { maxKeys: 6 },
);

// ---- the tests -----------------------------------------------------------------------------------

describe('fuzzing every route’s request schema: no 500, no hang, errors as problem+json', () => {
  let upstream: StandInUpstream;
  let gateway: RunningGateway;
  let keyId = '';
  const url = (): string => gateway.url;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    const document = standInConfig(upstream.url);
    document['auth'] = { ...(document['auth'] as object), admin_token_sha256: sha256Hex(ADMIN_TOKEN) };
    gateway = await startGateway(document);
    const created = await exchange(gateway.url, {
      method: 'POST',
      path: '/admin/keys',
      headers: { ...bearer(ADMIN_TOKEN), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'patched by the fuzzer' }),
    });
    assert.equal(created.status, 201, created.text);
    keyId = (JSON.parse(created.text) as { id: string }).id;
  });
  after(async () => {
    await gateway.stop();
    await upstream.stop();
    await agent.close();
  });

  it('answers problem+json to a URL Fastify cannot decode and to a path parameter past its length', async () => {
    for (const sent of [
      { method: 'PATCH', path: '/admin/keys/%', body: '{"name":"x"}' },
      { method: 'GET', path: '/admin/keys/%E2%82' },
      { method: 'GET', path: `/admin/keys/${'k'.repeat(150)}` },
      { method: 'POST', path: '/v1/chat/%zz', body: '{}' },
    ] as const) {
      const answer = await exchange(url(), {
        ...sent,
        headers: { ...bearer(ADMIN_TOKEN), 'content-type': 'application/json' },
      });
      assertWellAnswered(sent as Sent, answer);
      assert.equal(answer.status, 400, summary(sent as Sent));
    }
  });

  it('answers the worst bodies of each kind in time, /health/live beside them', async () => {
    const chat = (extra: Record<string, unknown>) =>
      JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'Hi' }], ...extra });
    const bodies = [
      JSON.stringify({ model: 'demo', messages: Array(2000).fill({ role: 'user', content: 42 }) }),
      JSON.stringify({
        model: 'demo',
        messages: Array(2000).fill({ role: 'robot', content: [{ type: '' }] }),
      }),
      chat(Object.fromEntries(Array.from({ length: 1000 }, (_, index) => [`unknown_${index}`, index]))),
      chat({ stop: Array(1000).fill(7), tools: Array(2000).fill(1) }),
      `{"model":"demo","messages":${'['.repeat(65)}${']'.repeat(65)}}`,
      `{"model":"demo","messages":[{"role":"user","content":"Hi"}],"temperature":1e400,"n":-0,"seed":123456789012345678901234567890}`,
      `{"model":"demo","model":{"model":"demo"},"messages":[{"role":"user","content":"Hi","content":[]}]}`,
    ];
    for (const body of bodies) {
      await check(url(), {
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { ...bearer(TEST_KEY), 'content-type': 'application/json' },
        body,
      });
    }
  });

  it('POST /v1/chat/completions', async () => {
    const statuses = await runProperty(
      fc.tuple(
        bodies(validChat, CHAT_PATHS, CHAT_FIELDS),
        contentType,
        fc.constantFrom(TEST_KEY, RESTRICTED_KEY),
      ),
      ([body, type, key]) => ({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { ...bearer(key), 'content-type': type },
        body,
      }),
      url,
      250,
    );
    assertReached(statuses, [200, 400, 403, 404, 415]);
  });

  it('POST /v1/embeddings', async () => {
    const statuses = await runProperty(
      fc.tuple(bodies(validEmbeddings, EMBEDDINGS_PATHS, EMBEDDINGS_FIELDS), contentType),
      ([body, type]) => ({
        method: 'POST',
        path: '/v1/embeddings',
        headers: { ...bearer(TEST_KEY), 'content-type': type },
        body,
      }),
      url,
      150,
    );
    assertReached(statuses, [200, 400, 404]);
  });

  it('POST /admin/keys', async () => {
    const statuses = await runProperty(
      fc.tuple(bodies(validKeyCreate, KEY_PATHS, KEY_FIELDS), contentType),
      ([body, type]) => ({
        method: 'POST',
        path: '/admin/keys',
        headers: { ...bearer(ADMIN_TOKEN), 'content-type': type },
        body,
      }),
      url,
      120,
    );
    assertReached(statuses, [201, 400]);
  });

  it('PATCH /admin/keys/:id', async () => {
    const validPatch = validKeyCreate.map((value) => {
      const { name: _name, ...rest } = value;
      return Object.keys(rest).length === 0 ? { name: 'renamed' } : rest;
    });
    const statuses = await runProperty(
      fc.tuple(
        bodies(validPatch, KEY_PATHS, KEY_FIELDS),
        fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, { arbitrary: queryPart, weight: 1 }),
      ),
      ([body, id]) => ({
        method: 'PATCH',
        path: `/admin/keys/${id ?? keyId}`,
        headers: { ...bearer(ADMIN_TOKEN), 'content-type': 'application/json' },
        body,
      }),
      url,
      120,
    );
    assertReached(statuses, [200, 400, 404]);
  });

  it('GET /admin/usage with any query string', async () => {
    const statuses = await runProperty(
      fc.tuple(queryString, fc.constantFrom('application/json', 'text/csv', '*/*', 'text/csv;q=abc')),
      ([query, accept]) => ({
        method: 'GET',
        path: `/admin/usage${query}`,
        headers: { ...bearer(ADMIN_TOKEN), accept },
      }),
      url,
      150,
    );
    assertReached(statuses, [200, 400]);
  });

  it('GET routes without a body schema, with any query string and headers', async () => {
    const statuses = await runProperty(
      fc.tuple(
        fc.constantFrom(
          '/v1/models',
          '/health/live',
          '/health/ready',
          '/metrics',
          '/docs',
          '/docs/',
          '/openapi.json',
          '/admin/keys',
          '/admin/usage',
          '/v1/chat/completions',
        ),
        queryString,
        headers,
      ),
      ([path, query, extra]) => ({ method: 'GET', path: path + query, headers: extra }),
      url,
      200,
    );
    assertReached(statuses, [200, 401, 405]);
  });
});
