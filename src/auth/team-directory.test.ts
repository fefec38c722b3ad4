import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { ServiceUnavailableError } from '../errors/errors.js';
import { TeamDirectory } from './team-directory.js';
import type { TeamRecord } from './team-record.js';
import type { TeamStore } from './team-store.js';

const logger = pino({ level: 'silent' });

function record(id: string, name = id): TeamRecord {
  return {
    id,
    name,
    models: null,
    rateLimit: null,
    budgets: [],
    maxConcurrency: null,
    metadata: {},
    createdAt: null,
    source: 'store',
  };
}

/** A store that counts reads, may fail, and announces changes when told. */
class FakeStore implements TeamStore {
  readonly kind = 'redis';
  changesDelivered = true;
  reads = 0;
  failing = false;
  readonly teams = new Map<string, TeamRecord>();
  private readonly listeners: ((id: string | null) => void)[] = [];
  get(id: string): Promise<TeamRecord | null> {
    this.reads++;
    if (this.failing) return Promise.reject(new Error('connection is closed'));
    return Promise.resolve(this.teams.get(id) ?? null);
  }
  list(): Promise<TeamRecord[]> {
    return Promise.resolve([...this.teams.values()]);
  }
  create(): Promise<void> {
    return Promise.resolve();
  }
  update(): Promise<TeamRecord | null> {
    return Promise.resolve(null);
  }
  delete(): Promise<boolean> {
    return Promise.resolve(false);
  }
  subscribe(listener: (id: string | null) => void): void {
    this.listeners.push(listener);
  }
  announce(id: string | null): void {
    for (const listener of this.listeners) listener(id);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const CONFIG_TEAM = {
  id: 'from-file',
  name: 'From the file',
  models: ['demo'],
  rateLimit: null,
  budgets: [],
  maxConcurrency: 4,
  metadata: {},
};

describe('TeamDirectory', () => {
  it('answers null for a key without a team, without asking the store', async () => {
    const store = new FakeStore();
    const directory = new TeamDirectory([], store, logger);
    assert.equal(await directory.teamOf({ id: 'k', team: null }), null);
    assert.equal(store.reads, 0);
  });

  it('finds config teams without the store, and a reload replaces them', async () => {
    const store = new FakeStore();
    const directory = new TeamDirectory([CONFIG_TEAM], store, logger);
    const team = await directory.teamOf({ id: 'k', team: 'from-file' });
    assert.equal(team?.source, 'config');
    assert.equal(team.maxConcurrency, 4);
    directory.setConfigTeams([]);
    assert.equal(await directory.teamOf({ id: 'k', team: 'from-file' }), null);
    assert.equal(store.reads, 1);
  });

  it('caches a stored team until a change is announced (another instance) or made here', async () => {
    const store = new FakeStore();
    store.teams.set('research', record('research'));
    const directory = new TeamDirectory([], store, logger);
    const key = { id: 'k', team: 'research' };
    assert.equal((await directory.teamOf(key))?.name, 'research');
    await directory.teamOf(key);
    assert.equal(store.reads, 1);
    store.teams.set('research', record('research', 'renamed'));
    store.announce('research');
    assert.equal((await directory.teamOf(key))?.name, 'renamed');
    assert.equal(store.reads, 2);
    store.teams.set('research', record('research', 'again'));
    directory.forget('research');
    assert.equal((await directory.teamOf(key))?.name, 'again');
  });

  it('while the store is down: a cached team keeps working (even after a lost subscription), an unknown one is 503', async () => {
    const store = new FakeStore();
    store.teams.set('research', record('research'));
    const directory = new TeamDirectory([], store, logger);
    await directory.teamOf({ id: 'k', team: 'research' });
    store.announce(null);
    store.failing = true;
    assert.equal((await directory.teamOf({ id: 'k', team: 'research' }))?.id, 'research');
    await assert.rejects(directory.teamOf({ id: 'k', team: 'other' }), ServiceUnavailableError);
  });

  it('keeps a team read 1 s only while changes are not delivered (SQLite, a lost subscription)', async () => {
    const store = new FakeStore();
    store.changesDelivered = false;
    store.teams.set('research', record('research'));
    const directory = new TeamDirectory([], store, logger);
    const key = { id: 'k', team: 'research' };
    await directory.teamOf(key);
    await directory.teamOf(key);
    assert.equal(store.reads, 1);
    const realNow = Date.now;
    Date.now = () => realNow() + 1500;
    try {
      await directory.teamOf(key);
    } finally {
      Date.now = realNow;
    }
    assert.equal(store.reads, 2);
  });
});
