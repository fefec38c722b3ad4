/**
 * An `azure_openai` backend end to end: a real gateway in front of the Azure stand-in
 * (test/support/azure-openai-upstream.ts: api-version required, api-key checked, deployments in the
 * path, Azure's content filter results and errors), reached through the chat completions ingress (the
 * `openai` SDK), Anthropic's Messages (`@anthropic-ai/sdk`), the Responses API (`openai`'s
 * responses.create) and Ollama's /api/chat (plain fetch): text, streams, parallel tool calls (streamed),
 * an image, embeddings; the content filter on the prompt and on the completion; throttling and overload
 * with Retry-After; and the api key never in an error or a log line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import {
  AZURE_ERRORS,
  AzureOpenAiUpstream,
  FILTERED_PARTIAL,
  type AzureRequest,
} from '../support/azure-openai-upstream.js';
import { freePort } from '../support/free-port.js';
import { TEST_KEY, startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import { SCRIPTED_CALLS, SCRIPTED_TEXT, imagesSeen } from '../support/scripted-upstream.js';

const AZURE_KEY = 'azure-resource-key-7f3c9e1d2b4a';
/** A 1x1 PNG. */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const FUNCTIONS = [
  {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
  {
    name: 'get_time',
    description: 'The time in a zone',
    parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
  },
];

describe('azure_openai backend', () => {
  let upstream: AzureOpenAiUpstream;
  let running: RunningGateway;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    upstream = await AzureOpenAiUpstream.start({
      apiKey: AZURE_KEY,
      deployments: ['chat-deploy', 'embed-deploy'],
    });
    running = await startGateway(
      testConfig({
        backends: [
          {
            name: 'azure',
            type: 'azure_openai',
            url: upstream.url,
            api_key: '${AZURE_OPENAI_API_KEY}',
            api_version: '2024-10-21',
          },
        ],
        models: [
          { name: 'gpt-4o-mini', targets: [{ backend: 'azure', model: 'chat-deploy' }] },
          { name: 'embeddings', targets: [{ backend: 'azure', model: 'embed-deploy' }] },
          { name: 'missing', targets: [{ backend: 'azure', model: 'no-such-deploy' }] },
        ],
      }),
      { AZURE_OPENAI_API_KEY: AZURE_KEY },
    );
    openai = running.client();
    anthropic = new Anthropic({ baseURL: running.url, apiKey: TEST_KEY, maxRetries: 0, timeout: 10_000 });
  });
  after(async () => {
    await running.stop();
    await upstream.close();
  });

  function lastRequest(): AzureRequest {
    const sent = upstream.requests.at(-1);
    assert.ok(sent !== undefined, 'the stand-in got a request');
    return sent;
  }

  /** What every call to Azure must look like. */
  function assertAzureCall(sent: AzureRequest, deployment: string, operation = 'chat/completions'): void {
    assert.equal(sent.path, `/openai/deployments/${deployment}/${operation}`);
    assert.equal(sent.query.get('api-version'), '2024-10-21');
    assert.equal(sent.headers['api-key'], AZURE_KEY);
    assert.equal(sent.headers['authorization'], undefined, 'no bearer header beside the api-key');
  }

  describe('chat completions ingress', () => {
    it('answers a text request from the deployment', async () => {
      const completion = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hi' }],
      });
      assert.equal(completion.choices[0]?.message.content, SCRIPTED_TEXT);
      assert.equal(completion.choices[0]?.finish_reason, 'stop');
      assert.equal(completion.usage?.total_tokens, 14);
      assertAzureCall(lastRequest(), 'chat-deploy');
    });

    it("streams, without Azure's prompt-filter event, usage last", async () => {
      const stream = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      const ids = new Set<string>();
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        ids.add(chunk.id);
        text += chunk.choices[0]?.delta.content ?? '';
        usage = chunk.usage ?? usage;
      }
      assert.equal(text, SCRIPTED_TEXT);
      assert.ok(!ids.has(''), 'no chunk with an empty id reached the client');
      assert.equal(usage?.total_tokens, 14);
      assertAzureCall(lastRequest(), 'chat-deploy');
    });

    it('streams parallel tool calls, each with its id and arguments', async () => {
      const stream = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'scenario:parallel_tools' }],
        tools: FUNCTIONS.map((fn) => ({ type: 'function' as const, function: fn })),
        stream: true,
      });
      const calls = new Map<number, { id: string; name: string; arguments: string }>();
      let finish: string | null = null;
      for await (const chunk of stream) {
        for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
          const known = calls.get(call.index) ?? {
            id: call.id ?? '',
            name: call.function?.name ?? '',
            arguments: '',
          };
          known.arguments += call.function?.arguments ?? '';
          calls.set(call.index, known);
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(finish, 'tool_calls');
      assert.deepEqual(
        [...calls.values()].map((call) => ({
          name: call.name,
          arguments: JSON.parse(call.arguments) as unknown,
        })),
        SCRIPTED_CALLS.parallel_tools,
      );
      assert.ok([...calls.values()].every((call) => call.id.startsWith('call_azure')));
      const tools = lastRequest().body['tools'] as { function: { name: string } }[];
      assert.deepEqual(
        tools.map((tool) => tool.function.name),
        ['get_weather', 'get_time'],
      );
    });

    it('passes an image to the deployment as a data URL', async () => {
      const completion = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'scenario:image' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            ],
          },
        ],
      });
      assert.equal(completion.choices[0]?.message.content, imagesSeen(1));
      const messages = lastRequest().body['messages'] as {
        content: { type: string; image_url?: { url: string } }[];
      }[];
      assert.equal(messages[0]?.content[1]?.image_url?.url, `data:image/png;base64,${PNG}`);
    });

    it('embeds through the deployment path', async () => {
      const embedding = await openai.embeddings.create({
        model: 'embeddings',
        input: ['a', 'b'],
        encoding_format: 'float',
      });
      assert.equal(embedding.data.length, 2);
      assert.deepEqual(embedding.data[1]?.embedding, [1.5, -0.25, 0.125]);
      assertAzureCall(lastRequest(), 'embed-deploy', 'embeddings');
    });

    it('a prompt refused by the content filter is a 400 naming the categories', async () => {
      await assert.rejects(
        openai.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'scenario:filtered_prompt' }],
        }),
        (error: unknown) => {
          assert.ok(error instanceof OpenAI.BadRequestError, String(error));
          assert.equal(error.status, 400);
          assert.match(
            error.message,
            /filtered by Azure OpenAI's content filter \(jailbreak, violence \(medium\)\)/,
          );
          return true;
        },
      );
    });

    it('a completion cut by the content filter keeps finish_reason content_filter, whole and streamed', async () => {
      const messages = [{ role: 'user' as const, content: 'scenario:filtered_completion' }];
      const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
      assert.equal(completion.choices[0]?.finish_reason, 'content_filter');
      assert.equal(completion.choices[0]?.message.content, FILTERED_PARTIAL);
      const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
      let finish: string | null = null;
      let text = '';
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(finish, 'content_filter');
      assert.equal(text, FILTERED_PARTIAL);
    });

    it('an unknown deployment is 404 model_not_found', async () => {
      await assert.rejects(
        openai.chat.completions.create({ model: 'missing', messages: [{ role: 'user', content: 'Hi' }] }),
        (error: unknown) => {
          assert.ok(error instanceof OpenAI.NotFoundError, String(error));
          assert.match(error.message, /no such deployment/);
          return true;
        },
      );
    });
  });

  describe('errors: throttling, overload, secrets', () => {
    it('a 429 with retry-after-ms is a 429 with Retry-After', async () => {
      upstream.failures.push({
        status: 429,
        body: AZURE_ERRORS.rateLimit,
        headers: { 'retry-after-ms': '5800', 'retry-after': '6' },
      });
      const response = await fetch(`${running.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }),
      });
      assert.equal(response.status, 429);
      assert.equal(response.headers.get('retry-after'), '6');
      const body = (await response.json()) as { error: { message: string } };
      assert.match(body.error.message, /exceeded token rate limit/);
    });

    it('a 503 is a 503 with Retry-After, in the Anthropic ingress as overloaded_error', async () => {
      upstream.failures.push({
        status: 503,
        body: AZURE_ERRORS.serviceUnavailable,
        headers: { 'retry-after': '3' },
      });
      const response = await fetch(`${running.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }),
      });
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '3');
      upstream.failures.push({
        status: 503,
        body: AZURE_ERRORS.serviceUnavailable,
        headers: { 'retry-after': '3' },
      });
      await assert.rejects(
        anthropic.messages.create({
          model: 'gpt-4o-mini',
          max_tokens: 64,
          messages: [{ role: 'user', content: 'Hi' }],
        }),
        (error: unknown) => {
          assert.ok(error instanceof Anthropic.APIError, String(error));
          assert.equal(error.status, 503);
          assert.equal((error.error as { error?: { type?: string } }).error?.type, 'overloaded_error');
          return true;
        },
      );
    });

    it('the api key never appears in an error or a log line, even when echoed by the upstream', async () => {
      await assert.rejects(
        openai.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'scenario:echo_key' }],
        }),
        (error: unknown) => {
          assert.ok(error instanceof OpenAI.APIError);
          assert.ok(!error.message.includes(AZURE_KEY), error.message);
          assert.match(error.message, /\[redacted\]/);
          return true;
        },
      );
      assert.equal(lastRequest().headers['api-key'], AZURE_KEY, 'the key did reach the stand-in');
      assert.ok(running.rawLogs.length > 0);
      assert.ok(!running.rawLogs.some((line) => line.includes(AZURE_KEY)), 'no log line holds the key');
    });
  });

  describe('Anthropic Messages ingress', () => {
    it('answers a text message', async () => {
      const message = await anthropic.messages.create({
        model: 'gpt-4o-mini',
        max_tokens: 256,
        system: 'Be brief.',
        messages: [{ role: 'user', content: 'Hi' }],
      });
      assert.deepEqual(
        message.content.map((block) => (block.type === 'text' ? block.text : block.type)),
        [SCRIPTED_TEXT],
      );
      assert.equal(message.stop_reason, 'end_turn');
      const sent = lastRequest();
      assertAzureCall(sent, 'chat-deploy');
      const messages = sent.body['messages'] as { role: string }[];
      assert.equal(messages[0]?.role, 'system');
    });

    it('streams parallel tool use in Anthropic order', async () => {
      const stream = anthropic.messages.stream({
        model: 'gpt-4o-mini',
        max_tokens: 256,
        messages: [{ role: 'user', content: 'scenario:parallel_tools' }],
        tools: FUNCTIONS.map((fn) => ({
          name: fn.name,
          description: fn.description,
          input_schema: {
            type: 'object' as const,
            properties: fn.parameters.properties,
            required: fn.parameters.required,
          },
        })),
      });
      const message = await stream.finalMessage();
      assert.equal(message.stop_reason, 'tool_use');
      const uses = message.content.flatMap((block) =>
        block.type === 'tool_use' ? [{ name: block.name, arguments: block.input }] : [],
      );
      assert.deepEqual(uses, SCRIPTED_CALLS.parallel_tools);
      assert.equal(lastRequest().body['stream'], true);
    });

    it('sends an image as a data URL', async () => {
      const message = await anthropic.messages.create({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
              { type: 'text', text: 'scenario:image' },
            ],
          },
        ],
      });
      assert.deepEqual(
        message.content.map((block) => (block.type === 'text' ? block.text : block.type)),
        [imagesSeen(1)],
      );
    });

    it('the content filter: a refused prompt is invalid_request_error; a cut completion stops as refusal', async () => {
      await assert.rejects(
        anthropic.messages.create({
          model: 'gpt-4o-mini',
          max_tokens: 64,
          messages: [{ role: 'user', content: 'scenario:filtered_prompt' }],
        }),
        (error: unknown) => {
          assert.ok(error instanceof Anthropic.BadRequestError, String(error));
          assert.match(error.message, /content filter \(jailbreak, violence \(medium\)\)/);
          return true;
        },
      );
      const stream = anthropic.messages.stream({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'scenario:filtered_completion' }],
      });
      const message = await stream.finalMessage();
      assert.equal(message.stop_reason, 'refusal');
      assert.deepEqual(
        message.content.map((block) => (block.type === 'text' ? block.text : block.type)),
        [FILTERED_PARTIAL],
      );
    });
  });

  describe('Responses ingress', () => {
    it('responses.create, whole and streamed with tools', async () => {
      const response = await openai.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
      assert.equal(response.output_text, SCRIPTED_TEXT);
      assert.equal(response.status, 'completed');
      assertAzureCall(lastRequest(), 'chat-deploy');
      const stream = await openai.responses.create({
        model: 'gpt-4o-mini',
        input: 'scenario:parallel_tools',
        tools: FUNCTIONS.map((fn) => ({ type: 'function' as const, strict: false, ...fn })),
        stream: true,
      });
      let completed: OpenAI.Responses.Response | null = null;
      for await (const event of stream) if (event.type === 'response.completed') completed = event.response;
      assert.ok(completed !== null);
      const calls = completed.output.flatMap((item) =>
        item.type === 'function_call'
          ? [{ name: item.name, arguments: JSON.parse(item.arguments) as unknown }]
          : [],
      );
      assert.deepEqual(calls, SCRIPTED_CALLS.parallel_tools);
    });

    it('a completion cut by the content filter is incomplete (content_filter)', async () => {
      const response = await openai.responses.create({
        model: 'gpt-4o-mini',
        input: 'scenario:filtered_completion',
      });
      assert.equal(response.status, 'incomplete');
      assert.equal(response.incomplete_details?.reason, 'content_filter');
    });
  });

  describe('Ollama /api/chat ingress', () => {
    async function ollamaChat(body: Record<string, unknown>): Promise<Response> {
      return fetch(`${running.url}/api/chat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    }

    it('answers whole and streamed (NDJSON)', async () => {
      const whole = await ollamaChat({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: false,
      });
      assert.equal(whole.status, 200);
      const answer = (await whole.json()) as { message: { content: string }; done: boolean };
      assert.equal(answer.message.content, SCRIPTED_TEXT);
      assert.equal(answer.done, true);
      const streamed = await ollamaChat({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hi' }],
      });
      const lines = (await streamed.text())
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as { message?: { content?: string }; done: boolean });
      assert.equal(lines.map((line) => line.message?.content ?? '').join(''), SCRIPTED_TEXT);
      assert.equal(lines.at(-1)?.done, true);
      assertAzureCall(lastRequest(), 'chat-deploy');
    });

    it('tool calls (parallel) and an image', async () => {
      const tools = await ollamaChat({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'scenario:parallel_tools' }],
        tools: FUNCTIONS.map((fn) => ({ type: 'function', function: fn })),
        stream: false,
      });
      const called = (await tools.json()) as {
        message: { tool_calls: { function: { name: string; arguments: unknown } }[] };
      };
      assert.deepEqual(
        called.message.tool_calls.map((call) => ({
          name: call.function.name,
          arguments: call.function.arguments,
        })),
        SCRIPTED_CALLS.parallel_tools,
      );
      const image = await ollamaChat({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'scenario:image', images: [PNG] }],
        stream: false,
      });
      const seen = (await image.json()) as { message: { content: string } };
      assert.equal(seen.message.content, imagesSeen(1));
    });
  });

  describe('fallback from a local model to Azure (docs/providers.md)', () => {
    let fallback: RunningGateway;
    before(async () => {
      // Nothing listens on the local backend's port: the local model is down.
      const closed = await freePort();
      fallback = await startGateway(
        testConfig({
          backends: [
            { name: 'local', type: 'ollama', url: `http://127.0.0.1:${closed}` },
            { name: 'azure', type: 'azure_openai', url: upstream.url, api_key: AZURE_KEY },
          ],
          models: [
            {
              name: 'smart',
              targets: [
                { backend: 'local', model: 'qwen2.5:14b' },
                { backend: 'azure', model: 'chat-deploy' },
              ],
            },
          ],
          extra: {
            routing: {
              max_attempts: 2,
              circuit_breaker: { enabled: true, failures: 1, cooldown_ms: 60_000 },
            },
          },
        }),
      );
    });
    after(async () => {
      await fallback.stop();
    });

    it('the local backend down: Azure answers, streamed, in the client protocol; then its open circuit skips it', async () => {
      const first = await fetch(`${fallback.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': TEST_KEY,
          'anthropic-version': '2023-06-01',
        },
        body: JSON.stringify({
          model: 'smart',
          max_tokens: 64,
          stream: true,
          messages: [{ role: 'user', content: 'Hi' }],
        }),
      });
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('x-gateway-backend'), 'azure');
      assert.equal(first.headers.get('x-gateway-attempts'), '2');
      const events = (await first.text()).split('\n').filter((line) => line.startsWith('event: '));
      assert.deepEqual([events[0], events.at(-1)], ['event: message_start', 'event: message_stop']);
      assertAzureCall(lastRequest(), 'chat-deploy');
      const second = await fetch(`${fallback.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content: 'Hi' }] }),
      });
      assert.equal(second.status, 200);
      assert.equal(second.headers.get('x-gateway-backend'), 'azure');
      assert.equal(second.headers.get('x-gateway-attempts'), '1', 'the local circuit is open: not tried');
      const completion = (await second.json()) as { choices: { message: { content: string } }[] };
      assert.equal(completion.choices[0]?.message.content, SCRIPTED_TEXT);
    });
  });
});
