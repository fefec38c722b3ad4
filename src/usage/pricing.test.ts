import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelPrice } from '../config/config.js';
import { costMicros, findPrice, type PricedUsage, PriceTable } from './pricing.js';

const PRICES: ModelPrice[] = [
  { model: 'gpt-4o-mini', promptPerMillion: 0.15, completionPerMillion: 0.6 },
  { model: 'gpt-*', promptPerMillion: 2.5, completionPerMillion: 10 },
  { model: 'free', promptPerMillion: 0, completionPerMillion: 0 },
];

describe('pricing', () => {
  it('takes the first price whose pattern matches', () => {
    assert.equal(findPrice('gpt-4o-mini', PRICES)?.promptPerMillion, 0.15);
    assert.equal(findPrice('gpt-4o', PRICES)?.promptPerMillion, 2.5);
    assert.equal(findPrice('gpt-4o-mini-2024', PRICES)?.promptPerMillion, 2.5);
    assert.equal(findPrice('llama', PRICES), null);
    assert.equal(
      findPrice('llama', [...PRICES, { model: '*', promptPerMillion: 1, completionPerMillion: 1 }])?.model,
      '*',
    );
  });

  it('prices tokens in millionths: tokens × price per million', () => {
    // 1000 × 0.15 + 500 × 0.6 = 150 + 300 millionths
    assert.equal(costMicros('gpt-4o-mini', 1000, 500, PRICES), 450);
    // 1,000,000 prompt tokens at 2.5 per million cost 2.5, i.e. 2,500,000 millionths
    assert.equal(costMicros('gpt-4o', 1_000_000, 0, PRICES), 2_500_000);
    assert.equal(costMicros('gpt-4o', 0, 3, PRICES), 30);
  });

  it('rounds to a whole number of millionths', () => {
    assert.equal(costMicros('gpt-4o-mini', 1, 0, PRICES), 0); // 0.15
    assert.equal(costMicros('gpt-4o-mini', 3, 0, PRICES), 0); // 0.45
    assert.equal(costMicros('gpt-4o-mini', 4, 0, PRICES), 1); // 0.6
    assert.equal(costMicros('gpt-4o-mini', 0, 1, PRICES), 1); // 0.6
    assert.ok(Number.isInteger(costMicros('gpt-4o-mini', 12_345, 6789, PRICES)));
  });

  it('is null without a price, and 0 (not null) for a price of 0', () => {
    assert.equal(costMicros('llama', 1000, 1000, PRICES), null);
    assert.equal(costMicros('llama', 0, 0, []), null);
    assert.equal(costMicros('free', 1000, 1000, PRICES), 0);
    assert.equal(costMicros('gpt-4o', 0, 0, PRICES), 0);
  });
});

describe('PriceTable', () => {
  const backends = [
    { name: 'local', type: 'openai' as const, url: 'http://gpu-a:8000/v1' },
    { name: 'oai', type: 'openai' as const, url: 'https://api.openai.com/v1' },
    { name: 'claude', type: 'anthropic' as const, url: 'https://api.anthropic.com' },
    { name: 'aws', type: 'bedrock' as const, url: 'https://bedrock-runtime.us-east-1.amazonaws.com' },
  ];
  const usage = (values: Partial<PricedUsage>): PricedUsage => ({
    model: 'smart',
    backend: 'claude',
    upstreamModel: 'claude-sonnet-4-5',
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    cacheWriteTokens: 0,
    ...values,
  });

  it('prices cache reads and writes apart from the rest of the prompt', () => {
    const table = new PriceTable(
      [
        {
          model: 'smart',
          promptPerMillion: 3,
          completionPerMillion: 15,
          cachedPromptPerMillion: 0.3,
          cacheWritePerMillion: 3.75,
        },
      ],
      backends,
      false,
    );
    // 4000 prompt = 1800 read + 100 written + 2100 plain; 500 completion.
    const cost = table.costMicros(
      usage({ promptTokens: 4000, completionTokens: 500, cachedTokens: 1800, cacheWriteTokens: 100 }),
    );
    assert.equal(cost, Math.round(2100 * 3 + 1800 * 0.3 + 100 * 3.75 + 500 * 15));
    // Without cache prices, cached tokens cost what the prompt costs.
    const flat = new PriceTable(
      [{ model: 'smart', promptPerMillion: 3, completionPerMillion: 15 }],
      backends,
      false,
    );
    assert.equal(
      flat.costMicros(usage({ promptTokens: 4000, cachedTokens: 1800, cacheWriteTokens: 100 })),
      12_000,
    );
  });

  it('never counts more cached tokens than prompt tokens', () => {
    const table = new PriceTable(
      [
        {
          model: '*',
          promptPerMillion: 1,
          completionPerMillion: 1,
          cachedPromptPerMillion: 0,
          cacheWritePerMillion: 10,
        },
      ],
      backends,
      false,
    );
    assert.equal(table.costMicros(usage({ promptTokens: 100, cachedTokens: 500, cacheWriteTokens: 50 })), 0);
    assert.equal(
      table.costMicros(usage({ promptTokens: 100, cachedTokens: 60, cacheWriteTokens: 500 })),
      400,
    );
  });

  it('matches the client model or the upstream model, and a backend when the entry names one', () => {
    const table = new PriceTable(
      [
        { model: 'qwen*', backend: 'local', promptPerMillion: 0, completionPerMillion: 0 },
        { model: 'claude-sonnet-4-5', promptPerMillion: 1, completionPerMillion: 1 },
      ],
      backends,
      false,
    );
    assert.equal(table.costMicros(usage({ promptTokens: 10 })), 10); // upstream model matched
    assert.equal(
      table.costMicros(
        usage({ model: 'qwen3', backend: 'local', upstreamModel: 'qwen3:32b', promptTokens: 10 }),
      ),
      0,
    );
    // The entry names another backend: no price.
    assert.equal(
      table.costMicros(usage({ model: 'qwen3', backend: 'oai', upstreamModel: 'qwen3', promptTokens: 10 })),
      null,
    );
  });

  it('falls back to list prices for cloud backends only, and usage.prices wins over them', () => {
    const table = new PriceTable([], backends, true);
    // Claude Sonnet 4.5: 3 / 15 per million, cache reads 0.30, writes 3.75.
    assert.equal(
      table.costMicros(usage({ promptTokens: 1_000_000, completionTokens: 1_000_000 })),
      18_000_000,
    );
    assert.equal(table.costMicros(usage({ promptTokens: 1_000_000, cachedTokens: 1_000_000 })), 300_000);
    // Bedrock's inference profiles carry a geography before the model id.
    assert.equal(
      table.costMicros(
        usage({
          backend: 'aws',
          upstreamModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0',
          promptTokens: 1_000_000,
        }),
      ),
      1_000_000,
    );
    // OpenAI's own API has list prices; a server of one's own does not.
    assert.equal(
      table.costMicros(usage({ backend: 'oai', upstreamModel: 'gpt-4o-mini', completionTokens: 1_000_000 })),
      600_000,
    );
    assert.equal(
      table.costMicros(
        usage({ backend: 'local', upstreamModel: 'gpt-4o-mini', completionTokens: 1_000_000 }),
      ),
      null,
    );
    // An unknown model of a cloud backend: no price.
    assert.equal(table.costMicros(usage({ upstreamModel: 'claude-9', promptTokens: 5 })), null);
    const overridden = new PriceTable(
      [{ model: 'claude-*', promptPerMillion: 0, completionPerMillion: 0 }],
      backends,
      true,
    );
    assert.equal(overridden.costMicros(usage({ promptTokens: 1000 })), 0);
    assert.equal(new PriceTable([], backends, false).costMicros(usage({ promptTokens: 1000 })), null);
  });
});
