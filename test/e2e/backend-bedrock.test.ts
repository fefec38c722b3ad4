/**
 * The `bedrock` backend (issue 19) end to end: a gateway on loopback in front of a strict Bedrock
 * stand-in (test/support/bedrock-stand-in.ts) that verifies every request's SigV4 signature with the
 * secret it knows and answers in Bedrock's wire formats (Converse JSON, ConverseStream's binary event
 * stream, InvokeModel, errors with x-amzn-errortype). The gateway finds its credentials through the AWS
 * chain's environment step: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN are set for
 * this file and restored after it. Clients: the openai SDK (chat completions, Responses, embeddings),
 * @anthropic-ai/sdk (Messages) and plain fetch to Ollama's /api/chat.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { UpstreamCall } from '../../src/backends/adapter.js';
import { BedrockAdapter } from '../../src/backends/bedrock/adapter.js';
import { validateConfig } from '../../src/config/load.js';
import { BedrockStandIn, type StreamItem } from '../support/bedrock-stand-in.js';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';

const CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENwJalrXUtnFEMIK7MDENGbPxRfiCY',
};
const REGION = 'us-east-1';
const CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const TITAN = 'amazon.titan-embed-text-v2:0';
const COHERE = 'cohere.embed-english-v3';
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

function fixture(name: string): unknown {
  return JSON.parse(
    readFileSync(new URL(`../../src/backends/bedrock/fixtures/${name}`, import.meta.url), 'utf8'),
  ) as unknown;
}

const TEXT_STREAM: StreamItem[] = [
  { type: 'messageStart', payload: { role: 'assistant', p: 'abcdefghij' } },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: 'Hello' }, p: 'abc' } },
  { type: 'contentBlockDelta', payload: { contentBlockIndex: 0, delta: { text: ' there.' }, p: 'abcdefg' } },
  { type: 'contentBlockStop', payload: { contentBlockIndex: 0, p: 'abcdefghijklmnop' } },
  { type: 'messageStop', payload: { stopReason: 'end_turn', p: 'abcd' } },
  {
    type: 'metadata',
    payload: {
      usage: { inputTokens: 12, outputTokens: 3, totalTokens: 15 },
      metrics: { latencyMs: 90 },
      p: 'ab',
    },
  },
];

const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

const SAVED = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
];

describe('bedrock backend', () => {
  let standIn: BedrockStandIn;
  let running: RunningGateway;
  let openai: OpenAI;
  const saved = new Map<string, string | undefined>();

  before(async () => {
    for (const name of SAVED) saved.set(name, process.env[name]);
    process.env['AWS_ACCESS_KEY_ID'] = CREDENTIALS.accessKeyId;
    process.env['AWS_SECRET_ACCESS_KEY'] = CREDENTIALS.secretAccessKey;
    process.env['AWS_SESSION_TOKEN'] = CREDENTIALS.sessionToken;
    // Nothing else of the chain is consulted: the environment answers first.
    process.env['AWS_CONFIG_FILE'] = '/nonexistent/aws-config';
    process.env['AWS_SHARED_CREDENTIALS_FILE'] = '/nonexistent/aws-credentials';
    Reflect.deleteProperty(process.env, 'AWS_PROFILE');
    standIn = new BedrockStandIn(CREDENTIALS, REGION);
    const url = await standIn.start();
    running = await startGateway(
      testConfig({
        backends: [{ name: 'aws', type: 'bedrock', region: REGION, url }],
        models: [
          { name: 'claude', targets: [{ backend: 'aws', model: CLAUDE }] },
          { name: 'titan', targets: [{ backend: 'aws', model: TITAN }] },
          { name: 'cohere', targets: [{ backend: 'aws', model: COHERE }] },
        ],
      }),
    );
    openai = running.client();
  });

  after(async () => {
    await running.stop();
    await standIn.stop();
    for (const [name, value] of saved) {
      if (value === undefined) Reflect.deleteProperty(process.env, name);
      else process.env[name] = value;
    }
  });

  function assertNoSecrets(text: string): void {
    assert.ok(!text.includes(CREDENTIALS.secretAccessKey), 'the secret access key leaked');
    assert.ok(!text.includes(CREDENTIALS.sessionToken), 'the session token leaked');
  }

  describe('chat completions', () => {
    it('answers text through a signed Converse call, the model id encoded in the path', async () => {
      standIn.reply(CLAUDE, { kind: 'json', body: fixture('converse-text.json') });
      const completion = await openai.chat.completions.create({
        model: 'claude',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Capital of France?' },
        ],
        max_tokens: 100,
        temperature: 0.3,
      });
      assert.equal(completion.choices[0]?.message.content, 'Paris is the capital of France.');
      assert.equal(completion.choices[0]?.finish_reason, 'stop');
      assert.equal(completion.usage?.prompt_tokens, 21);
      assert.equal(completion.usage?.completion_tokens, 9);
      const request = standIn.last();
      assert.equal(request.path, '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse');
      assert.equal(request.headers['x-amz-security-token'], CREDENTIALS.sessionToken);
      assert.deepEqual(request.body, {
        messages: [{ role: 'user', content: [{ text: 'Capital of France?' }] }],
        system: [{ text: 'Be brief.' }],
        inferenceConfig: { maxTokens: 100, temperature: 0.3 },
      });
    });

    it('streams text from the binary event stream, ending with usage', async () => {
      standIn.reply(CLAUDE, { kind: 'stream', events: TEXT_STREAM });
      const stream = await openai.chat.completions.create({
        model: 'claude',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let finish: string | null = null;
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage != null) usage = chunk.usage;
      }
      assert.equal(text, 'Hello there.');
      assert.equal(finish, 'stop');
      assert.equal(usage?.total_tokens, 15);
      assert.equal(
        standIn.last().path,
        '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream',
      );
    });

    it('streams parallel tool calls apart, and sends their results back as toolResult blocks', async () => {
      standIn.reply(CLAUDE, { kind: 'stream', events: fixture('stream-tools.json') as StreamItem[] });
      const stream = await openai.chat.completions.create({
        model: 'claude',
        messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }],
        tools: [WEATHER_TOOL],
        stream: true,
      });
      const calls: { id: string; name: string; arguments: string }[] = [];
      let finish: string | null = null;
      for await (const chunk of stream) {
        for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
          const entry = (calls[call.index] ??= { id: '', name: '', arguments: '' });
          if (call.id !== undefined) entry.id = call.id;
          if (call.function?.name !== undefined) entry.name = call.function.name;
          entry.arguments += call.function?.arguments ?? '';
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(finish, 'tool_calls');
      assert.deepEqual(calls, [
        { id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', name: 'get_weather', arguments: '{"city": "Paris"}' },
        { id: 'tooluse_3fQw9yXhTSGm1c2bEoP0xA', name: 'get_weather', arguments: '{"city": "Tokyo"}' },
      ]);
      assert.deepEqual((standIn.last().body?.['toolConfig'] as { tools: unknown[] }).tools.length, 1);

      standIn.reply(CLAUDE, { kind: 'json', body: fixture('converse-text.json') });
      await openai.chat.completions.create({
        model: 'claude',
        tools: [WEATHER_TOOL],
        messages: [
          { role: 'user', content: 'Weather in Paris and Tokyo?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: calls.map((call) => ({
              id: call.id,
              type: 'function' as const,
              function: { name: call.name, arguments: call.arguments },
            })),
          },
          { role: 'tool', tool_call_id: calls[0]?.id ?? '', content: '18°C' },
          { role: 'tool', tool_call_id: calls[1]?.id ?? '', content: '25°C' },
        ],
      });
      const messages = standIn.last().body?.['messages'] as { role: string; content: unknown[] }[];
      assert.deepEqual(messages[2], {
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', content: [{ text: '18°C' }] } },
          { toolResult: { toolUseId: 'tooluse_3fQw9yXhTSGm1c2bEoP0xA', content: [{ text: '25°C' }] } },
        ],
      });
    });

    it('sends an inline image, and refuses an image by URL with a 400 that says why', async () => {
      standIn.reply(CLAUDE, { kind: 'json', body: fixture('converse-text.json') });
      await openai.chat.completions.create({
        model: 'claude',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            ],
          },
        ],
      });
      const content = (standIn.last().body?.['messages'] as { content: unknown[] }[])[0]?.content;
      assert.deepEqual(content?.[1], { image: { format: 'png', source: { bytes: PNG } } });
      const before = standIn.requests.length;
      await assert.rejects(
        openai.chat.completions.create({
          model: 'claude',
          messages: [
            {
              role: 'user',
              content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }],
            },
          ],
        }),
        (error: unknown) =>
          error instanceof OpenAI.BadRequestError &&
          /inline only/.test(error.message) &&
          error.param === 'messages[0].content[0]',
      );
      assert.equal(standIn.requests.length, before, 'refused before any upstream call');
    });

    it('says content_filter when a guardrail intervened', async () => {
      standIn.reply(CLAUDE, { kind: 'json', body: fixture('converse-guardrail.json') });
      const completion = await openai.chat.completions.create({
        model: 'claude',
        messages: [{ role: 'user', content: 'Something blocked' }],
      });
      assert.equal(completion.choices[0]?.finish_reason, 'content_filter');
    });

    it('refuses a JSON schema response format with a 400 naming the field', async () => {
      await assert.rejects(
        openai.chat.completions.create({
          model: 'claude',
          messages: [{ role: 'user', content: 'JSON please' }],
          response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
        }),
        (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'response_format',
      );
    });
  });

  describe('other ingresses', () => {
    it('Anthropic Messages: text, and a stream of parallel tool calls', async () => {
      const anthropic = new Anthropic({
        baseURL: running.url,
        apiKey: TEST_KEY,
        maxRetries: 0,
        timeout: 10_000,
      });
      standIn.reply(CLAUDE, { kind: 'json', body: fixture('converse-text.json') });
      const message = await anthropic.messages.create({
        model: 'claude',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'Capital of France?' }],
      });
      assert.deepEqual(
        message.content.map((block) => (block.type === 'text' ? block.text : block.type)),
        ['Paris is the capital of France.'],
      );
      assert.equal(message.stop_reason, 'end_turn');

      standIn.reply(CLAUDE, { kind: 'stream', events: fixture('stream-tools.json') as StreamItem[] });
      const final = await anthropic.messages
        .stream({
          model: 'claude',
          max_tokens: 200,
          messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }],
          tools: [
            {
              name: 'get_weather',
              description: 'The weather in a city',
              input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            },
          ],
        })
        .finalMessage();
      assert.equal(final.stop_reason, 'tool_use');
      assert.deepEqual(
        final.content.flatMap((block) => (block.type === 'tool_use' ? [[block.id, block.input]] : [])),
        [
          ['tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', { city: 'Paris' }],
          ['tooluse_3fQw9yXhTSGm1c2bEoP0xA', { city: 'Tokyo' }],
        ],
      );
      assert.equal(final.usage.output_tokens, 112);
    });

    it('Responses: create, whole and streamed', async () => {
      standIn.reply(CLAUDE, { kind: 'json', body: fixture('converse-text.json') });
      const response = await openai.responses.create({ model: 'claude', input: 'Capital of France?' });
      assert.equal(response.output_text, 'Paris is the capital of France.');
      standIn.reply(CLAUDE, { kind: 'stream', events: TEXT_STREAM });
      const stream = await openai.responses.create({ model: 'claude', input: 'Hi', stream: true });
      let text = '';
      for await (const event of stream) if (event.type === 'response.output_text.delta') text += event.delta;
      assert.equal(text, 'Hello there.');
    });

    it("Ollama's /api/chat", async () => {
      standIn.reply(CLAUDE, { kind: 'json', body: fixture('converse-text.json') });
      const response = await fetch(`${running.url}/api/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
        body: JSON.stringify({
          model: 'claude',
          messages: [{ role: 'user', content: 'Capital?' }],
          stream: false,
        }),
      });
      assert.equal(response.status, 200);
      const body = (await response.json()) as { message: { content: string }; done: boolean };
      assert.equal(body.message.content, 'Paris is the capital of France.');
      assert.equal(body.done, true);
    });
  });

  describe('errors', () => {
    it('a ThrottlingException (HTTP 429) is a retryable 429 with Retry-After', async () => {
      standIn.reply(CLAUDE, {
        kind: 'error',
        status: 429,
        type: 'ThrottlingException',
        message: 'Too many requests, please wait before trying again.',
      });
      const response = await fetch(`${running.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
        body: JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }] }),
      });
      assert.equal(response.status, 429);
      assert.equal(response.headers.get('retry-after'), '1');
      const text = await response.text();
      assert.match(text, /Too many requests/);
    });

    it('throttling is retried: a stream throttled at its first event, then answered, reaches the client whole', async () => {
      const retrying = await startGateway(
        testConfig({
          backends: [{ name: 'aws', type: 'bedrock', region: REGION, url: standIn.url }],
          models: [{ name: 'claude', targets: [{ backend: 'aws', model: CLAUDE }] }],
          extra: {
            routing: {
              max_attempts: 2,
              backoff_base_ms: 1,
              backoff_max_ms: 5,
              circuit_breaker: { enabled: false },
            },
          },
        }),
      );
      try {
        standIn.reply(
          CLAUDE,
          { kind: 'stream', events: [{ exception: 'throttlingException', message: 'Too many tokens.' }] },
          { kind: 'stream', events: TEXT_STREAM },
        );
        const before = standIn.requests.length;
        const stream = await retrying.client().chat.completions.create({
          model: 'claude',
          messages: [{ role: 'user', content: 'Hi' }],
          stream: true,
        });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        assert.equal(text, 'Hello there.');
        assert.equal(standIn.requests.length - before, 2, 'the throttled attempt and the retry');
      } finally {
        await retrying.stop();
      }
    });

    it('a throttlingException as the first stream event is a 429 too', async () => {
      standIn.reply(CLAUDE, {
        kind: 'stream',
        events: [
          { exception: 'throttlingException', message: 'Too many tokens, please wait before trying again.' },
        ],
      });
      await assert.rejects(
        openai.chat.completions.create({
          model: 'claude',
          messages: [{ role: 'user', content: 'Hi' }],
          stream: true,
        }),
        (error: unknown) => error instanceof OpenAI.RateLimitError && /Too many tokens/.test(error.message),
      );
    });

    it('an exception in the middle of a stream ends it with an error after the text so far', async () => {
      standIn.reply(CLAUDE, {
        kind: 'stream',
        events: [
          ...TEXT_STREAM.slice(0, 2),
          { exception: 'modelStreamErrorException', message: 'The model stopped unexpectedly.' },
        ],
      });
      const stream = await openai.chat.completions.create({
        model: 'claude',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: true,
      });
      let text = '';
      await assert.rejects(async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      }, /model stopped unexpectedly|modelStreamErrorException/);
      assert.equal(text, 'Hello');
    });

    it('a ValidationException is a 400 with its message', async () => {
      standIn.reply(CLAUDE, {
        kind: 'error',
        status: 400,
        type: 'ValidationException',
        message: 'The provided model identifier is invalid.',
      });
      await assert.rejects(
        openai.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }] }),
        (error: unknown) =>
          error instanceof OpenAI.BadRequestError && /model identifier is invalid/.test(error.message),
      );
    });

    it('a ServiceUnavailableException is a 5xx', async () => {
      standIn.reply(CLAUDE, {
        kind: 'error',
        status: 503,
        type: 'ServiceUnavailableException',
        message: 'Bedrock is unable to process your request.',
      });
      await assert.rejects(
        openai.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }] }),
        (error: unknown) => error instanceof OpenAI.APIError && (error.status ?? 0) >= 500,
      );
    });

    it('wrong credentials are a 502 that says so, and no secret reaches the client or the logs', async () => {
      const secret = process.env['AWS_SECRET_ACCESS_KEY'];
      const wrong = `${CREDENTIALS.secretAccessKey}WRONG`;
      process.env['AWS_SECRET_ACCESS_KEY'] = wrong;
      const other = await startGateway(
        testConfig({
          backends: [{ name: 'aws', type: 'bedrock', region: REGION, url: standIn.url }],
          models: [{ name: 'claude', targets: [{ backend: 'aws', model: CLAUDE }] }],
        }),
      );
      try {
        const response = await fetch(`${other.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
          body: JSON.stringify({ model: 'claude', messages: [{ role: 'user', content: 'Hi' }] }),
        });
        assert.equal(response.status, 502);
        const text = await response.text();
        assert.match(text, /refused the gateway's AWS credentials \(403 InvalidSignatureException\)/);
        assertNoSecrets(text);
        assert.ok(!text.includes(wrong));
        for (const line of other.rawLogs) {
          assertNoSecrets(line);
          assert.ok(!line.includes(wrong));
        }
      } finally {
        await other.stop();
        process.env['AWS_SECRET_ACCESS_KEY'] = secret;
      }
    });
  });

  describe('embeddings', () => {
    it('Titan: one signed InvokeModel call per input, in order', async () => {
      standIn.reply(
        TITAN,
        { kind: 'json', body: { embedding: [0.1, 0.2], inputTextTokenCount: 2 } },
        { kind: 'json', body: { embedding: [0.3, 0.4], inputTextTokenCount: 3 } },
      );
      const answer = await openai.embeddings.create({
        model: 'titan',
        input: ['first', 'second'],
        encoding_format: 'float',
      });
      assert.deepEqual(
        answer.data.map((item) => item.embedding),
        [
          [0.1, 0.2],
          [0.3, 0.4],
        ],
      );
      assert.equal(answer.usage.prompt_tokens, 5);
      const requests = standIn.requests.slice(-2);
      assert.deepEqual(
        requests.map((request) => request.path),
        ['/model/amazon.titan-embed-text-v2%3A0/invoke', '/model/amazon.titan-embed-text-v2%3A0/invoke'],
      );
      assert.deepEqual(requests.map((request) => request.body?.['inputText']).sort(), ['first', 'second']);
    });

    it('Cohere: the texts in one call, as documents', async () => {
      standIn.reply(COHERE, {
        kind: 'json',
        body: {
          id: 'e1',
          embeddings: [
            [1, 2],
            [3, 4],
          ],
          response_type: 'embeddings_floats',
          texts: ['a', 'b'],
        },
        headers: { 'x-amzn-bedrock-input-token-count': '4' },
      });
      const answer = await openai.embeddings.create({
        model: 'cohere',
        input: ['a', 'b'],
        encoding_format: 'float',
      });
      assert.deepEqual(answer.data[1]?.embedding, [3, 4]);
      assert.equal(answer.usage.prompt_tokens, 4);
      assert.deepEqual(standIn.last().body, { texts: ['a', 'b'], input_type: 'search_document' });
    });
  });

  describe('health check and listing', () => {
    function adapter(secretAccessKey: string): BedrockAdapter {
      const config = validateConfig(
        { backends: [{ name: 'aws', type: 'bedrock', region: REGION, url: standIn.url }] },
        {},
      );
      const backend = config.backends[0];
      assert.ok(backend !== undefined);
      // The injectable provider (tests only) in place of the AWS chain.
      return new BedrockAdapter(backend, {
        credentials: () => Promise.resolve({ ...CREDENTIALS, secretAccessKey }),
      });
    }

    function call(): UpstreamCall {
      const controller = new AbortController();
      return {
        signal: controller.signal,
        requestId: 'health-check',
        abort: (reason) => {
          controller.abort(reason);
        },
      };
    }

    it('passes when Bedrock answers a signed GET without refusing the credentials, at no cost', async () => {
      const before = standIn.requests.length;
      const good = adapter(CREDENTIALS.secretAccessKey);
      try {
        await good.probe('/', call());
        assert.deepEqual(await good.listModels(), []);
      } finally {
        await good.close();
      }
      assert.equal(standIn.requests.length, before, 'no model was called');
    });

    it('fails when Bedrock refuses the credentials, saying so without them', async () => {
      const bad = adapter('not-the-secret-key-at-all');
      try {
        await assert.rejects(bad.probe('/', call()), (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.match(
            error.message,
            /refused the gateway's AWS credentials \(403 InvalidSignatureException\)/,
          );
          assert.ok(!error.message.includes('not-the-secret-key-at-all'));
          return true;
        });
      } finally {
        await bad.close();
      }
    });
  });

  it('no secret appears in any log line', () => {
    assert.ok(running.rawLogs.length > 0);
    for (const line of running.rawLogs) assertNoSecrets(line);
  });
});
