import type { Budget } from '../config/config.js';
import {
  counterOf,
  limitUnits,
  secondsUntilReset,
  type BudgetLine,
  type BudgetRefusal,
  type BudgetScope,
  type BudgetStatus,
  type CounterPlan,
  type ReservedLine,
} from './ledger.js';
import type { WindowCalendar, WindowSpan } from './windows.js';

/**
 * The ledgers' shared arithmetic, so that the Redis and the in-memory ledger decide alike: lines grouped
 * by counter, the check, the refusal chosen, statuses. A store only keeps `spent` and `reserved` per
 * counter.
 */

/** Spent and reserved of a counter, as a store read them. */
export interface CounterState {
  readonly spent: number;
  readonly reserved: number;
}

/**
 * What a reservation of some budgets touches in the windows containing `now`: its lines and their
 * distinct counters. It depends only on the budgets and the windows, so a request reuses its key's
 * plan until a window ends (Planner): only the amounts are its own (amountsOf).
 */
export interface Plan {
  readonly lines: readonly ReservedLine[];
  readonly counters: readonly CounterPlan[];
  /** The plan holds for `now` in [from, until) in time zone `zone`. */
  readonly from: number;
  readonly until: number;
  readonly zone: string;
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

/**
 * Plans reservations in one ledger's calendar, remembering the last plan of each first budget: the
 * lines of a key's requests are new objects each time but name the same scope and budget objects, so
 * the plan (its lines, counters and their names) is made once per key and window, not per request.
 */
export class Planner {
  private readonly plans = new WeakMap<Budget, Plan>();

  constructor(private readonly calendar: WindowCalendar) {}

  plan(lines: readonly BudgetLine[], now: number): Plan {
    const first = lines[0];
    if (first === undefined) return EMPTY_PLAN;
    const known = this.plans.get(first.budget);
    if (known !== undefined && this.fits(known, lines, now)) return known;
    const plan = planOf(lines, this.calendar, now);
    this.plans.set(first.budget, plan);
    return plan;
  }

  private fits(plan: Plan, lines: readonly BudgetLine[], now: number): boolean {
    if (now < plan.from || now >= plan.until || plan.lines.length !== lines.length) return false;
    for (let index = 0; index < lines.length; index++) {
      const line = lines[index] as BudgetLine;
      const planned = plan.lines[index] as ReservedLine;
      if (line.budget !== planned.budget || line.scope !== planned.scope) return false;
    }
    return plan.zone === this.calendar.currentZone();
  }
}

const EMPTY_PLAN: Plan = { lines: [], counters: [], from: -Infinity, until: Infinity, zone: '' };

function planOf(lines: readonly BudgetLine[], calendar: WindowCalendar, now: number): Plan {
  const reserved: ReservedLine[] = [];
  const counters: CounterPlan[] = [];
  let from = -Infinity;
  let until = Infinity;
  for (const line of lines) {
    const window = calendar.at(line.budget.window, now);
    from = Math.max(from, window.start);
    until = Math.min(until, window.end);
    const counter = counterName(line.scope, line.budget, window);
    // A handful of lines at most: a search beats a map.
    let counterIndex = 0;
    while (counterIndex < counters.length && counters[counterIndex]?.counter !== counter) counterIndex++;
    const limit = line.budget.soft ? null : limitUnits(line.budget);
    const known = counters[counterIndex];
    if (known === undefined) counters.push({ counter, window, unit: line.budget.unit, hardLimit: limit });
    else if (limit !== null)
      counters[counterIndex] = {
        ...known,
        hardLimit: known.hardLimit === null ? limit : Math.min(known.hardLimit, limit),
      };
    reserved.push({ scope: line.scope, budget: line.budget, window, counter, counterIndex });
  }
  return { lines: reserved, counters, from, until, zone: calendar.currentZone() };
}

/**
 * What a request reserves on each counter of its plan: the largest amount of the counter's lines,
 * rounded up to whole units (lines of one counter share a unit, so they ask the same in practice).
 */
export function amountsOf(plan: Plan, lines: readonly BudgetLine[]): number[] {
  const amounts: number[] = [];
  for (let index = 0; index < plan.counters.length; index++) amounts.push(0);
  for (let index = 0; index < lines.length; index++) {
    const amount = (lines[index] as BudgetLine).amount;
    const counterIndex = (plan.lines[index] as ReservedLine).counterIndex;
    const whole = Number.isFinite(amount) && amount > 0 ? Math.ceil(amount) : 0;
    if (whole > (amounts[counterIndex] ?? 0)) amounts[counterIndex] = whole;
  }
  return amounts;
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
  return statusFrom(scope, budget, window, state.spent, state.reserved);
}

/** statusOf, from the counter's spent and reserved. */
export function statusFrom(
  scope: BudgetScope,
  budget: Budget,
  window: WindowSpan,
  spentNow: number,
  reservedNow: number,
): BudgetStatus {
  const limit = limitUnits(budget);
  const spent = Math.max(0, spentNow);
  const reserved = Math.max(0, reservedNow);
  return { scope, budget, spent, reserved, limit, remaining: Math.max(0, limit - spent - reserved), window };
}

/**
 * Of the hard lines that do not fit (`states`: each counter's, by counterIndex, read before
 * reserving), the one whose window resets last: the request cannot pass before every one of them has
 * room, so its Retry-After is the longest. Null when all fit.
 */
export function refusalOf(
  plan: Plan,
  amounts: readonly number[],
  states: readonly CounterState[],
  now: number,
): BudgetRefusal | null {
  let refused: BudgetRefusal | null = null;
  for (const line of plan.lines) {
    if (line.budget.soft) continue;
    const state = states[line.counterIndex] ?? { spent: 0, reserved: 0 };
    const amount = amounts[line.counterIndex] ?? 0;
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
