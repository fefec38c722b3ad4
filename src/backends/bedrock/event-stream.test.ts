import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { decodeEventStream, type EventStreamMessage } from './event-stream.js';
import { BedrockSigner } from './sign.js';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

function frame(kind: string, typeHeader: string, type: string, payload: string): Uint8Array {
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: kind },
      [typeHeader]: { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: fromUtf8(payload),
  });
}

/** The body in pieces of `size` bytes, as a socket would deliver it. */
function pieces(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) parts.push(bytes.subarray(at, at + size));
  return (async function* () {
    for (const part of parts) yield await Promise.resolve(part);
  })();
}

async function decodeAll(bytes: Uint8Array, size: number): Promise<EventStreamMessage[]> {
  const out: EventStreamMessage[] = [];
  for await (const message of decodeEventStream(pieces(bytes, size))) out.push(message);
  return out;
}

const STREAM = Buffer.concat([
  frame('event', ':event-type', 'messageStart', '{"role":"assistant","p":"abc"}'),
  frame('event', ':event-type', 'contentBlockDelta', '{"contentBlockIndex":0,"delta":{"text":"Hé"}}'),
  frame('exception', ':exception-type', 'throttlingException', '{"message":"Too many tokens"}'),
]);

describe('decodeEventStream', () => {
  it('reassembles frames however the body is cut, events and exceptions alike', async () => {
    const expected: EventStreamMessage[] = [
      { kind: 'event', type: 'messageStart', payload: '{"role":"assistant","p":"abc"}' },
      { kind: 'event', type: 'contentBlockDelta', payload: '{"contentBlockIndex":0,"delta":{"text":"Hé"}}' },
      { kind: 'exception', type: 'throttlingException', payload: '{"message":"Too many tokens"}' },
    ];
    for (const size of [1, 3, 7, 64, STREAM.length])
      assert.deepEqual(await decodeAll(STREAM, size), expected);
  });

  it('refuses a frame whose checksum does not match', async () => {
    const broken = Buffer.from(STREAM);
    broken[20] = (broken[20] ?? 0) ^ 0xff;
    await assert.rejects(decodeAll(broken, 16));
  });

  it('refuses a body cut in the middle of a frame', async () => {
    await assert.rejects(decodeAll(STREAM.subarray(0, STREAM.length - 5), 16), /Truncated/);
  });
});

describe('BedrockSigner', () => {
  it('signs for bedrock in the region with the credentials given, the port in the host', async () => {
    const signer = new BedrockSigner(
      'eu-west-3',
      () =>
        Promise.resolve({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token-1' }),
      () => new Date('2026-12-02T10:00:00Z'),
    );
    const headers = await signer.sign({
      method: 'POST',
      url: 'http://127.0.0.1:8123',
      path: '/model/amazon.nova-pro-v1%3A0/converse',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(headers['x-amz-date'], '20261202T100000Z');
    assert.equal(headers['x-amz-security-token'], 'token-1');
    assert.match(
      headers['authorization'] ?? '',
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261202\/eu-west-3\/bedrock\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    assert.ok(!JSON.stringify(headers).includes('secret'), 'the secret is never sent');
  });
});
