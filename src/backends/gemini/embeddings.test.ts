import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { InvalidRequestError, UpstreamError } from '../../errors/errors.js';
import { base64ToFloats } from '../embedding-encoding.js';
import {
  embeddingInputs,
  fromBatchEmbedResponse,
  fromPredictResponse,
  toBatchEmbedRequest,
  toEmbeddingsResponse,
  toPredictRequest,
  vertexEmbedBatch,
} from './embeddings.js';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
}

describe('Gemini embeddings', () => {
  it('asks batchEmbedContents for one embedding per input, with outputDimensionality', () => {
    assert.deepEqual(toBatchEmbedRequest('gemini-embedding-001', ['a', 'b'], 256), {
      requests: [
        {
          model: 'models/gemini-embedding-001',
          content: { parts: [{ text: 'a' }] },
          outputDimensionality: 256,
        },
        {
          model: 'models/gemini-embedding-001',
          content: { parts: [{ text: 'b' }] },
          outputDimensionality: 256,
        },
      ],
    });
  });

  it('reads the vectors, and refuses an answer that does not hold one per input', () => {
    const vectors = fromBatchEmbedResponse(fixture('batch-embed-response.json'), 2, 'gem');
    assert.deepEqual(vectors[1], [-0.0026218062, 0.0191465, -0.030349486, 0.011298437]);
    assert.throws(
      () => fromBatchEmbedResponse(fixture('batch-embed-response.json'), 3, 'gem'),
      UpstreamError,
    );
    assert.throws(() => fromBatchEmbedResponse({ embeddings: [{ values: ['x'] }] }, 1, 'gem'), UpstreamError);
  });
});

describe('Vertex embeddings', () => {
  it('asks :predict with one instance per input, and counts the tokens Vertex reports', () => {
    assert.deepEqual(toPredictRequest(['a', 'b'], undefined), {
      instances: [{ content: 'a' }, { content: 'b' }],
    });
    assert.deepEqual(toPredictRequest(['a'], 64), {
      instances: [{ content: 'a' }],
      parameters: { outputDimensionality: 64 },
    });
    const { vectors, tokens } = fromPredictResponse(fixture('vertex-predict-response.json'), 2, 'vtx');
    assert.equal(vectors.length, 2);
    assert.equal(tokens, 10);
    assert.throws(() => fromPredictResponse({ predictions: [] }, 1, 'vtx'), UpstreamError);
  });

  it('sends gemini-embedding models one input at a time, text-embedding models 250', () => {
    assert.equal(vertexEmbedBatch('gemini-embedding-001'), 1);
    assert.equal(vertexEmbedBatch('text-embedding-005'), 250);
  });
});

describe('the OpenAI shape', () => {
  it('honours encoding_format base64 (float32 little-endian)', () => {
    const response = toEmbeddingsResponse([[0.5, -1.25]], 'm', 3, 'base64');
    const embedding = response.data[0]?.embedding;
    assert.equal(typeof embedding, 'string');
    assert.deepEqual(base64ToFloats(embedding as string), [0.5, -1.25]);
    assert.deepEqual(response.usage, { prompt_tokens: 3, total_tokens: 3 });
    assert.deepEqual(toEmbeddingsResponse([[0.5]], 'm', 0, 'float').data[0]?.embedding, [0.5]);
  });

  it('takes text inputs and refuses token arrays', () => {
    assert.deepEqual(embeddingInputs({ model: 'm', input: 'x' }), ['x']);
    assert.deepEqual(embeddingInputs({ model: 'm', input: ['x', 'y'] }), ['x', 'y']);
    assert.throws(() => embeddingInputs({ model: 'm', input: [1, 2] }), InvalidRequestError);
  });
});
