import type { Budget, TeamConfig } from '../config/config.js';
import type { RateLimitPolicyConfig } from '../config/schema.js';

/**
 * A team (issue 20): keys that belong to one must pass its model allow-list, rate limit, budgets and
 * concurrency cap as well as their own. Teams come from the config (read-only) or the admin API.
 */
export interface TeamRecord {
  readonly id: string;
  readonly name: string;
  /** Allow-list of model patterns; a model must pass this list and the key's. Null allows every model. */
  readonly models: readonly string[] | null;
  readonly rateLimit: RateLimitPolicyConfig | null;
  readonly budgets: readonly Budget[];
  readonly maxConcurrency: number | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly createdAt: string | null;
  readonly source: 'config' | 'store';
}

/** A team of the config file as a record: no creation time, read-only through the admin API. */
export function teamFromConfig(team: TeamConfig): TeamRecord {
  return {
    id: team.id,
    name: team.name,
    models: team.models,
    rateLimit: team.rateLimit,
    budgets: team.budgets,
    maxConcurrency: team.maxConcurrency,
    metadata: team.metadata,
    createdAt: null,
    source: 'config',
  };
}
