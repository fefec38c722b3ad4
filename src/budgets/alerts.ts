import type { Logger } from 'pino';
import type { Budget } from '../config/config.js';
import { withDeadline } from '../state/deadline.js';
import type { RedisClient } from '../state/redis/redis-client.js';
import { limitUnits, settledLines, spentAfterOf, type BudgetScope, type SettleResult } from './ledger.js';
import type { WebhookSender } from './webhook.js';
import type { WindowSpan } from './windows.js';

/** Thresholds when alerts.thresholds is not set: half, four fifths, all of a budget. */
export const DEFAULT_THRESHOLDS: readonly number[] = [0.5, 0.8, 1];

/** A budget's spending reached a share of its limit in a window. Amounts in the budget's unit (USD, tokens). */
export interface BudgetAlert {
  readonly scope: BudgetScope;
  readonly budget: Budget;
  readonly window: WindowSpan;
  readonly threshold: number;
  readonly spent: number;
  readonly limit: number;
  /** When it was noticed (ms since the epoch). */
  readonly at: number;
}

/**
 * Who fires an alert: the first to claim its id. In Redis for all instances (SET NX), in memory for one.
 */
export interface AlertClaims {
  /** True for the first claim of `id`; it is remembered until `expiresAt` (ms; Infinity: forever). */
  claim(id: string, expiresAt: number): Promise<boolean>;
}

/** Claims in this process: once per instance. */
export class MemoryAlertClaims implements AlertClaims {
  private readonly claimed = new Map<string, number>();

  claim(id: string, expiresAt: number): Promise<boolean> {
    const now = Date.now();
    if (this.claimed.size >= 10_000) {
      for (const [known, until] of this.claimed) if (until <= now) this.claimed.delete(known);
    }
    const until = this.claimed.get(id);
    if (until !== undefined && until > now) return Promise.resolve(false);
    this.claimed.set(id, expiresAt);
    return Promise.resolve(true);
  }
}

/**
 * Claims in Redis: `SET {<prefix>}:alert:<id> 1 NX PXAT <window end>`, so one instance of all fires an
 * alert. When Redis fails or is slow, falls back to claiming in this process: an alert may then fire
 * once per instance rather than not at all.
 */
export class RedisAlertClaims implements AlertClaims {
  private readonly fallback = new MemoryAlertClaims();

  constructor(
    private readonly redis: RedisClient,
    private readonly options: {
      readonly prefix?: string;
      readonly timeoutMs?: () => number;
      readonly logger: Logger;
    },
  ) {}

  async claim(id: string, expiresAt: number): Promise<boolean> {
    const key = `{${this.options.prefix ?? 'gw-budget'}}:alert:${id}`;
    try {
      const answer = Number.isFinite(expiresAt)
        ? this.redis.set(key, '1', 'PXAT', Math.ceil(expiresAt), 'NX')
        : this.redis.set(key, '1', 'NX');
      return (await withDeadline(answer, this.options.timeoutMs?.() ?? 100)) === 'OK';
    } catch (error) {
      this.options.logger.warn(
        { event: 'budget_alert_store_error', error: error instanceof Error ? error.message : String(error) },
        'budget alert: Redis failed; deciding in this instance',
      );
      return this.fallback.claim(id, expiresAt);
    }
  }
}

export interface BudgetAlertsOptions {
  readonly claims: AlertClaims;
  readonly logger: Logger;
  /** alerts.thresholds, read on each settlement. */
  readonly thresholds: () => readonly number[];
  /** Called once per alert fired (for a metric). */
  readonly onAlert?: (alert: BudgetAlert) => void;
  /** Posts the alert when alerts.webhook_url is set. */
  readonly webhook?: WebhookSender;
}

/** observe()'s answer when there is nothing to fire. */
const DONE: Promise<void> = Promise.resolve();

/**
 * Watches settlements for budgets whose spending reached a threshold, soft budgets included, and fires
 * each (scope, budget, window, threshold) once across instances: a warn log line `budget_alert`, the
 * onAlert callback, and the webhook. A threshold counts as reached when spending is at or above it after
 * a settlement, not only when this settlement crossed it: an alert whose claim was lost fires at the
 * next settlement.
 */
export class BudgetAlerts {
  /** Ids this instance knows were fired (by it or another), so that it asks Redis only once. */
  private readonly known = new Map<string, number>();

  constructor(private readonly options: BudgetAlertsOptions) {}

  /**
   * Checks a settlement. Never rejects and need not be awaited (the promise is for tests): claims and
   * the webhook run in the background.
   */
  observe(result: SettleResult, now: number = Date.now()): Promise<void> {
    if (!result.counted) return DONE;
    const thresholds = this.options.thresholds();
    // Most settlements leave every budget below its lowest threshold: decided before any string or
    // promise (this runs after every request with a budget).
    let lowest = Infinity;
    for (const threshold of thresholds) lowest = Math.min(lowest, threshold);
    let reached = false;
    for (const line of result.lines) {
      const limit = limitUnits(line.budget);
      if (limit > 0 && spentAfterOf(result, line) + 1e-6 >= lowest * limit) reached = true;
    }
    return reached ? this.alert(result, thresholds, now) : DONE;
  }

  /** observe() for a settlement that reached a threshold. */
  private async alert(result: SettleResult, thresholds: readonly number[], now: number): Promise<void> {
    const seen = new Set<string>();
    const work: Promise<void>[] = [];
    for (const { line, limit, spentAfter } of settledLines(result)) {
      if (limit <= 0) continue;
      const budgetId = `${line.scope}|${line.budget.unit}:${line.budget.window}:${limit}|${line.window.start}`;
      if (seen.has(budgetId)) continue;
      seen.add(budgetId);
      for (const threshold of thresholds) {
        // A tolerance for 0.8 × limit not being a whole number of units.
        if (spentAfter + 1e-6 < threshold * limit) continue;
        const id = `${budgetId}|${threshold}`;
        if ((this.known.get(id) ?? -Infinity) > now) continue;
        this.remember(id, line.window.end, now);
        const alert: BudgetAlert = {
          scope: line.scope,
          budget: line.budget,
          window: line.window,
          threshold,
          spent: inBudgetUnit(line.budget, spentAfter),
          limit: line.budget.limit,
          at: now,
        };
        work.push(this.fire(id, alert));
      }
    }
    await Promise.all(work);
  }

  private async fire(id: string, alert: BudgetAlert): Promise<void> {
    try {
      if (!(await this.options.claims.claim(id, alert.window.end))) return;
      this.options.logger.warn(
        {
          event: 'budget_alert',
          scope: alert.scope,
          budget: `${alert.budget.unit} ${alert.budget.limit} per ${alert.budget.window}${alert.budget.soft ? ' (soft)' : ''}`,
          window: { start: new Date(alert.window.start).toISOString(), end: isoOrNull(alert.window.end) },
          threshold: alert.threshold,
          spent: alert.spent,
          limit: alert.limit,
        },
        'budget threshold reached',
      );
      this.options.onAlert?.(alert);
      this.options.webhook?.send(webhookBody(alert));
    } catch (error) {
      this.options.logger.warn(
        { event: 'budget_alert_failed', error: error instanceof Error ? error.message : String(error) },
        'budget alert failed',
      );
    }
  }

  private remember(id: string, until: number, now: number): void {
    if (this.known.size >= 10_000)
      for (const [known, end] of this.known) if (end <= now) this.known.delete(known);
    this.known.set(id, until);
  }
}

/** The webhook's JSON body for an alert. */
export function webhookBody(alert: BudgetAlert): Record<string, unknown> {
  return {
    type: 'budget.threshold',
    scope: alert.scope,
    budget: {
      unit: alert.budget.unit,
      limit: alert.budget.limit,
      window: alert.budget.window,
      soft: alert.budget.soft,
    },
    threshold: alert.threshold,
    spent: alert.spent,
    window_start: new Date(alert.window.start).toISOString(),
    window_end: isoOrNull(alert.window.end),
    at: new Date(alert.at).toISOString(),
  };
}

/** Micro-dollars as US dollars; tokens as they are. */
function inBudgetUnit(budget: Budget, units: number): number {
  return budget.unit === 'usd' ? units / 1_000_000 : units;
}

function isoOrNull(ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}
