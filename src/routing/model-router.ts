import type { BackendAdapter } from '../backends/adapter.js';
import type { ModelRoute } from '../config/config.js';
import { ModelNotAllowedError, ModelNotFoundError } from '../errors/errors.js';
import { isModelAllowed, matchesModelPattern } from './model-patterns.js';

export interface RouteDecision {
  readonly route: ModelRoute;
  readonly adapter: BackendAdapter;
  /** The name the upstream knows the model by. */
  readonly upstreamModel: string;
}

/** Maps a client's model name to a backend and upstream name: first matching route, first target. */
export class ModelRouter {
  constructor(
    private readonly routes: readonly ModelRoute[],
    private readonly adapters: ReadonlyMap<string, BackendAdapter>,
  ) {}

  resolve(model: string, allowList: readonly string[] | null): RouteDecision {
    if (!isModelAllowed(allowList, model)) throw new ModelNotAllowedError(model);
    const route = this.routes.find((candidate) => matchesModelPattern(candidate.name, model));
    const target = route?.targets[0];
    const adapter = target === undefined ? undefined : this.adapters.get(target.backend);
    if (route === undefined || target === undefined || adapter === undefined) {
      throw new ModelNotFoundError(
        `The model '${model}' does not exist; GET /v1/models lists the models you can use`,
      );
    }
    return { route, adapter, upstreamModel: target.model ?? model };
  }

  /** Names a client may send: every route that is not a pattern, filtered by the key's allow-list. */
  listModels(allowList: readonly string[] | null): string[] {
    return this.routes
      .map((route) => route.name)
      .filter((name) => !name.endsWith('*') && isModelAllowed(allowList, name));
  }
}
