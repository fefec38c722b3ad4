import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { GatewayConfig, ModelRoute } from '../config/config.js';
import { MemoryCacheStore } from './cache-store.js';
import { ResponseCache, type CacheLookupInput } from './response-cache.js';

const config: GatewayConfig['cache'] = {
  enabled: true,
  ttlSeconds: 60,
  scope: 'key',
  onlyDeterministic: false,
  maxEntryBytes: 100_000,
  memoryMaxBytes: 1_000_000,
};
const route: ModelRoute = { name: 'm', targets: [], rateLimit: null, cache: null, strategy: 'weighted' };
const answer = { id: 'chatcmpl-1', object: 'chat.completion', created: 1, choices: [] };

function lookupInput(text: string, overrides: Partial<CacheLookupInput> = {}): CacheLookupInput {
  return {
    endpoint: 'chat',
    route,
    backend: 'b',
    upstreamModel: 'm',
    body: JSON.parse(text) as Record<string, unknown>,
    bodyText: text,
    keyId: 'k1',
    cacheControl: undefined,
    ...overrides,
  };
}

/** Stores an answer for the input; says whether the lookup before was a hit. */
async function ask(cache: ResponseCache, input: CacheLookupInput): Promise<string> {
  const lookup = await cache.lookup(input);
  if (lookup.status === 'MISS') lookup.complete(answer, 'b');
  return lookup.status;
}

describe('ResponseCache keys from request texts', () => {
  it('gives a text sent again the key its body has, whatever the text, and nothing beyond its scope', async () => {
    const cache = new ResponseCache(
      config,
      new MemoryCacheStore(1_000_000, 100_000),
      pino({ level: 'silent' }),
    );
    const text = '{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0}';
    assert.equal(await ask(cache, lookupInput(text)), 'MISS');
    // The same bytes again: a hit, through the remembered key.
    assert.equal(await ask(cache, lookupInput(text)), 'HIT');
    // The same body in other bytes (key order, whitespace): the same canonical key.
    const reordered = '{ "temperature": 0, "messages": [ {"content":"hi", "role":"user"} ], "model": "m" }';
    assert.equal(await ask(cache, lookupInput(reordered)), 'HIT');
    // The same bytes for another key, another backend, another upstream model, embeddings: other keys.
    assert.equal(await ask(cache, lookupInput(text, { keyId: 'k2' })), 'MISS');
    assert.equal(await ask(cache, lookupInput(text, { backend: 'other' })), 'MISS');
    assert.equal(await ask(cache, lookupInput(text, { upstreamModel: 'm2' })), 'MISS');
    assert.equal(await ask(cache, lookupInput(text, { endpoint: 'embeddings' })), 'MISS');
    // A different body is a different key, remembered or not.
    const other = text.replace('"hi"', '"ho"');
    assert.equal(await ask(cache, lookupInput(other)), 'MISS');
    assert.equal(await ask(cache, lookupInput(other, { bodyText: null })), 'HIT');
  });

  it('forgets the oldest texts beyond its bound and still answers them right', async () => {
    const cache = new ResponseCache(
      config,
      new MemoryCacheStore(10_000_000, 100_000),
      pino({ level: 'silent' }),
    );
    const texts = Array.from(
      { length: 1500 },
      (_, index) => `{"model":"m","messages":[{"role":"user","content":"q${index}"}]}`,
    );
    for (const text of texts) assert.equal(await ask(cache, lookupInput(text)), 'MISS');
    // The first ones fell out of the memo: their keys are computed again, and are the same.
    for (const text of texts) assert.equal(await ask(cache, lookupInput(text)), 'HIT');
  });
});
