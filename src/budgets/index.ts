/** Budgets (issue 20): windows, the reserve-then-settle ledger, threshold alerts and their webhook. */
export {
  BudgetStoreError,
  COUNTER_MARGIN_MS,
  DEFAULT_RESERVATION_TTL_MS,
  formatRemaining,
  limitUnits,
  secondsUntilReset,
  settledLines,
  tightestBudget,
  type ActualUsage,
  type BudgetLedger,
  type BudgetLine,
  type BudgetRefusal,
  type BudgetScope,
  type BudgetStatus,
  type Reservation,
  type ReservedLine,
  type ReserveResult,
  type SettledLine,
  type SettleResult,
} from './ledger.js';
export { MemoryBudgetLedger, type LedgerOptions } from './memory-ledger.js';
export { RedisBudgetLedger, type RedisLedgerOptions } from './redis-ledger.js';
export {
  BudgetAlerts,
  DEFAULT_THRESHOLDS,
  MemoryAlertClaims,
  RedisAlertClaims,
  webhookBody,
  type AlertClaims,
  type BudgetAlert,
  type BudgetAlertsOptions,
} from './alerts.js';
export { signatureOf, WebhookSender, type WebhookSenderOptions } from './webhook.js';
export { isKnownTimeZone, WindowCalendar, windowAt, type WindowSpan } from './windows.js';
