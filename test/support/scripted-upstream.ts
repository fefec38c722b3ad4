/**
 * A scripted LLM server for protocol tests: answers OpenAI's /v1/chat/completions (JSON and SSE) and
 * Ollama's /api/chat (JSON and NDJSON) with a scenario chosen by a marker in the last user message
 * (`scenario:tools`, ...), in each wire format exactly as the real servers send it: OpenAI-compatible
 * servers (vLLM) fragment tool call arguments across chunks and report usage on the last chunk; Ollama
 * sends each tool call whole, one call per line, and `thinking` for reasoning. Every request is recorded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Scenario = 'text' | 'tools' | 'parallel_tools' | 'reasoning' | 'image' | 'json';

export const SCRIPTED_TEXT = 'Hello from the scripted upstream.';
export const SCRIPTED_REASONING = 'Let me think.';
export const SCRIPTED_REASONED_ANSWER = '42.';
export const SCRIPTED_JSON = '{"answer":42}';
export const SCRIPTED_NO_SCHEMA = 'no schema';
export const SCRIPTED_CALLS: Readonly<
  Record<'tools' | 'parallel_tools', readonly { name: string; arguments: Record<string, unknown> }[]>
> = {
  tools: [{ name: 'get_weather', arguments: { city: 'Paris' } }],
  parallel_tools: [
    { name: 'get_weather', arguments: { city: 'Paris' } },
    { name: 'get_time', arguments: { zone: 'Asia/Tokyo' } },
  ],
};
export const SCRIPTED_USAGE = { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 };

/** The text answering a tool result. */
export function toolSaid(result: string): string {
  return `The tool said: ${result}`;
}

/** The text answering a request with `count` images. */
export function imagesSeen(count: number): string {
  return `I see ${count} image(s).`;
}

export interface ScriptedRequest {
  readonly path: string;
  readonly body: Record<string, unknown>;
}

interface Plan {
  readonly reasoning: string | null;
  readonly text: string;
  readonly calls: readonly { name: string; arguments: Record<string, unknown> }[];
}

type Message = { role?: unknown; content?: unknown; images?: unknown };

function textOfContent(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: { type?: unknown; text?: unknown }) =>
      part.type === 'text' && typeof part.text === 'string' ? part.text : '',
    )
    .join('');
}

function countImages(messages: readonly Message[]): number {
  let count = 0;
  for (const message of messages) {
    if (Array.isArray(message.images)) count += message.images.length;
    if (Array.isArray(message.content))
      count += message.content.filter((part: { type?: unknown }) => part.type === 'image_url').length;
  }
  return count;
}

/** What to answer: from the last message (a tool result) or the marker in the last user message. */
export function planFor(body: Record<string, unknown>, ollama: boolean): Plan {
  const messages = (Array.isArray(body['messages']) ? body['messages'] : []) as Message[];
  const last = messages.at(-1);
  if (last?.role === 'tool')
    return { reasoning: null, text: toolSaid(textOfContent(last.content)), calls: [] };
  const lastUser = [...messages].reverse().find((message) => message.role === 'user');
  const marker = /scenario:([a-z_]+)/.exec(textOfContent(lastUser?.content))?.[1] ?? 'text';
  switch (marker as Scenario) {
    case 'tools':
    case 'parallel_tools':
      return { reasoning: null, text: '', calls: SCRIPTED_CALLS[marker as 'tools' | 'parallel_tools'] };
    case 'reasoning':
      return { reasoning: SCRIPTED_REASONING, text: SCRIPTED_REASONED_ANSWER, calls: [] };
    case 'image':
      return { reasoning: null, text: imagesSeen(countImages(messages)), calls: [] };
    case 'json': {
      const format = ollama
        ? body['format']
        : (body['response_format'] as { type?: unknown } | undefined)?.type;
      const hasSchema = ollama ? format !== null && typeof format === 'object' : format === 'json_schema';
      return { reasoning: null, text: hasSchema ? SCRIPTED_JSON : SCRIPTED_NO_SCHEMA, calls: [] };
    }
    case 'text':
    default:
      return { reasoning: null, text: SCRIPTED_TEXT, calls: [] };
  }
}

/** Splits text into pieces of a few characters, as tokens arrive. */
function pieces(text: string, size = 7): string[] {
  const out: string[] = [];
  for (let at = 0; at < text.length; at += size) out.push(text.slice(at, at + size));
  return out;
}

export class ScriptedUpstream {
  readonly requests: ScriptedRequest[] = [];
  private counter = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  get openAiUrl(): string {
    return `${this.url}/v1`;
  }

  get ollamaUrl(): string {
    return this.url;
  }

  static async start(): Promise<ScriptedUpstream> {
    let upstream: ScriptedUpstream | null = null;
    const server = createServer((request, response) => {
      void upstream?.handle(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    upstream = new ScriptedUpstream(server, `http://127.0.0.1:${port}`);
    return upstream;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const path = (request.url ?? '/').split('?')[0] as string;
    let body: Record<string, unknown> = {};
    if (chunks.length > 0) {
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid JSON"}');
        return;
      }
    }
    this.requests.push({ path, body });
    if (request.method === 'GET' && path === '/v1/models') {
      json(response, {
        object: 'list',
        data: [{ id: 'scripted', object: 'model', created: 0, owned_by: 'test' }],
      });
    } else if (request.method === 'GET' && path === '/api/tags') {
      json(response, { models: [{ name: 'scripted:latest', model: 'scripted:latest' }] });
    } else if (path === '/v1/chat/completions') {
      const plan = planFor(body, false);
      if (body['stream'] === true) this.openAiStream(response, body, plan);
      else json(response, this.openAiAnswer(body, plan));
    } else if (path === '/api/chat') {
      const plan = planFor(body, true);
      if (body['stream'] === false) json(response, this.ollamaLine(body, plan, true));
      else this.ollamaStream(response, body, plan);
    } else if (path === '/v1/embeddings' || path === '/api/embed') {
      const input = body['input'];
      const count = Array.isArray(input) ? input.length : 1;
      const vectors = Array.from({ length: count }, (_, index) => [index + 0.5, -0.25, 0.125]);
      if (path === '/api/embed')
        json(response, { model: body['model'], embeddings: vectors, prompt_eval_count: 3 * count });
      else
        json(response, {
          object: 'list',
          data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
          model: body['model'],
          usage: { prompt_tokens: 3 * count, total_tokens: 3 * count },
        });
    } else {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    }
  }

  private callId(): string {
    this.counter += 1;
    return `call_scripted_${this.counter}`;
  }

  private openAiAnswer(body: Record<string, unknown>, plan: Plan): Record<string, unknown> {
    const calls = plan.calls.map((call) => ({
      id: this.callId(),
      type: 'function',
      function: { name: call.name, arguments: JSON.stringify(call.arguments) },
    }));
    return {
      id: 'chatcmpl-scripted',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: body['model'],
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: calls.length > 0 ? null : plan.text,
            ...(plan.reasoning === null ? {} : { reasoning_content: plan.reasoning }),
            ...(calls.length > 0 ? { tool_calls: calls } : {}),
          },
          logprobs: null,
          finish_reason: calls.length > 0 ? 'tool_calls' : 'stop',
        },
      ],
      usage: SCRIPTED_USAGE,
    };
  }

  private openAiStream(response: ServerResponse, body: Record<string, unknown>, plan: Plan): void {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const base = {
      id: 'chatcmpl-scripted',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: body['model'],
    };
    const send = (delta: Record<string, unknown>, finish: string | null = null): void => {
      response.write(
        `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`,
      );
    };
    send({ role: 'assistant', content: '' });
    if (plan.reasoning !== null)
      for (const piece of pieces(plan.reasoning)) send({ reasoning_content: piece });
    for (const piece of pieces(plan.text)) send({ content: piece });
    // vLLM: the first delta of each call has its id, type and name; the arguments follow in fragments.
    plan.calls.forEach((call, index) => {
      send({
        tool_calls: [
          { index, id: this.callId(), type: 'function', function: { name: call.name, arguments: '' } },
        ],
      });
      for (const piece of pieces(JSON.stringify(call.arguments), 5))
        send({ tool_calls: [{ index, function: { arguments: piece } }] });
    });
    send({}, plan.calls.length > 0 ? 'tool_calls' : 'stop');
    const options = body['stream_options'] as { include_usage?: unknown } | undefined;
    if (options?.include_usage === true)
      response.write(`data: ${JSON.stringify({ ...base, choices: [], usage: SCRIPTED_USAGE })}\n\n`);
    response.end('data: [DONE]\n\n');
  }

  private ollamaLine(body: Record<string, unknown>, plan: Plan, whole: boolean): Record<string, unknown> {
    return {
      model: body['model'],
      created_at: '2026-12-02T09:00:00.000000000Z',
      message: {
        role: 'assistant',
        content: whole ? plan.text : '',
        ...(whole && plan.reasoning !== null ? { thinking: plan.reasoning } : {}),
        ...(whole && plan.calls.length > 0
          ? {
              tool_calls: plan.calls.map((call, index) => ({
                function: { index, name: call.name, arguments: call.arguments },
              })),
            }
          : {}),
      },
      done_reason: 'stop',
      done: true,
      total_duration: 1000,
      load_duration: 10,
      prompt_eval_count: SCRIPTED_USAGE.prompt_tokens,
      prompt_eval_duration: 100,
      eval_count: SCRIPTED_USAGE.completion_tokens,
      eval_duration: 500,
    };
  }

  private ollamaStream(response: ServerResponse, body: Record<string, unknown>, plan: Plan): void {
    response.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const line = (message: Record<string, unknown>): void => {
      response.write(
        `${JSON.stringify({ model: body['model'], created_at: '2026-12-02T09:00:00.000000000Z', message: { role: 'assistant', content: '', ...message }, done: false })}\n`,
      );
    };
    if (plan.reasoning !== null) for (const piece of pieces(plan.reasoning)) line({ thinking: piece });
    for (const piece of pieces(plan.text)) line({ content: piece });
    // Ollama: each tool call whole, on its own line, numbered by function.index.
    plan.calls.forEach((call, index) => {
      line({ tool_calls: [{ function: { index, name: call.name, arguments: call.arguments } }] });
    });
    response.end(
      `${JSON.stringify(this.ollamaLine(body, { reasoning: null, text: '', calls: [] }, true))}\n`,
    );
  }
}

function json(response: ServerResponse, body: unknown): void {
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
