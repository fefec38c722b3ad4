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
  type CounterPlan,
  type Reservation,
  type ReserveResult,
  type SettleResult,
} from './ledger.js';
import { amountsOf, counterAt, Planner, refusalOf, statusOf, type Plan } from './plan.js';
import { WindowCalendar } from './windows.js';

export interface LedgerOptions {
  /** IANA zone of calendar windows (config.budget.timezone), read on each call. */
  readonly timeZone: () => string;
  /** How long an unsettled reservation holds (default 10 minutes), read on each reserve. */
  readonly reservationTtlMs?: () => number;
}

interface Counter {
  spent: number;
  /** What the holds not settled (nor lapsed) take of it. */
  reserved: number;
  /** Dropped after this (its window's end plus a margin); never for `total`. */
  readonly dropAt: number;
}

const HELD = 0;
/** Expired before it was settled: its amounts went back; a late settlement still counts what was spent, once. */
const LAPSED = 1;
const SETTLED = 2;

/**
 * A reservation's own record (Reservation.local): its counters themselves, so that settling looks
 * nothing up, and whether it is held, lapsed or settled, so that it counts once.
 */
interface Hold {
  readonly counters: readonly Counter[];
  readonly amounts: readonly number[];
  readonly expiresAt: number;
  state: typeof HELD | typeof LAPSED | typeof SETTLED;
}

/** Sweep ended windows at most this often. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * The ledger in this process, for a gateway without Redis (one instance): the same decisions as the
 * Redis ledger, since both use plan.ts, with JavaScript's run-to-completion as the atomicity.
 *
 * A request's reservation and settlement touch only objects it holds (its plan's counters, its hold):
 * no look-up by name or id on the request path, which in place (caches emptied by the rest of the
 * request) cost several times what the arithmetic does.
 */
export class MemoryBudgetLedger implements BudgetLedger {
  private readonly counters = new Map<string, Counter>();
  /** Each plan's counters (a plan is this ledger's: its Planner made it). */
  private readonly planCounters = new WeakMap<Plan, readonly Counter[]>();
  /** Reservations held: not settled, not lapsed. */
  private readonly holds = new Set<Hold>();
  /** The earliest expiry in `holds` (or later): before it, none can have lapsed. */
  private nextExpiry = Infinity;
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
    if (now >= this.nextSweep) this.sweep(now);
    if (now >= this.nextExpiry) this.expire(now);
    const plan = this.planner.plan(lines, now);
    const amounts = amountsOf(plan, lines);
    const states = this.countersOf(plan);
    const refused = refusalOf(plan, amounts, states, now);
    if (refused !== null) return { ok: false, refused };
    // Unique in this process, which is all an in-process reservation needs (and cheaper than a UUID).
    const id = `${this.idPrefix}${++this.reservations}`;
    const expiresAt = now + (this.options.reservationTtlMs?.() ?? DEFAULT_RESERVATION_TTL_MS);
    for (let index = 0; index < states.length; index++)
      (states[index] as Counter).reserved += amounts[index] ?? 0;
    const hold: Hold = { counters: states, amounts, expiresAt, state: HELD };
    this.holds.add(hold);
    if (expiresAt < this.nextExpiry) this.nextExpiry = expiresAt;
    const statuses: BudgetStatus[] = [];
    for (const line of plan.lines)
      statuses.push(statusOf(line.scope, line.budget, line.window, states[line.counterIndex] as Counter));
    return {
      ok: true,
      reservation: {
        id,
        lines: plan.lines,
        counters: plan.counters,
        amounts,
        expiresAt,
        statuses,
        local: hold,
      },
    };
  }

  settle(reservation: Reservation, actual: ActualUsage): Promise<SettleResult> {
    return Promise.resolve(this.settleNow(reservation, actual));
  }

  /**
   * settle(), synchronously. Counts a reservation once: while it is held, or after it lapsed; one
   * settled already, or one without its hold (not made by an in-process ledger), counts nothing.
   */
  settleNow(reservation: Reservation, actual: ActualUsage): SettleResult {
    const hold = reservation.local as Hold | undefined;
    // Per counter, before and after: lines of one counter count the usage once.
    const spent: number[] = [];
    const counters = reservation.counters;
    if (hold === undefined || hold.state === SETTLED) {
      for (const { counter: name, window } of counters) {
        const counter = this.counters.get(name) ?? this.create(name, window.end);
        spent.push(counter.spent, counter.spent);
      }
      return { counted: false, lines: reservation.lines, spent };
    }
    if (hold.state === HELD) {
      this.holds.delete(hold);
      for (let index = 0; index < hold.counters.length; index++)
        (hold.counters[index] as Counter).reserved -= hold.amounts[index] ?? 0;
    }
    hold.state = SETTLED;
    for (let index = 0; index < hold.counters.length; index++) {
      const counter = hold.counters[index] as Counter;
      const before = counter.spent;
      counter.spent += usageIn((counters[index] as CounterPlan).unit, actual);
      spent.push(before, counter.spent);
    }
    return { counted: true, lines: reservation.lines, spent };
  }

  status(scope: BudgetScope, budgets: readonly Budget[], now: number): Promise<BudgetStatus[]> {
    if (now >= this.nextExpiry) this.expire(now);
    return Promise.resolve(
      budgets.map((budget) => {
        const { counter, window } = counterAt(scope, budget, this.calendar, now);
        return statusOf(scope, budget, window, this.counters.get(counter) ?? { spent: 0, reserved: 0 });
      }),
    );
  }

  /** A plan's counters, found (or made) once per plan. */
  private countersOf(plan: Plan): readonly Counter[] {
    let states = this.planCounters.get(plan);
    if (states === undefined) {
      states = plan.counters.map(
        ({ counter: name, window }) => this.counters.get(name) ?? this.create(name, window.end),
      );
      this.planCounters.set(plan, states);
    }
    return states;
  }

  /** Reservations past their expiry give their amounts back (as Redis purges its own). */
  private expire(now: number): void {
    let nextExpiry = Infinity;
    for (const hold of this.holds) {
      if (hold.expiresAt > now) {
        nextExpiry = Math.min(nextExpiry, hold.expiresAt);
        continue;
      }
      this.holds.delete(hold);
      hold.state = LAPSED;
      for (let index = 0; index < hold.counters.length; index++)
        (hold.counters[index] as Counter).reserved -= hold.amounts[index] ?? 0;
    }
    this.nextExpiry = nextExpiry;
  }

  private create(name: string, windowEnd: number): Counter {
    const counter: Counter = { spent: 0, reserved: 0, dropAt: windowEnd + COUNTER_MARGIN_MS };
    this.counters.set(name, counter);
    return counter;
  }

  private sweep(now: number): void {
    this.nextSweep = now + SWEEP_INTERVAL_MS;
    for (const [name, counter] of this.counters) if (counter.dropAt <= now) this.counters.delete(name);
  }
}
