/**
 * POST /v1/messages and /v1/messages/count_tokens through Anthropic's own TypeScript SDK (exact
 * version in package.json), against gateways whose backends are the scripted upstream (an `openai`
 * backend, as vLLM, and an `ollama` backend) or the stand-in upstream for failures. The SDK's retries
 * are off (maxRetries: 0), so that every failure shows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type {
  ContentBlock,
  MessageParam,
  MessageStreamEvent,
  Tool,
} from '@anthropic-ai/sdk/resources/messages/messages';
import {
  SCRIPTED_CALLS,
  SCRIPTED_REASONED_ANSWER,
  SCRIPTED_REASONING,
  SCRIPTED_TEXT,
  SCRIPTED_USAGE,
  ScriptedUpstream,
  imagesSeen,
  toolSaid,
} from '../support/scripted-upstream.js';
import { StandInUpstream } from '../support/stand-in-upstream.js';
import {
  RESTRICTED_KEY,
  TEST_KEY,
  startGateway,
  testConfig,
  type RunningGateway,
} from '../support/gateway-harness.js';
import { toChatRequest } from '../../src/protocols/openai-chat/from-conversation.js';
import { countPromptTokens } from '../../src/rate-limit/token-estimate.js';
import { toConversation } from '../../src/protocols/anthropic-messages/to-conversation.js';

const TOOLS: Tool[] = [
  {
    name: 'get_weather',
    description: 'The weather in a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
  {
    name: 'get_time',
    description: 'The time in a zone',
    input_schema: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
  },
];

/** A 1x1 PNG. */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

function client(running: RunningGateway, options: { apiKey?: string; authToken?: string } = {}): Anthropic {
  return new Anthropic({
    baseURL: running.url,
    ...(options.authToken === undefined
      ? { apiKey: options.apiKey ?? TEST_KEY }
      : { apiKey: null, authToken: options.authToken }),
    maxRetries: 0,
    timeout: 10_000,
  });
}

/** Server-sent events as sent: every frame's event name, in order. */
async function rawEvents(running: RunningGateway, body: Record<string, unknown>): Promise<string[]> {
  const response = await fetch(`${running.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': TEST_KEY, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const text = await response.text();
  return [...text.matchAll(/^event: (.+)$/gm)].map((match) => match[1] as string);
}

function toolUses(content: readonly ContentBlock[]): { name: string; input: unknown; id: string }[] {
  return content.flatMap((block) =>
    block.type === 'tool_use' ? [{ name: block.name, input: block.input, id: block.id }] : [],
  );
}

const BACKENDS = [
  { model: 'local-vllm', backend: 'vllm', upstreamPath: '/v1/chat/completions' },
  { model: 'local-ollama', backend: 'ollama', upstreamPath: '/api/chat' },
] as const;

describe('Anthropic Messages API through @anthropic-ai/sdk', () => {
  let upstream: ScriptedUpstream;
  let running: RunningGateway;

  before(async () => {
    upstream = await ScriptedUpstream.start();
    running = await startGateway(
      testConfig({
        backends: [
          { name: 'vllm', type: 'openai', url: upstream.openAiUrl },
          { name: 'ollama', type: 'ollama', url: upstream.ollamaUrl },
        ],
        models: [
          { name: 'local-vllm', targets: [{ backend: 'vllm', model: 'Qwen/Qwen3-8B' }] },
          { name: 'local-ollama', targets: [{ backend: 'ollama', model: 'qwen3:8b' }] },
          {
            name: 'limited',
            targets: [{ backend: 'vllm', model: 'Qwen/Qwen3-8B' }],
            rate_limit: { requests: '1/minute' },
          },
          // Claude Code's own model names, mapped to a local model.
          { name: 'claude-*', targets: [{ backend: 'vllm', model: 'Qwen/Qwen3-8B' }] },
        ],
      }),
      {},
      { logLevel: 'silent' },
    );
  });
  after(async () => {
    await running.stop();
    await upstream.close();
  });

  for (const { model, backend, upstreamPath } of BACKENDS) {
    describe(`${backend} backend`, () => {
      it('messages.create: a text answer as a Message', async () => {
        const { data: message, response } = await client(running)
          .messages.create({
            model,
            max_tokens: 256,
            system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
            messages: [{ role: 'user', content: 'Hello' }],
          })
          .withResponse();
        assert.match(message.id, /^msg_[0-9a-f]{32}$/);
        assert.equal(message.type, 'message');
        assert.equal(message.role, 'assistant');
        assert.deepEqual(message.content, [{ type: 'text', text: SCRIPTED_TEXT, citations: null }]);
        assert.equal(message.stop_reason, 'end_turn');
        assert.equal(message.stop_sequence, null);
        assert.equal(message.usage.input_tokens, SCRIPTED_USAGE.prompt_tokens);
        assert.equal(message.usage.output_tokens, SCRIPTED_USAGE.completion_tokens);
        assert.equal(response.headers.get('x-gateway-backend'), backend);
        const requestId = response.headers.get('request-id');
        assert.ok(requestId !== null && requestId.length > 0);
        assert.equal(response.headers.get('x-request-id'), requestId);
        const sent = upstream.requests.at(-1);
        assert.equal(sent?.path, upstreamPath);
        const messages = sent?.body['messages'] as { role: string; content: unknown }[];
        // The cache breakpoint keeps the system text a text part in the carrier; an openai backend sends
        // the part without it, Ollama's API takes a string.
        assert.deepEqual(
          messages[0],
          backend === 'vllm'
            ? { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] }
            : { role: 'system', content: 'Be brief.' },
        );
        assert.ok(!JSON.stringify(sent?.body).includes('cache_control'));
      });

      it('messages.create: tools, then the tool result, over two turns', async () => {
        const anthropic = client(running);
        const question: MessageParam = { role: 'user', content: 'Weather in Paris? scenario:tools' };
        const first = await anthropic.messages.create({
          model,
          max_tokens: 256,
          tools: TOOLS,
          messages: [question],
        });
        assert.equal(first.stop_reason, 'tool_use');
        const calls = toolUses(first.content);
        assert.deepEqual(
          calls.map(({ name, input }) => ({ name, input })),
          SCRIPTED_CALLS.tools.map((call) => ({ name: call.name, input: call.arguments })),
        );
        const callId = calls[0]?.id ?? '';
        assert.ok(callId.length > 0);
        const second = await anthropic.messages.create({
          model,
          max_tokens: 256,
          tools: TOOLS,
          messages: [
            question,
            { role: 'assistant', content: first.content },
            {
              role: 'user',
              content: [{ type: 'tool_result', tool_use_id: callId, content: '18°C and sunny' }],
            },
          ],
        });
        assert.deepEqual(second.content, [
          { type: 'text', text: toolSaid('18°C and sunny'), citations: null },
        ]);
        assert.equal(second.stop_reason, 'end_turn');
        // The backend got the call and its result, tied by the call's id (Ollama: by the tool's name).
        const messages = upstream.requests.at(-1)?.body['messages'] as Record<string, unknown>[];
        const result = messages.at(-1);
        assert.equal(result?.['role'], 'tool');
        assert.equal(result?.['content'], '18°C and sunny');
        if (backend === 'vllm') assert.equal(result?.['tool_call_id'], callId);
        else assert.equal(result?.['tool_name'], 'get_weather');
      });

      it('messages.create: an image as base64', async () => {
        const message = await client(running).messages.create({
          model,
          max_tokens: 256,
          messages: [
            {
              role: 'user',
              content: [
                { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
                { type: 'text', text: 'What is this? scenario:image' },
              ],
            },
          ],
        });
        assert.deepEqual(message.content, [{ type: 'text', text: imagesSeen(1), citations: null }]);
      });

      it('messages.stream(): tool use in Anthropic event order; finalMessage() has the parsed inputs', async () => {
        const events: MessageStreamEvent[] = [];
        const stream = client(running)
          .messages.stream({
            model,
            max_tokens: 256,
            tools: TOOLS,
            messages: [{ role: 'user', content: 'Weather and time? scenario:parallel_tools' }],
          })
          .on('streamEvent', (event) => events.push(event));
        const message = await stream.finalMessage();
        assert.equal(message.stop_reason, 'tool_use');
        assert.deepEqual(
          toolUses(message.content).map(({ name, input }) => ({ name, input })),
          SCRIPTED_CALLS.parallel_tools.map((call) => ({ name: call.name, input: call.arguments })),
        );
        // The backend's counts, from message_delta (message_start carried the gateway's estimate).
        assert.equal(message.usage.input_tokens, SCRIPTED_USAGE.prompt_tokens);
        assert.equal(message.usage.output_tokens, SCRIPTED_USAGE.completion_tokens);
        // message_start, then per block start, deltas, stop with increasing indexes, message_delta, message_stop.
        const names = events.map((event) => event.type);
        assert.equal(names[0], 'message_start');
        assert.deepEqual(names.slice(-2), ['message_delta', 'message_stop']);
        const blockEvents = events.filter(
          (event) =>
            event.type === 'content_block_start' ||
            event.type === 'content_block_delta' ||
            event.type === 'content_block_stop',
        );
        let open: number | null = null;
        let next = 0;
        const partials = new Map<number, string>();
        for (const event of blockEvents) {
          if (event.type === 'content_block_start') {
            assert.equal(open, null, 'a block starts after the one before stopped');
            assert.equal(event.index, next++);
            assert.equal(event.content_block.type, 'tool_use');
            open = event.index;
          } else if (event.type === 'content_block_delta') {
            assert.equal(event.index, open);
            assert.equal(event.delta.type, 'input_json_delta');
            if (event.delta.type === 'input_json_delta')
              partials.set(event.index, (partials.get(event.index) ?? '') + event.delta.partial_json);
          } else {
            assert.equal(event.index, open);
            open = null;
          }
        }
        assert.equal(next, 2, 'one block per tool call');
        assert.deepEqual(
          [...partials.values()].map((json) => JSON.parse(json) as unknown),
          SCRIPTED_CALLS.parallel_tools.map((call) => call.arguments),
        );
        // The frames as sent carry a ping right after message_start (the SDK skips pings).
        const raw = await rawEvents(running, {
          model,
          max_tokens: 256,
          tools: TOOLS,
          messages: [{ role: 'user', content: 'Weather? scenario:tools' }],
        });
        assert.deepEqual(raw.slice(0, 3), ['message_start', 'ping', 'content_block_start']);
        assert.deepEqual(raw.slice(-2), ['message_delta', 'message_stop']);
        assert.ok(raw.includes('content_block_delta'));
      });

      it('thinking: the reasoning comes back as a thinking block, streamed or not', async () => {
        const params = {
          model,
          max_tokens: 2048,
          thinking: { type: 'enabled' as const, budget_tokens: 1024 },
          messages: [{ role: 'user' as const, content: 'What is six times seven? scenario:reasoning' }],
        };
        const message = await client(running).messages.create(params);
        assert.deepEqual(message.content, [
          { type: 'thinking', thinking: SCRIPTED_REASONING, signature: '' },
          { type: 'text', text: SCRIPTED_REASONED_ANSWER, citations: null },
        ]);
        const sent = upstream.requests.at(-1)?.body;
        // A budget of 1,024 is a low effort; Ollama is asked to think.
        if (backend === 'vllm') assert.equal(sent?.['reasoning_effort'], 'low');
        else assert.equal(sent?.['think'], true);
        const thinking: string[] = [];
        const streamed = await client(running)
          .messages.stream(params)
          .on('thinking', (delta) => thinking.push(delta))
          .finalMessage();
        assert.deepEqual(streamed.content, message.content);
        assert.equal(thinking.join(''), SCRIPTED_REASONING);
      });

      it('messages.countTokens: the gateway tokenizer, no upstream call', async () => {
        const before = upstream.requests.length;
        const params = {
          model,
          system: 'Be brief.',
          tools: TOOLS,
          messages: [{ role: 'user' as const, content: 'Hello, world' }],
        };
        const counted = await client(running).messages.countTokens(params);
        const carrier = toChatRequest(toConversation(params));
        assert.equal(counted.input_tokens, countPromptTokens(carrier));
        assert.ok(counted.input_tokens > 10);
        assert.equal(upstream.requests.length, before);
      });
    });
  }

  it('a Bearer token (ANTHROPIC_AUTH_TOKEN) works as well as x-api-key; claude-* names routed to a local model', async () => {
    const message = await client(running, { authToken: TEST_KEY }).messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.equal(message.content[0]?.type, 'text');
    assert.equal(upstream.requests.at(-1)?.body['model'], 'Qwen/Qwen3-8B');
  });

  it('AuthenticationError for a bad key, with the request id', async () => {
    const error = await client(running, { apiKey: 'sk-gw-not-a-real-key-0000000000' })
      .messages.create({ model: 'local-vllm', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.AuthenticationError, String(error));
    assert.equal(error.status, 401);
    assert.equal(error.type, 'authentication_error');
    assert.match(error.requestID ?? '', /^[0-9a-f-]{36}$/);
  });

  it('BadRequestError naming the field: a document block, a server tool, a missing max_tokens', async () => {
    const anthropic = client(running);
    const document = await anthropic.messages
      .create({
        model: 'local-vllm',
        max_tokens: 16,
        messages: [
          {
            role: 'user',
            content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Hi' } }],
          },
        ],
      })
      .catch((caught: unknown) => caught);
    assert.ok(document instanceof Anthropic.BadRequestError, String(document));
    assert.equal(document.type, 'invalid_request_error');
    // The SDK's message is the status and the body; apiMessage is error.message.
    assert.match(document.apiMessage ?? '', /^messages\[0\]\.content\[0\]\.type: 'document' blocks/);
    const server = await anthropic.messages
      .create({
        model: 'local-vllm',
        max_tokens: 16,
        tools: [{ type: 'web_search_20250305', name: 'web_search' }],
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .catch((caught: unknown) => caught);
    assert.ok(server instanceof Anthropic.BadRequestError);
    assert.match(server.apiMessage ?? '', /^tools\[0\]\.type: 'web_search_20250305'/);
    const missing = await anthropic.messages
      // @ts-expect-error: max_tokens is required, as Anthropic requires it
      .create({ model: 'local-vllm', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((caught: unknown) => caught);
    assert.ok(missing instanceof Anthropic.BadRequestError);
    assert.equal(missing.requestID, missing.headers.get('x-request-id'));
    assert.match(missing.apiMessage ?? '', /max_tokens: is required/);
  });

  it('NotFoundError for a model no route serves, PermissionDeniedError for one the key may not use', async () => {
    const unknown = await client(running)
      .messages.create({ model: 'gpt-unknown', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((caught: unknown) => caught);
    assert.ok(unknown instanceof Anthropic.NotFoundError, String(unknown));
    assert.equal(unknown.type, 'not_found_error');
    const denied = await client(running, { apiKey: RESTRICTED_KEY })
      .messages.countTokens({ model: 'local-vllm', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((caught: unknown) => caught);
    assert.ok(denied instanceof Anthropic.PermissionDeniedError, String(denied));
    assert.equal(denied.type, 'permission_error');
  });

  it('RateLimitError with retry-after on a 429; count_tokens counts against request limits', async () => {
    const anthropic = client(running);
    const counted = await anthropic.messages.countTokens({
      model: 'limited',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    assert.ok(counted.input_tokens > 0);
    const error = await anthropic.messages
      .create({ model: 'limited', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.RateLimitError, String(error));
    assert.equal(error.status, 429);
    assert.equal(error.type, 'rate_limit_error');
    assert.match(error.headers.get('retry-after') ?? '', /^\d+$/);
    assert.ok(Number(error.headers.get('retry-after')) > 0);
  });

  it("takes requests without anthropic-version, with any anthropic-beta, and Claude Code's ?beta=true", async () => {
    for (const headers of [
      {},
      { 'anthropic-version': '2099-01-01', 'anthropic-beta': 'interleaved-thinking-2025-05-14' },
    ]) {
      const response = await fetch(`${running.url}/v1/messages?beta=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': TEST_KEY, ...headers },
        body: JSON.stringify({
          model: 'local-vllm',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'Hi' }],
        }),
      });
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { type: string }).type, 'message');
    }
  });
});

describe('Anthropic Messages API: stored answers through @anthropic-ai/sdk', () => {
  let upstream: ScriptedUpstream;
  let running: RunningGateway;

  before(async () => {
    upstream = await ScriptedUpstream.start();
    running = await startGateway(
      testConfig({
        backends: [{ name: 'vllm', type: 'openai', url: upstream.openAiUrl }],
        models: [{ name: 'local-vllm', targets: [{ backend: 'vllm', model: 'Qwen/Qwen3-8B' }] }],
        extra: { cache: { enabled: true } },
      }),
      {},
      { logLevel: 'silent' },
    );
  });
  after(async () => {
    await running.stop();
    await upstream.close();
  });

  it('a cache hit is the same Message with a fresh id, as JSON and replayed as a stream', async () => {
    const params = {
      model: 'local-vllm',
      max_tokens: 256,
      temperature: 0,
      tools: TOOLS,
      messages: [{ role: 'user' as const, content: 'Weather and time? scenario:parallel_tools' }],
    };
    const anthropic = client(running);
    const { data: first, response: missed } = await anthropic.messages.create(params).withResponse();
    assert.equal(missed.headers.get('x-cache'), 'MISS');
    const { data: second, response: hit } = await anthropic.messages.create(params).withResponse();
    assert.equal(hit.headers.get('x-cache'), 'HIT');
    assert.equal(upstream.requests.length, 1);
    assert.notEqual(second.id, first.id);
    assert.deepEqual(second.content, first.content);
    assert.equal(second.stop_reason, 'tool_use');
    const streamed = await anthropic.messages.stream(params).finalMessage();
    assert.equal(upstream.requests.length, 1);
    assert.deepEqual(streamed.content, first.content);
    assert.equal(streamed.stop_reason, 'tool_use');
  });
});

describe('Anthropic Messages API: upstream failures through @anthropic-ai/sdk', () => {
  let upstream: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    running = await startGateway(
      testConfig({
        backends: [
          { name: 'vllm', type: 'openai', url: `${upstream.url}/v1` },
          { name: 'ollama', type: 'ollama', url: upstream.url },
        ],
        models: [
          { name: 'local-vllm', targets: [{ backend: 'vllm', model: 'stand-in' }] },
          { name: 'local-ollama', targets: [{ backend: 'ollama', model: 'stand-in:latest' }] },
        ],
        server: { body_limit_bytes: 65_536 },
      }),
      {},
      { logLevel: 'silent' },
    );
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  it('ContentTooLargeError of type request_too_large for a body over the limit', async () => {
    const sent = upstream.requests.length;
    const error = await client(running)
      .messages.create({
        model: 'local-vllm',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'x'.repeat(100_000) }],
      })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.ContentTooLargeError, String(error));
    assert.equal(error.status, 413);
    assert.equal(error.type, 'request_too_large');
    assert.equal(upstream.requests.length, sent);
  });

  for (const model of ['local-vllm', 'local-ollama']) {
    it(`${model}: an upstream 5xx is an InternalServerError of type api_error`, async () => {
      upstream.once({ kind: 'status', status: 500 });
      const error = await client(running)
        .messages.create({ model, max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] })
        .catch((caught: unknown) => caught);
      assert.ok(error instanceof Anthropic.InternalServerError, String(error));
      assert.equal(error.status, 502);
      assert.equal(error.type, 'api_error');
      assert.ok(error.requestID !== null && error.requestID !== undefined);
    });

    it(`${model}: a stream that fails after it started ends with event: error, raised by the SDK`, async () => {
      upstream.once({ kind: 'stream-error-event-after', chunks: 2 });
      const texts: string[] = [];
      const error = await client(running)
        .messages.stream({ model, max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] })
        .on('text', (delta) => texts.push(delta))
        .finalMessage()
        .catch((caught: unknown) => caught);
      assert.ok(error instanceof Anthropic.APIError, String(error));
      assert.equal(error.type, 'api_error');
      assert.match(error.apiMessage ?? '', /stand-in model crashed/);
      assert.ok(texts.length > 0, 'the text before the failure arrived');
    });

    it(`${model}: a stream cut midway ends with event: error`, async () => {
      upstream.once({ kind: 'stream-cut-after', chunks: 2 });
      const error = await client(running)
        .messages.stream({ model, max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] })
        .finalMessage()
        .catch((caught: unknown) => caught);
      assert.ok(error instanceof Anthropic.APIError, String(error));
      assert.equal(error.type, 'api_error');
    });
  }
});
