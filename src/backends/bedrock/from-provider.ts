/**
 * AWS Bedrock's answers → the conversation model: a Converse response as an Answer, ConverseStream's
 * events (already taken out of their binary frames, see event-stream.ts) as StreamEvents, a stream
 * exception as a GatewayError, and the embedding models' InvokeModel answers as vectors. Pure.
 * Shapes from the Bedrock Runtime API reference (ConverseOutput, ConverseStreamOutput, TokenUsage,
 * StopReason) and the AWS SDK's bedrock-runtime models.
 */
import type { Answer, FinishReason, Part, StreamEvent, Usage } from '../../conversation/model.js';
import type { GatewayError } from '../../errors/errors.js';
import { InvalidRequestError, UpstreamClientError, UpstreamError } from '../../errors/errors.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Bedrock's stopReason → the model's finish reason; unknown ones are kept as given (`other`). */
export function finishReasonOf(stopReason: unknown): { reason: FinishReason; raw?: string } {
  switch (stopReason) {
    case 'end_turn':
    case 'stop_sequence':
      return { reason: 'stop' };
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return { reason: 'length' };
    case 'tool_use':
      return { reason: 'tool_calls' };
    case 'guardrail_intervened':
    case 'content_filtered':
      return { reason: 'content_filter' };
    default:
      return typeof stopReason === 'string' && stopReason !== ''
        ? { reason: 'other', raw: stopReason.slice(0, 64) }
        : { reason: 'stop' };
  }
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/**
 * Bedrock's TokenUsage: inputTokens leaves out what was read from or written to the prompt cache; the
 * model's input counts all of it, of which cachedInputTokens were read from the cache.
 */
export function usageOf(usage: unknown): Usage | undefined {
  if (!isObject(usage)) return undefined;
  const cacheRead = count(usage['cacheReadInputTokens']);
  const cacheWrite = count(usage['cacheWriteInputTokens']);
  return {
    inputTokens: count(usage['inputTokens']) + cacheRead + cacheWrite,
    outputTokens: count(usage['outputTokens']),
    ...(usage['cacheReadInputTokens'] === undefined ? {} : { cachedInputTokens: cacheRead }),
    ...(usage['cacheWriteInputTokens'] === undefined ? {} : { cacheWriteInputTokens: cacheWrite }),
  };
}

/** One content block of the answer's message as parts ([] for kinds the model has no part for). */
function partsOf(block: unknown): Part[] {
  if (!isObject(block)) return [];
  if (typeof block['text'] === 'string')
    return block['text'] === '' ? [] : [{ type: 'text', text: block['text'] }];
  const toolUse = block['toolUse'];
  if (isObject(toolUse)) {
    return [
      {
        type: 'tool_call',
        id: typeof toolUse['toolUseId'] === 'string' ? toolUse['toolUseId'] : '',
        name: typeof toolUse['name'] === 'string' ? toolUse['name'] : '',
        arguments: JSON.stringify(toolUse['input'] ?? {}),
      },
    ];
  }
  const reasoning = block['reasoningContent'];
  if (isObject(reasoning)) {
    const text = reasoning['reasoningText'];
    if (isObject(text)) {
      const signature = text['signature'];
      return [
        {
          type: 'reasoning',
          text: typeof text['text'] === 'string' ? text['text'] : '',
          ...(typeof signature === 'string' && signature !== '' ? { signature } : {}),
        },
      ];
    }
    if (typeof reasoning['redactedContent'] === 'string')
      return [{ type: 'reasoning', text: '', redacted: reasoning['redactedContent'] }];
  }
  return [];
}

/** A Converse response body as an Answer; null when it has no output message (not a Converse answer). */
export function fromConverseResponse(
  body: unknown,
  identity: { id: string; created: number; model: string },
): Answer | null {
  if (!isObject(body)) return null;
  const output = body['output'];
  const message = isObject(output) ? output['message'] : undefined;
  if (!isObject(message) || !Array.isArray(message['content'])) return null;
  const parts = message['content'].flatMap(partsOf);
  const finish = finishReasonOf(body['stopReason']);
  const usage = usageOf(body['usage']);
  return {
    ...identity,
    choices: [
      {
        index: 0,
        parts,
        finishReason: finish.reason,
        ...(finish.raw === undefined ? {} : { rawFinishReason: finish.raw }),
      },
    ],
    ...(usage === undefined ? {} : { usage }),
  };
}

/**
 * ConverseStream's events, one at a time, as the model's events. Content blocks are numbered by
 * Bedrock's contentBlockIndex; tool calls get the model's call numbers (from 0, in the order they
 * start) so that parallel calls stay apart. messageStop gives the finish, metadata the usage (after it).
 */
export class ConverseStreamTranslator {
  private started = false;
  private finished = false;
  private usageSent = false;
  /** Call number of each tool-use content block, by contentBlockIndex. */
  private readonly calls = new Map<number, number>();

  constructor(private readonly identity: { id: string; created: number; model: string }) {}

  /** Whether the message has stopped (messageStop came). */
  get complete(): boolean {
    return this.finished;
  }

  /** The events for one stream event of type `type` (its `:event-type`) with its JSON payload. */
  event(type: string, payload: unknown): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (!this.started) {
      this.started = true;
      out.push({ type: 'start', ...this.identity });
    }
    const body = isObject(payload) ? payload : {};
    const blockIndex = typeof body['contentBlockIndex'] === 'number' ? body['contentBlockIndex'] : 0;
    switch (type) {
      case 'contentBlockStart': {
        const start = body['start'];
        const toolUse = isObject(start) ? start['toolUse'] : undefined;
        if (isObject(toolUse)) {
          const call = this.calls.size;
          this.calls.set(blockIndex, call);
          out.push({
            type: 'tool_call_start',
            choice: 0,
            call,
            id: typeof toolUse['toolUseId'] === 'string' ? toolUse['toolUseId'] : '',
            name: typeof toolUse['name'] === 'string' ? toolUse['name'] : '',
          });
        }
        break;
      }
      case 'contentBlockDelta':
        out.push(...this.delta(blockIndex, body['delta']));
        break;
      case 'messageStop': {
        const finish = finishReasonOf(body['stopReason']);
        this.finished = true;
        out.push({
          type: 'finish',
          choice: 0,
          reason: finish.reason,
          ...(finish.raw === undefined ? {} : { rawReason: finish.raw }),
        });
        break;
      }
      case 'metadata': {
        const usage = usageOf(body['usage']);
        if (usage !== undefined && !this.usageSent) {
          this.usageSent = true;
          out.push({ type: 'usage', usage });
        }
        break;
      }
      default:
        // messageStart (the role is always assistant), contentBlockStop, and kinds added later.
        break;
    }
    return out;
  }

  private delta(blockIndex: number, delta: unknown): StreamEvent[] {
    if (!isObject(delta)) return [];
    if (typeof delta['text'] === 'string')
      return delta['text'] === '' ? [] : [{ type: 'text', choice: 0, text: delta['text'] }];
    const toolUse = delta['toolUse'];
    if (isObject(toolUse)) {
      const call = this.calls.get(blockIndex);
      const input = toolUse['input'];
      if (call === undefined || typeof input !== 'string' || input === '') return [];
      return [{ type: 'tool_call_delta', choice: 0, call, arguments: input }];
    }
    const reasoning = delta['reasoningContent'];
    if (isObject(reasoning)) {
      if (typeof reasoning['text'] === 'string' && reasoning['text'] !== '')
        return [{ type: 'reasoning', choice: 0, text: reasoning['text'] }];
      if (typeof reasoning['signature'] === 'string' && reasoning['signature'] !== '')
        return [{ type: 'reasoning', choice: 0, text: '', signature: reasoning['signature'] }];
    }
    return [];
  }
}

/**
 * A ConverseStream exception event (`:message-type: exception`, its `:exception-type` and payload
 * `{message}`) as the error the client gets; `message` has had the secrets removed by the caller.
 */
export function streamExceptionError(backend: string, type: string, message: string | null): GatewayError {
  const detail = `Backend '${backend}' failed during the stream (${type.slice(0, 64)})${message === null ? '' : `: ${message}`}`;
  switch (type) {
    case 'throttlingException':
      return new UpstreamClientError(
        'rate_limit_exceeded',
        429,
        detail,
        { 'retry-after': '1' },
        {
          retryable: true,
          retryAfterMs: null,
        },
      );
    case 'validationException':
      return new InvalidRequestError(detail);
    case 'serviceUnavailableException':
    case 'internalServerException':
      return new UpstreamError(detail, { retryable: true });
    default:
      // modelStreamErrorException and kinds added later: the model failed; another attempt may not.
      return new UpstreamError(detail);
  }
}

/**
 * An HTTP error answer of Bedrock (its `x-amzn-errortype` header, `Name:namespace` or `Name`, and the
 * body's `message`, secrets removed by the caller) as the error the client gets. Credentials are never
 * echoed: a refusal of them says which, not what.
 */
export function httpError(
  backend: string,
  status: number,
  errorType: string | null,
  message: string | null,
  retryAfterMs: number | null,
): GatewayError {
  const type = (errorType ?? '').split(':')[0]?.slice(0, 64) ?? '';
  const named = type === '' ? `${status}` : `${status} ${type}`;
  const detail = message === null ? '' : `: ${message}`;
  const retryHeader = {
    'retry-after': String(retryAfterMs === null ? 1 : Math.max(1, Math.ceil(retryAfterMs / 1000))),
  };
  if (status === 401 || status === 403 || CREDENTIAL_ERRORS.has(type)) {
    return new UpstreamError(
      `Backend '${backend}' refused the gateway's AWS credentials (${named}); check the credentials the AWS chain gives it (environment, profile, role) and their IAM permissions for bedrock:InvokeModel`,
    );
  }
  if (status === 429 || type === 'ThrottlingException' || type === 'ModelNotReadyException')
    return new UpstreamClientError(
      'rate_limit_exceeded',
      429,
      `Backend '${backend}' (${named})${detail}`,
      retryHeader,
      {
        retryable: true,
        retryAfterMs,
      },
    );
  if (status === 408 || type === 'ModelTimeoutException')
    return new UpstreamError(`Backend '${backend}' timed out (${named})${detail}`, {
      retryable: true,
      retryAfterMs,
    });
  if (status >= 500)
    return new UpstreamError(`Backend '${backend}' failed (${named})${detail}`, {
      retryable: true,
      retryAfterMs,
      ...(retryAfterMs === null ? {} : { headers: retryHeader }),
    });
  if (type === 'ModelErrorException' || status === 424)
    return new UpstreamError(`Backend '${backend}': the model failed (${named})${detail}`);
  if (status === 404 || type === 'ResourceNotFoundException')
    return new UpstreamClientError('model_not_found', 404, `Backend '${backend}' (${named})${detail}`, {});
  if (status === 413)
    return new UpstreamClientError('payload_too_large', 413, `Backend '${backend}' (${named})${detail}`, {});
  if (type === 'ServiceQuotaExceededException')
    return new UpstreamClientError(
      'rate_limit_exceeded',
      429,
      `Backend '${backend}' (${named})${detail}`,
      retryHeader,
      {
        retryable: false,
        retryAfterMs: null,
      },
    );
  return new UpstreamClientError('invalid_request', 400, `Backend '${backend}' (${named})${detail}`, {});
}

/** Error types of AWS's front door that refuse the request's signature or credentials. */
const CREDENTIAL_ERRORS: ReadonlySet<string> = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
]);

/** Titan Text Embeddings' answer: `{embedding, inputTextTokenCount}`; null when it is not one. */
export function fromTitanEmbedding(body: unknown): { vector: number[]; tokens: number } | null {
  if (!isObject(body) || !isNumbers(body['embedding'])) return null;
  return { vector: body['embedding'], tokens: count(body['inputTextTokenCount']) };
}

/** Cohere Embed's answer: `{embeddings: number[][]}` (float embeddings); null when it is not one. */
export function fromCohereEmbeddings(body: unknown, expected: number): number[][] | null {
  if (!isObject(body)) return null;
  let embeddings = body['embeddings'];
  // Asked with embedding_types, Cohere answers {embeddings: {float: [...]}}.
  if (isObject(embeddings)) embeddings = embeddings['float'];
  if (!Array.isArray(embeddings) || embeddings.length !== expected || !embeddings.every(isNumbers))
    return null;
  return embeddings;
}

function isNumbers(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'number');
}
