/**
 * The providers' published list prices, in US dollars per million tokens, for the models of the cloud
 * backend types, so that usage and budgets have a cost without a price table of one's own. usage.prices
 * entries come first and override these; `usage.list_prices: false` turns them off. Prices change: they
 * are the published ones as of LIST_PRICES_AS_OF, standard tier, the shortest context band (Gemini Pro
 * and Claude Sonnet charge more above 200k prompt tokens), 5-minute cache writes (Anthropic's 1-hour
 * writes cost 2× the input price). docs/usage.md says how to override them.
 */
import type { BackendType } from '../config/schema.js';

export const LIST_PRICES_AS_OF = '2025-11-30';

/** A list price: patterns as in usage.prices (exact or `prefix*`), matched in order, first wins. */
export interface ListPrice {
  readonly model: string;
  readonly prompt: number;
  readonly completion: number;
  /** Tokens read from the prompt cache. */
  readonly cachedPrompt?: number;
  /** Tokens written to the prompt cache. */
  readonly cacheWrite?: number;
}

const ANTHROPIC: readonly ListPrice[] = [
  { model: 'claude-opus-4-5*', prompt: 5, completion: 25, cachedPrompt: 0.5, cacheWrite: 6.25 },
  { model: 'claude-opus-4*', prompt: 15, completion: 75, cachedPrompt: 1.5, cacheWrite: 18.75 },
  { model: 'claude-sonnet-4*', prompt: 3, completion: 15, cachedPrompt: 0.3, cacheWrite: 3.75 },
  { model: 'claude-3-7-sonnet*', prompt: 3, completion: 15, cachedPrompt: 0.3, cacheWrite: 3.75 },
  { model: 'claude-haiku-4-5*', prompt: 1, completion: 5, cachedPrompt: 0.1, cacheWrite: 1.25 },
  { model: 'claude-3-5-haiku*', prompt: 0.8, completion: 4, cachedPrompt: 0.08, cacheWrite: 1 },
  { model: 'claude-3-haiku*', prompt: 0.25, completion: 1.25, cachedPrompt: 0.03, cacheWrite: 0.3 },
];

const GEMINI: readonly ListPrice[] = [
  { model: 'gemini-3-pro*', prompt: 2, completion: 12, cachedPrompt: 0.2 },
  { model: 'gemini-2.5-pro*', prompt: 1.25, completion: 10, cachedPrompt: 0.125 },
  { model: 'gemini-2.5-flash-lite*', prompt: 0.1, completion: 0.4, cachedPrompt: 0.01 },
  { model: 'gemini-2.5-flash*', prompt: 0.3, completion: 2.5, cachedPrompt: 0.03 },
  { model: 'gemini-2.0-flash-lite*', prompt: 0.075, completion: 0.3 },
  { model: 'gemini-2.0-flash*', prompt: 0.1, completion: 0.4, cachedPrompt: 0.025 },
  { model: 'gemini-embedding-001', prompt: 0.15, completion: 0 },
  { model: 'text-embedding-004', prompt: 0, completion: 0 },
];

const BEDROCK: readonly ListPrice[] = [
  ...ANTHROPIC.map((price) => ({ ...price, model: `anthropic.${price.model}` })),
  { model: 'amazon.nova-premier*', prompt: 2.5, completion: 12.5, cachedPrompt: 0.625 },
  { model: 'amazon.nova-pro*', prompt: 0.8, completion: 3.2, cachedPrompt: 0.2 },
  { model: 'amazon.nova-lite*', prompt: 0.06, completion: 0.24, cachedPrompt: 0.015 },
  { model: 'amazon.nova-micro*', prompt: 0.035, completion: 0.14, cachedPrompt: 0.00875 },
  { model: 'amazon.titan-embed-text-v2*', prompt: 0.02, completion: 0 },
  { model: 'amazon.titan-embed-text-v1*', prompt: 0.1, completion: 0 },
  { model: 'cohere.embed-*', prompt: 0.1, completion: 0 },
];

/** OpenAI's models, for Azure OpenAI deployments named after their model and for api.openai.com. */
const OPENAI: readonly ListPrice[] = [
  { model: 'gpt-5-mini*', prompt: 0.25, completion: 2, cachedPrompt: 0.025 },
  { model: 'gpt-5-nano*', prompt: 0.05, completion: 0.4, cachedPrompt: 0.005 },
  { model: 'gpt-5*', prompt: 1.25, completion: 10, cachedPrompt: 0.125 },
  { model: 'gpt-4.1-mini*', prompt: 0.4, completion: 1.6, cachedPrompt: 0.1 },
  { model: 'gpt-4.1-nano*', prompt: 0.1, completion: 0.4, cachedPrompt: 0.025 },
  { model: 'gpt-4.1*', prompt: 2, completion: 8, cachedPrompt: 0.5 },
  { model: 'gpt-4o-mini*', prompt: 0.15, completion: 0.6, cachedPrompt: 0.075 },
  { model: 'gpt-4o*', prompt: 2.5, completion: 10, cachedPrompt: 1.25 },
  { model: 'o4-mini*', prompt: 1.1, completion: 4.4, cachedPrompt: 0.275 },
  { model: 'o3-mini*', prompt: 1.1, completion: 4.4, cachedPrompt: 0.55 },
  { model: 'o3*', prompt: 2, completion: 8, cachedPrompt: 0.5 },
  { model: 'text-embedding-3-small', prompt: 0.02, completion: 0 },
  { model: 'text-embedding-3-large', prompt: 0.13, completion: 0 },
  { model: 'text-embedding-ada-002', prompt: 0.1, completion: 0 },
];

/**
 * The list prices for a backend: by its type, and for `openai` backends only when they are OpenAI's
 * own API (an OpenAI-compatible server of one's own has no list price).
 */
export function listPricesFor(type: BackendType, url: string): readonly ListPrice[] {
  switch (type) {
    case 'anthropic':
      return ANTHROPIC;
    case 'gemini':
    case 'vertex':
      return GEMINI;
    case 'bedrock':
      return BEDROCK;
    case 'azure_openai':
      return OPENAI;
    case 'openai':
      return isOpenAiApi(url) ? OPENAI : [];
    case 'ollama':
    case 'demo':
      return [];
  }
}

function isOpenAiApi(url: string): boolean {
  try {
    return new URL(url).hostname === 'api.openai.com';
  } catch {
    return false;
  }
}

/**
 * Bedrock's inference profiles put a geography before the model id (`us.anthropic.claude-...`,
 * `global.anthropic...`); the price is the model's.
 */
export function bedrockModelId(model: string): string {
  return model.replace(/^(?:us|eu|apac|jp|au|ca|us-gov|global)\./, '');
}
