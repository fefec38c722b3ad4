/**
 * Embeddings in the encoding the client asked for, whatever the upstream sent (issue 18, item 2). The
 * openai SDK asks for `encoding_format: "base64"` by default and decodes the answer itself; an upstream
 * that ignores encoding_format answers float arrays, which the SDK used to decode into garbage. Here the
 * stand-in ignores encoding_format and answers either float arrays or base64 float32, always.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import type { Problem } from '../support/problem.js';

const DIMENSIONS = 12;

/** A vector per input, with values float32 cannot hold exactly (0.1, 1/3) as well as ones it can. */
function vectorOf(text: string): number[] {
  return Array.from({ length: DIMENSIONS }, (_, index) => (text.length + index) / 3 - 0.1 * index);
}

interface Received {
  readonly encoding: unknown;
}

/** An OpenAI-compatible /v1/embeddings that answers in `sends` whatever encoding_format says. */
class IgnoringUpstream {
  sends: 'float' | 'base64' | 'broken-base64' = 'float';
  readonly received: Received[] = [];
  private readonly server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        this.received.push({ encoding: body['encoding_format'] });
        const inputs = Array.isArray(body['input']) ? (body['input'] as string[]) : [String(body['input'])];
        const data = inputs.map((input, index) => ({
          object: 'embedding',
          index,
          embedding:
            this.sends === 'float'
              ? vectorOf(input)
              : this.sends === 'base64'
                ? Buffer.from(new Float32Array(vectorOf(input)).buffer).toString('base64')
                : 'AAAAAAA=', // 5 bytes: not a whole number of float32 values
        }));
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            object: 'list',
            data,
            model: body['model'],
            usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
          }),
        );
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** What a vector is after a trip through float32. */
function asFloat32(vector: readonly number[]): number[] {
  return vector.map((value) => Math.fround(value));
}

function decode(text: string): number[] {
  const bytes = Buffer.from(text, 'base64');
  assert.equal(bytes.length, DIMENSIONS * 4);
  return Array.from({ length: bytes.length / 4 }, (_, index) => bytes.readFloatLE(index * 4));
}

describe('embeddings through an upstream that ignores encoding_format', () => {
  let upstream: IgnoringUpstream;
  let running: RunningGateway;
  const inputs = ['hello', 'a longer input text'];

  before(async () => {
    upstream = new IgnoringUpstream();
    const url = await upstream.start();
    running = await startGateway(
      testConfig({
        backends: [{ name: 'tei', type: 'openai', url: `${url}/v1` }],
        models: [{ name: 'embedder', targets: [{ backend: 'tei' }] }],
      }),
    );
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  it("the openai SDK's default (base64) against float arrays: the right dimension and values", async () => {
    upstream.sends = 'float';
    const answer = await running.client().embeddings.create({ model: 'embedder', input: inputs });
    assert.equal(upstream.received.at(-1)?.encoding, 'base64', 'the SDK asked for base64');
    assert.equal(answer.data.length, inputs.length);
    answer.data.forEach((item, index) => {
      assert.equal(item.embedding.length, DIMENSIONS);
      assert.deepEqual([...item.embedding], asFloat32(vectorOf(inputs[index]!)));
    });
  });

  it('base64 asked explicitly against float arrays: base64 of little-endian float32', async () => {
    upstream.sends = 'float';
    const answer = await running
      .client()
      .embeddings.create({ model: 'embedder', input: inputs, encoding_format: 'base64' });
    answer.data.forEach((item, index) => {
      assert.equal(typeof item.embedding, 'string');
      assert.deepEqual(decode(item.embedding as unknown as string), asFloat32(vectorOf(inputs[index]!)));
    });
  });

  it('float asked (or nothing, on the wire) against base64: decoded into arrays', async () => {
    upstream.sends = 'base64';
    const answer = await running
      .client()
      .embeddings.create({ model: 'embedder', input: inputs, encoding_format: 'float' });
    answer.data.forEach((item, index) => {
      assert.ok(Array.isArray(item.embedding));
      assert.deepEqual(item.embedding, asFloat32(vectorOf(inputs[index]!)));
    });
    const response = await fetch(`${running.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${running.client().apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'embedder', input: 'hello' }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { data: { embedding: unknown }[] };
    assert.deepEqual(body.data[0]?.embedding, asFloat32(vectorOf('hello')));
  });

  it('passes an answer already in the asked encoding through as it is', async () => {
    upstream.sends = 'base64';
    const encoded = await running
      .client()
      .embeddings.create({ model: 'embedder', input: 'hello', encoding_format: 'base64' });
    assert.equal(
      encoded.data[0]?.embedding,
      Buffer.from(new Float32Array(vectorOf('hello')).buffer).toString('base64'),
    );
    upstream.sends = 'float';
    const floats = await running
      .client()
      .embeddings.create({ model: 'embedder', input: 'hello', encoding_format: 'float' });
    assert.deepEqual(floats.data[0]?.embedding, vectorOf('hello'), 'not rounded to float32');
  });

  it('answers 502 upstream_error when the upstream sends a string that is not base64 float32', async () => {
    upstream.sends = 'broken-base64';
    const response = await fetch(`${running.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${running.client().apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'embedder', input: ['a', 'b'], encoding_format: 'float' }),
    });
    assert.equal(response.status, 502);
    const problem = (await response.json()) as Problem;
    assert.equal(problem.error.code, 'upstream_error');
    assert.equal(problem.detail, "Backend 'tei' sent embedding 0 as a string that is not base64 float32");
  });
});
