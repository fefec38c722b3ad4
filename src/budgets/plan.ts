import type { Budget } from '../config/config.js';
import {
  counterOf,
  limitUnits,
  secondsUntilReset,
  type BudgetLine,
  type BudgetRefusal,
  type BudgetScope,
  type BudgetStatus,
  type ReservedLine,
} from './ledger.js';
import type { WindowCalendar, WindowSpan } from './windows.js';

/**
 * The ledgers' shared arithmetic, so that the Redis and the in-memory ledger decide alike: lines grouped
 * by counter, the check, the refusal chosen, statuses. A store only keeps `spent` and `reserved` per
 * counter.
 */

/** One counter a reservation touches: lines of the same scope, unit and window share it. */
export interface CounterPlan {
  readonly counter: string;
  readonly window: WindowSpan;
  /** Reserved once for the counter: the largest amount of its lines. */
  readonly amount: number;
  /** The smallest limit of its hard lines; null when all are soft. */
  readonly hardLimit: number | null;
}

/** Spent and reserved of a counter, as a store read them. */
export interface CounterState {
  readonly spent: number;
  readonly reserved: number;
}

/**
 * The counter name of each budget object for its last window: a request asks for the same few names
 * over and over, and the same string each time (rather than a new one) also keeps its hash for the
 * stores' maps.
 */
const counterNames = new WeakMap<Budget, { scope: BudgetScope; window: WindowSpan; counter: string }>();

function counterName(scope: BudgetScope, budget: Budget, window: WindowSpan): string {
  const known = counterNames.get(budget);
  if (known !== undefined && known.window === window && known.scope === scope) return known.counter;
  const counter = counterOf(scope, budget, window);
  counterNames.set(budget, { scope, window, counter });
  return counter;
}

export function planReservation(
  lines: readonly BudgetLine[],
  calendar: WindowCalendar,
  now: number,
): { readonly lines: ReservedLine[]; readonly counters: CounterPlan[] } {
  const reserved: ReservedLine[] = [];
  const counters: { counter: string; window: WindowSpan; amount: number; hardLimit: number | null }[] = [];
  for (const line of lines) {
    const window = calendar.at(line.budget.window, now);
    const counter = counterName(line.scope, line.budget, window);
    const amount = Number.isFinite(line.amount) && line.amount > 0 ? Math.ceil(line.amount) : 0;
    // A handful of lines at most: a search beats a map.
    let counterIndex = 0;
    while (counterIndex < counters.length && counters[counterIndex]?.counter !== counter) counterIndex++;
    let plan = counters[counterIndex];
    if (plan === undefined) {
      plan = { counter, window, amount: 0, hardLimit: null };
      counters.push(plan);
    }
    reserved.push({ scope: line.scope, budget: line.budget, amount, window, counter, counterIndex });
    plan.amount = Math.max(plan.amount, amount);
    if (!line.budget.soft) {
      const limit = limitUnits(line.budget);
      plan.hardLimit = plan.hardLimit === null ? limit : Math.min(plan.hardLimit, limit);
    }
  }
  return { lines: reserved, counters };
}

/** The counter a budget of a scope uses in the window containing `now`. */
export function counterAt(
  scope: BudgetScope,
  budget: Budget,
  calendar: WindowCalendar,
  now: number,
): { readonly counter: string; readonly window: WindowSpan } {
  const window = calendar.at(budget.window, now);
  return { counter: counterName(scope, budget, window), window };
}

export function statusOf(
  scope: BudgetScope,
  budget: Budget,
  window: WindowSpan,
  state: CounterState,
): BudgetStatus {
  const limit = limitUnits(budget);
  const spent = Math.max(0, state.spent);
  const reserved = Math.max(0, state.reserved);
  return { scope, budget, spent, reserved, limit, remaining: Math.max(0, limit - spent - reserved), window };
}

/**
 * Of the hard lines that do not fit (state read before reserving), the one whose window resets last: the
 * request cannot pass before every one of them has room, so its Retry-After is the longest. Null when
 * all fit.
 */
export function refusalOf(
  lines: readonly ReservedLine[],
  plans: readonly CounterPlan[],
  states: ReadonlyMap<string, CounterState>,
  now: number,
): BudgetRefusal | null {
  let refused: BudgetRefusal | null = null;
  for (const line of lines) {
    if (line.budget.soft) continue;
    const state = states.get(line.counter) ?? { spent: 0, reserved: 0 };
    const plan = plans.find((candidate) => candidate.counter === line.counter);
    const amount = plan?.amount ?? line.amount;
    const limit = limitUnits(line.budget);
    if (state.spent + state.reserved + amount <= limit) continue;
    if (refused !== null && refused.window.end >= line.window.end) continue;
    refused = {
      scope: line.scope,
      budget: line.budget,
      remaining: Math.max(0, limit - state.spent - state.reserved),
      window: line.window,
      retryAfterSeconds: secondsUntilReset(line.window, now),
    };
  }
  return refused;
}
