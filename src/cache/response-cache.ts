import { NO_METRICS, type MetricsSink } from '../observability/metrics.js';
import type { Logger } from 'pino';
import type { GatewayConfig, ModelRoute } from '../config/config.js';
import { parseCacheControl } from './cache-control.js';
import { cacheKey } from './cache-key.js';
import { storageKey, type CachedEntry, type CacheStore } from './cache-store.js';

export type CacheStatus = 'HIT' | 'MISS' | 'BYPASS';

export interface CacheLookupInput {
  readonly endpoint: 'chat' | 'embeddings';
  readonly route: ModelRoute;
  readonly backend: string;
  readonly upstreamModel: string;
  readonly body: Readonly<Record<string, unknown>>;
  /** The text `body` was parsed from, when known: a request sent again byte for byte reuses its key. */
  readonly bodyText?: string | null;
  readonly keyId: string;
  readonly cacheControl: string | string[] | undefined;
}

/** The cache's decision for one request, and what to do with its answer. */
export interface CacheLookup {
  /** HIT: `entry` holds the answer. MISS: looked up, not found. BYPASS: the cache was not read. */
  readonly status: CacheStatus;
  readonly entry: CachedEntry | null;
  /** Whether the answer is wanted (to store, or for requests waiting on this one). */
  readonly collects: boolean;
  /**
   * For a request that goes upstream: waits for an identical request already in flight on this
   * instance and returns its answer (null if there is none, or it failed); otherwise this request
   * becomes the one the others wait for.
   */
  joinInFlight(): Promise<CachedEntry | null>;
  /** Hands the complete answer (and the backend it came from) to the cache and to the requests waiting on this one (once). */
  complete(body: Record<string, unknown>, backend: string): void;
  /** This request produced no storable answer: the waiting requests go upstream themselves. */
  abandon(): void;
}

const KEY_MEMO_ENTRIES = 1024;
/** Request texts up to this long are remembered with their cache keys (longer ones are not kept). */
export const KEY_MEMO_MAX_CHARS = 8192;

const BYPASS: CacheLookup = {
  status: 'BYPASS',
  entry: null,
  collects: false,
  joinInFlight: () => Promise.resolve(null),
  complete: () => undefined,
  abandon: () => undefined,
};

/**
 * The response cache: exact (a SHA-256 over everything that can change the answer), per tenant unless
 * `scope: global`, honouring the request's Cache-Control. A store that fails or is slow makes the
 * request BYPASS, never fail. Concurrent identical misses on one instance share one upstream call.
 */
export class ResponseCache {
  private readonly inFlight = new Map<string, Promise<CachedEntry | null>>();
  private readonly keyMemo = new Map<string, string>();
  /** Times the store failed (for metrics). */
  storeErrors = 0;
  private lastFailureLog = 0;

  constructor(
    private config: GatewayConfig['cache'],
    private readonly store: CacheStore,
    private readonly logger: Logger,
    private readonly metrics: MetricsSink = NO_METRICS,
  ) {}

  /**
   * The storage key of a request. The canonical form and its SHA-256 are remembered for the last
   * KEY_MEMO_ENTRIES request texts (up to KEY_MEMO_MAX_CHARS each): the same bytes parse to the same
   * body, hence the same key, so a request repeated byte for byte (what a cache hit usually is) skips
   * both.
   */
  private keyOf(input: CacheLookupInput, scope: string | null): string {
    const text = input.bodyText;
    const compute = (): string =>
      storageKey(
        scope,
        cacheKey({
          endpoint: input.endpoint,
          backend: input.backend,
          upstreamModel: input.upstreamModel,
          body: input.body,
          scope,
        }),
      );
    if (text === undefined || text === null || text.length > KEY_MEMO_MAX_CHARS) return compute();
    // A JSON array first: where it ends, the text begins, so no two inputs make the same string.
    const memoKey = JSON.stringify([input.endpoint, input.backend, input.upstreamModel, scope]) + text;
    let key = this.keyMemo.get(memoKey);
    if (key === undefined) {
      key = compute();
      if (this.keyMemo.size >= KEY_MEMO_ENTRIES) {
        const oldest = this.keyMemo.keys().next().value;
        if (oldest !== undefined) this.keyMemo.delete(oldest);
      }
      this.keyMemo.set(memoKey, key);
    }
    return key;
  }

  /** Config reload: enabled, ttl, scope and the other per-request settings (the store stays). */
  reconfigure(config: GatewayConfig['cache']): void {
    this.config = config;
  }

  async lookup(input: CacheLookupInput): Promise<CacheLookup> {
    const routeCache = input.route.cache;
    if (!this.config.enabled || routeCache?.enabled === false) return BYPASS;
    if (this.config.onlyDeterministic && input.endpoint === 'chat') {
      const temperature = input.body['temperature'];
      const seed = input.body['seed'];
      if (temperature !== 0 && (seed === undefined || seed === null)) return BYPASS;
    }
    const directives = parseCacheControl(input.cacheControl);
    if (!directives.read && !directives.write) return BYPASS;
    const scope = this.config.scope === 'key' ? input.keyId : null;
    const key = this.keyOf(input, scope);
    const ttlSeconds = routeCache?.ttlSeconds ?? this.config.ttlSeconds;

    let entry: CachedEntry | null = null;
    let status: CacheStatus = directives.read ? 'MISS' : 'BYPASS';
    if (directives.read) {
      try {
        // A remote store fails a read that takes longer than its deadline: BYPASS.
        entry = await this.store.get(key);
      } catch (error) {
        this.failed(error);
        return BYPASS;
      }
      if (
        entry !== null &&
        directives.maxAgeSeconds !== null &&
        Date.now() - entry.storedAt > directives.maxAgeSeconds * 1000
      ) {
        entry = null;
      }
      if (entry !== null) status = 'HIT';
    }

    let settle: ((entry: CachedEntry | null) => void) | null = null;
    /** This request's promise in `inFlight`, while it leads. */
    let leading: Promise<CachedEntry | null> | null = null;
    return {
      status,
      entry,
      collects: true,
      joinInFlight: async () => {
        const leader = directives.read ? this.inFlight.get(key) : undefined;
        if (leader !== undefined) {
          const shared = await leader;
          if (shared !== null) return shared;
        }
        if (!this.inFlight.has(key)) {
          leading = new Promise((resolve) => {
            settle = resolve;
          });
          this.inFlight.set(key, leading);
        }
        return null;
      },
      complete: (body, backend) => {
        const entry: CachedEntry = { storedAt: Date.now(), body, backend };
        if (directives.write) {
          const written = this.store.set(key, entry, ttlSeconds).catch((error: unknown) => {
            this.failed(error);
          });
          // The answer stays shared until the store has it: a request whose read was answered before
          // the write (a MISS) still finds it here, instead of going upstream again.
          if (settle !== null) {
            const mine = leading;
            settle(entry);
            void written.finally(() => {
              if (this.inFlight.get(key) === mine) this.inFlight.delete(key);
            });
          }
        } else this.release(key, settle, entry);
        settle = null;
      },
      abandon: () => {
        this.release(key, settle, null);
        settle = null;
      },
    };
  }

  async purge(scope: string | null): Promise<number> {
    return this.store.purge(scope);
  }

  private release(
    key: string,
    settle: ((entry: CachedEntry | null) => void) | null,
    entry: CachedEntry | null,
  ): void {
    if (settle === null) return;
    this.inFlight.delete(key);
    settle(entry);
  }

  private failed(error: unknown): void {
    this.storeErrors++;
    this.metrics.storeError('cache');
    const now = Date.now();
    if (now - this.lastFailureLog > 10_000) {
      this.lastFailureLog = now;
      this.logger.warn({ detail: (error as Error).message }, 'cache store unavailable: bypassing the cache');
    }
  }
}
