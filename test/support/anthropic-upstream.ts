/**
 * A strict stand-in of Anthropic's Messages API (POST /v1/messages) answering the scripted upstream's
 * scenarios (test/support/scripted-upstream.ts: a `scenario:<name>` marker in the last user message,
 * a tool result answered with toolSaid), in Anthropic's wire format, whole and as Anthropic streams
 * (message_start, ping, content blocks with text and input_json deltas, message_delta, message_stop).
 * It refuses what Anthropic refuses: a wrong x-api-key (401), no anthropic-version, no max_tokens, an
 * Authorization header, roles other than user and assistant, empty text blocks, a malformed
 * `cache_control` or more than four of them (cacheBreakpoints lists where they arrived). For the provider matrix;
 * test/e2e/backend-anthropic.test.ts has its own, with Anthropic's errors and thinking signatures.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { imagesSeen, SCRIPTED_CALLS, SCRIPTED_TEXT, toolSaid } from './scripted-upstream.js';

type Json = Record<string, unknown>;

export interface AnthropicRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Json;
}

type Block = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Json };

const USAGE = {
  input_tokens: 9,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  output_tokens: 5,
};

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function blocksOf(message: Json | undefined): Json[] {
  const content = message?.['content'];
  return Array.isArray(content) ? content.filter(isObject) : [];
}

/**
 * Where the request carries `cache_control`, as paths (`system.0`, `tools.1`, `messages.2.content.0`,
 * `messages.3.content.0.content.1`), in Anthropic's order (tools, system, messages); with the marker found.
 */
export function cacheBreakpoints(body: Json): { path: string; cacheControl: unknown }[] {
  const found: { path: string; cacheControl: unknown }[] = [];
  const visit = (block: unknown, path: string): void => {
    if (!isObject(block)) return;
    if (block['cache_control'] !== undefined) found.push({ path, cacheControl: block['cache_control'] });
    const content = block['content'];
    if (Array.isArray(content)) content.forEach((item, index) => visit(item, `${path}.content.${index}`));
  };
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
  list(body['tools']).forEach((tool, index) => visit(tool, `tools.${index}`));
  list(body['system']).forEach((block, index) => visit(block, `system.${index}`));
  list(body['messages']).forEach((message, index) => {
    if (isObject(message))
      list(message['content']).forEach((block, at) => visit(block, `messages.${index}.content.${at}`));
  });
  return found;
}

/** Anthropic's checks of cache_control: its shape, and at most four a request. */
function cacheProblemOf(body: Json): string | null {
  const found = cacheBreakpoints(body);
  for (const { path, cacheControl } of found) {
    if (!isObject(cacheControl) || cacheControl['type'] !== 'ephemeral')
      return `${path}.cache_control.type: Input should be 'ephemeral'`;
    const extra = Object.keys(cacheControl).filter((key) => key !== 'type' && key !== 'ttl');
    if (extra.length > 0) return `${path}.cache_control.${extra[0]}: Extra inputs are not permitted`;
    const ttl = cacheControl['ttl'];
    if (ttl !== undefined && ttl !== '5m' && ttl !== '1h')
      return `${path}.cache_control.ttl: Input should be '5m' or '1h'`;
  }
  if (found.length > 4)
    return `A maximum of 4 blocks with cache_control may be provided. Found ${found.length}.`;
  return null;
}

/** A problem Anthropic would answer 400 for, or null. */
function problemOf(body: Json): string | null {
  if (typeof body['model'] !== 'string') return 'model: Field required';
  const max = body['max_tokens'];
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) return 'max_tokens: Field required';
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0) return 'messages: Field required';
  for (const [index, message] of (messages as unknown[]).entries()) {
    if (!isObject(message) || (message['role'] !== 'user' && message['role'] !== 'assistant'))
      return `messages.${index}.role: Input should be 'user' or 'assistant'`;
    for (const block of blocksOf(message))
      if (block['type'] === 'text' && block['text'] === '')
        return `messages.${index}.content: text content blocks must be non-empty`;
  }
  return cacheProblemOf(body);
}

/** The scripted answer: a tool result's echo, or the last user message's scenario. */
function plan(body: Json): Block[] {
  const messages = (body['messages'] as unknown[]).filter(isObject);
  const lastUser = [...messages].reverse().find((message) => message['role'] === 'user');
  const blocks = blocksOf(lastUser);
  const result = blocks.find((block) => block['type'] === 'tool_result');
  if (result !== undefined) {
    const content = result['content'];
    const said = Array.isArray(content)
      ? content
          .filter(isObject)
          .map((item) => (typeof item['text'] === 'string' ? item['text'] : ''))
          .join('')
      : typeof content === 'string'
        ? content
        : '';
    return [{ type: 'text', text: toolSaid(said) }];
  }
  const said =
    typeof lastUser?.['content'] === 'string'
      ? lastUser['content']
      : blocks.map((block) => (typeof block['text'] === 'string' ? block['text'] : '')).join('');
  const marker = /scenario:([a-z_]+)/.exec(said)?.[1] ?? 'text';
  if (marker === 'tools' || marker === 'parallel_tools')
    return SCRIPTED_CALLS[marker].map((call, index) => ({
      type: 'tool_use',
      id: `toolu_0${index + 1}Scripted${marker}`,
      name: call.name,
      input: call.arguments,
    }));
  if (marker === 'image') {
    const images = messages.flatMap((message) =>
      blocksOf(message).filter((block) => block['type'] === 'image'),
    );
    return [{ type: 'text', text: imagesSeen(images.length) }];
  }
  return [{ type: 'text', text: SCRIPTED_TEXT }];
}

function frame(event: string, data: Json): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Anthropic's stream of the blocks: text in pieces, tool input in JSON fragments. */
function stream(model: unknown, blocks: Block[], stopReason: string): string {
  let out = frame('message_start', {
    type: 'message_start',
    message: {
      id: 'msg_01Scripted',
      type: 'message',
      role: 'assistant',
      model,
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
    const start = block.type === 'text' ? { type: 'text', text: '' } : { ...block, input: {} };
    out += frame('content_block_start', { type: 'content_block_start', index, content_block: start });
    const whole = block.type === 'text' ? block.text : JSON.stringify(block.input);
    for (let at = 0; at < whole.length; at += 6) {
      const piece = whole.slice(at, at + 6);
      out += delta(
        block.type === 'text'
          ? { type: 'text_delta', text: piece }
          : { type: 'input_json_delta', partial_json: piece },
      );
    }
    out += frame('content_block_stop', { type: 'content_block_stop', index });
  });
  out += frame('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: USAGE.output_tokens },
  });
  return out + frame('message_stop', { type: 'message_stop' });
}

export class AnthropicUpstream {
  readonly requests: AnthropicRequest[] = [];
  private readonly server: Server;
  private address = '';

  private constructor(private readonly apiKey: string) {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.answer(request, Buffer.concat(chunks).toString('utf8'), response);
      });
    });
  }

  static async start(options: { apiKey: string }): Promise<AnthropicUpstream> {
    const upstream = new AnthropicUpstream(options.apiKey);
    await new Promise<void>((resolve) => upstream.server.listen(0, '127.0.0.1', resolve));
    upstream.address = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;
    return upstream;
  }

  /** The base URL, for the backend's `url`. */
  get url(): string {
    return this.address;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(request: IncomingMessage, text: string, response: ServerResponse): void {
    const error = (status: number, type: string, message: string): void => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: 'req_01Scripted' }));
    };
    if (request.headers['x-api-key'] !== this.apiKey)
      return error(401, 'authentication_error', 'invalid x-api-key');
    if (request.headers['anthropic-version'] !== '2023-06-01')
      return error(400, 'invalid_request_error', 'anthropic-version: header is required');
    if (request.headers['authorization'] !== undefined)
      return error(400, 'invalid_request_error', 'unexpected authorization header');
    if (request.method !== 'POST' || request.url !== '/v1/messages')
      return error(404, 'not_found_error', 'Not found');
    let body: Json;
    try {
      body = JSON.parse(text) as Json;
    } catch {
      return error(400, 'invalid_request_error', 'The request body is not valid JSON.');
    }
    this.requests.push({ method: request.method, path: request.url, headers: request.headers, body });
    const problem = problemOf(body);
    if (problem !== null) return error(400, 'invalid_request_error', problem);
    const blocks = plan(body);
    const stopReason = blocks.some((block) => block.type === 'tool_use') ? 'tool_use' : 'end_turn';
    if (body['stream'] === true) {
      response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      response.end(stream(body['model'], blocks, stopReason));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        id: 'msg_01Scripted',
        type: 'message',
        role: 'assistant',
        model: body['model'],
        content: blocks,
        stop_reason: stopReason,
        stop_sequence: null,
        usage: USAGE,
      }),
    );
  }
}
