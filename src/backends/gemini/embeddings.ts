/**
 * Embeddings, pure translations. The Gemini API: POST models/{model}:batchEmbedContents, one
 * EmbedContentRequest per input (https://ai.google.dev/api/embeddings#method:-models.batchembedcontents);
 * Vertex AI: POST .../models/{model}:predict with one instance per input
 * (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api), which
 * serves both text-embedding-* and gemini-embedding-* models. Both answer float vectors; the client's
 * encoding_format is applied here.
 */
import type { EmbeddingsRequest, EmbeddingsResponse } from '../../api/schemas.js';
import { InvalidRequestError, UpstreamError } from '../../errors/errors.js';
import { floatsToBase64 } from '../embedding-encoding.js';

/** Inputs per upstream call: batchEmbedContents takes at most 100 requests. */
export const GEMINI_EMBED_BATCH = 100;
/**
 * Instances per Vertex :predict call: text-embedding-* take up to 250, gemini-embedding-* one
 * (Vertex's documented limits).
 */
export function vertexEmbedBatch(model: string): number {
  return model.startsWith('gemini-embedding') ? 1 : 250;
}

/** The request's inputs as text; token arrays are refused (Google takes text only). */
export function embeddingInputs(request: EmbeddingsRequest): string[] {
  const input = request.input;
  if (typeof input === 'string') return [input];
  if (input.every((item: unknown): item is string => typeof item === 'string')) return input;
  throw new InvalidRequestError('Gemini and Vertex backends embed text, not token arrays', {
    param: 'input',
  });
}

export function toBatchEmbedRequest(
  model: string,
  inputs: readonly string[],
  dimensions: number | undefined,
): unknown {
  return {
    requests: inputs.map((text) => ({
      model: `models/${model}`,
      content: { parts: [{ text }] },
      ...(dimensions === undefined ? {} : { outputDimensionality: dimensions }),
    })),
  };
}

export function toPredictRequest(inputs: readonly string[], dimensions: number | undefined): unknown {
  return {
    instances: inputs.map((content) => ({ content })),
    ...(dimensions === undefined ? {} : { parameters: { outputDimensionality: dimensions } }),
  };
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'number' && Number.isFinite(item));
}

/** batchEmbedContents' answer: `{embeddings: [{values}]}`, one per input in order. Google reports no tokens. */
export function fromBatchEmbedResponse(answer: unknown, expected: number, backend: string): number[][] {
  const embeddings = (answer as { embeddings?: unknown } | null)?.embeddings;
  if (!Array.isArray(embeddings) || embeddings.length !== expected) {
    throw new UpstreamError(`Backend '${backend}' answered without one embedding per input`);
  }
  return embeddings.map((embedding: unknown) => {
    const values = (embedding as { values?: unknown } | null)?.values;
    if (!isNumberArray(values))
      throw new UpstreamError(`Backend '${backend}' sent an embedding that is not numbers`);
    return values;
  });
}

/** :predict's answer: `{predictions: [{embeddings: {values, statistics: {token_count}}}]}`. */
export function fromPredictResponse(
  answer: unknown,
  expected: number,
  backend: string,
): { vectors: number[][]; tokens: number } {
  const predictions = (answer as { predictions?: unknown } | null)?.predictions;
  if (!Array.isArray(predictions) || predictions.length !== expected) {
    throw new UpstreamError(`Backend '${backend}' answered without one prediction per input`);
  }
  let tokens = 0;
  const vectors = predictions.map((prediction: unknown) => {
    const embeddings = (prediction as { embeddings?: { values?: unknown; statistics?: unknown } } | null)
      ?.embeddings;
    const values = embeddings?.values;
    if (!isNumberArray(values))
      throw new UpstreamError(`Backend '${backend}' sent an embedding that is not numbers`);
    const statistics = embeddings?.statistics as { token_count?: unknown } | undefined;
    const count = statistics?.token_count;
    if (typeof count === 'number' && Number.isFinite(count) && count > 0) tokens += Math.floor(count);
    return values;
  });
  return { vectors, tokens };
}

export function toEmbeddingsResponse(
  vectors: readonly number[][],
  model: string,
  tokens: number,
  encoding: 'float' | 'base64',
): EmbeddingsResponse {
  return {
    object: 'list',
    data: vectors.map((vector, index) => ({
      object: 'embedding' as const,
      index,
      embedding: encoding === 'base64' ? floatsToBase64(vector) : vector,
    })),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}
