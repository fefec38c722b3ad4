/**
 * A strict stand-in for AWS Bedrock Runtime: it verifies each request's SigV4 signature (recomputed
 * with @smithy/signature-v4 from the method, path, signed headers and body it received, with the secret
 * it knows), checks the Converse body as Bedrock's validation does (roles, content block kinds, image
 * formats, toolConfig when tool blocks are present, cachePoint blocks in messages, system and tools),
 * and answers with scripted replies in Bedrock's
 * wire format: Converse JSON, ConverseStream as a binary application/vnd.amazon.eventstream (frames made
 * with @smithy/eventstream-codec, one split across two writes), InvokeModel JSON, and Bedrock's errors
 * (an HTTP status with x-amzn-errortype and {message}, or an exception event in the stream).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

export interface BedrockCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

export type StreamItem =
  | { readonly type: string; readonly payload: unknown }
  | { readonly exception: string; readonly message: string };

export type BedrockReply =
  | { readonly kind: 'json'; readonly body: unknown; readonly headers?: Record<string, string> }
  | { readonly kind: 'stream'; readonly events: readonly StreamItem[] }
  | { readonly kind: 'error'; readonly status: number; readonly type: string; readonly message: string };

export interface BedrockRequest {
  readonly method: string;
  /** The path as received (percent-encoded). */
  readonly path: string;
  /** The model id, decoded. */
  readonly modelId: string;
  readonly operation: 'converse' | 'converse-stream' | 'invoke' | 'other';
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown> | null;
}

const ERROR_NAMESPACE = ':http://internal.amazon.com/coral/com.amazon.bedrock/';
const BLOCK_KINDS = new Set([
  'text',
  'image',
  'toolUse',
  'toolResult',
  'reasoningContent',
  'document',
  'video',
  'cachePoint',
  'guardContent',
]);
const REQUEST_FIELDS = new Set([
  'messages',
  'system',
  'inferenceConfig',
  'toolConfig',
  'additionalModelRequestFields',
  'additionalModelResponseFieldPaths',
  'guardrailConfig',
  'promptVariables',
  'requestMetadata',
  'performanceConfig',
]);

class ValidationFailure extends Error {}

export class BedrockStandIn {
  readonly requests: BedrockRequest[] = [];
  /** Replies by the model id asked for, in order; `fallback` answers any other request. */
  private readonly replies = new Map<string, BedrockReply[]>();
  fallback: ((request: BedrockRequest) => BedrockReply) | null = null;
  private readonly server: Server;
  private readonly codec = new EventStreamCodec(toUtf8, fromUtf8);

  constructor(
    private readonly credentials: BedrockCredentials,
    private readonly region: string,
  ) {
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next requests for `modelId` get these replies, one each. */
  reply(modelId: string, ...replies: BedrockReply[]): void {
    const queue = this.replies.get(modelId) ?? [];
    queue.push(...replies);
    this.replies.set(modelId, queue);
  }

  last(): BedrockRequest {
    const request = this.requests.at(-1);
    if (request === undefined) throw new Error('the stand-in received no request');
    return request;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = request.url ?? '/';
    const match = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec(path);
    const operation = (match?.[2] ?? 'other') as BedrockRequest['operation'];
    let modelId = '';
    try {
      modelId = match === null ? '' : decodeURIComponent(match[1] ?? '');
    } catch {
      modelId = '';
    }
    const refusal = await this.checkSignature(request, path, raw);
    if (refusal !== null) {
      this.error(response, 403, refusal.type, refusal.message);
      return;
    }
    if (match === null || request.method !== 'POST') {
      this.error(response, 404, 'UnknownOperationException', 'Unknown operation');
      return;
    }
    let body: Record<string, unknown>;
    try {
      if (request.headers['content-type'] !== 'application/json')
        throw new ValidationFailure('Content-Type must be application/json');
      body = JSON.parse(raw) as Record<string, unknown>;
      if (operation !== 'invoke') validateConverse(body);
    } catch (error) {
      this.error(
        response,
        400,
        'ValidationException',
        error instanceof ValidationFailure
          ? error.message
          : 'Malformed input request, please reformat your input and try again.',
      );
      return;
    }
    const recorded: BedrockRequest = {
      method: request.method,
      path,
      modelId,
      operation,
      headers: request.headers,
      body,
    };
    this.requests.push(recorded);
    const reply = this.replies.get(modelId)?.shift() ?? this.fallback?.(recorded);
    if (reply === undefined) {
      this.error(response, 500, 'InternalServerException', 'no scripted reply');
      return;
    }
    if (reply.kind === 'error') {
      this.error(response, reply.status, reply.type, reply.message);
      return;
    }
    if (reply.kind === 'json') {
      response.writeHead(200, {
        'content-type': 'application/json',
        'x-amzn-requestid': 'b5a7f9a2-2f43-4b7f-9c1e-5d3f0e1a2b3c',
        ...reply.headers,
      });
      response.end(JSON.stringify(reply.body));
      return;
    }
    if (operation !== 'converse-stream') {
      this.error(
        response,
        400,
        'ValidationException',
        'stream reply scripted for a call that does not stream',
      );
      return;
    }
    response.writeHead(200, {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-requestid': 'b5a7f9a2-2f43-4b7f-9c1e-5d3f0e1a2b3c',
    });
    let split = true;
    for (const item of reply.events) {
      const frame = this.frame(item);
      if (split && frame.length > 20) {
        // One frame split across two writes: the reader must reassemble frames.
        split = false;
        await write(response, frame.subarray(0, 7));
        await write(response, frame.subarray(7));
      } else await write(response, frame);
    }
    response.end();
  }

  private frame(item: StreamItem): Uint8Array {
    if ('exception' in item) {
      return this.codec.encode({
        headers: {
          ':message-type': { type: 'string', value: 'exception' },
          ':exception-type': { type: 'string', value: item.exception },
          ':content-type': { type: 'string', value: 'application/json' },
        },
        body: fromUtf8(JSON.stringify({ message: item.message })),
      });
    }
    return this.codec.encode({
      headers: {
        ':message-type': { type: 'string', value: 'event' },
        ':event-type': { type: 'string', value: item.type },
        ':content-type': { type: 'string', value: 'application/json' },
      },
      body: fromUtf8(JSON.stringify(item.payload)),
    });
  }

  private error(response: ServerResponse, status: number, type: string, message: string): void {
    response.writeHead(status, {
      'content-type': 'application/json',
      'x-amzn-errortype': `${type}${ERROR_NAMESPACE}`,
      'x-amzn-requestid': 'c0ffee00-0000-4000-8000-000000000000',
    });
    response.end(JSON.stringify({ message }));
  }

  /**
   * Verifies the SigV4 signature as AWS does: the credential scope (key, date, region, service), the
   * session token, the date's freshness, and the signature recomputed over the signed headers.
   */
  private async checkSignature(
    request: IncomingMessage,
    path: string,
    body: string,
  ): Promise<{ type: string; message: string } | null> {
    const authorization = request.headers['authorization'];
    const date = request.headers['x-amz-date'];
    if (typeof authorization !== 'string' || typeof date !== 'string')
      return { type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' };
    const parsed =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    if (parsed === null)
      return {
        type: 'IncompleteSignatureException',
        message: 'Authorization header requires Credential, SignedHeaders and Signature',
      };
    const [, keyId, day, region, service, signedHeaders] = parsed;
    if (
      keyId !== this.credentials.accessKeyId ||
      request.headers['x-amz-security-token'] !== this.credentials.sessionToken
    )
      return {
        type: 'UnrecognizedClientException',
        message: 'The security token included in the request is invalid.',
      };
    if (region !== this.region || service !== 'bedrock' || day !== date.slice(0, 8))
      return {
        type: 'InvalidSignatureException',
        message: `Credential should be scoped to a valid region and service 'bedrock'`,
      };
    const signingDate = new Date(
      `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
    );
    if (Number.isNaN(signingDate.getTime()) || Math.abs(Date.now() - signingDate.getTime()) > 5 * 60_000)
      return { type: 'InvalidSignatureException', message: 'Signature expired' };
    const names = (signedHeaders ?? '').split(';');
    if (!names.includes('host') || !names.includes('x-amz-date'))
      return { type: 'InvalidSignatureException', message: 'host and x-amz-date must be signed' };
    const headers: Record<string, string> = {};
    for (const name of names) {
      const value = request.headers[name];
      if (typeof value !== 'string')
        return { type: 'InvalidSignatureException', message: `signed header ${name} is missing` };
      headers[name] = value;
    }
    const signer = new SignatureV4({
      service: 'bedrock',
      region: this.region,
      sha256: Sha256,
      credentials: this.credentials,
      uriEscapePath: true,
    });
    const host = headers['host'] ?? '';
    const signed = await signer.sign(
      {
        method: request.method ?? 'GET',
        protocol: 'http:',
        hostname: host.split(':')[0] ?? '',
        path,
        query: {},
        headers,
        ...(body === '' ? {} : { body }),
      },
      { signingDate },
    );
    if (signed.headers['authorization'] !== authorization)
      return {
        type: 'InvalidSignatureException',
        message:
          'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      };
    return null;
  }
}

function write(response: ServerResponse, bytes: Uint8Array): Promise<void> {
  return new Promise<void>((resolve) => response.write(bytes, () => resolve()));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A CachePointBlock as Bedrock takes it: `type` 'default' and an optional `ttl` of 5m or 1h, no more. */
function validateCachePoint(value: unknown, where: string): void {
  if (
    !isObject(value) ||
    value['type'] !== 'default' ||
    Object.keys(value).some((key) => key !== 'type' && key !== 'ttl') ||
    (value['ttl'] !== undefined && value['ttl'] !== '5m' && value['ttl'] !== '1h')
  )
    throw new ValidationFailure(
      `${where}.cachePoint is not valid: type must be 'default', ttl '5m' or '1h' when given`,
    );
}

/** System blocks: each exactly one of text, guardContent or cachePoint. */
function validateSystem(system: unknown): void {
  if (system === undefined) return;
  if (!Array.isArray(system)) throw new ValidationFailure('system must be a list');
  system.forEach((block: unknown, at) => {
    const keys = isObject(block) ? Object.keys(block) : [];
    if (keys.length !== 1 || !['text', 'guardContent', 'cachePoint'].includes(keys[0] ?? ''))
      throw new ValidationFailure(`system.${at} must have exactly one member of SystemContentBlock`);
    const value = (block as Record<string, unknown>)[keys[0] ?? ''];
    if (keys[0] === 'text' && (typeof value !== 'string' || value.trim() === ''))
      throw new ValidationFailure(
        `The text field in the SystemContentBlock object at system.${at} is blank.`,
      );
    if (keys[0] === 'cachePoint') validateCachePoint(value, `system.${at}`);
  });
}

/** Bedrock's own checks of a Converse body (the ones a translator can get wrong). */
function validateConverse(body: Record<string, unknown>): void {
  for (const key of Object.keys(body))
    if (!REQUEST_FIELDS.has(key))
      throw new ValidationFailure(`Malformed input request: extraneous key [${key}] is not permitted`);
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0)
    throw new ValidationFailure('messages must not be empty');
  let toolBlocks = false;
  messages.forEach((message: unknown, index) => {
    if (!isObject(message) || (message['role'] !== 'user' && message['role'] !== 'assistant'))
      throw new ValidationFailure(`messages.${index}.role must be user or assistant`);
    if (index === 0 && message['role'] !== 'user')
      throw new ValidationFailure('A conversation must start with a user message.');
    if (index > 0 && (messages[index - 1] as Record<string, unknown>)['role'] === message['role'])
      throw new ValidationFailure('A conversation must alternate between user and assistant roles.');
    const content = message['content'];
    if (!Array.isArray(content) || content.length === 0)
      throw new ValidationFailure(`messages.${index}.content must not be empty`);
    content.forEach((block: unknown, at) => {
      const keys = isObject(block) ? Object.keys(block) : [];
      if (keys.length !== 1 || !BLOCK_KINDS.has(keys[0] ?? ''))
        throw new ValidationFailure(
          `messages.${index}.content.${at} must have exactly one member of ContentBlock`,
        );
      const value = (block as Record<string, unknown>)[keys[0] ?? ''];
      if (keys[0] === 'text' && (typeof value !== 'string' || value.trim() === ''))
        throw new ValidationFailure(
          `The text field in the ContentBlock object at messages.${index}.content.${at} is blank.`,
        );
      if (keys[0] === 'image') {
        const image = value as Record<string, unknown>;
        if (
          !['png', 'jpeg', 'gif', 'webp'].includes(image['format'] as string) ||
          !isObject(image['source']) ||
          typeof image['source']['bytes'] !== 'string'
        )
          throw new ValidationFailure(`messages.${index}.content.${at}.image is not valid`);
      }
      if (keys[0] === 'cachePoint') validateCachePoint(value, `messages.${index}.content.${at}`);
      if (keys[0] === 'toolUse' || keys[0] === 'toolResult') toolBlocks = true;
      if (keys[0] === 'toolUse' && !isObject((value as Record<string, unknown>)['input']))
        throw new ValidationFailure(`messages.${index}.content.${at}.toolUse.input must be an object`);
    });
  });
  validateSystem(body['system']);
  if (toolBlocks && body['toolConfig'] === undefined)
    throw new ValidationFailure(
      'The toolConfig field must be defined when using toolUse and toolResult content blocks.',
    );
  const config = body['toolConfig'];
  if (config !== undefined) {
    if (!isObject(config) || !Array.isArray(config['tools']) || config['tools'].length === 0)
      throw new ValidationFailure('toolConfig.tools must not be empty');
    for (const [at, tool] of (config['tools'] as unknown[]).entries()) {
      // A Tool is exactly one of toolSpec or cachePoint.
      const keys = isObject(tool) ? Object.keys(tool) : [];
      if (keys.length !== 1)
        throw new ValidationFailure(`toolConfig.tools.${at} must have exactly one member of Tool`);
      if (keys[0] === 'cachePoint') {
        validateCachePoint((tool as Record<string, unknown>)['cachePoint'], `toolConfig.tools.${at}`);
        continue;
      }
      const spec = isObject(tool) ? tool['toolSpec'] : undefined;
      if (
        !isObject(spec) ||
        typeof spec['name'] !== 'string' ||
        !isObject(spec['inputSchema']) ||
        !isObject(spec['inputSchema']['json'])
      )
        throw new ValidationFailure('toolConfig.tools.toolSpec must have name and inputSchema.json');
    }
  }
  const inference = body['inferenceConfig'];
  if (inference !== undefined) {
    if (!isObject(inference)) throw new ValidationFailure('inferenceConfig must be an object');
    for (const key of Object.keys(inference))
      if (!['maxTokens', 'temperature', 'topP', 'stopSequences'].includes(key))
        throw new ValidationFailure(`Malformed input request: extraneous key [${key}] is not permitted`);
  }
}
