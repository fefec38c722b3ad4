import type { Logger } from 'pino';
import type { RoutingConfig } from '../config/config.js';
import { isModelAllowed } from './model-patterns.js';
import type { ModelRouter } from './model-router.js';
import type { BackendState } from './targets.js';

/** A backend that could not be asked is asked again this soon, not after the whole ttl. */
const RETRY_FAILED_MS = 5_000;

interface Listing {
  names: readonly string[];
  fetchedAt: number;
  failed: boolean;
  refreshing: Promise<void> | null;
}

/**
 * Backend discovery for GET /v1/models: the names `ollama` and `openai` backends report, for backends
 * that a pattern route (`*`, `prefix*`) passes client names to. Lists are cached for `ttl_seconds`;
 * a stale list is served while a fresh one is fetched, and only the very first listing waits (at most
 * `timeout_ms`). A backend that cannot be asked contributes nothing; nothing fails because of it.
 */
export class ModelDiscovery {
  private readonly listings = new Map<string, Listing>();
  /** Backends some pattern route hands client names to. */
  private readonly discoverable: readonly BackendState[];

  constructor(
    private readonly router: ModelRouter,
    private readonly config: RoutingConfig['discovery'],
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const backends = new Set<BackendState>();
    for (const compiled of router.compiledRoutes) {
      if (!compiled.route.name.endsWith('*')) continue;
      for (const tier of compiled.tiers) {
        for (const { state } of tier) {
          if (state.model === null && state.adapter.type !== 'demo') backends.add(state.backend);
        }
      }
    }
    this.discoverable = [...backends];
  }

  /** The configured names plus the discovered ones this key may use, each once. */
  async listModels(allowList: readonly string[] | null): Promise<string[]> {
    const names = this.router.listModels(allowList);
    if (!this.config.enabled || this.discoverable.length === 0) return names;
    const seen = new Set(names);
    await Promise.all(this.discoverable.map((backend) => this.fresh(backend)));
    for (const backend of this.discoverable) {
      for (const name of this.listings.get(backend.adapter.name)?.names ?? []) {
        if (seen.has(name) || !isModelAllowed(allowList, name) || !this.routesTo(name, backend)) continue;
        seen.add(name);
        names.push(name);
      }
    }
    return names;
  }

  /** A discovered name is listed only if a request for it would reach that backend by its own name. */
  private routesTo(name: string, backend: BackendState): boolean {
    const compiled = this.router.routeFor(name);
    if (compiled === undefined) return false;
    return compiled.tiers.some((tier) =>
      tier.some(({ state }) => state.backend === backend && state.model === null),
    );
  }

  /** Waits for the first listing only; later ones refresh in the background when stale. */
  private async fresh(backend: BackendState): Promise<void> {
    const listing = this.listings.get(backend.adapter.name);
    if (listing === undefined) {
      const first: Listing = { names: [], fetchedAt: 0, failed: false, refreshing: null };
      this.listings.set(backend.adapter.name, first);
      first.refreshing = this.fetch(backend, first);
      return first.refreshing;
    }
    if (listing.refreshing !== null) {
      if (listing.fetchedAt === 0) await listing.refreshing;
      return;
    }
    const maxAge = listing.failed
      ? Math.min(RETRY_FAILED_MS, this.config.ttlSeconds * 1000)
      : this.config.ttlSeconds * 1000;
    if (this.now() - listing.fetchedAt >= maxAge) listing.refreshing = this.fetch(backend, listing);
  }

  private async fetch(backend: BackendState, listing: Listing): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort(new Error(`no answer within ${this.config.timeoutMs} ms`));
    }, this.config.timeoutMs);
    try {
      listing.names = await backend.adapter.listModels({
        signal: controller.signal,
        requestId: 'model-discovery',
        abort: (reason) => {
          controller.abort(reason);
        },
      });
      listing.failed = false;
    } catch (error) {
      listing.failed = true;
      this.logger.debug(
        { backend: backend.adapter.name, detail: (error as Error).message },
        'model discovery failed',
      );
    } finally {
      clearTimeout(timer);
      listing.fetchedAt = this.now();
      listing.refreshing = null;
    }
  }
}
