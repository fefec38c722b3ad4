/**
 * Budgets on the request path (issue 20): before the upstream call, the request's worst-case cost and
 * tokens are reserved against every budget of its key and its team (src/budgets/ledger.ts, atomic
 * across instances); after it, the reservation is settled to what was really used. docs/budgets.md.
 *
 * The worst case is the prompt's tokens (counted with the same tokenizer as the rate limiter) plus the
 * most the request may generate (max_completion_tokens or max_tokens, times n; without either,
 * rate_limit.default_completion_tokens, which a backend can exceed), at the highest price of the route's
 * targets (a fallback may answer). So budgets overshoot by at most what backends produce beyond the
 * max tokens they were given.
 */
import type { Logger } from 'pino';
import type { ChatCompletionRequest } from '../api/schemas.js';
import type {
  BudgetLedger,
  BudgetLine,
  BudgetScope,
  Reservation,
  ReserveResult,
  SettleResult,
} from '../budgets/ledger.js';
import { BudgetStoreError, formatRemaining, limitUnits, tightestBudget } from '../budgets/ledger.js';
import type { Budget, GatewayConfig } from '../config/config.js';
import { BudgetExceededError, ServiceUnavailableError } from '../errors/errors.js';
import { countPromptTokens } from '../rate-limit/token-estimate.js';
import type { RoutePlan } from '../routing/model-router.js';
import type { PriceTable } from '../usage/pricing.js';

/** Whoever has budgets: a key or a team. */
export interface BudgetHolder {
  readonly id: string;
  readonly budgets: readonly Budget[];
}

/** A reservation held for one request; settle once, when it has finished (streams: after the last byte). */
export interface BudgetHold {
  /** x-gateway-budget-remaining and x-gateway-budget-unit, for the tightest budget after reserving. */
  readonly headers: Readonly<Record<string, string>>;
  /** Settles with what the request really used; never throws, never blocks the response. */
  settle(actual: { readonly usdMicros: number; readonly tokens: number }): void;
}

export interface SpendingOptions {
  readonly ledger: BudgetLedger;
  readonly logger: Logger;
  /** After each settlement (alerts and metrics read it). */
  readonly onSettled?: (result: SettleResult) => void;
  /** A failed or slow reserve: admitted without a reservation, or refused (503). */
  readonly onReserveError?: (admitted: boolean) => void;
  /** A reserve the ledger answered: held, or refused with budget_exceeded (false). */
  readonly onReserved?: (held: boolean) => void;
  readonly now?: () => number;
}

/** The worst case of one request: tokens, and micro-dollars (null: no price applies). */
export interface WorstCase {
  readonly tokens: number;
  readonly usdMicros: number | null;
}

/**
 * The most `body` may cost on `plan`: its prompt at the highest prompt-side rate (cache writes cost more
 * than plain input) and its output limit at the highest completion rate of the route's targets. A target
 * with no price counts as free when others have one; no price anywhere: usdMicros null.
 */
export function worstCase(
  body: ChatCompletionRequest,
  plan: RoutePlan,
  prices: PriceTable,
  defaultCompletionTokens: number,
): WorstCase {
  const prompt = countPromptTokens(body);
  const limit = body.max_completion_tokens ?? body.max_tokens ?? defaultCompletionTokens;
  const output = Math.max(0, limit) * Math.max(1, body.n ?? 1);
  let promptRate: number | null = null;
  let completionRate: number | null = null;
  for (const target of plan.route.targets) {
    const rates = prices.ratesFor(plan.clientModel, target.backend, target.model ?? plan.clientModel);
    if (rates === null) continue;
    promptRate = Math.max(promptRate ?? 0, rates.prompt, rates.cachedPrompt, rates.cacheWrite);
    completionRate = Math.max(completionRate ?? 0, rates.completion);
  }
  return {
    tokens: prompt + output,
    usdMicros: promptRate === null ? null : Math.ceil(prompt * promptRate + output * (completionRate ?? 0)),
  };
}

const ADJECTIVE: Readonly<Record<Budget['window'], string>> = {
  hour: 'hourly',
  day: 'daily',
  week: 'weekly',
  month: 'monthly',
  total: 'total',
};

/** "daily budget of 5 USD" */
function describe(budget: Budget): string {
  return `${ADJECTIVE[budget.window]} budget of ${budget.limit} ${budget.unit === 'usd' ? 'USD' : 'tokens'}`;
}

/** An amount in the budget's unit for a message: micro-dollars as US dollars, or tokens. */
function units(budget: Budget, amount: number): string {
  return budget.unit === 'usd'
    ? `${(amount / 1_000_000).toFixed(6).replace(/\.?0+$/, '')} USD`
    : `${amount} tokens`;
}

/** A budget's state in its current window, as the admin API shows it: US dollars or tokens. */
export interface BudgetStatusView {
  readonly scope: string;
  readonly unit: 'usd' | 'tokens';
  readonly limit: number;
  readonly window: Budget['window'];
  readonly soft: boolean;
  readonly spent: number;
  /** Held by requests in flight (their worst case), not settled yet. */
  readonly reserved: number;
  readonly remaining: number;
  readonly window_start: string;
  /** Null for a `total` budget, which never resets. */
  readonly window_end: string | null;
}

/** Micro-dollars as dollars; tokens as they are. */
function inUnit(budget: Budget, amount: number): number {
  return budget.unit === 'usd' ? amount / 1_000_000 : amount;
}

/** A request's reservation until it settles (one object: no closures per request). */
class Held implements BudgetHold {
  private settled = false;

  constructor(
    private readonly options: SpendingOptions,
    private readonly reservation: Reservation,
    readonly headers: Readonly<Record<string, string>>,
  ) {}

  settle(actual: { readonly usdMicros: number; readonly tokens: number }): void {
    if (this.settled) return;
    this.settled = true;
    const { ledger } = this.options;
    const reservation = this.reservation;
    if (ledger.settleNow !== undefined) {
      // Settled first: an optional call would skip evaluating its argument when there is no hook.
      const settlement = ledger.settleNow(reservation, actual);
      this.options.onSettled?.(settlement);
      return;
    }
    const local = ledger.settleLocally?.(reservation, actual) ?? null;
    if (local !== null) {
      this.options.onSettled?.(local);
      return;
    }
    ledger.settle(reservation, actual).then(
      (settlement) => this.options.onSettled?.(settlement),
      (error: unknown) => {
        // The reservation lapses by itself (its expiry); the spending of this request is not counted.
        this.options.logger.warn(
          { detail: error instanceof Error ? error.message : String(error), reservation: reservation.id },
          'budget settlement failed: the reservation lapses at its expiry and this request is not counted',
        );
      },
    );
  }
}

/**
 * One line of a reservation: the budget and the request's worst case in its unit. Throws
 * BudgetExceededError for a hard budget in USD when the model has no price and unpriced is refuse.
 */
function lineOf(
  scope: BudgetScope,
  budget: Budget,
  worst: WorstCase,
  refuseUnpriced: boolean,
  model: string,
): BudgetLine {
  if (refuseUnpriced && budget.unit === 'usd' && !budget.soft)
    throw new BudgetExceededError(
      `The model '${model}' has no price, and budget.unpriced is refuse: a request of it cannot be held against the ${describe(budget)} of ${scope}. Add a price to usage.prices.`,
      null,
    );
  return { scope, budget, amount: budget.unit === 'usd' ? (worst.usdMicros ?? 0) : worst.tokens };
}

export class Spending {
  private readonly now: () => number;
  /** Budget scopes by key or team record (see scopeOf). */
  private readonly scopes = new WeakMap<BudgetHolder, BudgetScope>();

  constructor(private readonly options: SpendingOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Each budget's spending in its current window, for /admin/usage and /admin/teams/{id}. Throws
   * ServiceUnavailableError when the budget store does not answer.
   */
  async status(scope: BudgetScope, budgets: readonly Budget[]): Promise<BudgetStatusView[]> {
    if (budgets.length === 0) return [];
    let statuses;
    try {
      statuses = await this.options.ledger.status(scope, budgets, this.now());
    } catch (error) {
      if (error instanceof BudgetStoreError)
        throw new ServiceUnavailableError('The budget store is unavailable; retry shortly', 1);
      throw error;
    }
    return statuses.map((status) => ({
      scope,
      unit: status.budget.unit,
      limit: status.budget.limit,
      window: status.budget.window,
      soft: status.budget.soft,
      spent: inUnit(status.budget, status.spent),
      reserved: inUnit(status.budget, status.reserved),
      remaining: inUnit(status.budget, status.remaining),
      window_start: new Date(status.window.start).toISOString(),
      window_end: Number.isFinite(status.window.end) ? new Date(status.window.end).toISOString() : null,
    }));
  }

  /**
   * Reserves the request's worst case against every budget of the key and the team; null when none
   * applies. Throws (or rejects with) BudgetExceededError when a hard budget has no room (nothing is
   * reserved then), and ServiceUnavailableError when the ledger failed and `onStoreError` is closed.
   * With a ledger in this process the answer comes at once, not as a promise: the request path then
   * takes no extra turn of the event loop for its budgets.
   */
  reserve(input: {
    readonly key: BudgetHolder;
    readonly team: BudgetHolder | null;
    /** Computed only when a budget applies (it counts the prompt's tokens). */
    readonly worst: () => WorstCase;
    readonly config: GatewayConfig;
    readonly model: string;
  }): BudgetHold | null | Promise<BudgetHold | null> {
    const { key, team, config } = input;
    if (key.budgets.length === 0 && (team === null || team.budgets.length === 0)) return null;
    const worst = input.worst();
    const lines: BudgetLine[] = [];
    const refuseUnpriced = worst.usdMicros === null && config.budget.unpriced === 'refuse';
    if (key.budgets.length > 0) {
      const scope = this.scopeOf(key, 'key');
      for (const budget of key.budgets) lines.push(lineOf(scope, budget, worst, refuseUnpriced, input.model));
    }
    if (team !== null && team.budgets.length > 0) {
      const scope = this.scopeOf(team, 'team');
      for (const budget of team.budgets)
        lines.push(lineOf(scope, budget, worst, refuseUnpriced, input.model));
    }

    const ledger = this.options.ledger;
    if (ledger.reserveNow !== undefined) return this.hold(lines, ledger.reserveNow(lines, this.now()));
    const now = this.now();
    // From an allowance (Redis ledger, far from the limits): at once as well.
    const local = ledger.reserveLocally?.(lines, now) ?? null;
    if (local !== null) return this.hold(lines, local);
    return ledger.reserve(lines, now).then(
      (result) => this.hold(lines, result),
      (error: unknown) => this.storeFailed(error, config),
    );
  }

  /** `key:<id>` or `team:<id>`, the same string for the same record. */
  private scopeOf(holder: BudgetHolder, kind: 'key' | 'team'): BudgetScope {
    let scope = this.scopes.get(holder);
    if (scope === undefined) {
      scope = `${kind}:${holder.id}`;
      this.scopes.set(holder, scope);
    }
    return scope;
  }

  /** The hold for a reservation the ledger made; throws BudgetExceededError for one it refused. */
  private hold(lines: readonly BudgetLine[], result: ReserveResult): BudgetHold {
    this.options.onReserved?.(result.ok);
    if (!result.ok) {
      const { refused } = result;
      const resets =
        refused.retryAfterSeconds === null
          ? ''
          : ` It resets at ${new Date(refused.window.end).toISOString()}.`;
      const amount =
        lines.find((line) => line.scope === refused.scope && line.budget === refused.budget)?.amount ?? 0;
      const status = {
        scope: refused.scope,
        budget: refused.budget,
        spent: 0,
        reserved: 0,
        remaining: refused.remaining,
        limit: limitUnits(refused.budget),
        window: refused.window,
      };
      throw new BudgetExceededError(
        `The ${describe(refused.budget)} of ${refused.scope} has ${units(refused.budget, refused.remaining)} left; this request may use up to ${units(refused.budget, amount)} (its prompt and max tokens).${resets}`,
        refused.retryAfterSeconds,
        {
          'x-gateway-budget-remaining': formatRemaining(status),
          'x-gateway-budget-unit': refused.budget.unit,
        },
      );
    }
    const { reservation } = result;
    const tightest = tightestBudget(reservation.statuses);
    const headers: Record<string, string> =
      tightest === null
        ? {}
        : {
            'x-gateway-budget-remaining': formatRemaining(tightest),
            'x-gateway-budget-unit': tightest.budget.unit,
          };
    return new Held(this.options, reservation, headers);
  }

  /** The ledger's store failed: admitted without a reservation (on_store_error: open), or 503. */
  private storeFailed(error: unknown, config: GatewayConfig): BudgetHold {
    if (!(error instanceof BudgetStoreError)) throw error;
    const admitted = config.rateLimit.onStoreError === 'open';
    this.options.onReserveError?.(admitted);
    this.options.logger.warn(
      { detail: error.message, admitted },
      admitted
        ? 'budget store unavailable: request admitted without a budget reservation (rate_limit.on_store_error: open)'
        : 'budget store unavailable: request refused (rate_limit.on_store_error: closed)',
    );
    if (!admitted) throw new ServiceUnavailableError('The budget store is unavailable; retry shortly', 1);
    return { headers: {}, settle: () => undefined };
  }
}
