/** Stored responses: scoped to their API key, bounded in size, deleted on request; on the SQLite store. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EmbeddedKeyValueStore } from '../../state/embedded/embedded-kv-store.js';
import { newResponseId } from './ids.js';
import { ResponseStore, storageKey } from './store.js';

describe('ResponseStore', () => {
  let directory: string;
  let kv: EmbeddedKeyValueStore;
  let store: ResponseStore;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-responses-'));
    kv = EmbeddedKeyValueStore.open(directory);
    store = new ResponseStore(kv, 2048);
  });

  after(async () => {
    await kv.close();
    rmSync(directory, { recursive: true, force: true });
  });

  const record = (id: string, text = 'hi') => ({
    response: { id, object: 'response', output: [] },
    input: [{ type: 'message', role: 'user', content: text }],
  });

  it('a response stored by one key is read back by it, and by no other key', async () => {
    const id = newResponseId();
    assert.deepEqual(await store.put('team-a', record(id), 60), { stored: true });
    assert.deepEqual(await store.get('team-a', id), record(id));
    assert.equal(await store.get('team-b', id), null);
    assert.equal(await store.delete('team-b', id), false);
    assert.equal(await store.delete('team-a', id), true);
    assert.equal(await store.get('team-a', id), null);
  });

  it('a record over the size bound is not stored', async () => {
    const id = newResponseId();
    const result = await store.put('team-a', record(id, 'x'.repeat(4096)), 60);
    assert.equal(result.stored, false);
    assert.ok(!result.stored && result.bytes > 4096);
    assert.equal(await store.get('team-a', id), null);
  });

  it('ids that are not response ids are never looked up; key ids cannot reach another prefix', async () => {
    assert.equal(await store.get('team-a', '../../etc'), null);
    assert.equal(storageKey('a:b', newResponseId()).split(':').length, 3);
  });

  it('an unreadable record is none', async () => {
    const id = newResponseId();
    await kv.set(storageKey('team-a', id), '{not json', 60);
    assert.equal(await store.get('team-a', id), null);
  });
});
