import { NO_METRICS, type MetricsSink } from '../observability/metrics.js';
import type { Logger } from 'pino';
import type { KeyRecord } from '../auth/key-record.js';
import type { TeamRecord } from '../auth/team-record.js';
import type { RateLimitPolicyConfig } from '../config/schema.js';
import { parseRate, type Rate } from '../config/rate-string.js';
import type { GatewayConfig, ModelRoute } from '../config/config.js';
import { RateLimitExceededError, ServiceUnavailableError } from '../errors/errors.js';
import type { AcquireResult, LimitCheck, LimiterStore } from './limiter-store.js';
import { MemoryLimiter } from './memory-limiter.js';
import { resolveLimits, type AppliedLimit } from './policy.js';
import { rateLimitHeaders, rateLimitPolicy } from './rate-limit-headers.js';
import type { RedisClient } from '../state/redis/redis-client.js';
import { RedisLimiter, UnappliedAdjustmentsError } from './redis-limiter.js';

/** What an admitted request holds: its headers, and the settlement of its token reservation. */
export interface Grant {
  readonly headers: Readonly<Record<string, string>>;
  /** True when a token limit applies: the caller must settle with the tokens really used. */
  readonly countsTokens: boolean;
  /**
   * Corrects the token reservation to what was really used (the usage the backend reported, or what a
   * cancelled stream produced). Only the first call counts; null leaves the reservation as it is.
   */
  settle(actualTokens: number | null): void;
}

const SETTLE_INTERVAL_MS = 50;
/** At most this many keys' settlements wait; past it, a failed settlement of a new key is dropped. */
const MAX_PENDING_SETTLEMENTS = 10_000;

/** A settlement waiting to be sent, gathered per limiter key. */
interface PendingAdjustment {
  readonly limit: AppliedLimit;
  readonly key: string;
  delta: number;
  /** When it first failed to reach Redis (Date.now()); null if it has not failed. */
  failedSince: number | null;
}

const NO_LIMITS: Grant = { headers: {}, countsTokens: false, settle: () => undefined };

export interface AcquireInput {
  readonly key: KeyRecord;
  readonly route: ModelRoute | null;
  /**
   * The key's team (request.gateway.team): its rate_limit applies as well, counted for all its keys
   * together. Absent or null: none.
   */
  readonly team?: TeamRecord | null;
  /**
   * Computes the token reservation, called only when a token limit applies (tokenizing costs time);
   * null when the request consumes no tokens (a cache hit).
   */
  readonly tokens: ((smallestTokenLimit: number) => number) | null;
  /**
   * For a request that set no bound of its own (no max_tokens): the least it can be admitted with (its
   * prompt and one token). When the default reservation does not fit, this is tried instead; the real
   * usage is settled afterwards either way.
   */
  readonly minimumTokens?: () => number;
}

/** Every limit of a key on a route, with its state key. */
interface LimitPlan {
  readonly all: readonly { readonly limit: AppliedLimit; readonly key: string }[];
  /** The request limits alone (what a cache hit is checked against). */
  readonly requests: readonly { readonly limit: AppliedLimit; readonly key: string }[];
  /** RateLimit-Policy of `all`, and of `requests`. */
  readonly allPolicy: string;
  readonly requestsPolicy: string;
  /** The lowest token limit, or null without token limits. */
  readonly smallestTokenLimit: number | null;
}

function unitWord(limit: AppliedLimit): string {
  return limit.rate.unit;
}

/**
 * A team's own limits (issue 20): named `team-requests`, `team-tokens` (with the unit when a kind has
 * several rates), counted for the team as a whole. The default policy never applies to a team.
 */
export function teamLimits(teamId: string, policy: RateLimitPolicyConfig | null): AppliedLimit[] {
  const out: AppliedLimit[] = [];
  for (const kind of ['requests', 'tokens'] as const) {
    const value = policy?.[kind];
    if (value === undefined) continue;
    const list = (typeof value === 'string' ? [value] : value)
      .map((text) => parseRate(text))
      .filter((rate): rate is Rate => rate !== null);
    for (const rate of list) {
      out.push({
        name: `team-${kind}${list.length === 1 ? '' : `-${rate.unit}`}`,
        kind,
        rate,
        scope: `team:${kind}:${rate.limit}/${rate.unit}`,
        subject: `team ${teamId}`,
      });
    }
  }
  return out;
}

/**
 * The state keys of a request's limits. Every limit of one request shares one hash tag, so that one
 * script decides them all on one Redis Cluster slot: the key's id, or, for a key whose team has limits,
 * the team's (its own limits then live under the team's tag, beside the team's shared ones):
 *
 *   gw-rl:{<key id>}:<scope>                      a key without team limits
 *   gw-rl:{team:<team id>}:key:<key id>:<scope>   its key and route limits, in a team with limits
 *   gw-rl:{team:<team id>}:<team scope>           the team's limits, shared by its keys
 */
function limitKeys(keyId: string, teamId: string | null): { own: string; team: string } {
  return teamId === null
    ? { own: `gw-rl:{${keyId}}:`, team: '' }
    : { own: `gw-rl:{team:${teamId}}:key:${keyId}:`, team: `gw-rl:{team:${teamId}}:` };
}

/**
 * Applies the rate limits of the config, the key, the route and the key's team. With Redis, every instance shares the
 * state through one atomic script per request; when Redis fails or is slower than `store_timeout_ms`,
 * `on_store_error` decides: `open` admits through a per-instance limiter (and says so in the log),
 * `closed` answers 503. Nothing is ever queued for later replay.
 */
export class RateLimiter {
  private readonly memory = new MemoryLimiter();
  private readonly shared: LimiterStore | null;
  private lastFailureLog = 0;
  /** Per key record and route: the plan, and the team record it was made with. */
  private plans = new WeakMap<
    KeyRecord,
    Map<ModelRoute | null, { readonly team: TeamRecord | null; readonly plan: LimitPlan }>
  >();
  private readonly pending = new Map<string, PendingAdjustment>();
  private flushTimer: NodeJS.Timeout | null = null;
  private lastSettlementLog = 0;
  /** Times the shared store failed and on_store_error decided (for metrics). */
  storeErrors = 0;

  constructor(
    private config: GatewayConfig['rateLimit'],
    redis: RedisClient | null,
    private readonly logger: Logger,
    private readonly metrics: MetricsSink = NO_METRICS,
  ) {
    this.shared = redis === null ? null : new RedisLimiter(redis, () => this.config.storeTimeoutMs);
  }

  /** Config reload: new default policy and settings; counts kept so far stay. */
  reconfigure(config: GatewayConfig['rateLimit']): void {
    this.config = config;
    this.plans = new WeakMap();
  }

  /**
   * The limits of a key on a route in its team, resolved once per key record, route and team record
   * (records and routes are replaced, not changed, when a key, a team or the config changes; a reload
   * starts afresh).
   */
  private planFor(key: KeyRecord, route: ModelRoute | null, team: TeamRecord | null): LimitPlan {
    let byRoute = this.plans.get(key);
    if (byRoute === undefined) {
      byRoute = new Map();
      this.plans.set(key, byRoute);
    }
    const cached = byRoute.get(route);
    let plan = cached?.team === team ? cached.plan : undefined;
    if (plan === undefined) {
      const ofTeam = team === null ? [] : teamLimits(team.id, team.rateLimit);
      const prefixes = limitKeys(key.id, ofTeam.length === 0 || team === null ? null : team.id);
      const all = [
        ...resolveLimits({
          keyId: key.id,
          keyPolicy: key.rateLimit,
          defaultPolicy: this.config.default,
          routeName: route?.name ?? null,
          routePolicy: route?.rateLimit ?? null,
        }).map((limit) => ({ limit, key: `${prefixes.own}${limit.scope}` })),
        ...ofTeam.map((limit) => ({ limit, key: `${prefixes.team}${limit.scope}` })),
      ];
      const tokenLimits = all.filter(({ limit }) => limit.kind === 'tokens');
      const requests = all.filter(({ limit }) => limit.kind === 'requests');
      plan = {
        all,
        requests,
        allPolicy: rateLimitPolicy(all.map(({ limit }) => limit)),
        requestsPolicy: rateLimitPolicy(requests.map(({ limit }) => limit)),
        smallestTokenLimit:
          tokenLimits.length === 0 ? null : Math.min(...tokenLimits.map(({ limit }) => limit.rate.limit)),
      };
      byRoute.set(route, { team, plan });
    }
    return plan;
  }

  async acquire(input: AcquireInput): Promise<Grant> {
    const plan = this.planFor(input.key, input.route, input.team ?? null);
    // A request that consumes no tokens (a cache hit) is checked against the request limits only.
    const limits = input.tokens === null ? plan.requests : plan.all;
    if (limits.length === 0) return NO_LIMITS;
    let reserved =
      input.tokens !== null && plan.smallestTokenLimit !== null ? input.tokens(plan.smallestTokenLimit) : 0;
    const checksFor = (tokens: number): LimitCheck[] =>
      limits.map(({ limit, key }) => ({ limit, key, cost: limit.kind === 'requests' ? 1 : tokens }));
    let checks = checksFor(reserved);
    let { result, store } = await this.decide(checks);
    // Refunds of this key's earlier requests may still wait in the settlement batch: send them first.
    if (
      !result.allowed &&
      result.refused?.limit.kind === 'tokens' &&
      checks.some((check) => this.pending.has(check.key))
    ) {
      await this.flush();
      ({ result, store } = await this.decide(checks));
    }
    if (!result.allowed && result.refused?.limit.kind === 'tokens' && input.minimumTokens !== undefined) {
      const minimum = input.minimumTokens();
      if (minimum < reserved) {
        reserved = minimum;
        checks = checksFor(minimum);
        ({ result, store } = await this.decide(checks));
      }
    }
    const headers = rateLimitHeaders(
      result.statuses,
      input.tokens === null ? plan.requestsPolicy : plan.allPolicy,
    );
    if (!result.allowed && result.refused !== null) {
      const { limit, retryAfterMs } = result.refused;
      this.metrics.rateLimited(limit.name);
      const never = !Number.isFinite(retryAfterMs);
      const retryMs = never ? limit.rate.windowSeconds * 1000 : retryAfterMs;
      let detail = `Rate limit of ${limit.rate.limit} ${limit.kind} per ${unitWord(limit)} exceeded for ${limit.subject}`;
      if (never)
        detail += `; this request reserves ${reserved} tokens, more than the whole limit (lower max_tokens)`;
      throw new RateLimitExceededError(detail, {
        ...headers,
        'retry-after': String(Math.max(1, Math.ceil(retryMs / 1000))),
        'retry-after-ms': String(Math.max(1, Math.ceil(retryMs))),
      });
    }
    const tokenChecks = checks.filter((check) => check.limit.kind === 'tokens');
    if (tokenChecks.length === 0) return { headers, countsTokens: false, settle: () => undefined };
    let settled = false;
    return {
      headers,
      countsTokens: true,
      settle: (actualTokens) => {
        if (settled || actualTokens === null) return;
        settled = true;
        const delta = actualTokens - reserved;
        if (delta === 0) return;
        for (const check of tokenChecks) this.queueAdjustment(store, check, delta);
      },
    };
  }

  /**
   * Settlements to Redis are gathered for SETTLE_INTERVAL_MS and sent as one script call: under load
   * that is one round trip for many requests instead of a second one per request. In process they apply
   * at once.
   */
  private queueAdjustment(store: LimiterStore, check: LimitCheck, delta: number): void {
    if (store !== this.shared) {
      void this.memory.adjust([{ limit: check.limit, key: check.key, delta }]);
      return;
    }
    const pending = this.pending.get(check.key);
    if (pending === undefined)
      this.pending.set(check.key, { limit: check.limit, key: check.key, delta, failedSince: null });
    else pending.delta += delta;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, SETTLE_INTERVAL_MS).unref();
  }

  /**
   * Sends the gathered settlements; also called at shutdown. A settlement Redis did not apply in time
   * never applies later (its script's deadline, redis-limiter.ts), so it is kept and sent again with the
   * next ones, for up to its limit's window (after which the charge it corrects no longer counts).
   */
  async flush(): Promise<void> {
    if (this.shared === null || this.pending.size === 0) return;
    const batch = [...this.pending.values()].filter((adjustment) => adjustment.delta !== 0);
    this.pending.clear();
    try {
      await this.shared.adjust(batch);
    } catch (error) {
      const unapplied =
        error instanceof UnappliedAdjustmentsError
          ? new Set(error.unapplied.map((adjustment) => adjustment.key))
          : null;
      let kept = 0;
      let dropped = 0;
      const now = Date.now();
      for (const adjustment of batch) {
        if (unapplied !== null && !unapplied.has(adjustment.key)) continue;
        if (this.requeue(adjustment, now)) kept++;
        else dropped++;
      }
      if (this.pending.size > 0) this.scheduleFlush();
      if (now - this.lastSettlementLog > 10_000 || dropped > 0) {
        this.lastSettlementLog = now;
        this.logger.warn(
          { detail: (error as Error).message, keys: batch.length, kept, dropped },
          'rate limit settlement failed',
        );
      }
    }
  }

  /** Puts back a settlement that did not apply, merged with newer ones; false when it is dropped. */
  private requeue(adjustment: PendingAdjustment, now: number): boolean {
    const since = adjustment.failedSince ?? now;
    if (now - since > adjustment.limit.rate.windowSeconds * 1000) return false;
    const newer = this.pending.get(adjustment.key);
    if (newer === undefined) {
      if (this.pending.size >= MAX_PENDING_SETTLEMENTS) return false;
      this.pending.set(adjustment.key, { ...adjustment, failedSince: since });
    } else {
      newer.delta += adjustment.delta;
      newer.failedSince = Math.min(newer.failedSince ?? now, since);
    }
    return true;
  }

  private async decide(checks: LimitCheck[]): Promise<{ result: AcquireResult; store: LimiterStore }> {
    if (this.shared === null) return { result: await this.memory.acquire(checks), store: this.memory };
    try {
      return {
        // The store's own deadline: store_timeout_ms from when the batch's command is written.
        result: await this.shared.acquire(checks),
        store: this.shared,
      };
    } catch (error) {
      this.storeErrors++;
      this.metrics.storeError('rate_limit');
      const now = Date.now();
      if (now - this.lastFailureLog > 10_000) {
        this.lastFailureLog = now;
        this.logger.warn(
          { detail: (error as Error).message, on_store_error: this.config.onStoreError },
          this.config.onStoreError === 'open'
            ? 'rate limit store unavailable: limiting per instance'
            : 'rate limit store unavailable: refusing requests',
        );
      }
      if (this.config.onStoreError === 'closed') {
        throw new ServiceUnavailableError('The rate limit store is unavailable; retry shortly', 1);
      }
      this.metrics.failOpen();
      return { result: await this.memory.acquire(checks), store: this.memory };
    }
  }
}
