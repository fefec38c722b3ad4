/**
 * What a request cost: its tokens × the price of the model that answered. Prices come from
 * usage.prices first (a pattern matching the model the client asked for or the model the backend was
 * asked for, optionally only for one backend), then from the providers' list prices for cloud backends
 * (list-prices.ts). Costs are integers in millionths of the price table's currency, so counters stay
 * exact; null means no price applied, which is not a cost of 0 (a price of 0 gives 0).
 */
import type { BackendConfig, ModelPrice } from '../config/config.js';
import { matchesModelPattern } from '../routing/model-patterns.js';
import { bedrockModelId, type ListPrice, listPricesFor } from './list-prices.js';

/** The first price of usage.prices whose model pattern (exact, `prefix*` or `*`) matches; null if none. */
export function findPrice(model: string, prices: readonly ModelPrice[]): ModelPrice | null {
  for (const price of prices) if (matchesModelPattern(price.model, model)) return price;
  return null;
}

/**
 * The estimated cost of some tokens of `model`, in millionths of the price table's currency, rounded to
 * a whole number; null when no price applies. A price is per million tokens, so millionths are simply
 * tokens × price.
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

/** The tokens of one answered request, as its usage reported them. */
export interface PricedUsage {
  /** The model name the client asked for. */
  readonly model: string;
  /** The backend that answered, and the model it was asked for; null when unknown. */
  readonly backend: string | null;
  readonly upstreamModel: string | null;
  /** All prompt tokens, including those read from or written to the prompt cache. */
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Of the prompt, read from the provider's prompt cache. */
  readonly cachedTokens: number;
  /** Of the prompt, written to the provider's prompt cache. */
  readonly cacheWriteTokens: number;
}

/** Per million tokens. */
interface Rates {
  readonly prompt: number;
  readonly completion: number;
  readonly cachedPrompt: number;
  readonly cacheWrite: number;
}

function ratesOfConfig(price: ModelPrice): Rates {
  return {
    prompt: price.promptPerMillion,
    completion: price.completionPerMillion,
    cachedPrompt: price.cachedPromptPerMillion ?? price.promptPerMillion,
    cacheWrite: price.cacheWritePerMillion ?? price.promptPerMillion,
  };
}

function ratesOfList(price: ListPrice): Rates {
  return {
    prompt: price.prompt,
    completion: price.completion,
    cachedPrompt: price.cachedPrompt ?? price.prompt,
    cacheWrite: price.cacheWrite ?? price.prompt,
  };
}

function clean(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}

/** The cost of `usage` at `rates`, in millionths: cached and written prompt tokens at their own rates. */
export function costAt(rates: Rates, usage: PricedUsage): number {
  const prompt = clean(usage.promptTokens);
  const cached = Math.min(clean(usage.cachedTokens), prompt);
  const written = Math.min(clean(usage.cacheWriteTokens), prompt - cached);
  const plain = prompt - cached - written;
  return Math.round(
    plain * rates.prompt +
      cached * rates.cachedPrompt +
      written * rates.cacheWrite +
      clean(usage.completionTokens) * rates.completion,
  );
}

/**
 * The gateway's prices: usage.prices, then (unless switched off) the list prices of each cloud backend.
 * Lookups are a short scan of patterns; a request does one, when it finishes.
 */
export class PriceTable {
  /** usage.prices with each price's rates, made once: a lookup allocates nothing. */
  private readonly priced: readonly { readonly price: ModelPrice; readonly rates: Rates }[];
  private readonly listByBackend = new Map<
    string,
    {
      readonly bedrock: boolean;
      readonly prices: readonly { readonly price: ListPrice; readonly rates: Rates }[];
    }
  >();

  constructor(
    prices: readonly ModelPrice[],
    backends: readonly Pick<BackendConfig, 'name' | 'type' | 'url'>[],
    listPrices: boolean,
  ) {
    this.priced = prices.map((price) => ({ price, rates: ratesOfConfig(price) }));
    if (!listPrices) return;
    for (const backend of backends) {
      const list = listPricesFor(backend.type, backend.url);
      if (list.length > 0)
        this.listByBackend.set(backend.name, {
          bedrock: backend.type === 'bedrock',
          prices: list.map((price) => ({ price, rates: ratesOfList(price) })),
        });
    }
  }

  /** The rates that apply to a request, or null when none does. */
  ratesFor(model: string, backend: string | null, upstreamModel: string | null): Rates | null {
    for (const { price, rates } of this.priced) {
      if (price.backend !== undefined && price.backend !== backend) continue;
      if (
        matchesModelPattern(price.model, model) ||
        (upstreamModel !== null && matchesModelPattern(price.model, upstreamModel))
      )
        return rates;
    }
    if (backend === null || upstreamModel === null) return null;
    const list = this.listByBackend.get(backend);
    if (list === undefined) return null;
    const id = list.bedrock ? bedrockModelId(upstreamModel) : upstreamModel;
    for (const { price, rates } of list.prices) if (matchesModelPattern(price.model, id)) return rates;
    return null;
  }

  /**
   * What a request cost, in millionths; null when no price applies to its model. `free`: the request
   * was served without paying a backend (a response-cache hit), so a priced model costs 0.
   */
  costMicros(usage: PricedUsage, free = false): number | null {
    const rates = this.ratesFor(usage.model, usage.backend, usage.upstreamModel);
    if (rates === null) return null;
    return free ? 0 : costAt(rates, usage);
  }
}
