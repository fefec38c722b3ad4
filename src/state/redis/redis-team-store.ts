import type { Logger } from 'pino';
import type { TeamRecord } from '../../auth/team-record.js';
import {
  applyTeamPatch,
  fromStoredTeam,
  TeamExistsError,
  toStoredTeam,
  type StoredTeam,
  type TeamPatch,
  type TeamStore,
} from '../../auth/team-store.js';
import { withDeadline } from '../deadline.js';
import type { ChangeSubscriber } from './cluster-subscriber.js';
import type { RedisClient } from './redis-client.js';

/**
 * The admin API's teams in Redis, shared by every instance; every key carries the `{gw-teams}` hash tag
 * (one Redis Cluster slot, so the scripts' keys are valid together).
 *
 *   {gw-teams}:team:<id>  → the record as JSON (team-store.ts StoredTeam)
 *   {gw-teams}:ids        → set of ids
 *
 * Changes are published on `gw-teams:changed` (the id), on the key store's subscriber connection, so
 * that other instances drop their cached copy at once; a lost subscription makes listeners forget
 * everything, as for keys (redis-key-store.ts).
 */
const TAG = '{gw-teams}';
export const TEAMS_CHANNEL = 'gw-teams:changed';
const teamKey = (id: string): string => `${TAG}:team:${id}`;
const IDS = `${TAG}:ids`;

const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return 1`;

// Compare-and-set: writes the new record only if nobody changed it since it was read.
const REPLACE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`;

const DELETE = `
local deleted = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return deleted`;

const MAX_UPDATE_ATTEMPTS = 5;
const FIRST_CONNECTION_WAIT_MS = 2000;

export class RedisTeamStore implements TeamStore {
  readonly kind = 'redis';
  private subscribed = false;
  private readonly listeners: ((id: string | null) => void)[] = [];
  private readonly firstConnection: Promise<void>;

  constructor(
    private readonly redis: RedisClient,
    subscriber: ChangeSubscriber,
    private readonly logger: Logger,
    /** Bounds a look-up on the request path (a team not in the cache), as for keys. */
    private readonly lookupTimeoutMs: number | null = null,
  ) {
    this.firstConnection =
      redis.status === 'ready'
        ? Promise.resolve()
        : new Promise((resolve) => {
            redis.once('ready', () => {
              resolve();
            });
          });
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== TEAMS_CHANNEL) return;
      for (const listener of this.listeners) listener(message);
    });
    subscriber.on('ready', () => {
      subscriber.subscribe(TEAMS_CHANNEL).then(
        () => {
          this.subscribed = true;
          for (const listener of this.listeners) listener(null);
        },
        (error: unknown) => {
          this.logger.warn({ detail: (error as Error).message }, 'cannot subscribe to team changes');
        },
      );
    });
    subscriber.on('close', () => {
      if (this.subscribed) {
        this.subscribed = false;
        for (const listener of this.listeners) listener(null);
      }
    });
  }

  get changesDelivered(): boolean {
    return this.subscribed;
  }

  async get(id: string): Promise<TeamRecord | null> {
    const reading = this.redis.get(teamKey(id));
    const json = await (this.lookupTimeoutMs === null
      ? reading
      : withDeadline(reading, this.lookupTimeoutMs));
    return json === null ? null : fromStoredTeam(JSON.parse(json) as StoredTeam);
  }

  async list(): Promise<TeamRecord[]> {
    await this.connected();
    const ids = await this.redis.smembers(IDS);
    if (ids.length === 0) return [];
    const records = await this.redis.mget(ids.map(teamKey));
    return records
      .filter((json): json is string => json !== null)
      .map((json) => fromStoredTeam(JSON.parse(json) as StoredTeam))
      .sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.id.localeCompare(b.id));
  }

  async create(record: TeamRecord): Promise<void> {
    await this.connected();
    const created = await this.redis.eval(
      CREATE,
      2,
      teamKey(record.id),
      IDS,
      JSON.stringify(toStoredTeam(record)),
      record.id,
    );
    if (created !== 1) throw new TeamExistsError(record.id);
    await this.publish(record.id);
  }

  async update(id: string, patch: TeamPatch): Promise<TeamRecord | null> {
    await this.connected();
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const before = await this.redis.get(teamKey(id));
      if (before === null) return null;
      const next = applyTeamPatch(fromStoredTeam(JSON.parse(before) as StoredTeam), patch);
      const replaced = await this.redis.eval(
        REPLACE,
        1,
        teamKey(id),
        before,
        JSON.stringify(toStoredTeam(next)),
      );
      if (replaced === 1) {
        await this.publish(id);
        return next;
      }
    }
    throw new Error(`team ${id} is being changed concurrently; try again`);
  }

  async delete(id: string): Promise<boolean> {
    await this.connected();
    const deleted = await this.redis.eval(DELETE, 2, teamKey(id), IDS, id);
    if (deleted !== 1) return false;
    await this.publish(id);
    return true;
  }

  subscribe(listener: (id: string | null) => void): void {
    this.listeners.push(listener);
  }

  /** The subscriber connection belongs to the key store, which closes it. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  private async connected(): Promise<void> {
    if (this.redis.status === 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.firstConnection,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, FIRST_CONNECTION_WAIT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async publish(id: string): Promise<void> {
    await this.redis.publish(TEAMS_CHANNEL, id);
  }
}
