/**
 * A stand-in for Google's generateContent API, strict as the service, in both its homes:
 *
 * - the Gemini API: POST /v1beta/models/{model}:generateContent, :streamGenerateContent?alt=sse,
 *   :batchEmbedContents, GET /v1beta/models; the key in `x-goog-api-key` (a wrong one: Google's 400
 *   API_KEY_INVALID; none: 403 PERMISSION_DENIED);
 * - Vertex AI: POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:...
 *   (and :predict for embeddings) with `Authorization: Bearer <a token this stand-in issued>` (else 401
 *   UNAUTHENTICATED); and its OAuth token service, POST /token, which checks the JWT bearer assertion a
 *   service account signs (RS256 with the key the test generated, issuer, scope, expiry) and issues a
 *   token.
 *
 * Bodies are checked as Google's parser does: unknown fields are a 400 INVALID_ARGUMENT naming them
 * ("Unknown name ..."), parts hold exactly one kind of data, roles are user or model, a
 * functionResponse has a name and an object; for gemini-3 models the first functionCall of every model
 * turn must carry a thoughtSignature (Gemini 3's validation). Answers follow the scripted scenarios
 * (a `scenario:...` marker in the last user text: text, tools, parallel_tools, image, json, reasoning,
 * plus blocked, safety, throttled and overloaded), in Google's wire format: candidates with parts,
 * usageMetadata on every event of a stream (final counts on the last), each function call whole.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  SCRIPTED_CALLS,
  SCRIPTED_JSON,
  SCRIPTED_NO_SCHEMA,
  SCRIPTED_REASONED_ANSWER,
  SCRIPTED_REASONING,
  SCRIPTED_TEXT,
  imagesSeen,
  toolSaid,
} from './scripted-upstream.js';

type Json = Record<string, unknown>;

export const GEMINI_STAND_IN_USAGE = { promptTokenCount: 9, candidatesTokenCount: 5, totalTokenCount: 14 };
export const THOUGHT_TOKENS = 3;
/** The retry delay Google's RESOURCE_EXHAUSTED answer carries (google.rpc.RetryInfo). */
export const RETRY_DELAY_SECONDS = 37;

const REQUEST_FIELDS = new Set([
  'contents',
  'systemInstruction',
  'tools',
  'toolConfig',
  'generationConfig',
  'safetySettings',
  'cachedContent',
  'labels',
]);
const GENERATION_FIELDS = new Set([
  'stopSequences',
  'responseMimeType',
  'responseSchema',
  'responseJsonSchema',
  'candidateCount',
  'maxOutputTokens',
  'temperature',
  'topP',
  'topK',
  'seed',
  'presencePenalty',
  'frequencyPenalty',
  'responseLogprobs',
  'logprobs',
  'thinkingConfig',
]);
const PART_DATA = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse'];
const PART_FIELDS = new Set([...PART_DATA, 'thought', 'thoughtSignature']);

export interface GeminiRecorded {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Json | null;
}

class GoogleError extends Error {
  constructor(
    readonly code: number,
    readonly status: string,
    message: string,
    readonly details: unknown[] = [],
  ) {
    super(message);
  }
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function invalid(message: string): GoogleError {
  return new GoogleError(400, 'INVALID_ARGUMENT', message);
}

export class GeminiUpstream {
  readonly requests: GeminiRecorded[] = [];
  /** Access tokens issued by the token service. */
  readonly issued: string[] = [];
  /** Token requests received (valid or not). */
  tokenRequests = 0;
  private readonly server: Server;
  private publicKey: KeyObject | null = null;
  private clientEmail = '';

  constructor(
    readonly apiKey: string,
    readonly vertex: { project: string; location: string },
  ) {
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
  }

  /** The service account whose assertions the token service accepts. */
  trust(clientEmail: string, publicKeyPem: string): void {
    this.clientEmail = clientEmail;
    this.publicKey = createPublicKey(publicKeyPem);
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The generate requests received (not token requests), last first. */
  last(): GeminiRecorded {
    const found = this.requests.at(-1);
    if (found === undefined) throw new Error('no request reached the stand-in');
    return found;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(request.url ?? '/', 'http://stand-in');
    try {
      if (url.pathname === '/token') {
        this.token(request, raw, response);
        return;
      }
      let body: Json | null = null;
      if (request.method === 'POST') {
        try {
          const parsed = JSON.parse(raw) as unknown;
          if (!isObject(parsed)) throw new Error();
          body = parsed;
        } catch {
          throw invalid('Invalid JSON payload received.');
        }
      }
      this.requests.push({
        method: request.method ?? '',
        path: `${url.pathname}${url.search}`,
        headers: request.headers,
        body,
      });
      const route = this.route(request, url);
      this.authenticate(request, route.vertex);
      if (route.method === 'list') {
        json(response, 200, {
          models: [{ name: 'models/gemini-2.5-flash' }, { name: 'models/gemini-embedding-001' }],
        });
        return;
      }
      if (body === null) throw new GoogleError(404, 'NOT_FOUND', 'Not found');
      if (route.method === 'batchEmbedContents') return json(response, 200, embedBatch(body, route.model));
      if (route.method === 'predict') return json(response, 200, predict(body));
      this.answer(body, route, response);
    } catch (error) {
      if (error instanceof GoogleError) {
        json(response, error.code, {
          error: {
            code: error.code,
            message: error.message,
            status: error.status,
            ...(error.details.length > 0 ? { details: error.details } : {}),
          },
        });
      } else {
        json(response, 500, { error: { code: 500, message: String(error), status: 'INTERNAL' } });
      }
    }
  }

  private route(request: IncomingMessage, url: URL): { vertex: boolean; model: string; method: string } {
    const path = url.pathname;
    if (request.method === 'GET' && path === '/v1beta/models')
      return { vertex: false, model: '', method: 'list' };
    const gemini = /^\/v1beta\/models\/([A-Za-z0-9._-]+):([A-Za-z]+)$/.exec(path);
    const vertex = new RegExp(
      `^/v1/projects/${this.vertex.project}/locations/${this.vertex.location}/publishers/google/models/([A-Za-z0-9._@-]+):([A-Za-z]+)$`,
    ).exec(path);
    const match = gemini ?? vertex;
    if (request.method !== 'POST' || match === null)
      throw new GoogleError(404, 'NOT_FOUND', `Not found: ${path}`);
    const method = match[2] as string;
    const allowed =
      gemini !== null
        ? ['generateContent', 'streamGenerateContent', 'batchEmbedContents']
        : ['generateContent', 'streamGenerateContent', 'predict'];
    if (!allowed.includes(method)) throw new GoogleError(404, 'NOT_FOUND', `Method not found: ${method}`);
    if (method === 'streamGenerateContent' && url.searchParams.get('alt') !== 'sse') {
      throw invalid('this stand-in streams server-sent events only: alt=sse is required');
    }
    return { vertex: vertex !== null, model: match[1] as string, method };
  }

  private authenticate(request: IncomingMessage, vertex: boolean): void {
    const authorization = request.headers['authorization'];
    if (vertex) {
      const token = typeof authorization === 'string' ? /^Bearer (\S+)$/.exec(authorization)?.[1] : undefined;
      if (token === undefined || !this.issued.includes(token)) {
        throw new GoogleError(
          401,
          'UNAUTHENTICATED',
          'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        );
      }
      return;
    }
    if (authorization !== undefined) {
      throw new GoogleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    }
    const key = request.headers['x-goog-api-key'];
    if (key === undefined)
      throw new GoogleError(
        403,
        'PERMISSION_DENIED',
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      );
    if (key !== this.apiKey) {
      throw new GoogleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'API_KEY_INVALID',
          domain: 'googleapis.com',
        },
      ]);
    }
  }

  /** Google's token service for a service account: the JWT bearer grant with an RS256 assertion. */
  private token(request: IncomingMessage, raw: string, response: ServerResponse): void {
    this.tokenRequests++;
    const form = new URLSearchParams(raw);
    const refuse = (description: string): void =>
      json(response, 400, { error: 'invalid_grant', error_description: description });
    if (
      request.method !== 'POST' ||
      !String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded')
    ) {
      refuse('expected a form POST');
      return;
    }
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      refuse('Invalid grant_type');
      return;
    }
    const [header, payload, signature] = (form.get('assertion') ?? '').split('.');
    if (header === undefined || payload === undefined || signature === undefined || this.publicKey === null) {
      refuse('Invalid JWT');
      return;
    }
    const signed = verify(
      'RSA-SHA256',
      Buffer.from(`${header}.${payload}`),
      this.publicKey,
      Buffer.from(signature, 'base64url'),
    );
    if (!signed) {
      refuse('Invalid JWT Signature.');
      return;
    }
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Json;
    const headerClaims = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Json;
    const now = Math.floor(Date.now() / 1000);
    if (
      headerClaims['alg'] !== 'RS256' ||
      claims['iss'] !== this.clientEmail ||
      claims['aud'] !== 'https://oauth2.googleapis.com/token' ||
      typeof claims['scope'] !== 'string' ||
      !claims['scope'].split(' ').includes('https://www.googleapis.com/auth/cloud-platform') ||
      typeof claims['exp'] !== 'number' ||
      claims['exp'] <= now
    ) {
      refuse('Invalid JWT: claims');
      return;
    }
    const token = `ya29.stand-in-${this.issued.length}-${Math.random().toString(36).slice(2)}`;
    this.issued.push(token);
    json(response, 200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
  }

  private answer(body: Json, route: { model: string; method: string }, response: ServerResponse): void {
    const plan = planOf(body, route.model);
    if (plan.error !== undefined) throw plan.error;
    const usage = {
      ...GEMINI_STAND_IN_USAGE,
      ...(plan.thought === null
        ? {}
        : {
            thoughtsTokenCount: THOUGHT_TOKENS,
            totalTokenCount: GEMINI_STAND_IN_USAGE.totalTokenCount + THOUGHT_TOKENS,
          }),
    };
    const common = { modelVersion: route.model, responseId: 'stand-in-response-id' };
    if (plan.blocked) {
      const blocked = {
        promptFeedback: {
          blockReason: 'SAFETY',
          safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH' }],
        },
        usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 },
        ...common,
      };
      if (route.method === 'streamGenerateContent') sse(response, [blocked]);
      else json(response, 200, blocked);
      return;
    }
    const parts: Json[] = [];
    if (plan.thought !== null) parts.push({ text: plan.thought, thought: true });
    if (plan.text !== '') parts.push({ text: plan.text });
    plan.calls.forEach((call, index) =>
      parts.push({
        functionCall: { name: call.name, args: call.arguments },
        ...(index === 0 ? { thoughtSignature: 'c2lnbmF0dXJlLW9mLXRoZS1zdGFuZC1pbg==' } : {}),
      }),
    );
    if (route.method === 'generateContent') {
      json(response, 200, {
        candidates: [{ content: { role: 'model', parts }, finishReason: plan.finish, index: 0 }],
        usageMetadata: usage,
        ...common,
      });
      return;
    }
    // Streamed: the thought, the text in two pieces, the calls whole; the finish reason and the final
    // counts on the last event, the prompt's count on every event.
    const events: Json[] = [];
    const event = (eventParts: Json[], last: boolean): Json => ({
      candidates: [
        {
          content: { role: 'model', parts: eventParts },
          ...(last ? { finishReason: plan.finish } : {}),
          index: 0,
        },
      ],
      usageMetadata: last ? usage : { promptTokenCount: 9, totalTokenCount: 9 },
      ...common,
    });
    const pieces: Json[][] = [];
    if (plan.thought !== null) pieces.push([{ text: plan.thought, thought: true }]);
    if (plan.text !== '') {
      const middle = Math.ceil(plan.text.length / 2);
      pieces.push([{ text: plan.text.slice(0, middle) }], [{ text: plan.text.slice(middle) }]);
    }
    const calls = parts.filter((part) => 'functionCall' in part);
    if (calls.length > 0) pieces.push(calls);
    if (plan.streamError === true) {
      events.push(event(pieces[0] ?? [], false), {
        error: {
          code: 503,
          message: 'The model is overloaded. Please try again later.',
          status: 'UNAVAILABLE',
        },
      });
      sse(response, events);
      return;
    }
    pieces.forEach((piece, index) => events.push(event(piece, index === pieces.length - 1)));
    sse(response, events);
  }
}

interface Plan {
  thought: string | null;
  text: string;
  calls: readonly { name: string; arguments: Record<string, unknown> }[];
  finish: string;
  blocked: boolean;
  /** Streamed: Google's error as an event after the first piece of text, then the end. */
  streamError?: boolean;
  error?: GoogleError;
}

/** Checks the request as Google would, and plans the answer from the scenario marker or a tool result. */
function planOf(body: Json, model: string): Plan {
  for (const field of Object.keys(body)) {
    if (!REQUEST_FIELDS.has(field))
      throw invalid(`Invalid JSON payload received. Unknown name "${field}": Cannot find field.`);
  }
  const contents = body['contents'];
  if (!Array.isArray(contents) || contents.length === 0)
    throw invalid('* GenerateContentRequest.contents: contents is not specified');
  const system = body['systemInstruction'];
  if (system !== undefined && (!isObject(system) || !Array.isArray(system['parts'])))
    throw invalid('systemInstruction must be a Content');
  const config = body['generationConfig'];
  if (config !== undefined) {
    if (!isObject(config)) throw invalid('generation_config must be an object');
    for (const field of Object.keys(config)) {
      if (!GENERATION_FIELDS.has(field))
        throw invalid(
          `Invalid JSON payload received. Unknown name "${field}" at 'generation_config': Cannot find field.`,
        );
    }
  }
  checkTools(body);
  let images = 0;
  let lastUser: Json[] = [];
  let turnStart = 0;
  contents.forEach((content: unknown, index) => {
    if (!isObject(content) || (content['role'] !== 'user' && content['role'] !== 'model'))
      throw invalid(`* GenerateContentRequest.contents[${index}].role: must be user or model`);
    const parts = content['parts'];
    if (!Array.isArray(parts) || parts.length === 0)
      throw invalid(`* GenerateContentRequest.contents[${index}].parts: contents.parts must not be empty.`);
    parts.forEach((part: unknown, partIndex) => checkPart(part, `contents[${index}].parts[${partIndex}]`));
    if (content['role'] === 'user') {
      lastUser = parts as Json[];
      if ((parts as Json[]).some((part) => typeof part['text'] === 'string')) turnStart = index;
    }
  });
  // Gemini 3: the first function call of every model step in the current turn needs its signature.
  if (model.startsWith('gemini-3')) {
    contents.slice(turnStart).forEach((content: Json, offset) => {
      if (content['role'] !== 'model') return;
      const first = (content['parts'] as Json[]).find((part) => isObject(part['functionCall']));
      if (first !== undefined && typeof first['thoughtSignature'] !== 'string') {
        throw invalid(
          `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${String((first['functionCall'] as Json)['name'])}\` , position ${turnStart + offset + 1}.`,
        );
      }
    });
  }
  images = lastUser.filter(
    (part) => isObject(part['inlineData']) && String(part['inlineData']['mimeType']).startsWith('image/'),
  ).length;
  const said = lastUser.map((part) => (typeof part['text'] === 'string' ? part['text'] : '')).join('');
  const result = lastUser.find((part) => isObject(part['functionResponse']));
  const base = { thought: null, calls: [], finish: 'STOP', blocked: false };
  if (result !== undefined && !/scenario:/.test(said)) {
    const response = (result['functionResponse'] as Json)['response'] as Json;
    const output = typeof response['output'] === 'string' ? response['output'] : JSON.stringify(response);
    return { ...base, text: toolSaid(output) };
  }
  const scenario = /scenario:([a-z_]+)/.exec(said)?.[1] ?? 'text';
  switch (scenario) {
    case 'tools':
    case 'parallel_tools':
      return { ...base, text: '', calls: SCRIPTED_CALLS[scenario] };
    case 'image':
      return { ...base, text: imagesSeen(images) };
    case 'json': {
      const asked =
        isObject(config) &&
        config['responseMimeType'] === 'application/json' &&
        isObject(config['responseJsonSchema']);
      return { ...base, text: asked ? SCRIPTED_JSON : SCRIPTED_NO_SCHEMA };
    }
    case 'reasoning': {
      const thinking = isObject(config) ? config['thinkingConfig'] : undefined;
      const include = isObject(thinking) && thinking['includeThoughts'] === true;
      return { ...base, thought: include ? SCRIPTED_REASONING : null, text: SCRIPTED_REASONED_ANSWER };
    }
    case 'blocked':
      return { ...base, text: '', blocked: true };
    case 'safety':
      return { ...base, text: 'I can tell you about', finish: 'SAFETY' };
    case 'throttled':
      return {
        ...base,
        text: '',
        error: new GoogleError(
          429,
          'RESOURCE_EXHAUSTED',
          'You exceeded your current quota, please check your plan and billing details.',
          [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${RETRY_DELAY_SECONDS}s` }],
        ),
      };
    case 'stream_error':
      return { ...base, text: SCRIPTED_TEXT, streamError: true };
    case 'overloaded':
      return {
        ...base,
        text: '',
        error: new GoogleError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'),
      };
    default:
      return { ...base, text: SCRIPTED_TEXT };
  }
}

function checkTools(body: Json): void {
  const tools = body['tools'];
  if (tools === undefined) return;
  if (!Array.isArray(tools)) throw invalid('tools must be a list');
  for (const tool of tools) {
    if (!isObject(tool) || !Array.isArray(tool['functionDeclarations']))
      throw invalid('tools[].functionDeclarations is required here');
    for (const declaration of tool['functionDeclarations'] as unknown[]) {
      if (!isObject(declaration) || typeof declaration['name'] !== 'string')
        throw invalid('* function_declarations[].name: required');
      if ('parameters' in declaration && 'parametersJsonSchema' in declaration)
        throw invalid('parameters and parametersJsonSchema are mutually exclusive');
      for (const key of Object.keys(declaration)) {
        if (!['name', 'description', 'parameters', 'parametersJsonSchema'].includes(key))
          throw invalid(`Unknown name "${key}" at 'tools[0].function_declarations[0]': Cannot find field.`);
      }
    }
  }
  const config = body['toolConfig'];
  if (config !== undefined) {
    const mode =
      isObject(config) && isObject(config['functionCallingConfig'])
        ? config['functionCallingConfig']['mode']
        : undefined;
    if (!['AUTO', 'ANY', 'NONE', 'VALIDATED'].includes(String(mode)))
      throw invalid('toolConfig.functionCallingConfig.mode is invalid');
  }
}

function checkPart(part: unknown, at: string): void {
  if (!isObject(part)) throw invalid(`* GenerateContentRequest.${at}: must be a Part`);
  for (const key of Object.keys(part))
    if (!PART_FIELDS.has(key))
      throw invalid(`Invalid JSON payload received. Unknown name "${key}" at '${at}': Cannot find field.`);
  const data = PART_DATA.filter((key) => key in part);
  if (data.length !== 1)
    throw invalid(
      `* GenerateContentRequest.${at}.data: required oneof field 'data' must have one initialized field`,
    );
  const inline = part['inlineData'];
  if (
    inline !== undefined &&
    (!isObject(inline) ||
      typeof inline['mimeType'] !== 'string' ||
      typeof inline['data'] !== 'string' ||
      !/^[A-Za-z0-9+/]*={0,2}$/.test(inline['data']))
  ) {
    throw invalid(`* GenerateContentRequest.${at}.inline_data: mimeType and base64 data are required`);
  }
  const response = part['functionResponse'];
  if (
    response !== undefined &&
    (!isObject(response) ||
      typeof response['name'] !== 'string' ||
      response['name'] === '' ||
      !isObject(response['response']))
  ) {
    throw invalid(`* GenerateContentRequest.${at}.function_response.name: Name cannot be empty.`);
  }
  const call = part['functionCall'];
  if (
    call !== undefined &&
    (!isObject(call) ||
      typeof call['name'] !== 'string' ||
      (call['args'] !== undefined && !isObject(call['args'])))
  ) {
    throw invalid(`* GenerateContentRequest.${at}.function_call: name and an args object are required`);
  }
}

function embedBatch(body: Json, model: string): Json {
  const requests = body['requests'];
  if (!Array.isArray(requests) || requests.length === 0 || requests.length > 100)
    throw invalid('* BatchEmbedContentsRequest.requests: between 1 and 100 requests');
  return {
    embeddings: requests.map((request: unknown, index) => {
      if (!isObject(request) || request['model'] !== `models/${model}`)
        throw invalid(`* BatchEmbedContentsRequest.model: unexpected model name format`);
      const content = request['content'] as Json | undefined;
      const first = (content?.['parts'] as Json[] | undefined)?.[0]?.['text'];
      const text = typeof first === 'string' ? first : '';
      const size = typeof request['outputDimensionality'] === 'number' ? request['outputDimensionality'] : 4;
      return { values: Array.from({ length: size }, (_, at) => (text.length + index + at) / 100) };
    }),
  };
}

function predict(body: Json): Json {
  const instances = body['instances'];
  if (!Array.isArray(instances) || instances.length === 0) throw invalid('instances are required');
  const parameters = body['parameters'] as Json | undefined;
  const size =
    typeof parameters?.['outputDimensionality'] === 'number' ? parameters['outputDimensionality'] : 4;
  return {
    predictions: instances.map((instance: unknown, index) => {
      const content = isObject(instance) ? instance['content'] : undefined;
      if (typeof content !== 'string') throw invalid('instances[].content must be a string');
      return {
        embeddings: {
          statistics: { truncated: false, token_count: content.split(' ').length },
          values: Array.from({ length: size }, (_, at) => (content.length + index + at) / 100),
        },
      };
    }),
    metadata: { billableCharacterCount: 10 },
  };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  response.end(JSON.stringify(body));
}

/** Google's SSE: `data: <GenerateContentResponse>` and CRLF CRLF per event, no event names, no [DONE]. */
function sse(response: ServerResponse, events: readonly Json[]): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const event of events) response.write(`data: ${JSON.stringify(event)}\r\n\r\n`);
  response.end();
}
