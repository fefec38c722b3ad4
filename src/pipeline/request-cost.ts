/**
 * What a finished request cost (src/usage/pricing.ts), from what the pipeline learned of it: its tokens
 * at the price of the model that answered. Usage counters, budgets and the request log all read it.
 */
import type { RequestState } from '../server/request-state.js';
import type { PriceTable } from '../usage/pricing.js';

/**
 * In millionths of a US dollar (of the price table's currency); 0 for a priced model's response-cache
 * hit (no backend was paid); null when no price applies.
 */
export function requestCost(prices: PriceTable, state: RequestState): number | null {
  if (state.model === null) return null;
  const answered = state.attempts.find((attempt) => attempt.outcome === 'ok');
  return prices.costMicros(
    {
      model: state.model,
      backend: state.backend,
      upstreamModel: answered?.model ?? null,
      promptTokens: state.promptTokens ?? 0,
      completionTokens: state.completionTokens ?? 0,
      cachedTokens: state.cachedTokens ?? 0,
      cacheWriteTokens: state.cacheWriteTokens ?? 0,
    },
    state.cache === 'HIT',
  );
}

/**
 * What a stream that ended without usage (cancelled, or broken upstream) cost: the tokens the gateway
 * counted (its prompt, and what it produced) at the price of the backend that was streaming.
 */
export function countedCost(
  prices: PriceTable,
  state: RequestState,
  promptTokens: number,
  completionTokens: number,
): number | null {
  if (state.model === null) return null;
  const last = state.attempts.at(-1);
  return prices.costMicros({
    model: state.model,
    backend: state.backend ?? last?.backend ?? null,
    upstreamModel: last?.model ?? null,
    promptTokens,
    completionTokens,
    cachedTokens: 0,
    cacheWriteTokens: 0,
  });
}
