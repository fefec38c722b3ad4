/** Checks and conversions of fields that keys and teams share in the admin API. */
import type { Static } from '@sinclair/typebox';
import type { Budget } from '../config/config.js';
import { budgetsOf, priorityOf } from '../config/load.js';
import type { BudgetSchema, RateLimitPolicyConfig } from '../config/schema.js';
import { parseRate } from '../config/rate-string.js';
import { GatewayError, InvalidRequestError, ServiceUnavailableError } from '../errors/errors.js';

type BudgetInput = Static<typeof BudgetSchema>;

/** A budget as the admin API and the config file write it: `{usd: 5, window: day}`. */
export interface BudgetView {
  usd?: number;
  tokens?: number;
  window: string;
  soft: boolean;
}

export function budgetView(budget: Budget): BudgetView {
  return budget.unit === 'usd'
    ? { usd: budget.limit, window: budget.window, soft: budget.soft }
    : { tokens: budget.limit, window: budget.window, soft: budget.soft };
}

/**
 * The API's budgets as the gateway's (null, in a PATCH, clears them); 400 naming budgets[i] when one
 * gives both or neither unit.
 */
export function budgetsFromInput(input: readonly BudgetInput[] | null | undefined): Budget[] | undefined {
  if (input === undefined) return undefined;
  if (input === null) return [];
  const problems: string[] = [];
  const budgets = budgetsOf(input, 'budgets', problems);
  if (problems.length > 0)
    throw new InvalidRequestError(`Invalid request: ${problems.join('; ')}`, { param: 'budgets' });
  return budgets;
}

/** 'interactive' | 'batch' | 0-1000 as the number the queue orders by (the schema bounds it). */
export function priorityFromInput(input: 'interactive' | 'batch' | number | undefined): number | undefined {
  return input === undefined ? undefined : priorityOf(input);
}

/** Store failures become 503 (retry), never 500. */
export async function fromStore<T>(operation: () => Promise<T>, what = 'key'): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new ServiceUnavailableError(
      `The ${what} store is unavailable (${(error as Error).message}); retry shortly`,
      1,
    );
  }
}

export function checkRateLimit(policy: RateLimitPolicyConfig | null | undefined): void {
  if (policy == null) return;
  const problems: string[] = [];
  for (const kind of ['requests', 'tokens'] as const) {
    const value = policy[kind];
    if (value === undefined) continue;
    for (const text of Array.isArray(value) ? value : [value]) {
      if (parseRate(text) === null)
        problems.push(
          `rate_limit.${kind}: '${text}' is not a rate; write N/second, N/minute, N/hour or N/day`,
        );
    }
  }
  if (problems.length > 0)
    throw new InvalidRequestError(`Invalid request: ${problems.join('; ')}`, { param: 'rate_limit' });
}
