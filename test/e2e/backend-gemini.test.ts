/**
 * The gemini and vertex backend types end to end: a gateway in front of a strict stand-in of Google's
 * generateContent API (test/support/gemini-upstream.ts), which for vertex is also Google's token
 * service, checking the JWT assertion a service account key generated here signs. Driven from the chat
 * completions, Anthropic Messages, Responses and Ollama ingresses: text, streams, parallel tool calls
 * (streamed, and replayed to a Gemini 3 model that requires thought signatures), images, JSON schema,
 * reasoning, embeddings; Google's errors (safety blocks, RESOURCE_EXHAUSTED, overload); secrets.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { APIError } from 'openai';
import { createAdapter } from '../../src/backends/create-adapter.js';
import { validateConfig } from '../../src/config/load.js';
import { GeminiUpstream, RETRY_DELAY_SECONDS } from '../support/gemini-upstream.js';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';
import {
  SCRIPTED_JSON,
  SCRIPTED_REASONED_ANSWER,
  SCRIPTED_REASONING,
  SCRIPTED_TEXT,
  imagesSeen,
  toolSaid,
} from '../support/scripted-upstream.js';

const GEMINI_KEY = 'AIzaSy-gemini-stand-in-key-7f3b9c1d';
const PROJECT = 'proj-e2e';
const LOCATION = 'us-central1';
const CLIENT_EMAIL = 'gateway@proj-e2e.iam.gserviceaccount.com';
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const TOOLS = [
  {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      description: 'The weather of a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
  {
    type: 'function' as const,
    function: {
      name: 'get_time',
      description: 'The time in a zone',
      parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
    },
  },
];

type Json = Record<string, unknown>;

let upstream: GeminiUpstream;
let gateway: RunningGateway;
let keyDir: string;
let privateKey: string;
let configDocument: Json;

before(async () => {
  upstream = new GeminiUpstream(GEMINI_KEY, { project: PROJECT, location: LOCATION });
  const url = await upstream.start();
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  privateKey = pair.privateKey;
  upstream.trust(CLIENT_EMAIL, pair.publicKey);
  keyDir = mkdtempSync(join(tmpdir(), 'gw-vertex-'));
  const keyFile = join(keyDir, 'service-account.json');
  writeFileSync(
    keyFile,
    JSON.stringify({
      type: 'service_account',
      project_id: PROJECT,
      private_key_id: 'e2e-key-1',
      private_key: pair.privateKey,
      client_email: CLIENT_EMAIL,
      client_id: '1234567890',
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: `${url}/token`,
    }),
  );
  configDocument = testConfig({
    backends: [
      { name: 'gem', type: 'gemini', url, api_key: GEMINI_KEY },
      {
        name: 'vtx',
        type: 'vertex',
        url,
        project: PROJECT,
        location: LOCATION,
        credentials_file: keyFile,
      },
    ],
    models: [
      { name: 'g-flash', targets: [{ backend: 'gem', model: 'gemini-2.5-flash' }] },
      { name: 'g3', targets: [{ backend: 'gem', model: 'gemini-3-pro-preview' }] },
      { name: 'v-flash', targets: [{ backend: 'vtx', model: 'gemini-2.5-flash' }] },
      { name: 'g-embed', targets: [{ backend: 'gem', model: 'gemini-embedding-001' }] },
      { name: 'v-embed', targets: [{ backend: 'vtx', model: 'text-embedding-005' }] },
    ],
  });
  gateway = await startGateway(configDocument);
});

after(async () => {
  await gateway.stop();
  await upstream.close();
  rmSync(keyDir, { recursive: true, force: true });
});

function anthropic(): Anthropic {
  return new Anthropic({ baseURL: gateway.url, apiKey: TEST_KEY, maxRetries: 0, timeout: 10_000 });
}

async function post(path: string, body: Json): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

function lastBody(): Json {
  const body = upstream.last().body;
  assert.ok(body !== null);
  return body;
}

function lastContents(): Json[] {
  return lastBody()['contents'] as Json[];
}

for (const [label, model] of [
  ['gemini', 'g-flash'],
  ['vertex', 'v-flash'],
] as const) {
  describe(`${label}: chat completions`, () => {
    it('answers text, with the upstream reached at its path with its credentials', async () => {
      const completion = await gateway.client().chat.completions.create({
        model,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Say hello' },
        ],
        max_tokens: 50,
        temperature: 0.3,
      });
      assert.equal(completion.choices[0]?.message.content, SCRIPTED_TEXT);
      assert.equal(completion.choices[0]?.finish_reason, 'stop');
      assert.deepEqual(
        [
          completion.usage?.prompt_tokens,
          completion.usage?.completion_tokens,
          completion.usage?.total_tokens,
        ],
        [9, 5, 14],
      );
      const request = upstream.last();
      if (label === 'gemini') {
        assert.equal(request.path, '/v1beta/models/gemini-2.5-flash:generateContent');
        assert.equal(request.headers['x-goog-api-key'], GEMINI_KEY);
        assert.equal(request.headers['authorization'], undefined);
      } else {
        assert.equal(
          request.path,
          `/v1/projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/gemini-2.5-flash:generateContent`,
        );
        assert.equal(request.headers['x-goog-api-key'], undefined);
        assert.ok(upstream.issued.includes(String(request.headers['authorization']).slice('Bearer '.length)));
      }
      assert.deepEqual(lastBody()['systemInstruction'], { parts: [{ text: 'Be brief.' }] });
      assert.deepEqual(lastBody()['generationConfig'], { maxOutputTokens: 50, temperature: 0.3 });
    });

    it('streams text, ending with usage', async () => {
      const stream = await gateway.client().chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Say hello' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let finish: string | null = null;
      let usage: unknown = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(text, SCRIPTED_TEXT);
      assert.equal(finish, 'stop');
      assert.deepEqual(usage, { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 });
      assert.match(upstream.last().path, /:streamGenerateContent\?alt=sse$/);
    });

    it('sends an image inline and gets the answer about it', async () => {
      const completion = await gateway.client().chat.completions.create({
        model,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this? scenario:image' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            ],
          },
        ],
      });
      assert.equal(completion.choices[0]?.message.content, imagesSeen(1));
      assert.deepEqual((lastContents()[0]?.['parts'] as Json[])[1], {
        inlineData: { mimeType: 'image/png', data: PNG },
      });
    });
  });
}

describe('gemini: tools, JSON, reasoning', () => {
  it('streams parallel calls whole, then a Gemini 3 model takes their results back (signature stand-in)', async () => {
    const stream = await gateway.client().chat.completions.create({
      model: 'g3',
      messages: [{ role: 'user', content: 'Weather in Paris, time in Tokyo? scenario:parallel_tools' }],
      tools: TOOLS,
      stream: true,
    });
    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        const call = calls.get(delta.index) ?? { id: '', name: '', arguments: '' };
        call.id ||= delta.id ?? '';
        call.name ||= delta.function?.name ?? '';
        call.arguments += delta.function?.arguments ?? '';
        calls.set(delta.index, call);
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.deepEqual(
      [...calls.values()].map((call) => [call.name, JSON.parse(call.arguments) as unknown]),
      [
        ['get_weather', { city: 'Paris' }],
        ['get_time', { zone: 'Asia/Tokyo' }],
      ],
    );
    const declarations = (lastBody()['tools'] as Json[])[0]?.['functionDeclarations'] as Json[];
    assert.deepEqual(declarations[0]?.['parametersJsonSchema'], TOOLS[0]?.function.parameters);

    const [weather, time] = [...calls.values()];
    assert.ok(weather !== undefined && time !== undefined);
    const completion = await gateway.client().chat.completions.create({
      model: 'g3',
      messages: [
        { role: 'user', content: 'Weather in Paris, time in Tokyo? scenario:parallel_tools' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [weather, time].map((call) => ({
            id: call.id,
            type: 'function' as const,
            function: { name: call.name, arguments: call.arguments },
          })),
        },
        { role: 'tool', tool_call_id: weather.id, content: 'Sunny, 21 °C' },
        { role: 'tool', tool_call_id: time.id, content: '09:00' },
      ],
      tools: TOOLS,
    });
    assert.equal(completion.choices[0]?.message.content, toolSaid('Sunny, 21 °C'));
    const replayed = lastContents();
    assert.deepEqual(
      (replayed[2]?.['parts'] as Json[]).map((part) => (part['functionResponse'] as Json)['name']),
      ['get_weather', 'get_time'],
    );
  });

  it('asks for JSON with the schema and returns it', async () => {
    const completion = await gateway.client().chat.completions.create({
      model: 'g-flash',
      messages: [{ role: 'user', content: 'The answer? scenario:json' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'answer',
          schema: { type: 'object', properties: { answer: { type: 'integer' } } },
        },
      },
    });
    assert.equal(completion.choices[0]?.message.content, SCRIPTED_JSON);
  });

  it('shows thought parts as reasoning, thinking tokens counted as output', async () => {
    const response = await post('/v1/chat/completions', {
      model: 'g-flash',
      messages: [{ role: 'user', content: 'Think. scenario:reasoning' }],
      reasoning_effort: 'low',
    });
    assert.equal(response.status, 200);
    const completion = JSON.parse(response.text) as Json;
    const message = (completion['choices'] as Json[])[0]?.['message'] as Json;
    assert.equal(message['reasoning_content'], SCRIPTED_REASONING);
    assert.equal(message['content'], SCRIPTED_REASONED_ANSWER);
    assert.deepEqual((lastBody()['generationConfig'] as Json)['thinkingConfig'], {
      thinkingBudget: 1024,
      includeThoughts: true,
    });
    const usage = completion['usage'] as Json;
    assert.equal(usage['completion_tokens'], 8);
    assert.deepEqual(usage['completion_tokens_details'], { reasoning_tokens: 3 });
  });
});

describe('other ingresses', () => {
  it('Anthropic Messages: text, and parallel tool use streamed in Anthropic’s order (vertex)', async () => {
    const message = await anthropic().messages.create({
      model: 'v-flash',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    assert.deepEqual(message.content, [{ type: 'text', text: SCRIPTED_TEXT, citations: null }]);
    assert.equal(message.stop_reason, 'end_turn');

    const stream = anthropic().messages.stream({
      model: 'v-flash',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Both please. scenario:parallel_tools' }],
      tools: TOOLS.map((tool) => ({
        name: tool.function.name,
        description: tool.function.description,
        input_schema: tool.function.parameters as Anthropic.Tool.InputSchema,
      })),
    });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    assert.deepEqual(
      final.content.map((block) => (block.type === 'tool_use' ? [block.name, block.input] : [block.type])),
      [
        ['get_weather', { city: 'Paris' }],
        ['get_time', { zone: 'Asia/Tokyo' }],
      ],
    );
  });

  it('Responses: text and a tool call', async () => {
    const response = await gateway.client().responses.create({ model: 'g-flash', input: 'Say hello' });
    assert.equal(response.output_text, SCRIPTED_TEXT);
    const called = await gateway.client().responses.create({
      model: 'g-flash',
      input: 'Weather? scenario:tools',
      tools: [
        {
          type: 'function',
          name: 'get_weather',
          parameters: TOOLS[0]?.function.parameters ?? {},
          strict: false,
        },
      ],
    });
    const call = called.output.find((item) => item.type === 'function_call');
    assert.ok(call !== undefined && call.type === 'function_call');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });
  });

  it('Ollama /api/chat: text and an image', async () => {
    const text = await post('/api/chat', {
      model: 'g-flash',
      messages: [{ role: 'user', content: 'Say hello' }],
      stream: false,
      keep_alive: '5m',
      options: { num_ctx: 8192, temperature: 0.2 },
    });
    assert.equal(text.status, 200, text.text);
    assert.equal(((JSON.parse(text.text) as Json)['message'] as Json)['content'], SCRIPTED_TEXT);
    assert.deepEqual(lastBody()['generationConfig'], { temperature: 0.2 });
    const image = await post('/api/chat', {
      model: 'v-flash',
      messages: [{ role: 'user', content: 'What is it? scenario:image', images: [PNG] }],
      stream: false,
    });
    assert.equal(image.status, 200, image.text);
    assert.equal(((JSON.parse(image.text) as Json)['message'] as Json)['content'], imagesSeen(1));
    assert.equal(((lastContents()[0]?.['parts'] as Json[])[1]?.['inlineData'] as Json)['data'], PNG);
  });
});

describe('embeddings', () => {
  it('gemini batchEmbedContents and vertex :predict, in base64 when asked', async () => {
    const gemini = await gateway.client().embeddings.create({
      model: 'g-embed',
      input: ['one', 'two'],
      dimensions: 3,
      encoding_format: 'float',
    });
    assert.equal(gemini.data.length, 2);
    assert.equal(gemini.data[1]?.embedding.length, 3);
    assert.match(upstream.last().path, /gemini-embedding-001:batchEmbedContents$/);
    const vertex = await post('/v1/embeddings', {
      model: 'v-embed',
      input: 'hello world',
      encoding_format: 'base64',
    });
    assert.equal(vertex.status, 200, vertex.text);
    const body = JSON.parse(vertex.text) as { data: { embedding: unknown }[]; usage: Json };
    assert.equal(typeof body.data[0]?.embedding, 'string');
    assert.equal(body.usage['prompt_tokens'], 2);
    assert.match(upstream.last().path, /text-embedding-005:predict$/);
  });
});

describe('errors', () => {
  it('a prompt Google blocks: a 400 saying so, whole and streamed', async () => {
    for (const stream of [false, true]) {
      const response = await post('/v1/chat/completions', {
        model: 'g-flash',
        messages: [{ role: 'user', content: 'Something bad. scenario:blocked' }],
        stream,
      });
      assert.equal(response.status, 400, response.text);
      assert.match(response.text, /blocked the prompt \(blockReason SAFETY\)/);
    }
  });

  it('an answer cut by the safety filter: finish_reason content_filter', async () => {
    const completion = await gateway.client().chat.completions.create({
      model: 'g-flash',
      messages: [{ role: 'user', content: 'Tell me. scenario:safety' }],
    });
    assert.equal(completion.choices[0]?.finish_reason, 'content_filter');
  });

  it('RESOURCE_EXHAUSTED: 429 with the Retry-After of Google’s RetryInfo', async () => {
    const response = await post('/v1/chat/completions', {
      model: 'v-flash',
      messages: [{ role: 'user', content: 'Hi scenario:throttled' }],
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), String(RETRY_DELAY_SECONDS));
    assert.match(response.text, /RESOURCE_EXHAUSTED/);
  });

  it('UNAVAILABLE (overloaded): 503', async () => {
    const error = await gateway
      .client()
      .chat.completions.create({
        model: 'g-flash',
        messages: [{ role: 'user', content: 'Hi scenario:overloaded' }],
      })
      .then(
        () => null,
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof APIError);
    assert.equal(error.status, 503);
    assert.match(error.message, /overloaded/);
  });

  it('an error event in the middle of a stream ends it with an error, after the text sent before', async () => {
    const stream = await gateway.client().chat.completions.create({
      model: 'g-flash',
      messages: [{ role: 'user', content: 'Hi scenario:stream_error' }],
      stream: true,
    });
    let text = '';
    const failure = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().then(
      () => null,
      (caught: unknown) => caught,
    );
    assert.ok(failure instanceof Error, 'the stream ended without an error');
    assert.ok(text.length > 0 && SCRIPTED_TEXT.startsWith(text) && text !== SCRIPTED_TEXT, text);
  });

  it('an image URL: a 400 naming the field, nothing sent upstream', async () => {
    const before = upstream.requests.length;
    const response = await post('/v1/chat/completions', {
      model: 'g-flash',
      messages: [
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] },
      ],
    });
    assert.equal(response.status, 400);
    assert.match(response.text, /messages\[0\]\.content\[0\]\.image_url\.url/);
    assert.equal(upstream.requests.length, before);
  });

  it('a wrong api key: 502 saying the credentials were refused, without the key', async () => {
    const wrong = await startGateway(
      testConfig({
        backends: [{ name: 'gem', type: 'gemini', url: upstream.url, api_key: 'AIzaSy-wrong-key-0000' }],
        models: [{ name: 'g', targets: [{ backend: 'gem', model: 'gemini-2.5-flash' }] }],
      }),
    );
    try {
      const response = await fetch(`${wrong.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'g', messages: [{ role: 'user', content: 'Hi' }] }),
      });
      const text = await response.text();
      assert.equal(response.status, 502);
      assert.match(text, /refused the gateway's credentials/);
      assert.doesNotMatch(text, /wrong-key/);
      assert.doesNotMatch(wrong.rawLogs.join('\n'), /wrong-key/);
    } finally {
      await wrong.stop();
    }
  });

  it('no secret (api key, access token, private key) in any log line', () => {
    const logs = gateway.rawLogs.join('\n');
    assert.ok(upstream.issued.length > 0);
    assert.doesNotMatch(logs, new RegExp(GEMINI_KEY));
    for (const token of upstream.issued) assert.ok(!logs.includes(token));
    assert.ok(!logs.includes(privateKey.split('\n')[1] ?? 'never'));
  });

  it('vertex asks for a token once and reuses it (the library caches it)', () => {
    assert.equal(upstream.tokenRequests, 1);
    assert.equal(upstream.issued.length, 1);
  });
});

describe('listModels and health checks', () => {
  const call = {
    signal: new AbortController().signal,
    requestId: 'test',
    abort: () => undefined,
  };

  it('gemini lists models/x as x and probes the list for free; vertex lists none and probes with a token', async () => {
    const server = { ...(configDocument['server'] as Json), state_dir: keyDir };
    const [gemBackend, vtxBackend] = validateConfig({ ...configDocument, server }, {}).backends;
    assert.ok(gemBackend !== undefined && vtxBackend !== undefined);
    const gemini = createAdapter(gemBackend);
    const vertex = createAdapter(vtxBackend);
    try {
      assert.deepEqual(await gemini.listModels(call), ['gemini-2.5-flash', 'gemini-embedding-001']);
      assert.equal(upstream.last().path, '/v1beta/models?pageSize=1000');
      assert.equal(upstream.last().headers['x-goog-api-key'], GEMINI_KEY);
      await gemini.probe('/v1beta/models?pageSize=1', call);
      assert.equal(upstream.last().path, '/v1beta/models?pageSize=1');
      assert.deepEqual(await vertex.listModels(call), []);
      const requests = upstream.requests.length;
      const tokens = upstream.tokenRequests;
      await vertex.probe('', call);
      assert.equal(upstream.requests.length, requests);
      assert.equal(upstream.tokenRequests, tokens + 1); // a new adapter, a new token cache
    } finally {
      await gemini.close();
      await vertex.close();
    }
  });
});
