import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { GatewayConfig, ModelRoute } from '../config/config.js';
import { MemoryCacheStore, type CacheStore, type CachedEntry } from './cache-store.js';
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

describe('ResponseCache in-flight sharing', () => {
  it('shares the answer with a request whose read missed while the store was still writing it', async () => {
    // A remote store whose write has not landed yet: reads miss until it does.
    let stored: CachedEntry | null = null;
    let landWrite: () => void = () => undefined;
    const store: CacheStore = {
      get: () => Promise.resolve(stored),
      set: (_key, entry) =>
        new Promise<void>((resolve) => {
          landWrite = () => {
            stored = entry;
            resolve();
          };
        }),
      purge: () => Promise.resolve(0),
    };
    const cache = new ResponseCache(config, store, pino({ level: 'silent' }));
    const text = '{"model":"m","messages":[{"role":"user","content":"hi"}]}';
    const leader = await cache.lookup(lookupInput(text));
    assert.equal(await leader.joinInFlight(), null, 'the first request leads');
    leader.complete(answer, 'b');
    // Read before the write landed: a MISS, and then the leader's answer, not a second upstream call.
    const late = await cache.lookup(lookupInput(text));
    assert.equal(late.status, 'MISS');
    assert.deepEqual((await late.joinInFlight())?.body, answer);
    landWrite();
    await new Promise((resolve) => setImmediate(resolve));
    // Once the store has it, reads hit and nothing is left in flight.
    const after = await cache.lookup(lookupInput(text));
    assert.equal(after.status, 'HIT');
  });
});
