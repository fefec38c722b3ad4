import { NO_METRICS, type MetricsSink } from '../observability/metrics.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { StaticKey } from '../config/config.js';
import { AuthenticationError, RateLimitedAuthError, ServiceUnavailableError } from '../errors/errors.js';
import { bearerToken, digestsEqual, extractApiKey, keyHint, sha256Hex } from './api-key.js';
import { AuthFailureLimiter } from './auth-failure-limiter.js';
import type { KeyRecord } from './key-record.js';
import type { KeyStore } from './key-store.js';
import type { TeamDirectory } from './team-directory.js';
import type { TeamRecord } from './team-record.js';

/** Who an operator is: the admin token may change everything, the viewer token only read. */
export type OperatorRole = 'admin' | 'viewer';

/** How long a verified key is trusted without asking the store, while change events are delivered. */
const CACHE_TTL_MS = 30_000;
/** ... and while they are not (a lost subscription): revocation still takes effect within 1 s. */
const CACHE_TTL_UNSUBSCRIBED_MS = 1_000;
/** Unknown keys are remembered briefly, so that repeating one does not reach the store every time. */
const NEGATIVE_TTL_MS = 1_000;
const CACHE_ENTRIES = 10_000;

interface CacheEntry {
  readonly record: KeyRecord | null;
  readonly expiresAt: number;
}

/**
 * Decides who a request is from. Keys are looked up by their SHA-256 (map and store look-ups by hash,
 * so no comparison of secrets happens and nothing depends on how much of a guess was right): the
 * config's static keys, then a bounded in-process cache, then the store.
 */
export class Authenticator {
  private staticKeys = new Map<string, KeyRecord>();
  private readonly cache = new Map<string, CacheEntry>();
  private readonly failures = new AuthFailureLimiter();
  private readonly adminFailures = new AuthFailureLimiter();
  /** Counts invalidations: a look-up that overlapped one may carry the old record and is not cached. */
  private invalidations = 0;

  constructor(
    keys: readonly StaticKey[],
    private readonly store: KeyStore,
    private readonly logger: Logger,
    private readonly metrics: MetricsSink = NO_METRICS,
    /** Teams (issue 20): resolves a key's team; null when the gateway has no team store. */
    readonly teams: TeamDirectory | null = null,
  ) {
    this.setStaticKeys(keys);
    store.subscribe((sha256) => {
      this.invalidations++;
      if (sha256 === null) this.expireAll();
      else this.cache.delete(sha256);
    });
  }

  /** Replaces the static keys (config reload): one swap, so a request sees the old set or the new. */
  setStaticKeys(keys: readonly StaticKey[]): void {
    const next = new Map<string, KeyRecord>();
    for (const key of keys) {
      next.set(key.sha256, {
        id: key.id,
        name: key.name,
        sha256: key.sha256,
        createdAt: null,
        expiresAt: null,
        revokedAt: null,
        models: key.models,
        rateLimit: key.rateLimit,
        metadata: key.metadata,
        team: key.team,
        priority: key.priority,
        maxConcurrency: key.maxConcurrency,
        budgets: key.budgets,
        source: 'config',
      });
    }
    this.staticKeys = next;
  }

  get staticRecords(): readonly KeyRecord[] {
    return [...this.staticKeys.values()];
  }

  /**
   * The key record of the request's key. A valid key is never refused for what its address did before:
   * failures are counted per address, and only further failures are refused (429) once it has spent
   * its budget (issue 16, finding 2).
   */
  async authenticate(headers: IncomingHttpHeaders, address: string): Promise<KeyRecord> {
    let key: string;
    try {
      key = extractApiKey(headers);
    } catch (error) {
      this.fail(address, null, 'missing or malformed', error as AuthenticationError);
    }
    const hash = sha256Hex(key);
    const record = this.staticKeys.get(hash) ?? (await this.lookUp(hash));
    if (record === null || record.revokedAt !== null) {
      this.fail(
        address,
        key,
        record === null ? 'unknown' : 'revoked',
        new AuthenticationError('Invalid API key'),
      );
    }
    // An expiry that does not parse never means "valid".
    if (record.expiresAt !== null && !(Date.parse(record.expiresAt) > Date.now())) {
      this.fail(address, key, 'expired', new AuthenticationError('This API key has expired'));
    }
    return record;
  }

  /**
   * The team of an authenticated key, for `request.gateway.team` (null without one). Cached like keys
   * (team-directory.ts); 503 when the team store does not answer and the team was not cached.
   */
  teamOf(key: KeyRecord): Promise<TeamRecord | null> {
    if (key.team === null || this.teams === null) return Promise.resolve(null);
    return this.teams.teamOf(key);
  }

  /**
   * Checks the admin token (`Authorization: Bearer <token>`) against its configured SHA-256. Admin
   * failures have a budget of their own: a flood of bad API keys from a shared address does not lock
   * the operator out, and the right token is never refused.
   */
  authenticateAdmin(headers: IncomingHttpHeaders, address: string, expectedSha256: string): void {
    this.authenticateOperator(bearerToken(headers.authorization), address, {
      admin: expectedSha256,
      viewer: null,
    });
  }

  /**
   * Which operator a token is: the admin token or the read-only viewer token (issue 22). Failures share
   * the admin budget of authenticateAdmin (429 once an address has spent it), and are logged without
   * any hint of the token.
   */
  authenticateOperator(
    token: string | null,
    address: string,
    expected: { readonly admin: string; readonly viewer: string | null },
  ): OperatorRole {
    if (token !== null) {
      const hash = sha256Hex(token);
      if (digestsEqual(hash, expected.admin)) return 'admin';
      if (expected.viewer !== null && digestsEqual(hash, expected.viewer)) return 'viewer';
    }
    const retryAfter = this.adminFailures.fail(address);
    this.logger.info(
      { reason: token === null ? 'missing or malformed' : 'wrong token', address },
      'admin authentication failed',
    );
    if (retryAfter > 0) throw new RateLimitedAuthError(retryAfter);
    throw new AuthenticationError("Invalid admin token; send 'Authorization: Bearer <admin token>'");
  }

  /** Forgets a cached key at once (this instance changed it). */
  forget(sha256: string): void {
    this.invalidations++;
    this.cache.delete(sha256);
  }

  /**
   * Changes may have been missed (the subscription was lost): every cached key is read again before it
   * is trusted, yet stays as a fallback while the store does not answer, since no key can be changed
   * without the store either. Unknown keys are forgotten.
   */
  private expireAll(): void {
    for (const [hash, entry] of this.cache) {
      if (entry.record === null) this.cache.delete(hash);
      else this.cache.set(hash, { record: entry.record, expiresAt: 0 });
    }
  }

  private async lookUp(hash: string): Promise<KeyRecord | null> {
    const now = Date.now();
    const cached = this.cache.get(hash);
    if (cached !== undefined && cached.expiresAt > now) return cached.record;
    const invalidationsBefore = this.invalidations;
    let record: KeyRecord | null;
    try {
      record = await this.store.findByHash(hash);
    } catch (error) {
      this.metrics.storeError('keys');
      // A key verified before keeps working while the store is away; a change to it would have removed
      // it from the cache (a key changed by this instance, or announced by the store, is forgotten).
      if (cached !== undefined && cached.record !== null) return cached.record;
      // Never a silent pass, never a 500: the client may retry.
      this.logger.warn({ detail: (error as Error).message }, 'key store unavailable');
      throw new ServiceUnavailableError('The key store is unavailable; retry shortly', 1);
    }
    const ttl =
      record === null
        ? NEGATIVE_TTL_MS
        : this.store.changesDelivered
          ? CACHE_TTL_MS
          : CACHE_TTL_UNSUBSCRIBED_MS;
    // A change announced while the look-up was in flight may be newer than what it read.
    if (this.invalidations !== invalidationsBefore) return record;
    if (this.cache.size >= CACHE_ENTRIES) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(hash, { record, expiresAt: now + ttl });
    return record;
  }

  /** Counts a failed authentication and throws it: 401, or 429 once the address has spent its budget. */
  private fail(address: string, key: string | null, reason: string, error: AuthenticationError): never {
    const retryAfter = this.failures.fail(address);
    this.logger.info(
      { reason, key_hint: key === null ? null : keyHint(key), address },
      'authentication failed',
    );
    if (retryAfter > 0) throw new RateLimitedAuthError(retryAfter);
    throw error;
  }
}

/** True when no key exists anywhere, so the first start must create one. */
export async function hasNoKeys(authenticator: Authenticator, store: KeyStore): Promise<boolean> {
  return authenticator.staticRecords.length === 0 && (await store.count()) === 0;
}
