import type { ModelPrice } from '../config/config.js';
import { matchesModelPattern } from '../routing/model-patterns.js';

/** The first price of usage.prices whose model pattern (exact, `prefix*` or `*`) matches; null if none. */
export function findPrice(model: string, prices: readonly ModelPrice[]): ModelPrice | null {
  for (const price of prices) if (matchesModelPattern(price.model, model)) return price;
  return null;
}

/**
 * The estimated cost of some tokens of `model`, in millionths of the price table's currency, rounded to
 * a whole number; null when no price applies (unpriced usage has no cost, which is not a cost of 0: a
 * price of 0 gives 0). A price is per million tokens, so millionths are simply tokens × price.
 */
export function costMicros(
  model: string,
  promptTokens: number,
  completionTokens: number,
  prices: readonly ModelPrice[],
): number | null {
  const price = findPrice(model, prices);
  if (price === null) return null;
  return Math.round(promptTokens * price.promptPerMillion + completionTokens * price.completionPerMillion);
}
