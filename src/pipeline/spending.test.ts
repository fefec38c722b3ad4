import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { ChatCompletionRequest } from '../api/schemas.js';
import { BudgetStoreError, type BudgetLedger } from '../budgets/ledger.js';
import { MemoryBudgetLedger } from '../budgets/memory-ledger.js';
import type { Budget, GatewayConfig } from '../config/config.js';
import { validateConfig } from '../config/load.js';
import { BudgetExceededError, GatewayError } from '../errors/errors.js';
import { countPromptTokens } from '../rate-limit/token-estimate.js';
import type { RoutePlan } from '../routing/model-router.js';
import { PriceTable } from '../usage/pricing.js';
import { Spending, worstCase } from './spending.js';

const silent = pino({ level: 'silent' });
const BODY: ChatCompletionRequest = {
  model: 'smart',
  messages: [{ role: 'user', content: 'How far is the moon?' }],
  max_tokens: 100,
};

function plan(targets: { backend: string; model: string | null }[]): RoutePlan {
  return { clientModel: 'smart', route: { name: 'smart', targets } } as unknown as RoutePlan;
}

const BACKENDS = [
  { name: 'local', type: 'openai' as const, url: 'http://gpu:8000/v1' },
  { name: 'claude', type: 'anthropic' as const, url: 'https://api.anthropic.com' },
];
const PRICES = new PriceTable(
  [{ model: '*', backend: 'local', promptPerMillion: 0, completionPerMillion: 0 }],
  BACKENDS,
  true,
);

function config(document: Record<string, unknown> = {}): GatewayConfig {
  return validateConfig(document, {});
}

const usd = (limit: number, window: Budget['window'] = 'day', soft = false): Budget => ({
  unit: 'usd',
  limit,
  window,
  soft,
});

describe('worstCase', () => {
  it('prices the prompt and max tokens at the dearest target of the route', () => {
    const prompt = countPromptTokens(BODY);
    const worst = worstCase(
      BODY,
      plan([
        { backend: 'local', model: 'qwen' },
        { backend: 'claude', model: 'claude-sonnet-4-5' },
      ]),
      PRICES,
      512,
    );
    assert.equal(worst.tokens, prompt + 100);
    // Sonnet 4.5: prompt side at its dearest (cache writes, 3.75), output at 15 per million.
    assert.equal(worst.usdMicros, Math.ceil(prompt * 3.75 + 100 * 15));
    // Only the local target, priced 0.
    assert.equal(worstCase(BODY, plan([{ backend: 'local', model: 'qwen' }]), PRICES, 512).usdMicros, 0);
    // No price anywhere: null; without max tokens the default, times n.
    const unpriced = worstCase(
      { ...BODY, max_tokens: null, n: 2 },
      plan([{ backend: 'claude', model: 'claude-9' }]),
      PRICES,
      512,
    );
    assert.deepEqual(unpriced, { tokens: prompt + 1024, usdMicros: null });
  });
});

describe('Spending', () => {
  const ledger = () => new MemoryBudgetLedger({ timeZone: () => 'UTC' });

  it('reserves nothing when no budget applies', async () => {
    const spending = new Spending({ ledger: ledger(), logger: silent });
    const hold = await spending.reserve({
      key: { id: 'k', budgets: [] },
      team: { id: 't', budgets: [] },
      worst: () => ({ tokens: 10, usdMicros: 10 }),
      config: config(),
      model: 'smart',
    });
    assert.equal(hold, null);
  });

  it('admits while the worst case fits, refuses with Retry-After and x-should-retry: false when not, and settling frees room', async () => {
    let now = Date.parse('2026-12-02T10:00:00Z');
    const spending = new Spending({ ledger: ledger(), logger: silent, now: () => now });
    // 0.001 USD a day; each request may cost 0.0004.
    const reserve = async () =>
      spending.reserve({
        key: { id: 'ci-bot', budgets: [usd(0.001)] },
        team: null,
        worst: () => ({ tokens: 50, usdMicros: 400 }),
        config: config(),
        model: 'smart',
      });
    const first = await reserve();
    assert.equal(first?.headers['x-gateway-budget-remaining'], '0.0006');
    assert.equal(first?.headers['x-gateway-budget-unit'], 'usd');
    const second = await reserve();
    await assert.rejects(reserve(), (error: unknown) => {
      assert.ok(error instanceof BudgetExceededError);
      assert.equal(error.status, 429);
      assert.equal(error.headers['x-should-retry'], 'false');
      // Until midnight UTC: 14 hours.
      assert.equal(error.headers['retry-after'], String(14 * 3600));
      assert.match(error.message, /daily budget of 0\.001 USD of key:ci-bot has 0\.0002 USD left/);
      return true;
    });
    // The first really cost 0.0001: room for one more worst case.
    first?.settle({ usdMicros: 100, tokens: 20 });
    second?.settle({ usdMicros: 100, tokens: 20 });
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.ok((await reserve()) !== null);
    // The next day, the budget is whole again.
    now += 86_400_000;
    assert.equal((await reserve())?.headers['x-gateway-budget-remaining'], '0.0006');
  });

  it("holds the team's budgets too, and soft budgets never refuse", async () => {
    const spending = new Spending({ ledger: ledger(), logger: silent });
    const reserve = async () =>
      spending.reserve({
        key: { id: 'k', budgets: [usd(0.0001, 'month', true)] },
        team: { id: 'research', budgets: [{ unit: 'tokens', limit: 120, window: 'total', soft: false }] },
        worst: () => ({ tokens: 100, usdMicros: 400 }),
        config: config(),
        model: 'smart',
      });
    const hold = await reserve();
    assert.equal(hold?.headers['x-gateway-budget-remaining'], '20');
    assert.equal(hold?.headers['x-gateway-budget-unit'], 'tokens');
    await assert.rejects(reserve(), (error: unknown) => {
      assert.ok(error instanceof BudgetExceededError);
      assert.match(error.message, /total budget of 120 tokens of team:research/);
      // A total budget never resets: no Retry-After.
      assert.equal(error.headers['retry-after'], undefined);
      return true;
    });
  });

  it('refuses a model with no price against a usd budget when budget.unpriced is refuse, else holds it at 0', async () => {
    const spending = new Spending({ ledger: ledger(), logger: silent });
    const input = (document: Record<string, unknown>) => ({
      key: { id: 'k', budgets: [usd(1)] },
      team: null,
      worst: () => ({ tokens: 100, usdMicros: null }),
      config: config(document),
      model: 'mystery',
    });
    await assert.rejects(
      async () => spending.reserve(input({ budget: { unpriced: 'refuse' } })),
      /'mystery' has no price/,
    );
    assert.equal((await spending.reserve(input({})))?.headers['x-gateway-budget-remaining'], '1');
  });

  it('follows rate_limit.on_store_error when the ledger fails: open admits, closed answers 503', async () => {
    const failing: BudgetLedger = {
      reserve: () => Promise.reject(new BudgetStoreError('Command timed out')),
      settle: () => Promise.reject(new BudgetStoreError('Command timed out')),
      status: () => Promise.reject(new BudgetStoreError('Command timed out')),
    };
    const outcomes: boolean[] = [];
    const spending = new Spending({
      ledger: failing,
      logger: silent,
      onReserveError: (admitted) => outcomes.push(admitted),
    });
    const input = (onStoreError: string) => ({
      key: { id: 'k', budgets: [usd(1)] },
      team: null,
      worst: () => ({ tokens: 1, usdMicros: 1 }),
      config: config({ rate_limit: { on_store_error: onStoreError } }),
      model: 'smart',
    });
    assert.deepEqual((await spending.reserve(input('open')))?.headers, {});
    await assert.rejects(
      async () => spending.reserve(input('closed')),
      (error: unknown) => error instanceof GatewayError && error.status === 503,
    );
    assert.deepEqual(outcomes, [true, false]);
  });
});
