import type { Budget } from '../config/config.js';
import type { WindowSpan } from './windows.js';

/** Whose budget: an API key's or a team's. */
export type BudgetScope = `key:${string}` | `team:${string}`;

/** One budget a request must fit in, and the most it may cost against it. */
export interface BudgetLine {
  readonly scope: BudgetScope;
  readonly budget: Budget;
  /**
   * The request's worst case in the budget's unit: integer micro-dollars for `usd`, tokens for
   * `tokens` (rounded up to an integer by the ledger).
   */
  readonly amount: number;
}

/**
 * A line as reserved: in which window, under which counter. The same object for every request of the
 * same budgets in the same windows (plan.ts's Planner): what a request reserves on each counter is in
 * Reservation.amounts.
 */
export interface ReservedLine {
  readonly scope: BudgetScope;
  readonly budget: Budget;
  readonly window: WindowSpan;
  /** The counter (scope, unit, window kind and start); lines that share one share their spending. */
  readonly counter: string;
  /** Its counter's index among the reservation's distinct counters (the plan's `counters`). */
  readonly counterIndex: number;
}

/** One counter a reservation touches: lines of the same scope, unit and window share it. */
export interface CounterPlan {
  readonly counter: string;
  readonly window: WindowSpan;
  /** Its lines' unit (they share it): the usage it counts. */
  readonly unit: Budget['unit'];
  /** The smallest limit of its hard lines; null when all are soft. */
  readonly hardLimit: number | null;
}

/** A budget's state in its current window. Amounts in the budget's unit (micro-dollars for usd). */
export interface BudgetStatus {
  readonly scope: BudgetScope;
  readonly budget: Budget;
  /** Settled spending in the window. */
  readonly spent: number;
  /** Held by reservations not settled yet (nor expired). */
  readonly reserved: number;
  /** limit − spent − reserved, at least 0. */
  readonly remaining: number;
  /** The limit in the same unit as the amounts. */
  readonly limit: number;
  readonly window: WindowSpan;
}

/** What reserve() holds for a request until it is settled or expires. */
export interface Reservation {
  /** Unique across instances. */
  readonly id: string;
  readonly lines: readonly ReservedLine[];
  /** Its lines' distinct counters, by ReservedLine.counterIndex (the plan's, shared). */
  readonly counters: readonly CounterPlan[];
  /** What it holds of each of them, in the same order (the budget's unit). */
  readonly amounts: readonly number[];
  /** After this (ms, the caller's clock) the reservation is released by itself. */
  readonly expiresAt: number;
  /** Every line's budget just after reserving: for x-gateway-budget-remaining without another call. */
  readonly statuses: readonly BudgetStatus[];
  /** The ledger's own handle of a reservation it made without its store; opaque to everyone else. */
  readonly local?: object;
}

/** A hard budget the request did not fit in. */
export interface BudgetRefusal {
  readonly scope: BudgetScope;
  readonly budget: Budget;
  /** What was left before this request (budget's unit). */
  readonly remaining: number;
  readonly window: WindowSpan;
  /** Seconds until the window resets (≥ 1); null for a `total` budget, which never resets. */
  readonly retryAfterSeconds: number | null;
}

export type ReserveResult =
  | { readonly ok: true; readonly reservation: Reservation }
  | { readonly ok: false; readonly refused: BudgetRefusal };

/** What a request really used: its cost (integer micro-dollars) and tokens. */
export interface ActualUsage {
  readonly usdMicros: number;
  readonly tokens: number;
}

/** A line after settling: how far its spending went (settledLines). */
export interface SettledLine {
  readonly line: ReservedLine;
  readonly limit: number;
  /** Spent in the window before and after this settlement. Equal when it was settled before. */
  readonly spentBefore: number;
  readonly spentAfter: number;
}

export interface SettleResult {
  /** False when the reservation had been settled already: nothing was counted this time. */
  readonly counted: boolean;
  /** The reservation's lines. */
  readonly lines: readonly ReservedLine[];
  /**
   * Each counter's spending before and after this settlement, as pairs by counterIndex: `[before of
   * counter 0, after of counter 0, before of counter 1, …]` (one array, not an object per line: this
   * is made for every request with a budget; settledLines gives the lines' view).
   */
  readonly spent: readonly number[];
}

/** A line's counter's spending after a settlement (SettleResult.spent's layout, read here only). */
export function spentAfterOf(result: SettleResult, line: ReservedLine): number {
  return result.spent[line.counterIndex * 2 + 1] ?? 0;
}

/** Each line of a settlement with its limit and its counter's spending before and after. */
export function settledLines(result: SettleResult): SettledLine[] {
  return result.lines.map((line) => ({
    line,
    limit: limitUnits(line.budget),
    spentBefore: result.spent[line.counterIndex * 2] ?? 0,
    spentAfter: spentAfterOf(result, line),
  }));
}

/**
 * Spending against budgets, reserve-then-settle: before a call its worst case is reserved against every
 * budget at once, atomically (all or none), so that concurrent requests on any number of instances cannot
 * together pass a hard limit; after it the reservation is replaced with what was really spent.
 *
 * Every method of the Redis ledger rejects (BudgetStoreError) when Redis fails or does not answer within
 * its timeout, having changed nothing that counts; the caller decides to admit or refuse (as
 * rate_limit.on_store_error says).
 */
export interface BudgetLedger {
  /**
   * Reserves every line, or none when a hard budget would pass its limit (spent + reserved + amount >
   * limit). Soft budgets are never refused; they count what is reserved and spent. Lines of the same
   * counter (scope, unit, window) reserve the largest of their amounts once.
   */
  reserve(lines: readonly BudgetLine[], now: number): Promise<ReserveResult>;
  /**
   * Releases the reservation and adds the real usage to each line's spending (in its window at
   * reserve time). Idempotent: a reservation settled twice counts once.
   */
  settle(reservation: Reservation, actual: ActualUsage): Promise<SettleResult>;
  /** Each budget's state in the window containing `now`, in the order given. */
  status(scope: BudgetScope, budgets: readonly Budget[], now: number): Promise<BudgetStatus[]>;
  /** reserve(), answered at once: a ledger in this process has it (no store to wait for). */
  reserveNow?(lines: readonly BudgetLine[], now: number): ReserveResult;
  /** settle(), answered at once: a ledger in this process has it. */
  settleNow?(reservation: Reservation, actual: ActualUsage): SettleResult;
  /**
   * reserve(), answered at once when the ledger can without its store (from an allowance); null when
   * it cannot: call reserve().
   */
  reserveLocally?(lines: readonly BudgetLine[], now: number): ReserveResult | null;
  /** settle(), answered at once when the reservation was made locally; null: call settle(). */
  settleLocally?(reservation: Reservation, actual: ActualUsage): SettleResult | null;
  /** Gives back what the instance holds for itself and sends what it has not yet (on shutdown). */
  close?(): Promise<void>;
}

/** The ledger's store failed or did not answer in time; what was asked of it did not take effect. */
export class BudgetStoreError extends Error {
  override readonly name = 'BudgetStoreError';
}

/** How long a reservation holds when nobody settles it (its instance died): 10 minutes. */
export const DEFAULT_RESERVATION_TTL_MS = 600_000;
/** Counters live this long past their window's end: late settlements and /admin still see them. */
export const COUNTER_MARGIN_MS = 3_600_000;

/** A budget's limit in the unit of amounts: integer micro-dollars for usd, tokens as they are. */
export function limitUnits(budget: Budget): number {
  return budget.unit === 'usd' ? Math.round(budget.limit * 1_000_000) : Math.floor(budget.limit);
}

/** The usage counted in a unit: whole micro-dollars or tokens, rounded up; 0 for nonsense. */
export function usageIn(unit: Budget['unit'], actual: ActualUsage): number {
  const amount = unit === 'usd' ? actual.usdMicros : actual.tokens;
  return Number.isFinite(amount) && amount > 0 ? Math.ceil(amount) : 0;
}

/** A counter's name (without store prefix): scope, unit, window kind and start. */
export function counterOf(scope: BudgetScope, budget: Budget, window: WindowSpan): string {
  return `${scope}:${budget.unit}:${budget.window}:${window.start}`;
}

/** Seconds from `now` until the window resets (at least 1), or null when it never does. */
export function secondsUntilReset(window: WindowSpan, now: number): number | null {
  if (!Number.isFinite(window.end)) return null;
  return Math.max(1, Math.ceil((window.end - now) / 1000));
}

/**
 * The tightest budget (the smallest share of its limit remaining) among the hard ones, or among all
 * when none is hard: the one x-gateway-budget-remaining reports. Null for no budgets.
 */
export function tightestBudget(statuses: readonly BudgetStatus[]): BudgetStatus | null {
  let hard = false;
  for (const status of statuses) if (!status.budget.soft) hard = true;
  let best: BudgetStatus | null = null;
  let bestShare = Infinity;
  for (const status of statuses) {
    if (hard && status.budget.soft) continue;
    const share = status.limit > 0 ? status.remaining / status.limit : 0;
    if (share < bestShare) {
      best = status;
      bestShare = share;
    }
  }
  return best;
}

/**
 * A remaining amount as x-gateway-budget-remaining shows it, in the budget's unit: US dollars with up
 * to 6 decimals (`4.25`), or whole tokens.
 */
export function formatRemaining(status: BudgetStatus): string {
  if (status.budget.unit === 'tokens') return String(status.remaining);
  const whole = Math.floor(status.remaining / 1_000_000);
  let fraction = status.remaining % 1_000_000;
  if (fraction === 0) return String(whole);
  // Six digits with leading zeros, less its trailing zeros: 250000 → "25", 5 → "000005".
  let digits = 6;
  while (fraction % 10 === 0) {
    fraction /= 10;
    digits--;
  }
  return `${whole}.${String(fraction).padStart(digits, '0')}`;
}
