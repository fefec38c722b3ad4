/**
 * Budget bars of the teams page: each budget's spend and reservations against its limit in the
 * current window, and which alert thresholds it has crossed. test/ui/budgets.test.ts.
 */
import type { paths } from '../../../clients/typescript/src/generated/openapi.js';

/** One budget's spending now, as GET /admin/teams/{id} and GET /admin/usage?key= answer it. */
export type BudgetStatus =
  paths['/admin/teams/{id}']['get']['responses'][200]['content']['application/json']['spend'][number];

export type BudgetLevel = 'ok' | 'warning' | 'exhausted';

export interface BudgetBar {
  readonly label: string;
  readonly window: string;
  readonly unit: 'usd' | 'tokens';
  readonly soft: boolean;
  readonly spent: number;
  readonly reserved: number;
  readonly limit: number;
  /** Shares of the bar's width, each from 0 to 1 (spent first, then reserved; together at most 1). */
  readonly spentShare: number;
  readonly reservedShare: number;
  readonly level: BudgetLevel;
  /** Alert thresholds (alerts.thresholds) that the settled spend has reached: the alerts fired. */
  readonly crossed: readonly number[];
  readonly windowEnd: string | null;
}

const clamp = (value: number): number => Math.min(1, Math.max(0, value));

export function budgetBars(statuses: readonly BudgetStatus[], thresholds: readonly number[]): BudgetBar[] {
  return statuses.map((status) => {
    const used = status.limit > 0 ? status.spent / status.limit : 0;
    const spentShare = clamp(used);
    const reservedShare = clamp(status.limit > 0 ? status.reserved / status.limit : 0);
    const crossed = thresholds.filter((threshold) => used >= threshold);
    return {
      label: `${status.scope} · ${status.window}${status.soft ? ' (soft)' : ''}`,
      window: status.window,
      unit: status.unit,
      soft: status.soft,
      spent: status.spent,
      reserved: status.reserved,
      limit: status.limit,
      spentShare,
      reservedShare: Math.min(reservedShare, 1 - spentShare),
      level: used >= 1 ? 'exhausted' : crossed.length > 0 && used >= 0.8 ? 'warning' : 'ok',
      crossed,
      windowEnd: status.window_end,
    };
  });
}
