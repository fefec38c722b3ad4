/**
 * OpenAI's legacy completions request (POST /v1/completions) → the conversation model. Pure; what the
 * gateway cannot honour is a 400 naming the field. The prompt travels as one user message through the
 * chat carrier, so the backend applies its chat template to it (docs/protocols/openai-completions.md).
 * https://platform.openai.com/docs/api-reference/completions/create
 */
import { InvalidRequestError } from '../../errors/errors.js';
import type { ConversationRequest, GenerationOptions } from '../../conversation/model.js';
import { checkedNumber, type NumberBounds } from '../../conversation/checks.js';

type Json = Record<string, unknown>;

/** OpenAI's default `max_tokens` for completions (chat has none). */
export const DEFAULT_MAX_TOKENS = 16;
/** OpenAI's bound on `logprobs` for completions. */
export const MAX_LOGPROBS = 5;
/** Stop sequences (OpenAI takes 4; the chat schema allows 16, as vLLM takes more). */
export const MAX_STOP = 16;

/** The fields this module reads; the rest go to OpenAI-compatible backends as they are. */
const KNOWN = new Set([
  'model',
  'prompt',
  'suffix',
  'max_tokens',
  'temperature',
  'top_p',
  'n',
  'stream',
  'stream_options',
  'logprobs',
  'echo',
  'stop',
  'presence_penalty',
  'frequency_penalty',
  'best_of',
  'logit_bias',
  'user',
  'seed',
]);

function invalid(message: string, param: string): InvalidRequestError {
  return new InvalidRequestError(message, { param });
}

function given(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function numberField(body: Json, field: string, bounds: NumberBounds): number | undefined {
  return checkedNumber(body[field], field, bounds);
}

/**
 * The one prompt: a string, or an array of one string. Several prompts would each need their own
 * choices (index = prompt × n + k) from separate upstream calls; the gateway refuses them rather than
 * fan one request out. Token arrays need the model's tokenizer, which the chat carrier does not take.
 */
export function promptOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value))
    throw invalid("'prompt' is required: a string (or an array of one string)", 'prompt');
  if (value.length === 0) throw invalid("'prompt' must not be an empty array", 'prompt');
  if (value.every((item) => typeof item === 'string')) {
    if (value.length > 1)
      throw invalid(
        `'prompt' holds ${value.length} prompts; this gateway answers one prompt per request: send each prompt in a request of its own`,
        'prompt',
      );
    return value[0] as string;
  }
  throw invalid(
    "'prompt' as token ids is not supported: the gateway sends prompts to backends as text; send the prompt as a string",
    'prompt',
  );
}

function stopOf(value: unknown): string[] | undefined {
  if (!given(value)) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string'))
    throw invalid("'stop' must be a string or an array of strings", 'stop');
  if (list.length > MAX_STOP) throw invalid(`'stop' may hold at most ${MAX_STOP} sequences`, 'stop');
  return list.length === 0 ? undefined : list;
}

/** Whether the client asked for the usage chunk at the end of a stream. */
export function includesUsage(body: Json): boolean {
  const options = body['stream_options'];
  return (
    options !== null &&
    typeof options === 'object' &&
    (options as { include_usage?: unknown }).include_usage === true
  );
}

export function completionsToConversation(body: Json): ConversationRequest {
  const model = body['model'];
  if (typeof model !== 'string' || model === '') throw invalid("'model' is required", 'model');
  const prompt = promptOf(body['prompt']);
  const suffix = body['suffix'];
  if (given(suffix) && suffix !== '')
    throw invalid(
      "'suffix' (insertion) is not supported: it needs the model's own infill template, and the gateway sends prompts to backends as chat messages",
      'suffix',
    );
  const echo = body['echo'];
  if (given(echo) && typeof echo !== 'boolean') throw invalid("'echo' must be true or false", 'echo');
  if (echo === true)
    throw invalid(
      "'echo' is not supported: backends answer the prompt as a chat message and do not return it; send echo: false and prepend the prompt yourself",
      'echo',
    );
  const n = numberField(body, 'n', { integer: true, min: 1, max: 128 });
  const bestOf = numberField(body, 'best_of', { integer: true, min: 1, max: 20 });
  if (bestOf !== undefined && bestOf > 1)
    throw invalid(
      "'best_of' above 1 is not supported: backends generate through chat, which has no server-side ranking of candidates; use n to get several and choose",
      'best_of',
    );
  const maxTokens = numberField(body, 'max_tokens', { integer: true, min: 1 }) ?? DEFAULT_MAX_TOKENS;
  const temperature = numberField(body, 'temperature', { min: 0, max: 2 });
  const topP = numberField(body, 'top_p', { min: 0, max: 1 });
  const seed = numberField(body, 'seed', { integer: true });
  const presence = numberField(body, 'presence_penalty', { min: -2, max: 2 });
  const frequency = numberField(body, 'frequency_penalty', { min: -2, max: 2 });
  const logprobs = numberField(body, 'logprobs', { integer: true, min: 0, max: MAX_LOGPROBS });
  const stop = stopOf(body['stop']);
  const stream = body['stream'];
  if (given(stream) && typeof stream !== 'boolean') throw invalid("'stream' must be true or false", 'stream');
  const user = body['user'];
  if (given(user) && typeof user !== 'string') throw invalid("'user' must be a string", 'user');
  const options: GenerationOptions = {
    maxTokens,
    ...(temperature === undefined ? {} : { temperature }),
    ...(topP === undefined ? {} : { topP }),
    ...(n === undefined ? {} : { n }),
    ...(seed === undefined ? {} : { seed }),
    ...(presence === undefined ? {} : { presencePenalty: presence }),
    ...(frequency === undefined ? {} : { frequencyPenalty: frequency }),
    ...(stop === undefined ? {} : { stop }),
    ...(logprobs === undefined ? {} : { logprobs: true, ...(logprobs > 0 ? { topLogprobs: logprobs } : {}) }),
  };
  // What the model has no name for goes on to OpenAI-compatible backends (vLLM's top_k, min_p, ...).
  const extra: Json = {};
  for (const [field, value] of Object.entries(body)) {
    if (!KNOWN.has(field) && field !== '__proto__') extra[field] = value;
  }
  const bias = body['logit_bias'];
  if (given(bias)) {
    if (typeof bias !== 'object' || Array.isArray(bias))
      throw invalid("'logit_bias' must be an object of token ids to biases", 'logit_bias');
    if (Object.keys(bias as Json).length > 0) extra['logit_bias'] = bias;
  }
  return {
    model,
    messages: [{ role: 'user', parts: [{ type: 'text', text: prompt }] }],
    options,
    stream: stream === true,
    ...(Object.keys(extra).length === 0 ? {} : { extra }),
    ...(typeof user === 'string' ? { user } : {}),
  };
}
