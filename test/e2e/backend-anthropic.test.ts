/**
 * The `anthropic` backend type (issue 19) as clients see it: a gateway on loopback in front of a strict
 * stand-in of Anthropic's Messages API (https://docs.anthropic.com/en/api/messages): it checks
 * x-api-key, anthropic-version, max_tokens, the roles and content blocks (a thinking block must carry
 * the signature it was given), and answers in Anthropic's wire format, streamed as Anthropic streams
 * (message_start, ping, content blocks with text / thinking / signature / input_json deltas,
 * message_delta, message_stop), with Anthropic's errors. Driven through chat completions (the openai
 * SDK), the Anthropic Messages ingress (@anthropic-ai/sdk), the Responses ingress and the Ollama
 * ingress, and through a fallback route from a local backend that is down.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { AnthropicAdapter } from '../../src/backends/anthropic/adapter.js';
import { validateConfig } from '../../src/config/load.js';
import { freePort } from '../support/free-port.js';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';

const UPSTREAM_KEY = 'sk-ant-api03-standin-secret-key-0123456789abcdef';
const SIGNATURE = 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds';
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const USAGE = {
  input_tokens: 20,
  cache_creation_input_tokens: 4,
  cache_read_input_tokens: 6,
  output_tokens: 12,
};

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A block of the stand-in's answer. */
type Block =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'tool_use'; id: string; name: string; input: Json };

const USER_BLOCKS = new Set(['text', 'image', 'tool_result']);
const ASSISTANT_BLOCKS = new Set(['text', 'tool_use', 'thinking', 'redacted_thinking']);

/** What Anthropic checks of a request, as far as these tests reach; a problem's message, or null. */
function requestProblem(body: Json): string | null {
  if (typeof body['model'] !== 'string') return 'model: Field required';
  const max = body['max_tokens'];
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) return 'max_tokens: Field required';
  for (const field of Object.keys(body)) {
    if (
      ![
        'model',
        'max_tokens',
        'messages',
        'system',
        'tools',
        'tool_choice',
        'stop_sequences',
        'temperature',
        'top_p',
        'top_k',
        'thinking',
        'metadata',
        'stream',
      ].includes(field)
    )
      return `${field}: Extra inputs are not permitted`;
  }
  const system = body['system'];
  if (
    system !== undefined &&
    !(Array.isArray(system) && system.every((b) => isObject(b) && b['type'] === 'text'))
  )
    return 'system: Input should be a valid list of text blocks';
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0) return 'messages: at least one message is required';
  for (const [index, message] of messages.entries()) {
    if (!isObject(message) || (message['role'] !== 'user' && message['role'] !== 'assistant'))
      return `messages.${index}.role: Input should be 'user' or 'assistant'`;
    const content = message['content'];
    if (!Array.isArray(content) || content.length === 0)
      return `messages.${index}.content: must be non-empty`;
    const allowed = message['role'] === 'user' ? USER_BLOCKS : ASSISTANT_BLOCKS;
    for (const block of content) {
      if (!isObject(block) || !allowed.has(block['type'] as string))
        return `messages.${index}.content: invalid block for role ${message['role']}`;
      if (block['type'] === 'text' && (typeof block['text'] !== 'string' || block['text'] === ''))
        return `messages.${index}.content: text content blocks must be non-empty`;
      if (block['type'] === 'thinking' && block['signature'] !== SIGNATURE)
        return `messages.${index}.content: Invalid \`signature\` in \`thinking\` block`;
      if (block['type'] === 'tool_use' && !isObject(block['input']))
        return `messages.${index}.content: tool_use.input: Input should be a valid dictionary`;
      if (block['type'] === 'image') {
        const source = block['source'];
        if (!isObject(source) || (source['type'] !== 'base64' && source['type'] !== 'url'))
          return `messages.${index}.content: image.source: invalid`;
      }
    }
  }
  const thinking = body['thinking'];
  if (thinking !== undefined) {
    if (!isObject(thinking) || thinking['type'] !== 'enabled') return 'thinking.type: invalid';
    const budget = thinking['budget_tokens'];
    if (typeof budget !== 'number' || budget < 1024 || budget >= max)
      return 'thinking.budget_tokens: must be >= 1024 and less than max_tokens';
  }
  return null;
}

/** The stand-in's answer to a valid request, chosen by the model name. */
function answerFor(body: Json): { blocks: Block[]; stopReason: string } {
  const messages = body['messages'] as Json[];
  const last = messages.at(-1) as Json;
  const lastBlocks = last['content'] as Json[];
  switch (body['model']) {
    case 'claude-tools': {
      const results = lastBlocks.filter((block) => block['type'] === 'tool_result');
      if (results.length > 0) {
        const said = results.map((block) => JSON.stringify(block['content'])).join(' ');
        return { blocks: [{ type: 'text', text: `results: ${said}` }], stopReason: 'end_turn' };
      }
      return {
        blocks: [
          { type: 'text', text: 'Checking both.' },
          { type: 'tool_use', id: 'toolu_01Paris', name: 'get_weather', input: { location: 'Paris' } },
          { type: 'tool_use', id: 'toolu_02Tokyo', name: 'get_weather', input: { location: 'Tokyo' } },
        ],
        stopReason: 'tool_use',
      };
    }
    case 'claude-think': {
      const signed = messages.some(
        (message) =>
          message['role'] === 'assistant' &&
          (message['content'] as Json[]).some((block) => block['type'] === 'thinking'),
      );
      if (signed) return { blocks: [{ type: 'text', text: 'signature ok' }], stopReason: 'end_turn' };
      return {
        blocks: [
          { type: 'thinking', thinking: 'I should look it up.', signature: SIGNATURE },
          { type: 'tool_use', id: 'toolu_03Look', name: 'lookup', input: { q: 'x' } },
        ],
        stopReason: 'tool_use',
      };
    }
    case 'claude-image': {
      const images = messages.flatMap((message) =>
        (message['content'] as Json[]).filter((block) => block['type'] === 'image'),
      );
      return { blocks: [{ type: 'text', text: `images: ${images.length}` }], stopReason: 'end_turn' };
    }
    case 'claude-json': {
      const tool = (body['tools'] as Json[] | undefined)?.[0];
      const choice = body['tool_choice'] as Json | undefined;
      if (tool === undefined || choice?.['type'] !== 'tool' || choice['name'] !== tool['name'])
        return { blocks: [{ type: 'text', text: 'no forced tool' }], stopReason: 'end_turn' };
      return {
        blocks: [
          { type: 'tool_use', id: 'toolu_04Json', name: tool['name'] as string, input: { answer: 42 } },
        ],
        stopReason: 'tool_use',
      };
    }
    default: {
      const stop = body['stop_sequences'];
      if (Array.isArray(stop) && stop.length > 0)
        return { blocks: [{ type: 'text', text: 'Hello from Claude' }], stopReason: 'stop_sequence' };
      return { blocks: [{ type: 'text', text: 'Hello from Claude.' }], stopReason: 'end_turn' };
    }
  }
}

/** Anthropic's stream of an answer: text in two pieces, tool input in JSON fragments. */
function sse(body: Json, blocks: Block[], stopReason: string): string {
  const frame = (event: string, data: Json): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  let out = frame('message_start', {
    type: 'message_start',
    message: {
      id: 'msg_01Stream',
      type: 'message',
      role: 'assistant',
      model: body['model'],
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...USAGE, output_tokens: 1 },
    },
  });
  out += frame('ping', { type: 'ping' });
  blocks.forEach((block, index) => {
    const delta = (value: Json): string =>
      frame('content_block_delta', { type: 'content_block_delta', index, delta: value });
    if (block.type === 'text') {
      out += frame('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      const half = Math.ceil(block.text.length / 2);
      out += delta({ type: 'text_delta', text: block.text.slice(0, half) });
      out += delta({ type: 'text_delta', text: block.text.slice(half) });
    } else if (block.type === 'thinking') {
      out += frame('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      });
      out += delta({ type: 'thinking_delta', thinking: block.thinking });
      out += delta({ type: 'signature_delta', signature: block.signature });
    } else {
      out += frame('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      const json = JSON.stringify(block.input);
      out += delta({ type: 'input_json_delta', partial_json: '' });
      for (let at = 0; at < json.length; at += 5)
        out += delta({ type: 'input_json_delta', partial_json: json.slice(at, at + 5) });
    }
    out += frame('content_block_stop', { type: 'content_block_stop', index });
  });
  out += frame('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: stopReason === 'stop_sequence' ? 'END' : null },
    usage: { output_tokens: USAGE.output_tokens },
  });
  return out + frame('message_stop', { type: 'message_stop' });
}

class AnthropicStandIn {
  readonly requests: { headers: IncomingMessage['headers']; body: Json }[] = [];
  private readonly server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  last(): Json {
    const body = this.requests.at(-1)?.body;
    assert.ok(body !== undefined, 'the stand-in received no request');
    return body;
  }

  private error(
    response: ServerResponse,
    status: number,
    type: string,
    message: string,
    headers: Json = {},
  ): void {
    response.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_01', ...headers });
    response.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: 'req_01' }));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.headers['x-api-key'] !== UPSTREAM_KEY) {
      this.error(response, 401, 'authentication_error', 'invalid x-api-key');
      return;
    }
    if (request.headers['anthropic-version'] !== '2023-06-01') {
      this.error(response, 400, 'invalid_request_error', 'anthropic-version: header is required');
      return;
    }
    if (request.headers['authorization'] !== undefined) {
      this.error(response, 400, 'invalid_request_error', 'unexpected authorization header');
      return;
    }
    const url = new URL(request.url ?? '/', 'http://stand-in');
    if (request.method === 'GET' && url.pathname === '/v1/models') {
      const after = url.searchParams.get('after_id');
      const page =
        after === null
          ? {
              data: [{ id: 'claude-sonnet-4-5-20250929', type: 'model' }],
              has_more: true,
              first_id: 'claude-sonnet-4-5-20250929',
              last_id: 'claude-sonnet-4-5-20250929',
            }
          : {
              data: [{ id: 'claude-haiku-4-5-20251001', type: 'model' }],
              has_more: false,
              first_id: 'claude-haiku-4-5-20251001',
              last_id: 'claude-haiku-4-5-20251001',
            };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page));
      return;
    }
    if (request.method !== 'POST' || url.pathname !== '/v1/messages') {
      this.error(response, 404, 'not_found_error', 'Not found');
      return;
    }
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      this.error(response, 400, 'invalid_request_error', 'content-type must be application/json');
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
    this.requests.push({ headers: request.headers, body });
    const problem = requestProblem(body);
    if (problem !== null) {
      this.error(response, 400, 'invalid_request_error', problem);
      return;
    }
    switch (body['model']) {
      case 'claude-overloaded':
        this.error(response, 529, 'overloaded_error', 'Overloaded');
        return;
      case 'claude-throttled':
        this.error(
          response,
          429,
          'rate_limit_error',
          'Number of request tokens has exceeded your per-minute rate limit',
          {
            'retry-after': '7',
          },
        );
        return;
      case 'claude-refused-key':
        this.error(response, 401, 'authentication_error', `invalid x-api-key ${UPSTREAM_KEY}`);
        return;
      case 'claude-invalid':
        this.error(
          response,
          400,
          'invalid_request_error',
          `messages: roles must alternate (key ${UPSTREAM_KEY})`,
        );
        return;
      default:
        break;
    }
    if (body['model'] === 'claude-breaks' && body['stream'] === true) {
      // Anthropic's mid-stream failure: an `error` event after the 200.
      response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      response.end(
        (sse(body, [{ type: 'text', text: 'Hel' }], 'end_turn').split('event: content_block_stop')[0] ?? '') +
          `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'api_error', message: `Internal server error ${UPSTREAM_KEY}` } })}\n\n`,
      );
      return;
    }
    const { blocks, stopReason } = answerFor(body);
    if (body['stream'] === true) {
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
      });
      response.end(sse(body, blocks, stopReason));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        id: 'msg_01Whole',
        type: 'message',
        role: 'assistant',
        model: body['model'],
        content: blocks,
        stop_reason: stopReason,
        stop_sequence: stopReason === 'stop_sequence' ? 'END' : null,
        usage: USAGE,
      }),
    );
  }
}

const WEATHER: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};

describe('anthropic backend', () => {
  const standIn = new AnthropicStandIn();
  let running: RunningGateway;
  let openai: OpenAI;
  let upstreamUrl = '';

  before(async () => {
    const url = await standIn.start();
    upstreamUrl = url;
    const closedPort = await freePort();
    running = await startGateway(
      testConfig({
        backends: [
          { name: 'claude', type: 'anthropic', url, api_key: UPSTREAM_KEY },
          { name: 'local', type: 'openai', url: `http://127.0.0.1:${closedPort}/v1` },
        ],
        models: [
          { name: 'claude-*', targets: [{ backend: 'claude' }] },
          {
            name: 'fallback',
            targets: [
              { backend: 'local', model: 'qwen' },
              { backend: 'claude', model: 'claude-text' },
            ],
          },
        ],
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
    openai = running.client();
  });

  after(async () => {
    await running.stop();
    await standIn.stop();
  });

  describe('chat completions (openai SDK)', () => {
    it('answers text with usage counting cache reads and writes as prompt tokens', async () => {
      const completion = await openai.chat.completions.create({
        model: 'claude-text',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
        ],
        user: 'user-7',
      });
      assert.equal(completion.choices[0]?.message.content, 'Hello from Claude.');
      assert.equal(completion.choices[0]?.finish_reason, 'stop');
      assert.deepEqual(completion.usage, {
        prompt_tokens: 30,
        completion_tokens: 12,
        total_tokens: 42,
        prompt_tokens_details: { cached_tokens: 6, cache_write_tokens: 4 },
      });
      const sent = standIn.last();
      assert.equal(sent['max_tokens'], 4096);
      assert.deepEqual(sent['system'], [{ type: 'text', text: 'Be brief.' }]);
      assert.deepEqual(sent['metadata'], { user_id: 'user-7' });
    });

    it('streams text, and a stop sequence finishes with stop', async () => {
      const stream = await openai.chat.completions.create({
        model: 'claude-text',
        messages: [{ role: 'user', content: 'Hi' }],
        stop: ['END'],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let finish: string | null = null;
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(text, 'Hello from Claude');
      assert.equal(finish, 'stop');
      assert.equal(usage?.prompt_tokens, 30);
      assert.deepEqual(standIn.last()['stop_sequences'], ['END']);
    });

    it('calls tools in parallel, whole and streamed in fragments, and takes their results back', async () => {
      const whole = await openai.chat.completions.create({
        model: 'claude-tools',
        messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }],
        tools: [WEATHER],
      });
      const calls = whole.choices[0]?.message.tool_calls ?? [];
      assert.equal(whole.choices[0]?.finish_reason, 'tool_calls');
      assert.deepEqual(
        calls.map((call) => [call.id, call.type === 'function' ? call.function.arguments : '']),
        [
          ['toolu_01Paris', '{"location":"Paris"}'],
          ['toolu_02Tokyo', '{"location":"Tokyo"}'],
        ],
      );
      assert.deepEqual((standIn.last()['tools'] as Json[])[0], {
        name: 'get_weather',
        description: 'The weather in a city',
        input_schema: WEATHER.function.parameters,
      });

      const stream = await openai.chat.completions.create({
        model: 'claude-tools',
        messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }],
        tools: [WEATHER],
        parallel_tool_calls: true,
        stream: true,
      });
      const streamed = new Map<number, { id: string; args: string }>();
      let finish: string | null = null;
      for await (const chunk of stream) {
        for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
          const entry = streamed.get(call.index) ?? { id: '', args: '' };
          if (call.id) entry.id = call.id;
          entry.args += call.function?.arguments ?? '';
          streamed.set(call.index, entry);
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(finish, 'tool_calls');
      assert.deepEqual(
        [...streamed.entries()],
        [
          [0, { id: 'toolu_01Paris', args: '{"location":"Paris"}' }],
          [1, { id: 'toolu_02Tokyo', args: '{"location":"Tokyo"}' }],
        ],
      );

      const answer = await openai.chat.completions.create({
        model: 'claude-tools',
        messages: [
          { role: 'user', content: 'Weather in Paris and Tokyo?' },
          whole.choices[0]?.message ?? { role: 'assistant', content: '' },
          { role: 'tool', tool_call_id: 'toolu_01Paris', content: 'sunny' },
          { role: 'tool', tool_call_id: 'toolu_02Tokyo', content: 'rain' },
        ],
        tools: [WEATHER],
        parallel_tool_calls: false,
      });
      assert.match(answer.choices[0]?.message.content ?? '', /sunny.*rain/);
      const sent = standIn.last();
      assert.deepEqual(sent['tool_choice'], { type: 'auto', disable_parallel_tool_use: true });
      const results = ((sent['messages'] as Json[])[2]?.['content'] as Json[]).map(
        (block) => block['tool_use_id'],
      );
      assert.deepEqual(results, ['toolu_01Paris', 'toolu_02Tokyo']);
    });

    it('sends images as base64 and URL image blocks', async () => {
      const completion = await openai.chat.completions.create({
        model: 'claude-image',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
            ],
          },
        ],
      });
      assert.equal(completion.choices[0]?.message.content, 'images: 2');
      const content = (standIn.last()['messages'] as Json[])[0]?.['content'] as Json[];
      assert.deepEqual(content[1], {
        type: 'image',
        source: { type: 'base64', media_type: 'image/png', data: PNG },
      });
      assert.deepEqual(content[2], {
        type: 'image',
        source: { type: 'url', url: 'https://example.com/cat.jpg' },
      });
    });

    it('answers a JSON schema through a forced tool, as the text content', async () => {
      const completion = await openai.chat.completions.create({
        model: 'claude-json',
        messages: [{ role: 'user', content: 'The answer?' }],
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'answer',
            schema: { type: 'object', properties: { answer: { type: 'integer' } } },
          },
        },
      });
      assert.deepEqual(JSON.parse(completion.choices[0]?.message.content ?? ''), { answer: 42 });
      assert.equal(completion.choices[0]?.finish_reason, 'stop');
    });

    it('refuses what Anthropic cannot honour with a 400 naming the field', async () => {
      await assert.rejects(
        openai.chat.completions.create({
          model: 'claude-text',
          messages: [{ role: 'user', content: 'Hi' }],
          seed: 3,
        }),
        (error: unknown) => error instanceof OpenAI.BadRequestError && /'seed'/.test(error.message),
      );
      await assert.rejects(
        openai.embeddings.create({ model: 'claude-text', input: 'x' }),
        (error: unknown) =>
          error instanceof OpenAI.BadRequestError && /claude.*no embeddings/.test(error.message),
      );
    });

    it('maps overload to a retryable 503, throttling to 429 with Retry-After', async () => {
      await assert.rejects(
        openai.chat.completions.create({
          model: 'claude-overloaded',
          messages: [{ role: 'user', content: 'Hi' }],
        }),
        (error: unknown) => error instanceof OpenAI.APIError && error.status === 503,
      );
      await assert.rejects(
        openai.chat.completions.create({
          model: 'claude-throttled',
          messages: [{ role: 'user', content: 'Hi' }],
        }),
        (error: unknown) =>
          error instanceof OpenAI.RateLimitError && error.headers?.get('retry-after') === '7',
      );
    });

    it('ends a stream that fails mid-way (an error event) with an error, without the key', async () => {
      const stream = await openai.chat.completions.create({
        model: 'claude-breaks',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: true,
      });
      await assert.rejects(
        (async () => {
          let text = '';
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
          return text;
        })(),
        (error: unknown) =>
          error instanceof Error && /api_error/.test(error.message) && !error.message.includes(UPSTREAM_KEY),
      );
    });

    it('passes Anthropic’s 400 message on and refuses the backend credentials as a 502, never echoing the key', async () => {
      await assert.rejects(
        openai.chat.completions.create({
          model: 'claude-invalid',
          messages: [{ role: 'user', content: 'Hi' }],
        }),
        (error: unknown) =>
          error instanceof OpenAI.BadRequestError &&
          /roles must alternate/.test(error.message) &&
          !error.message.includes(UPSTREAM_KEY),
      );
      await assert.rejects(
        openai.chat.completions.create({
          model: 'claude-refused-key',
          messages: [{ role: 'user', content: 'Hi' }],
        }),
        (error: unknown) =>
          error instanceof OpenAI.APIError &&
          error.status === 502 &&
          /credentials/.test(error.message) &&
          !error.message.includes(UPSTREAM_KEY),
      );
      assert.ok(!running.rawLogs.some((line) => line.includes(UPSTREAM_KEY)), 'the key is in no log line');
    });
  });

  describe('Anthropic Messages ingress (@anthropic-ai/sdk)', () => {
    function anthropic(): Anthropic {
      return new Anthropic({ baseURL: running.url, apiKey: TEST_KEY, maxRetries: 0, timeout: 10_000 });
    }
    const lookup: Anthropic.Tool = {
      name: 'lookup',
      input_schema: { type: 'object', properties: { q: { type: 'string' } } },
    };

    it('round-trips a thinking signature over two turns to the backend', async () => {
      const client = anthropic();
      const first = await client.messages.create({
        model: 'claude-think',
        max_tokens: 4000,
        thinking: { type: 'enabled', budget_tokens: 2048 },
        tools: [lookup],
        messages: [{ role: 'user', content: 'Look it up' }],
      });
      assert.equal(first.stop_reason, 'tool_use');
      const thinking = first.content.find((block) => block.type === 'thinking');
      assert.equal(thinking?.type === 'thinking' ? thinking.signature : null, SIGNATURE);
      assert.deepEqual(standIn.last()['thinking'], { type: 'enabled', budget_tokens: 2048 });
      const toolUse = first.content.find((block) => block.type === 'tool_use');
      assert.ok(toolUse?.type === 'tool_use');

      const second = await client.messages.create({
        model: 'claude-think',
        max_tokens: 4000,
        thinking: { type: 'enabled', budget_tokens: 2048 },
        tools: [lookup],
        messages: [
          { role: 'user', content: 'Look it up' },
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: 'found' }] },
        ],
      });
      assert.deepEqual(
        second.content.map((block) => (block.type === 'text' ? block.text : block.type)),
        ['signature ok'],
      );
      const assistant = (standIn.last()['messages'] as Json[])[1]?.['content'] as Json[];
      assert.deepEqual(assistant[0], {
        type: 'thinking',
        thinking: 'I should look it up.',
        signature: SIGNATURE,
      });
    });

    it('streams thinking with its signature and tool use; the signature comes back on the next turn', async () => {
      const client = anthropic();
      const stream = client.messages.stream({
        model: 'claude-think',
        max_tokens: 4000,
        thinking: { type: 'enabled', budget_tokens: 2048 },
        tools: [lookup],
        messages: [{ role: 'user', content: 'Look it up' }],
      });
      const message = await stream.finalMessage();
      const thinking = message.content.find((block) => block.type === 'thinking');
      assert.equal(thinking?.type === 'thinking' ? thinking.signature : null, SIGNATURE);
      const toolUse = message.content.find((block) => block.type === 'tool_use');
      assert.deepEqual(toolUse?.type === 'tool_use' ? toolUse.input : null, { q: 'x' });
      const next = await client.messages
        .stream({
          model: 'claude-think',
          max_tokens: 4000,
          thinking: { type: 'enabled', budget_tokens: 2048 },
          tools: [lookup],
          messages: [
            { role: 'user', content: 'Look it up' },
            { role: 'assistant', content: message.content },
            {
              role: 'user',
              content: [{ type: 'tool_result', tool_use_id: toolUse?.id ?? '', content: 'found' }],
            },
          ],
        })
        .finalText();
      assert.equal(next, 'signature ok');
    });

    it('answers text and an image', async () => {
      const client = anthropic();
      const text = await client.messages.create({
        model: 'claude-text',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      assert.deepEqual(text.content, [{ type: 'text', text: 'Hello from Claude.', citations: null }]);
      assert.equal(standIn.last()['max_tokens'], 100);
      const image = await client.messages.create({
        model: 'claude-image',
        max_tokens: 100,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
              { type: 'text', text: 'What?' },
            ],
          },
        ],
      });
      assert.equal(image.content[0]?.type === 'text' ? image.content[0].text : '', 'images: 1');
    });

    it('an overloaded backend is an overloaded_error', async () => {
      await assert.rejects(
        anthropic().messages.create({
          model: 'claude-overloaded',
          max_tokens: 10,
          messages: [{ role: 'user', content: 'Hi' }],
        }),
        (error: unknown) =>
          error instanceof Anthropic.APIError &&
          error.status === 503 &&
          (error.error as { error?: { type?: string } } | undefined)?.error?.type === 'overloaded_error',
      );
    });
  });

  describe('Responses and Ollama ingresses', () => {
    it('responses.create, whole and streamed', async () => {
      const response = await openai.responses.create({ model: 'claude-text', input: 'Hi' });
      assert.equal(response.output_text, 'Hello from Claude.');
      const stream = await openai.responses.create({
        model: 'claude-tools',
        input: 'Weather?',
        tools: [
          {
            type: 'function',
            name: 'get_weather',
            parameters: WEATHER.function.parameters ?? {},
            strict: false,
          },
        ],
        stream: true,
      });
      const calls: string[] = [];
      for await (const event of stream) {
        if (event.type === 'response.output_item.done' && event.item.type === 'function_call')
          calls.push(event.item.arguments);
      }
      assert.deepEqual(calls, ['{"location":"Paris"}', '{"location":"Tokyo"}']);
    });

    it('Ollama /api/chat, whole and streamed', async () => {
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` };
      const whole = await fetch(`${running.url}/api/chat`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          model: 'claude-text',
          messages: [{ role: 'user', content: 'Hi' }],
          stream: false,
        }),
      });
      assert.equal(whole.status, 200);
      const body = (await whole.json()) as { message: { content: string }; done: boolean };
      assert.equal(body.message.content, 'Hello from Claude.');
      const streamed = await fetch(`${running.url}/api/chat`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: 'claude-text', messages: [{ role: 'user', content: 'Hi' }] }),
      });
      const lines = (await streamed.text())
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as { message?: { content?: string }; done: boolean });
      assert.equal(lines.map((line) => line.message?.content ?? '').join(''), 'Hello from Claude.');
      assert.equal(lines.at(-1)?.done, true);
    });
  });

  describe('fallback from a local backend that is down', () => {
    it('answers from Anthropic, whole and streamed, in the client’s protocol', async () => {
      const completion = await openai.chat.completions.create({
        model: 'fallback',
        messages: [{ role: 'user', content: 'Hi' }],
      });
      assert.equal(completion.choices[0]?.message.content, 'Hello from Claude.');
      const stream = await openai.chat.completions.create({
        model: 'fallback',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: true,
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      assert.equal(text, 'Hello from Claude.');
      const messages = await new Anthropic({ baseURL: running.url, apiKey: TEST_KEY, maxRetries: 0 }).messages
        .stream({ model: 'fallback', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] })
        .finalText();
      assert.equal(messages, 'Hello from Claude.');
    });
  });

  describe('cost', () => {
    it('prices a request at the list price of the upstream model, cache reads and writes apart, unless usage.prices names the backend', async () => {
      const adminToken = 'admin-token-for-the-cost-test';
      const priced = await startGateway(
        testConfig({
          backends: [
            { name: 'claude', type: 'anthropic', url: upstreamUrl, api_key: UPSTREAM_KEY },
            { name: 'claude-contract', type: 'anthropic', url: upstreamUrl, api_key: UPSTREAM_KEY },
          ],
          models: [
            { name: 'smart', targets: [{ backend: 'claude', model: 'claude-sonnet-4-5' }] },
            { name: 'negotiated', targets: [{ backend: 'claude-contract', model: 'claude-sonnet-4-5' }] },
            { name: 'unknown', targets: [{ backend: 'claude', model: 'claude-text' }] },
          ],
          extra: {
            usage: {
              prices: [
                {
                  model: 'claude-sonnet-4-5',
                  backend: 'claude-contract',
                  prompt_per_million: 1,
                  completion_per_million: 10,
                  cached_prompt_per_million: 0.5,
                  cache_write_per_million: 2,
                },
              ],
            },
          },
        }),
        { GATEWAY_ADMIN_TOKEN: adminToken },
      );
      try {
        const client = priced.client();
        for (const model of ['smart', 'negotiated', 'unknown'])
          await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] });
        const response = await fetch(`${priced.url}/admin/usage?group_by=model`, {
          headers: { authorization: `Bearer ${adminToken}` },
        });
        const rows = ((await response.json()) as { data: { model: string; cost: number | null }[] }).data;
        const cost = (model: string) => rows.find((row) => row.model === model)?.cost;
        // The stand-in reports 20 plain input tokens, 6 read from the cache, 4 written, 12 output.
        // Claude Sonnet 4.5's list prices: 3 and 15 per million, cache reads 0.30, writes 3.75.
        assert.equal(cost('smart'), Math.round(20 * 3 + 6 * 0.3 + 4 * 3.75 + 12 * 15) / 1e6);
        assert.equal(cost('negotiated'), Math.round(20 * 1 + 6 * 0.5 + 4 * 2 + 12 * 10) / 1e6);
        // A model with no list price and no configured one has no cost, not a cost of 0.
        assert.equal(cost('unknown'), null);
      } finally {
        await priced.stop();
      }
    });
  });

  describe('models', () => {
    it('lists the models of every page of GET /v1/models', async () => {
      const config = validateConfig(
        testConfig({
          backends: [{ name: 'claude', type: 'anthropic', url: upstreamUrl, api_key: UPSTREAM_KEY }],
          models: [{ name: 'x', targets: [{ backend: 'claude' }] }],
        }),
        {},
      );
      const adapter = new AnthropicAdapter(config.backends[0]!);
      const controller = new AbortController();
      try {
        const models = await adapter.listModels({
          signal: controller.signal,
          requestId: 'r1',
          abort: (reason) => {
            controller.abort(reason);
          },
        });
        assert.deepEqual(models, ['claude-sonnet-4-5-20250929', 'claude-haiku-4-5-20251001']);
      } finally {
        await adapter.close();
      }
    });
  });
});
