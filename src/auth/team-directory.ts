import type { Logger } from 'pino';
import type { TeamConfig } from '../config/config.js';
import { ServiceUnavailableError } from '../errors/errors.js';
import { NO_METRICS, type MetricsSink } from '../observability/metrics.js';
import { teamFromConfig, type TeamRecord } from './team-record.js';
import type { TeamStore } from './team-store.js';

/** How long a team read from the store is trusted, while change events are delivered ... */
const CACHE_TTL_MS = 30_000;
/** ... and while they are not (a lost subscription, or the SQLite file another process may change). */
const CACHE_TTL_UNSUBSCRIBED_MS = 1_000;
const CACHE_ENTRIES = 10_000;

interface CacheEntry {
  readonly record: TeamRecord | null;
  readonly expiresAt: number;
}

/**
 * Finds a key's team: the config's teams first (read-only, replaced on reload), then a bounded
 * in-process cache, then the team store. Cached like keys: a change by this instance or announced by
 * the store (another instance) drops the entry at once.
 */
export class TeamDirectory {
  private configTeams = new Map<string, TeamRecord>();
  private readonly cache = new Map<string, CacheEntry>();
  private invalidations = 0;
  private lastMissingLog = 0;

  constructor(
    teams: readonly TeamConfig[],
    readonly store: TeamStore,
    private readonly logger: Logger,
    private readonly metrics: MetricsSink = NO_METRICS,
  ) {
    this.setConfigTeams(teams);
    store.subscribe((id) => {
      this.invalidations++;
      if (id === null) this.expireAll();
      else this.cache.delete(id);
    });
  }

  /** Replaces the config's teams (config reload) in one swap. */
  setConfigTeams(teams: readonly TeamConfig[]): void {
    this.configTeams = new Map(teams.map((team) => [team.id, teamFromConfig(team)]));
  }

  get configRecords(): readonly TeamRecord[] {
    return [...this.configTeams.values()];
  }

  configTeam(id: string): TeamRecord | undefined {
    return this.configTeams.get(id);
  }

  /** Forgets a cached team at once (this instance changed it). */
  forget(id: string): void {
    this.invalidations++;
    this.cache.delete(id);
  }

  /**
   * The team of a key (null for a key without one). A team that no longer exists (its config entry
   * removed by a reload) is null with a warning: its limits cannot apply. A store that does not answer
   * keeps a team cached before working; else 503, never a request let through without its team.
   */
  async teamOf(key: { readonly id: string; readonly team: string | null }): Promise<TeamRecord | null> {
    if (key.team === null) return null;
    const record = this.configTeams.get(key.team) ?? (await this.lookUp(key.team));
    if (record === null) {
      const now = Date.now();
      if (now - this.lastMissingLog > 10_000) {
        this.lastMissingLog = now;
        this.logger.warn({ key_id: key.id, team: key.team }, "the key's team does not exist");
      }
    }
    return record;
  }

  /** Any team with this id, config or store (for admin checks; uncached). */
  async find(id: string): Promise<TeamRecord | null> {
    return this.configTeams.get(id) ?? (await this.store.get(id));
  }

  private expireAll(): void {
    for (const [id, entry] of this.cache) {
      if (entry.record === null) this.cache.delete(id);
      else this.cache.set(id, { record: entry.record, expiresAt: 0 });
    }
  }

  private async lookUp(id: string): Promise<TeamRecord | null> {
    const now = Date.now();
    const cached = this.cache.get(id);
    if (cached !== undefined && cached.expiresAt > now) return cached.record;
    const invalidationsBefore = this.invalidations;
    let record: TeamRecord | null;
    try {
      record = await this.store.get(id);
    } catch (error) {
      // Teams are key data: counted with the key store's errors.
      this.metrics.storeError('keys');
      if (cached !== undefined && cached.record !== null) return cached.record;
      this.logger.warn({ detail: (error as Error).message }, 'team store unavailable');
      throw new ServiceUnavailableError('The team store is unavailable; retry shortly', 1);
    }
    // A change announced while the look-up was in flight may be newer than what it read.
    if (this.invalidations !== invalidationsBefore) return record;
    if (this.cache.size >= CACHE_ENTRIES) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    const ttl = this.store.changesDelivered ? CACHE_TTL_MS : CACHE_TTL_UNSUBSCRIBED_MS;
    this.cache.set(id, { record, expiresAt: now + ttl });
    return record;
  }
}
