/**
 * A stand-in for an Azure OpenAI resource (https://RESOURCE.openai.azure.com), strict as the service:
 * `/openai/deployments/{deployment}/chat/completions` and `/embeddings` and `/openai/models`, each
 * with the `api-version` query parameter (without it, or with one the service does not know: 404
 * "Resource not found"); the `api-key` header or an Entra ID bearer token (else 401); a deployment that
 * exists (else 404 DeploymentNotFound); a JSON body with only the request fields API version 2024-10-21
 * takes (else 400 "Unrecognized request argument supplied").
 *
 * Answers follow the scripted upstream's scenarios (test/support/scripted-upstream.ts: a
 * `scenario:...` marker in the last user message, or a tool result), in Azure's wire format: the
 * prompt's and each choice's content filter results, and on streams a first event with the prompt's
 * filter results only (`choices: []`, empty id), chunks with `content_filter_results`, the usage chunk
 * when asked for, `data: [DONE]`. Two scenarios of its own: `scenario:filtered_prompt` gets Azure's 400
 * content_filter error, `scenario:filtered_completion` an answer cut by the filter (finish reason
 * content_filter). Error bodies are the fixtures of src/backends/azure-openai/fixtures/.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SCRIPTED_USAGE, planFor } from './scripted-upstream.js';

type Json = Record<string, unknown>;

/** API versions the stand-in knows (GA and preview ones the gateway may be configured with). */
export const AZURE_API_VERSIONS = ['2024-06-01', '2024-10-21', '2025-01-01-preview', '2025-04-01-preview'];

/** The text an answer cut by the content filter has before the cut. */
export const FILTERED_PARTIAL = 'Once upon';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../src/backends/azure-openai/fixtures/${name}`, import.meta.url), 'utf8');

export const AZURE_ERRORS = {
  contentFilter: fixture('error-content-filter-prompt.json'),
  rateLimit: fixture('error-rate-limit.json'),
  deploymentNotFound: fixture('error-deployment-not-found.json'),
  unauthorized: fixture('error-unauthorized.json'),
  resourceNotFound: fixture('error-resource-not-found.json'),
  serviceUnavailable: fixture('error-service-unavailable.json'),
} as const;

/** Request fields of createChatCompletionRequest in the 2024-10-21 reference. */
const CHAT_FIELDS = new Set([
  'messages',
  'model',
  'data_sources',
  'temperature',
  'top_p',
  'stream',
  'stream_options',
  'stop',
  'max_tokens',
  'max_completion_tokens',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'user',
  'n',
  'seed',
  'logprobs',
  'top_logprobs',
  'response_format',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'function_call',
  'functions',
]);
const EMBEDDING_FIELDS = new Set(['input', 'model', 'user', 'input_type', 'encoding_format', 'dimensions']);

const SAFE = { filtered: false, severity: 'safe' };
const PROMPT_FILTER_RESULTS = [
  {
    prompt_index: 0,
    content_filter_results: {
      hate: SAFE,
      jailbreak: { filtered: false, detected: false },
      self_harm: SAFE,
      sexual: SAFE,
      violence: SAFE,
    },
  },
];
const CHOICE_FILTER_RESULTS = { hate: SAFE, self_harm: SAFE, sexual: SAFE, violence: SAFE };
const VIOLENT = { ...CHOICE_FILTER_RESULTS, violence: { filtered: true, severity: 'high' } };

export interface AzureRequest {
  readonly method: string;
  /** Without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: Json;
}

/** A one-shot answer for the next request (a throttle, an overload, ...). */
export interface AzureFailure {
  readonly status: number;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface AzureStandInOptions {
  /** The resource's key: requests with `api-key: <it>` pass. */
  readonly apiKey?: string;
  /** A bearer token requests may carry instead (as Entra ID issues them). */
  readonly bearerToken?: string;
  /** Deployment names that exist. */
  readonly deployments: readonly string[];
}

function pieces(text: string, size = 7): string[] {
  const out: string[] = [];
  for (let at = 0; at < text.length; at += size) out.push(text.slice(at, at + size));
  return out;
}

function lastUserText(body: Json): string {
  const messages = Array.isArray(body['messages']) ? (body['messages'] as Json[]) : [];
  const last = [...messages].reverse().find((message) => message['role'] === 'user');
  const content = last?.['content'];
  if (typeof content === 'string') return content;
  return Array.isArray(content)
    ? (content as Json[]).map((part) => (typeof part['text'] === 'string' ? part['text'] : '')).join('')
    : '';
}

export class AzureOpenAiUpstream {
  readonly requests: AzureRequest[] = [];
  /** One-shot answers, used by the next requests in order. */
  readonly failures: AzureFailure[] = [];
  private counter = 0;

  private constructor(
    private readonly server: Server,
    /** The resource's endpoint, as a backend's `url`. */
    readonly url: string,
    private readonly options: AzureStandInOptions,
  ) {}

  static async start(options: AzureStandInOptions): Promise<AzureOpenAiUpstream> {
    let upstream: AzureOpenAiUpstream | null = null;
    const server = createServer((request, response) => {
      void upstream?.handle(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    upstream = new AzureOpenAiUpstream(server, `http://127.0.0.1:${port}`, options);
    return upstream;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = new URL(request.url ?? '/', 'http://stand-in');
    const method = request.method ?? 'GET';
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Json = {};
    if (method === 'POST') {
      if (!(request.headers['content-type'] ?? '').startsWith('application/json'))
        return error(response, 415, '{"error":{"code":"415","message":"Unsupported Media Type"}}');
      try {
        body = JSON.parse(raw) as Json;
      } catch {
        return invalid(
          response,
          "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
        );
      }
    }
    this.requests.push({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: request.headers,
      body,
    });

    const version = url.searchParams.get('api-version');
    if (version === null || !AZURE_API_VERSIONS.includes(version))
      return error(response, 404, AZURE_ERRORS.resourceNotFound);
    if (!this.authorized(request.headers)) return error(response, 401, AZURE_ERRORS.unauthorized);
    const failure = this.failures.shift();
    if (failure !== undefined) return error(response, failure.status, failure.body, failure.headers);

    if (method === 'GET' && url.pathname === '/openai/models') {
      return json(response, {
        data: [
          { id: 'gpt-4o-mini-2024-07-18', object: 'model', created_at: 1721606400, status: 'succeeded' },
        ],
        object: 'list',
      });
    }
    const route = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/.exec(url.pathname);
    if (route === null || method !== 'POST') return error(response, 404, AZURE_ERRORS.resourceNotFound);
    const deployment = decodeURIComponent(route[1] ?? '');
    if (!this.options.deployments.includes(deployment))
      return error(response, 404, AZURE_ERRORS.deploymentNotFound);
    const fields = route[2] === 'embeddings' ? EMBEDDING_FIELDS : CHAT_FIELDS;
    const unknown = Object.keys(body).find((field) => !fields.has(field));
    if (unknown !== undefined) return invalid(response, `Unrecognized request argument supplied: ${unknown}`);
    if (route[2] === 'embeddings') return this.embeddings(response, body);
    if (!Array.isArray(body['messages']) || body['messages'].length === 0)
      return invalid(response, "'messages' is a required property");
    const said = lastUserText(body);
    if (said.includes('scenario:filtered_prompt')) return error(response, 400, AZURE_ERRORS.contentFilter);
    if (said.includes('scenario:echo_key')) {
      // A broken proxy in front of the resource that repeats the request's credentials.
      const echoed = String(request.headers['api-key'] ?? request.headers['authorization'] ?? '');
      return error(
        response,
        500,
        JSON.stringify({ error: { code: '500', message: `Internal error for ${echoed}` } }),
      );
    }
    if (body['stream'] === true) this.stream(response, body, said.includes('scenario:filtered_completion'));
    else json(response, this.answer(body, said.includes('scenario:filtered_completion')));
  }

  private authorized(headers: IncomingMessage['headers']): boolean {
    const key = headers['api-key'];
    if (this.options.apiKey !== undefined && key === this.options.apiKey) return true;
    const bearer = /^Bearer (.+)$/.exec(headers['authorization'] ?? '')?.[1];
    return this.options.bearerToken !== undefined && bearer === this.options.bearerToken;
  }

  private callId(): string {
    this.counter += 1;
    return `call_azure${String(this.counter).padStart(4, '0')}`;
  }

  private answer(body: Json, filtered: boolean): Json {
    const plan = planFor(body, false);
    const calls = plan.calls.map((call) => ({
      id: this.callId(),
      type: 'function',
      function: { name: call.name, arguments: JSON.stringify(call.arguments) },
    }));
    const finish = filtered ? 'content_filter' : calls.length > 0 ? 'tool_calls' : 'stop';
    return {
      choices: [
        {
          content_filter_results: filtered ? VIOLENT : CHOICE_FILTER_RESULTS,
          finish_reason: finish,
          index: 0,
          logprobs: null,
          message: {
            content: filtered ? FILTERED_PARTIAL : calls.length > 0 ? null : plan.text,
            refusal: null,
            role: 'assistant',
            ...(calls.length > 0 && !filtered ? { tool_calls: calls } : {}),
          },
        },
      ],
      created: 1_764_666_000,
      id: 'chatcmpl-AzureStandIn',
      model: 'gpt-4o-mini-2024-07-18',
      object: 'chat.completion',
      prompt_filter_results: PROMPT_FILTER_RESULTS,
      system_fingerprint: 'fp_b705f0c291',
      usage: SCRIPTED_USAGE,
    };
  }

  private stream(response: ServerResponse, body: Json, filtered: boolean): void {
    const plan = planFor(body, false);
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
    });
    const event = (data: Json): void => {
      response.write(`data: ${JSON.stringify(data)}\n\n`);
    };
    const base = {
      created: 1_764_666_000,
      id: 'chatcmpl-AzureStandInStream',
      model: 'gpt-4o-mini-2024-07-18',
      object: 'chat.completion.chunk',
      system_fingerprint: 'fp_b705f0c291',
    };
    const chunk = (
      delta: Json,
      finish: string | null = null,
      results: Json = CHOICE_FILTER_RESULTS,
    ): void => {
      event({
        choices: [
          { content_filter_results: results, delta, finish_reason: finish, index: 0, logprobs: null },
        ],
        ...base,
      });
    };
    // Azure's first event: the prompt's filter results, before any chunk of the answer.
    event({
      choices: [],
      created: 0,
      id: '',
      model: '',
      object: '',
      prompt_filter_results: PROMPT_FILTER_RESULTS,
    });
    chunk({ content: '', refusal: null, role: 'assistant' }, null, {});
    if (filtered) {
      chunk({ content: FILTERED_PARTIAL });
      chunk({}, 'content_filter', VIOLENT);
    } else {
      for (const piece of pieces(plan.text)) chunk({ content: piece });
      plan.calls.forEach((call, index) => {
        chunk({
          tool_calls: [
            { index, id: this.callId(), type: 'function', function: { name: call.name, arguments: '' } },
          ],
        });
        for (const piece of pieces(JSON.stringify(call.arguments), 5))
          chunk({ tool_calls: [{ index, function: { arguments: piece } }] });
      });
      chunk({}, plan.calls.length > 0 ? 'tool_calls' : 'stop');
    }
    const options = body['stream_options'] as { include_usage?: unknown } | undefined;
    if (options?.include_usage === true) event({ choices: [], ...base, usage: SCRIPTED_USAGE });
    response.end('data: [DONE]\n\n');
  }

  private embeddings(response: ServerResponse, body: Json): void {
    const input = body['input'];
    const count = Array.isArray(input) ? input.length : 1;
    json(response, {
      data: Array.from({ length: count }, (_, index) => ({
        embedding: [index + 0.5, -0.25, 0.125],
        index,
        object: 'embedding',
      })),
      model: 'text-embedding-3-small',
      object: 'list',
      usage: { prompt_tokens: 3 * count, total_tokens: 3 * count },
    });
  }
}

function json(response: ServerResponse, body: unknown): void {
  response
    .writeHead(200, { 'content-type': 'application/json', 'apim-request-id': 'stand-in' })
    .end(JSON.stringify(body));
}

function error(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
}

/** A 400 in the shape Azure answers request validation with. */
function invalid(response: ServerResponse, message: string): void {
  error(
    response,
    400,
    JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: null } }),
  );
}
