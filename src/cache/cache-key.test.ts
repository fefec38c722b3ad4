import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheKey, canonicalJson, type CacheKeyInput } from './cache-key.js';

function input(body: Record<string, unknown>, overrides: Partial<CacheKeyInput> = {}): CacheKeyInput {
  return {
    endpoint: 'chat',
    backend: 'vllm',
    upstreamModel: 'Qwen/Qwen2.5-0.5B',
    body,
    scope: 'team-a',
    ...overrides,
  };
}

const BASE = { model: 'qwen', messages: [{ role: 'user', content: 'Hi' }], temperature: 0 };

describe('canonicalJson', () => {
  it('sorts object keys at every level, arrays keep their order', () => {
    const value = { b: 1, a: { d: [{ z: 1, y: 2 }, 3], c: 'x' } };
    assert.equal(canonicalJson(value), '{"a":{"c":"x","d":[{"y":2,"z":1},3]},"b":1}');
    assert.equal(canonicalJson({ a: { c: 'x', d: [{ y: 2, z: 1 }, 3] }, b: 1 }), canonicalJson(value));
  });

  it('has no insignificant whitespace and the same form as JSON.parse of any spacing', () => {
    const spaced = JSON.parse('{ "x" : [ 1 , 2 ] ,\n\t"a" : { "k" : "v w" } }') as unknown;
    assert.equal(canonicalJson(spaced), '{"a":{"k":"v w"},"x":[1,2]}');
  });

  it('drops undefined members and writes undefined array items as null, like JSON.stringify', () => {
    assert.equal(canonicalJson({ a: undefined, b: null, c: 1 }), '{"b":null,"c":1}');
    assert.equal(canonicalJson({ nested: { gone: undefined } }), '{"nested":{}}');
    assert.equal(canonicalJson([1, undefined, 2]), '[1,null,2]');
    assert.equal(canonicalJson({ a: undefined, c: 1 }), canonicalJson({ c: 1 }));
  });

  it('writes scalars as JSON does (strings escaped, numbers, booleans, null)', () => {
    assert.equal(canonicalJson('a"b\n'), JSON.stringify('a"b\n'));
    assert.equal(canonicalJson(1.5), '1.5');
    assert.equal(canonicalJson(true), 'true');
    assert.equal(canonicalJson(null), 'null');
    assert.equal(canonicalJson({ '\u00e9': 1, e: 2 }), '{"e":2,"\u00e9":1}');
  });
});

describe('cacheKey', () => {
  it('is a SHA-256 in hex, the same for the same request', () => {
    const key = cacheKey(input(BASE));
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.equal(cacheKey(input({ ...BASE })), key);
  });

  it('does not depend on the order of fields, at any level', () => {
    const reordered = {
      temperature: 0,
      messages: [{ content: 'Hi', role: 'user' }],
      model: 'qwen',
    };
    assert.equal(cacheKey(input(reordered)), cacheKey(input(BASE)));
  });

  it('ignores model, stream and stream_options: they choose how the answer is delivered', () => {
    const key = cacheKey(input(BASE));
    assert.equal(cacheKey(input({ ...BASE, model: 'an-alias-of-qwen' })), key);
    assert.equal(cacheKey(input({ ...BASE, stream: true })), key);
    assert.equal(cacheKey(input({ ...BASE, stream: false })), key);
    assert.equal(cacheKey(input({ ...BASE, stream: true, stream_options: { include_usage: true } })), key);
  });

  it('a field set to undefined is the same as an absent one', () => {
    assert.equal(cacheKey(input({ ...BASE, seed: undefined })), cacheKey(input(BASE)));
  });

  const changes: [string, Record<string, unknown>][] = [
    ['temperature', { temperature: 0.5 }],
    ['top_p', { top_p: 0.9 }],
    ['max_tokens', { max_tokens: 10 }],
    ['max_completion_tokens', { max_completion_tokens: 10 }],
    ['stop', { stop: ['END'] }],
    ['seed', { seed: 7 }],
    ['n', { n: 2 }],
    ['tools', { tools: [{ type: 'function', function: { name: 'f' } }] }],
    ['tool_choice', { tool_choice: 'none' }],
    ['response_format', { response_format: { type: 'json_object' } }],
    ['presence_penalty', { presence_penalty: 1 }],
    ['user', { user: 'someone' }],
    ['an unknown field (top_k)', { top_k: 5 }],
    ['messages', { messages: [{ role: 'user', content: 'Hello' }] }],
    ['a message role', { messages: [{ role: 'system', content: 'Hi' }] }],
    ['temperature set to null', { temperature: null }],
  ];
  for (const [name, change] of changes) {
    it(`changes with ${name}`, () => {
      assert.notEqual(cacheKey(input({ ...BASE, ...change })), cacheKey(input(BASE)));
    });
  }

  it('changes with the endpoint, the backend and the upstream model', () => {
    const key = cacheKey(input(BASE));
    assert.notEqual(cacheKey(input(BASE, { endpoint: 'embeddings' })), key);
    assert.notEqual(cacheKey(input(BASE, { backend: 'ollama' })), key);
    assert.notEqual(cacheKey(input(BASE, { upstreamModel: 'llama3.2:1b' })), key);
  });

  it('differs by scope: one key id from another, and from the global scope', () => {
    const a = cacheKey(input(BASE, { scope: 'team-a' }));
    const b = cacheKey(input(BASE, { scope: 'team-b' }));
    const global = cacheKey(input(BASE, { scope: null }));
    assert.notEqual(a, b);
    assert.notEqual(a, global);
    assert.notEqual(b, global);
    assert.equal(cacheKey(input(BASE, { scope: null })), global);
  });

  it('does not confuse a value in one field with the same text split across fields', () => {
    const one = cacheKey(input({ messages: [{ role: 'user', content: 'a' }], stop: 'b' }));
    const two = cacheKey(input({ messages: [{ role: 'user', content: 'a","stop":"b' }] }));
    assert.notEqual(one, two);
  });
});
