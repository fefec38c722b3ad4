import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { AuthenticationError } from '../errors/errors.js';
import { KEY_PREFIX, extractApiKey, generateApiKey, keyHint, sha256Hex } from './api-key.js';

const KEY = 'sk-gw-0123456789abcdefghijABCDEFGHIJ0123456789';

/** Asserts that extractApiKey refuses the headers with a 401 invalid_api_key that does not echo them. */
function assertRefused(headers: IncomingHttpHeaders, message: RegExp): void {
  assert.throws(
    () => extractApiKey(headers),
    (error: unknown) => {
      assert.ok(error instanceof AuthenticationError, `expected AuthenticationError, got ${String(error)}`);
      assert.equal(error.code, 'invalid_api_key');
      assert.equal(error.status, 401);
      assert.match(error.message, message);
      for (const value of Object.values(headers).flat()) {
        const sent = String(value)
          .replace(/^bearer\s*/i, '')
          .trim();
        if (sent.length > 0) assert.ok(!error.message.includes(sent), `the message echoes '${sent}'`);
      }
      return true;
    },
  );
}

describe('generateApiKey', () => {
  it('is the sk-gw- prefix followed by 40 base62 characters', () => {
    for (let round = 0; round < 50; round++) {
      const key = generateApiKey();
      assert.equal(KEY_PREFIX, 'sk-gw-');
      assert.match(key, /^sk-gw-[0-9A-Za-z]{40}$/);
    }
  });

  it('is different every call', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateApiKey()));
    assert.equal(keys.size, 1000);
  });

  it('uses the whole base62 alphabet', () => {
    const seen = new Set(
      Array.from({ length: 200 }, () => generateApiKey().slice(KEY_PREFIX.length)).join(''),
    );
    assert.equal(seen.size, 62);
  });

  it('is accepted by extractApiKey', () => {
    const key = generateApiKey();
    assert.equal(extractApiKey({ authorization: `Bearer ${key}` }), key);
  });
});

describe('sha256Hex', () => {
  it('is the lower-case hex SHA-256 of the text', () => {
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('extractApiKey', () => {
  it('reads Authorization: Bearer <key>', () => {
    assert.equal(extractApiKey({ authorization: `Bearer ${KEY}` }), KEY);
  });

  it('accepts any case of "Bearer" and extra spaces around the key', () => {
    assert.equal(extractApiKey({ authorization: `bearer ${KEY}` }), KEY);
    assert.equal(extractApiKey({ authorization: `BEARER   ${KEY}  ` }), KEY);
  });

  it('reads x-api-key: <key>', () => {
    assert.equal(extractApiKey({ 'x-api-key': KEY }), KEY);
  });

  it('prefers Authorization when both headers are sent', () => {
    assert.equal(
      extractApiKey({ authorization: `Bearer ${KEY}`, 'x-api-key': 'sk-gw-other-key-value' }),
      KEY,
    );
  });

  it('refuses a request with no key', () => {
    assertRefused({}, /Missing API key/);
    assertRefused({ 'x-api-key': '' }, /Missing API key/);
  });

  it('refuses an Authorization header that is not "Bearer <key>"', () => {
    assertRefused({ authorization: 'Basic dXNlcjpwYXNzd29yZA==' }, /Malformed Authorization header/);
    assertRefused({ authorization: 'Bearer' }, /Malformed Authorization header/);
    assertRefused({ authorization: 'Bearer ' }, /Malformed Authorization header/);
    assertRefused({ authorization: `Bearer ${KEY} extra` }, /Malformed Authorization header/);
    assertRefused({ authorization: KEY }, /Malformed Authorization header/);
  });

  it('refuses a key that is too short, too long, or not printable ASCII', () => {
    assertRefused({ authorization: 'Bearer short' }, /Malformed API key/);
    assertRefused({ 'x-api-key': 'x'.repeat(513) }, /Malformed API key/);
    assertRefused({ 'x-api-key': 'sk-gw-ключ-12345678' }, /Malformed API key/);
    assertRefused({ 'x-api-key': 'sk-gw-with space-12345678' }, /Malformed API key/);
  });

  it('accepts a key of any printable ASCII from 8 to 512 characters', () => {
    assert.equal(extractApiKey({ 'x-api-key': '12345678' }), '12345678');
    assert.equal(extractApiKey({ 'x-api-key': 'k'.repeat(512) }), 'k'.repeat(512));
  });
});

describe('keyHint', () => {
  it("gives the first 8 characters of a key shaped like the gateway's own", () => {
    for (const key of [generateApiKey(), generateApiKey()]) assert.equal(keyHint(key), key.slice(0, 8));
  });

  it('gives nothing of any other string: an admin token or a secret sent by mistake (finding 15)', () => {
    for (const other of [
      'my-admin-token-0123456789',
      'x'.repeat(10_000),
      'sk-gw-short',
      `${generateApiKey()}x`,
      '',
    ])
      assert.equal(keyHint(other), null, other.slice(0, 20));
  });
});
