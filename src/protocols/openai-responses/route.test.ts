/**
 * Storing a finished response never fails its answer: a store that fails, or a conversation over the
 * size bound, is said in the log (persistence in route.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyRequest } from 'fastify';
import type { GatewayContext } from '../../server/context.js';
import type { KeyValueStore } from '../../state/kv-store.js';
import { newResponseId } from './ids.js';
import { persistence } from './route.js';
import { ResponseStore } from './store.js';

interface Logged {
  level: 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

function requestLogging(logged: Logged[]): Pick<FastifyRequest, 'log' | 'gateway'> {
  const log = {
    warn: (fields: Record<string, unknown>, message: string) =>
      logged.push({ level: 'warn', fields, message }),
    error: (fields: Record<string, unknown>, message: string) =>
      logged.push({ level: 'error', fields, message }),
  };
  return { log, gateway: { key: { id: 'team-a' } } } as unknown as Pick<FastifyRequest, 'log' | 'gateway'>;
}

const context = { config: { responses: { storeTtlSeconds: 60 } } } as unknown as Pick<
  GatewayContext,
  'config'
>;

/** A key-value store that keeps values in a Map, or fails every write. */
function memoryStore(failing: boolean): KeyValueStore & { values: Map<string, string> } {
  const values = new Map<string, string>();
  return {
    values,
    get: (key) => Promise.resolve(values.get(key) ?? null),
    set: (key, value) => {
      if (failing) return Promise.reject(new Error('the store did not answer within 2000 ms'));
      values.set(key, value);
      return Promise.resolve();
    },
    delete: (key) => Promise.resolve(values.delete(key)),
    close: () => Promise.resolve(),
  };
}

describe('persistence of finished responses', () => {
  it('stores the response with its conversation under the key and the configured TTL', async () => {
    const kv = memoryStore(false);
    const store = new ResponseStore(kv);
    const id = newResponseId();
    const items = [{ type: 'message', role: 'user', content: 'hi' }];
    await persistence(requestLogging([]), context, store, items, true)({ id, output: [] });
    assert.deepEqual(await store.get('team-a', id), { response: { id, output: [] }, input: items });
  });

  it('store: false stores nothing', async () => {
    const kv = memoryStore(false);
    await persistence(requestLogging([]), context, new ResponseStore(kv), [], false)({ id: newResponseId() });
    assert.equal(kv.values.size, 0);
  });

  it('a failing store is logged, and the answer goes on', async () => {
    const logged: Logged[] = [];
    const id = newResponseId();
    await persistence(
      requestLogging(logged),
      context,
      new ResponseStore(memoryStore(true)),
      [],
      true,
    )({ id });
    assert.deepEqual(logged, [
      {
        level: 'error',
        fields: { response_id: id, detail: 'the store did not answer within 2000 ms' },
        message: 'response not stored: the state store failed',
      },
    ]);
  });

  it('a conversation over the bound is not stored, and the log says how large it was', async () => {
    const logged: Logged[] = [];
    const kv = memoryStore(false);
    const id = newResponseId();
    const items = [{ type: 'message', role: 'user', content: 'x'.repeat(2000) }];
    await persistence(requestLogging(logged), context, new ResponseStore(kv, 1024), items, true)({ id });
    assert.equal(kv.values.size, 0);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]?.level, 'warn');
    assert.equal(logged[0]?.fields['limit_bytes'], 1024);
    assert.ok((logged[0]?.fields['bytes'] as number) > 2000);
    assert.match(logged[0]?.message ?? '', /^response not stored/);
  });
});
