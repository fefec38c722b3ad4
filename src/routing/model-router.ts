import type { BackendAdapter } from '../backends/adapter.js';
import type { BackendConfig, ModelRoute, RoutingConfig } from '../config/config.js';
import { ModelNotAllowedError, ModelNotFoundError } from '../errors/errors.js';
import { CircuitBreakers } from './circuit-breakers.js';
import { isModelAllowed, matchesModelPattern } from './model-patterns.js';
import { TargetState, type BackendState, type RouteTarget } from './targets.js';

/** A route with its targets grouped in tiers: one tier shares load, the next is its fallback. */
export interface CompiledRoute {
  readonly route: ModelRoute;
  readonly tiers: readonly (readonly RouteTarget[])[];
  /** Which answers may be cached and under what identity: the first tier's targets. */
  readonly primary: ReadonlySet<TargetState>;
}

/** Where a request may go: the route it matched, and the client's model name. */
export interface RoutePlan {
  readonly compiled: CompiledRoute;
  readonly route: ModelRoute;
  readonly clientModel: string;
  /** Identifies the first tier for the cache key (same for every target of that tier). */
  readonly cacheBackend: string;
  readonly cacheModel: string;
}

/**
 * Maps a client's model name to the first matching route and its targets. Targets are tried in list
 * order; consecutive targets that carry a `weight` form one tier and share load.
 */
export class ModelRouter {
  private readonly compiled: CompiledRoute[];
  readonly backends: ReadonlyMap<string, BackendState>;
  readonly targets: ReadonlyMap<string, TargetState>;

  constructor(
    routes: readonly ModelRoute[],
    adapters: ReadonlyMap<string, BackendAdapter>,
    routing: RoutingConfig,
    backendConfigs: readonly BackendConfig[] = [],
    now: () => number = Date.now,
  ) {
    const backends = new Map<string, BackendState>();
    for (const [name, adapter] of adapters) {
      const checkIntervalMs =
        backendConfigs.find((backend) => backend.name === name)?.healthCheck?.intervalMs ?? null;
      backends.set(name, {
        adapter,
        health: 'unchecked',
        healthDetail: null,
        checkIntervalMs,
        breakers: new CircuitBreakers(routing.circuitBreaker, now),
      });
    }
    const targets = new Map<string, TargetState>();
    this.compiled = routes.map((route) => {
      const tiers: RouteTarget[][] = [];
      let previousWeighted = false;
      for (const target of route.targets) {
        const backend = backends.get(target.backend);
        if (backend === undefined) continue; // the config loader refuses such a target
        // Keyed so that names containing '/' or '*' cannot collide; the id is for people to read.
        const key = JSON.stringify([target.backend, target.model]);
        let state = targets.get(key);
        if (state === undefined) {
          const id = `${target.backend}/${target.model ?? '(client model)'}`;
          state = new TargetState(id, backend, target.model);
          targets.set(key, state);
        }
        const weighted = target.weight !== null;
        const entry: RouteTarget = { state, weight: target.weight ?? 1 };
        const last = tiers[tiers.length - 1];
        if (weighted && previousWeighted && last !== undefined) last.push(entry);
        else tiers.push([entry]);
        previousWeighted = weighted;
      }
      return {
        route,
        tiers,
        primary: new Set((tiers[0] ?? []).map((target) => target.state)),
      };
    });
    this.backends = backends;
    this.targets = targets;
  }

  resolve(model: string, allowList: readonly string[] | null): RoutePlan {
    if (!isModelAllowed(allowList, model)) throw new ModelNotAllowedError(model);
    const compiled = this.compiled.find((candidate) => matchesModelPattern(candidate.route.name, model));
    const primary = compiled?.tiers[0];
    if (compiled === undefined || primary === undefined || primary.length === 0) {
      throw new ModelNotFoundError(
        `The model '${model}' does not exist; GET /v1/models lists the models you can use`,
      );
    }
    const first = primary[0] as RouteTarget;
    const single = primary.length === 1;
    return {
      compiled,
      route: compiled.route,
      clientModel: model,
      cacheBackend: single ? first.state.adapter.name : primary.map((t) => t.state.adapter.name).join(','),
      cacheModel: single
        ? upstreamModelOf(first.state, model)
        : primary.map((t) => upstreamModelOf(t.state, model)).join(','),
    };
  }

  /** The state of the target with this backend and configured model (null: pass-through). */
  target(backend: string, model: string | null): TargetState | undefined {
    return this.targets.get(JSON.stringify([backend, model]));
  }

  get compiledRoutes(): readonly CompiledRoute[] {
    return this.compiled;
  }

  /** The route a name resolves to (first match), or undefined. */
  routeFor(model: string): CompiledRoute | undefined {
    return this.compiled.find((candidate) => matchesModelPattern(candidate.route.name, model));
  }

  /** Names a client may send: every route that is not a pattern, filtered by the key's allow-list. */
  listModels(allowList: readonly string[] | null): string[] {
    return this.compiled
      .map((compiled) => compiled.route.name)
      .filter((name) => !name.endsWith('*') && isModelAllowed(allowList, name));
  }
}

/** The name the upstream knows the model by. */
export function upstreamModelOf(state: TargetState, clientModel: string): string {
  return state.model ?? clientModel;
}
