import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { base64ToFloats, floatsToBase64 } from './embedding-encoding.js';

describe('embedding encoding (base64 of little-endian float32)', () => {
  it('encodes as OpenAI does and decodes back to the float32 values', () => {
    const vector = [0.5, -0.25, 3, 0.1, 1 / 3];
    const text = floatsToBase64(vector);
    const bytes = Buffer.from(text, 'base64');
    assert.equal(bytes.length, vector.length * 4);
    assert.equal(bytes.readFloatLE(0), 0.5);
    assert.equal(bytes.readFloatLE(4), -0.25);
    assert.deepEqual(
      base64ToFloats(text),
      vector.map((value) => Math.fround(value)),
    );
    assert.equal(floatsToBase64([]), '');
    assert.deepEqual(base64ToFloats(''), []);
  });

  it('refuses a string that is not base64, or not a whole number of float32 values', () => {
    for (const text of ['AAAAAAA=', 'AAAA', 'not base64!', 'AAAA AAA', 'AAAAA']) {
      assert.equal(base64ToFloats(text), null, text);
    }
  });
});
