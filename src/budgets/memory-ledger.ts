import { randomUUID } from 'node:crypto';
import type { Budget } from '../config/config.js';
import {
  COUNTER_MARGIN_MS,
  DEFAULT_RESERVATION_TTL_MS,
  usageIn,
  type ActualUsage,
  type BudgetLedger,
  type BudgetLine,
  type BudgetScope,
  type BudgetStatus,
  type Reservation,
  type ReserveResult,
  type SettleResult,
} from './ledger.js';
import { amountsOf, counterAt, Planner, refusalOf, statusOf } from './plan.js';
import { WindowCalendar } from './windows.js';

export interface LedgerOptions {
  /** IANA zone of calendar windows (config.budget.timezone), read on each call. */
  readonly timeZone: () => string;
  /** How long an unsettled reservation holds (default 10 minutes), read on each reserve. */
  readonly reservationTtlMs?: () => number;
}

interface Counter {
  spent: number;
  reserved: number;
  /** Reservation id → amount held and when it lapses. */
  readonly held: Map<string, { readonly amount: number; readonly expiresAt: number }>;
  /** The earliest expiry in `held` (or later): before it, nothing can have lapsed. */
  nextExpiry: number;
  /**
   * Reservations that lapsed before they were settled (their instance died, or a request outlived the
   * reservation's time to live): a late settlement still counts what was spent, once.
   */
  readonly lapsed: Set<string>;
  /** Dropped after this (its window's end plus a margin); never for `total`. */
  readonly dropAt: number;
}

/** Sweep ended windows and old settlement marks at most this often. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * The ledger in this process, for a gateway without Redis (one instance): the same decisions as the
 * Redis ledger, since both use plan.ts, with JavaScript's run-to-completion as the atomicity.
 */
export class MemoryBudgetLedger implements BudgetLedger {
  private readonly counters = new Map<string, Counter>();
  private readonly calendar: WindowCalendar;
  private readonly planner: Planner;
  private nextSweep = -Infinity;
  private readonly idPrefix = `${randomUUID()}:`;
  private reservations = 0;

  constructor(private readonly options: LedgerOptions) {
    this.calendar = new WindowCalendar(options.timeZone);
    this.planner = new Planner(this.calendar);
  }

  reserve(lines: readonly BudgetLine[], now: number): Promise<ReserveResult> {
    return Promise.resolve(this.reserveNow(lines, now));
  }

  /** reserve(), synchronously: the in-process ledger needs no wait (src/pipeline/spending.ts uses it). */
  reserveNow(lines: readonly BudgetLine[], now: number): ReserveResult {
    this.sweep(now);
    const plan = this.planner.plan(lines, now);
    const amounts = amountsOf(plan, lines);
    const states: Counter[] = [];
    for (const counter of plan.counters) states.push(this.counter(counter.counter, counter.window.end, now));
    const refused = refusalOf(plan, amounts, states, now);
    if (refused !== null) return { ok: false, refused };
    // Unique in this process, which is all an in-process reservation needs (and cheaper than a UUID).
    const id = `${this.idPrefix}${++this.reservations}`;
    const expiresAt = now + (this.options.reservationTtlMs?.() ?? DEFAULT_RESERVATION_TTL_MS);
    for (let index = 0; index < states.length; index++) {
      const state = states[index] as Counter;
      const amount = amounts[index] ?? 0;
      state.reserved += amount;
      state.held.set(id, { amount, expiresAt });
      if (expiresAt < state.nextExpiry) state.nextExpiry = expiresAt;
    }
    const statuses: BudgetStatus[] = [];
    for (const line of plan.lines)
      statuses.push(statusOf(line.scope, line.budget, line.window, states[line.counterIndex] as Counter));
    return {
      ok: true,
      reservation: { id, lines: plan.lines, counters: plan.counters, amounts, expiresAt, statuses },
    };
  }

  settle(reservation: Reservation, actual: ActualUsage): Promise<SettleResult> {
    return Promise.resolve(this.settleNow(reservation, actual));
  }

  /**
   * settle(), synchronously. Counts a reservation once: while it is held, or after it lapsed. A
   * reservation settled already is held by no counter and lapsed in none, so a second settlement
   * changes nothing, and no per-request mark outlives the settlement.
   */
  settleNow(reservation: Reservation, actual: ActualUsage): SettleResult {
    let counted = false;
    for (const { counter: name } of reservation.counters) {
      const counter = this.counters.get(name);
      if (counter === undefined) continue;
      const held = counter.held.get(reservation.id);
      if (held !== undefined) {
        counter.reserved -= held.amount;
        counter.held.delete(reservation.id);
        counted = true;
      }
      if (counter.lapsed.size > 0 && counter.lapsed.delete(reservation.id)) counted = true;
    }
    // Per counter, before and after: lines of one counter count the usage once.
    const spent: number[] = [];
    for (const { counter: name, window, unit } of reservation.counters) {
      const counter = this.counters.get(name) ?? this.create(name, window.end);
      const before = counter.spent;
      if (counted) counter.spent += usageIn(unit, actual);
      spent.push(before, counter.spent);
    }
    return { counted, lines: reservation.lines, spent };
  }

  status(scope: BudgetScope, budgets: readonly Budget[], now: number): Promise<BudgetStatus[]> {
    return Promise.resolve(
      budgets.map((budget) => {
        const { counter, window } = counterAt(scope, budget, this.calendar, now);
        const state = this.counters.has(counter)
          ? this.counter(counter, window.end, now)
          : { spent: 0, reserved: 0 };
        return statusOf(scope, budget, window, state);
      }),
    );
  }

  /** A counter with its lapsed reservations released. */
  private counter(name: string, windowEnd: number, now: number): Counter {
    const counter = this.counters.get(name) ?? this.create(name, windowEnd);
    if (now < counter.nextExpiry) return counter;
    let nextExpiry = Infinity;
    for (const [id, held] of counter.held) {
      if (held.expiresAt > now) {
        nextExpiry = Math.min(nextExpiry, held.expiresAt);
        continue;
      }
      counter.reserved -= held.amount;
      counter.held.delete(id);
      counter.lapsed.add(id);
    }
    counter.nextExpiry = nextExpiry;
    return counter;
  }

  private create(name: string, windowEnd: number): Counter {
    const counter: Counter = {
      spent: 0,
      reserved: 0,
      held: new Map(),
      nextExpiry: Infinity,
      lapsed: new Set(),
      dropAt: windowEnd + COUNTER_MARGIN_MS,
    };
    this.counters.set(name, counter);
    return counter;
  }

  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + SWEEP_INTERVAL_MS;
    for (const [name, counter] of this.counters) if (counter.dropAt <= now) this.counters.delete(name);
  }
}
