/**
 * Google's generateContent wire format, shared by the Gemini API (generativelanguage.googleapis.com,
 * v1beta) and Vertex AI (aiplatform.googleapis.com, v1): the fields the gateway writes, and the fields it
 * reads from answers, which are untrusted input (everything optional, checked where read).
 * https://ai.google.dev/api/generate-content, https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference
 */

/** One part of a content. Exactly one of the data fields is set; `thought` and `thoughtSignature` qualify it. */
export interface GeminiPart {
  text?: string;
  /** The part is the model's reasoning (a thought summary), not its answer. */
  thought?: boolean;
  /** Opaque, base64: the model's reasoning state, to be passed back with the part it came on. */
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  functionCall?: { id?: string; name: string; args: Record<string, unknown> };
  functionResponse?: { id?: string; name: string; response: Record<string, unknown> };
}

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  /** JSON Schema as the client wrote it (Gemini's alternative to its OpenAPI-subset `parameters`). */
  parametersJsonSchema?: Readonly<Record<string, unknown>>;
}

export interface GeminiGenerationConfig {
  maxOutputTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stopSequences?: string[];
  seed?: number;
  candidateCount?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  responseLogprobs?: boolean;
  logprobs?: number;
  responseMimeType?: string;
  responseJsonSchema?: Readonly<Record<string, unknown>>;
  thinkingConfig?: { thinkingBudget?: number; includeThoughts?: boolean };
}

export interface GeminiRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: { text: string }[] };
  tools?: { functionDeclarations: GeminiFunctionDeclaration[] }[];
  toolConfig?: {
    functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] };
  };
  generationConfig?: GeminiGenerationConfig;
}

/** A part of an answer, as received. */
export interface GeminiAnswerPart {
  text?: unknown;
  thought?: unknown;
  thoughtSignature?: unknown;
  functionCall?: { id?: unknown; name?: unknown; args?: unknown } | null;
  inlineData?: unknown;
}

export interface GeminiLogprobCandidate {
  token?: unknown;
  tokenId?: unknown;
  logProbability?: unknown;
}

export interface GeminiCandidate {
  index?: unknown;
  content?: { role?: unknown; parts?: unknown } | null;
  finishReason?: unknown;
  finishMessage?: unknown;
  logprobsResult?: {
    chosenCandidates?: unknown;
    topCandidates?: unknown;
  } | null;
}

export interface GeminiUsageMetadata {
  promptTokenCount?: unknown;
  candidatesTokenCount?: unknown;
  thoughtsTokenCount?: unknown;
  cachedContentTokenCount?: unknown;
  toolUsePromptTokenCount?: unknown;
  totalTokenCount?: unknown;
}

/** A GenerateContentResponse: the whole answer, or one event of a streamed one. */
export interface GeminiResponse {
  candidates?: unknown;
  promptFeedback?: { blockReason?: unknown; blockReasonMessage?: unknown } | null;
  usageMetadata?: GeminiUsageMetadata | null;
  modelVersion?: unknown;
  responseId?: unknown;
  /** Google's error, when a stream fails after it started. */
  error?: unknown;
}
