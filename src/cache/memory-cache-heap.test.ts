/**
 * Issue 16, finding 12: the in-process cache counted only its answers' JSON and held ~2.75 times its
 * configured bound. Here the memory it really holds is measured: a child Node with --expose-gc fills a
 * MemoryCacheStore with answers shaped as the gateway stores them (keys built by storageKey from a
 * SHA-256, answers parsed from an upstream's JSON) and reports the heap growth after full collections.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const STORE_MODULE = new URL('./cache-store.ts', import.meta.url).href;

interface Measurement {
  /** Heap growth after the store was filled, after full collections. */
  held: number;
  /** What the store counted (sizeBytes). */
  accounted: number;
}

/** The contents of an answer: English text, Chinese text (two bytes a character in V8), or a word. */
type AnswerKind = 'ascii' | 'cjk' | 'tiny';

const CHILD = `
const { createHash } = await import('node:crypto');
const { MemoryCacheStore, storageKey } = await import(process.env.STORE_MODULE);
const kind = process.env.KIND;
const count = Number(process.env.COUNT);
const maxBytes = Number(process.env.MAX_BYTES);
const text = { ascii: 'Hello from the stand-in upstream. '.repeat(6), cjk: '你好，世界。'.repeat(30), tiny: 'OK' }[kind];
function answer(index) {
  // As an upstream sends it, parsed: every string is the answer's own.
  const json = JSON.stringify({
    id: 'chatcmpl-' + createHash('sha256').update(String(index)).digest('hex').slice(0, 29),
    object: 'chat.completion',
    created: 1767225600 + index,
    model: 'llama3.2:1b',
    choices: [{ index: 0, message: { role: 'assistant', content: text + index }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 11, completion_tokens: 6, total_tokens: 17 },
  });
  return { storedAt: Date.now(), body: JSON.parse(json), backend: 'vllm' };
}
function fill(store, seed) {
  for (let index = 0; index < count; index++) {
    const hash = createHash('sha256').update(seed + index).digest('hex');
    void store.set(storageKey('team-a', hash), answer(index), 3600);
  }
}
// The same work once before measuring: code, feedback and the crypto and JSON machinery are warm.
fill(new MemoryCacheStore(maxBytes, maxBytes), 'warm-up');
globalThis.gc();
globalThis.gc();
const before = process.memoryUsage().heapUsed;
const store = new MemoryCacheStore(maxBytes, maxBytes);
fill(store, 'measured');
globalThis.gc();
globalThis.gc();
const held = process.memoryUsage().heapUsed - before;
process.stdout.write(JSON.stringify({ held, accounted: store.sizeBytes }));
`;

async function measure(kind: AnswerKind, count: number, maxBytes: number): Promise<Measurement> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--input-type=module', '--eval', CHILD],
    {
      env: { ...process.env, STORE_MODULE, KIND: kind, COUNT: String(count), MAX_BYTES: String(maxBytes) },
      timeout: 60_000,
    },
  );
  return JSON.parse(stdout) as Measurement;
}

describe('MemoryCacheStore: the memory it holds', () => {
  for (const kind of ['ascii', 'cjk', 'tiny'] as const) {
    it(`counts at least the heap its entries hold (${kind} answers)`, async () => {
      const { held, accounted } = await measure(kind, 10_000, 1_000_000_000);
      assert.ok(held > 0, `heap growth ${held}`);
      assert.ok(
        held <= accounted,
        `holds ${held} bytes, counts ${accounted} (${(held / accounted).toFixed(2)}x)`,
      );
    });
  }

  it('holds no more than memory_max_bytes after many more answers than fit', async () => {
    const maxBytes = 2 * 1024 * 1024;
    const { held, accounted } = await measure('ascii', 20_000, maxBytes);
    assert.ok(accounted <= maxBytes && accounted > maxBytes * 0.9, `counts ${accounted}`);
    assert.ok(held <= maxBytes, `holds ${held} bytes with a bound of ${maxBytes}`);
  });
});
