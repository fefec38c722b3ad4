/**
 * The conversation model: what every ingress protocol translates to and from (src/protocols/<name>/),
 * so that N protocols and M backends cost N + M translators, not N × M. Plain data, no I/O, no protocol.
 * docs/conversation.md describes it and how the pipeline carries it.
 *
 * Names follow the semantics, not any one vendor: a request is messages of typed parts plus tools and
 * options; an answer is choices of parts with a finish reason; a stream is typed events.
 */

/** Who wrote a message. System text can also arrive as `ConversationRequest.system` (Anthropic, Responses). */
export type Role = 'system' | 'user' | 'assistant' | 'tool';

/**
 * A prompt-cache breakpoint (Anthropic's `cache_control`): the provider caches the prompt up to and
 * including the part or tool that carries it. Backends with such caching honour it (Anthropic as
 * `cache_control`, Bedrock as a `cachePoint`); the others ignore it, as caching never changes an answer.
 */
export interface CacheControl {
  readonly type: 'ephemeral';
  /** How long the cache entry lives; the provider's default (5 minutes) when absent. */
  readonly ttl?: '5m' | '1h';
}

export interface TextPart {
  readonly type: 'text';
  readonly text: string;
  readonly cacheControl?: CacheControl;
}

/** An image, inline (base64 `data` with its media type) or by URL (which backends may refuse to fetch). */
export interface ImagePart {
  readonly type: 'image';
  readonly data?: string;
  readonly mediaType?: string;
  readonly url?: string;
  /** OpenAI's detail hint (auto, low, high), when the client gave one. */
  readonly detail?: string;
  readonly cacheControl?: CacheControl;
}

/** Audio input, inline base64 in a format such as wav or mp3. */
export interface AudioPart {
  readonly type: 'audio';
  readonly data: string;
  readonly format: string;
}

/** A call the assistant made: `arguments` is the JSON text of the arguments object, as streamed. */
export interface ToolCallPart {
  readonly type: 'tool_call';
  readonly id: string;
  readonly name: string;
  readonly arguments: string;
  readonly cacheControl?: CacheControl;
}

/** The result of a tool call, sent back by the client. */
export interface ToolResultPart {
  readonly type: 'tool_result';
  readonly callId: string;
  /** The tool's name when the protocol carries it (Ollama needs it; resolved from the call otherwise). */
  readonly name?: string;
  readonly content: readonly (TextPart | ImagePart)[];
  readonly isError?: boolean;
  readonly cacheControl?: CacheControl;
}

/**
 * The model's reasoning ("thinking"). `signature` is Anthropic's opaque proof that must return unchanged
 * with the next turn; `redacted` holds encrypted reasoning a protocol can only pass back.
 */
export interface ReasoningPart {
  readonly type: 'reasoning';
  readonly text: string;
  readonly signature?: string;
  readonly redacted?: string;
}

export type Part = TextPart | ImagePart | AudioPart | ToolCallPart | ToolResultPart | ReasoningPart;

export interface Message {
  readonly role: Role;
  readonly parts: readonly Part[];
  /** A participant's name (OpenAI's `name`), kept when given. */
  readonly name?: string;
}

export interface Tool {
  readonly name: string;
  readonly description?: string;
  /** JSON Schema of the arguments object. */
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly strict?: boolean;
  readonly cacheControl?: CacheControl;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { readonly name: string };

export type ResponseFormat =
  | { readonly type: 'text' }
  | { readonly type: 'json_object' }
  | {
      readonly type: 'json_schema';
      readonly name: string;
      readonly schema: Readonly<Record<string, unknown>>;
      readonly strict?: boolean;
      readonly description?: string;
    };

/** How much the model should reason: an effort level, and for protocols that count it, a token budget. */
export interface ReasoningOptions {
  readonly effort?: 'none' | 'minimal' | 'low' | 'medium' | 'high';
  readonly budgetTokens?: number;
}

export interface GenerationOptions {
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly topP?: number;
  readonly topK?: number;
  readonly stop?: readonly string[];
  readonly seed?: number;
  /** Choices to generate (only chat completions and legacy completions can ask for more than one). */
  readonly n?: number;
  readonly presencePenalty?: number;
  readonly frequencyPenalty?: number;
  readonly logprobs?: boolean;
  readonly topLogprobs?: number;
  readonly responseFormat?: ResponseFormat;
  readonly reasoning?: ReasoningOptions;
  readonly parallelToolCalls?: boolean;
}

export interface ConversationRequest {
  /** The model name the client asked for (routed by the gateway). */
  readonly model: string;
  /** System instructions given apart from the messages (Anthropic `system`, Responses `instructions`). */
  readonly system?: readonly TextPart[];
  readonly messages: readonly Message[];
  readonly tools?: readonly Tool[];
  readonly toolChoice?: ToolChoice;
  readonly options: GenerationOptions;
  readonly stream: boolean;
  /**
   * Fields the model has no name for, by wire name, to pass to a backend that speaks the same dialect
   * (Ollama's `keep_alive`, `options`, `think`; vLLM's `top_k`, ...). Backends that cannot honour one
   * refuse it, or drop it when configured to (`drop_unsupported`).
   */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** The end user, for backends that take it (OpenAI's `user`); never changes the answer. */
  readonly user?: string;
}

/** Why a choice ended. `other` keeps a finish reason the model has no name for. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error' | 'other';

/** Log probabilities of the tokens of the text, OpenAI's shape (the only one clients consume). */
export interface TokenLogprob {
  readonly token: string;
  readonly logprob: number;
  readonly bytes?: readonly number[] | null;
  readonly top_logprobs?: readonly { token: string; logprob: number; bytes?: readonly number[] | null }[];
}

export interface Choice {
  readonly index: number;
  /** In order: reasoning, then text and tool calls as the model produced them. */
  readonly parts: readonly Part[];
  readonly finishReason: FinishReason | null;
  /** The finish reason as the backend gave it, when it is not one of FinishReason's. */
  readonly rawFinishReason?: string;
  /** When the model stopped on one of `stop`, which one (Anthropic's `stop_sequence`). */
  readonly stopSequence?: string;
  readonly logprobs?: readonly TokenLogprob[];
}

export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Of the input, tokens read from the backend's prompt cache, when reported. */
  readonly cachedInputTokens?: number;
  /** Of the input, tokens written to the backend's prompt cache (Anthropic, Bedrock), when reported. */
  readonly cacheWriteInputTokens?: number;
  /** Of the output, reasoning tokens, when reported. */
  readonly reasoningTokens?: number;
}

export interface Answer {
  readonly id: string;
  readonly model: string;
  /** Unix seconds. */
  readonly created: number;
  readonly choices: readonly Choice[];
  readonly usage?: Usage;
}

/**
 * A streamed answer as typed events, in order. Tool calls are numbered per choice (`call`) from 0 in the
 * order they start, so parallel calls stay apart; a call's id and name come with its start, its
 * arguments as deltas after it. Usage comes once, after every choice has finished.
 */
export type StreamEvent =
  | { readonly type: 'start'; readonly id: string; readonly model: string; readonly created: number }
  | { readonly type: 'text'; readonly choice: number; readonly text: string }
  | {
      readonly type: 'reasoning';
      readonly choice: number;
      readonly text: string;
      readonly signature?: string;
    }
  | {
      readonly type: 'tool_call_start';
      readonly choice: number;
      readonly call: number;
      readonly id: string;
      readonly name: string;
    }
  | {
      readonly type: 'tool_call_delta';
      readonly choice: number;
      readonly call: number;
      readonly arguments: string;
    }
  | { readonly type: 'logprobs'; readonly choice: number; readonly content: readonly TokenLogprob[] }
  | {
      readonly type: 'finish';
      readonly choice: number;
      readonly reason: FinishReason;
      readonly rawReason?: string;
      readonly stopSequence?: string;
    }
  | { readonly type: 'usage'; readonly usage: Usage };
