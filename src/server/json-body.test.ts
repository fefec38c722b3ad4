import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidRequestError } from '../errors/errors.js';
import { MAX_JSON_DEPTH, parseJsonBody } from './json-body.js';

function body(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** Asserts a 400 invalid_request whose message matches. */
function assertRefused(input: Buffer, message: RegExp): void {
  assert.throws(
    () => parseJsonBody(input),
    (error: unknown) => {
      assert.ok(error instanceof InvalidRequestError, `expected InvalidRequestError, got ${String(error)}`);
      assert.equal(error.status, 400);
      assert.equal(error.code, 'invalid_request');
      assert.match(error.message, message);
      return true;
    },
  );
}

/** `depth` nested arrays: [[[ ... ]]] */
function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

describe('parseJsonBody', () => {
  it('parses a valid JSON object, keeping non-ASCII text intact', () => {
    assert.deepEqual(
      parseJsonBody(body('{"model":"demo","messages":[{"role":"user","content":"héllo 日本 🙂"}]}')),
      {
        model: 'demo',
        messages: [{ role: 'user', content: 'héllo 日本 🙂' }],
      },
    );
  });

  it('refuses a body that is not valid UTF-8 rather than replacing the bytes', () => {
    const invalid = Buffer.concat([body('{"content":"'), Buffer.from([0xff, 0xfe]), body('"}')]);
    assertRefused(invalid, /not valid UTF-8/);
    // A lone continuation byte and a truncated multi-byte sequence.
    assertRefused(Buffer.concat([body('{"a":"'), Buffer.from([0x80]), body('"}')]), /not valid UTF-8/);
    assertRefused(Buffer.concat([body('{"a":"'), Buffer.from([0xe6, 0x97]), body('"}')]), /not valid UTF-8/);
  });

  it(`accepts nesting up to ${MAX_JSON_DEPTH} levels and refuses one more`, () => {
    assert.equal(MAX_JSON_DEPTH, 64);
    assert.doesNotThrow(() => parseJsonBody(body(nested(MAX_JSON_DEPTH))));
    assertRefused(body(nested(MAX_JSON_DEPTH + 1)), /nests deeper than 64 levels/);
    assertRefused(
      body(`{"a":${'{"b":'.repeat(MAX_JSON_DEPTH)}1${'}'.repeat(MAX_JSON_DEPTH + 1)}`),
      /nests deeper/,
    );
    // Very deep input is refused without parsing it.
    assertRefused(body(nested(100_000)), /nests deeper/);
  });

  it('does not count brackets inside strings, including after escaped quotes', () => {
    const text = JSON.stringify({ content: '['.repeat(200) + '\\"{{{' + '{'.repeat(200), other: 'a"[[[' });
    const parsed = parseJsonBody(body(text)) as { content: string };
    assert.ok(parsed.content.startsWith('[[['));
  });

  it('refuses __proto__ and constructor.prototype keys (prototype poisoning)', () => {
    assertRefused(
      body('{"model":"demo","__proto__":{"admin":true}}'),
      /^The request body contains a forbidden property name/,
    );
    assertRefused(body('{"a":{"__proto__":{"x":1}}}'), /forbidden/);
    assertRefused(body('{"constructor":{"prototype":{"admin":true}}}'), /forbidden/);
    assert.equal(({} as Record<string, unknown>)['admin'], undefined);
  });

  it('refuses an empty or blank body', () => {
    assertRefused(Buffer.alloc(0), /empty/);
    assertRefused(body(' \n\t '), /empty/);
  });

  it('refuses text that is not JSON, saying why', () => {
    assertRefused(body('{"model": "demo",}'), /^The request body is not valid JSON \(error at byte \d+\)$/);
    assertRefused(body('model=demo'), /not valid JSON/);
    assertRefused(body('{"a":1} trailing'), /not valid JSON/);
  });
});
