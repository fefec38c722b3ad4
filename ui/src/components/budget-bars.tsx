import { budgetBars, type BudgetStatus } from '../lib/budgets.js';
import { formatCount, formatRatio, formatRelative, formatUsd } from '../lib/format.js';

function amount(unit: 'usd' | 'tokens', value: number): string {
  return unit === 'usd' ? formatUsd(value) : `${formatCount(value)} tokens`;
}

/** Each budget as a bar: spent, then reserved, with a tick per alert threshold. */
export function BudgetBars({
  statuses,
  thresholds,
}: {
  readonly statuses: readonly BudgetStatus[];
  readonly thresholds: readonly number[];
}) {
  const now = Date.now();
  return (
    <div>
      {budgetBars(statuses, thresholds).map((bar) => (
        <div class="budget" key={bar.label}>
          <div class="line">
            <span>{bar.label}</span>
            <span>
              {amount(bar.unit, bar.spent)} of {amount(bar.unit, bar.limit)}
              {bar.reserved > 0 ? ` (+${amount(bar.unit, bar.reserved)} reserved)` : ''}
            </span>
          </div>
          <div
            class={`bar ${bar.level}`}
            role="meter"
            aria-label={`${bar.label}: ${formatRatio(bar.spentShare)} spent`}
            aria-valuemin={0}
            aria-valuemax={bar.limit}
            aria-valuenow={Math.min(bar.spent, bar.limit)}
          >
            <span class="spent" style={{ width: `${String(bar.spentShare * 100)}%` }} />
            <span
              class="reserved"
              style={{
                left: `${String(bar.spentShare * 100)}%`,
                width: `${String(bar.reservedShare * 100)}%`,
              }}
            />
            {thresholds
              .filter((threshold) => threshold < 1)
              .map((threshold) => (
                <span key={threshold} class="tick" style={{ left: `${String(threshold * 100)}%` }} />
              ))}
          </div>
          <div class="line">
            <span class={bar.level}>
              {bar.crossed.length === 0
                ? 'no alert in this window'
                : `alerts fired: ${bar.crossed.map((threshold) => formatRatio(threshold)).join(', ')}`}
            </span>
            <span>{bar.windowEnd === null ? 'total' : `resets ${formatRelative(bar.windowEnd, now)}`}</span>
          </div>
        </div>
      ))}
    </div>
  );
}
