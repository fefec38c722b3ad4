/**
 * Flags that keys and teams share in the CLI (issue 20): --budget, --priority, --max-concurrency,
 * --rpm/--tpm, and how budgets are shown.
 */

/** A mistake in the command line: printed as `ai-gateway <command>: <message>`, exit status 1. */
export class UsageError extends Error {}

/** A budget as the admin API takes it (the config file's form). */
export interface BudgetInput {
  usd?: number;
  tokens?: number;
  window: 'hour' | 'day' | 'week' | 'month' | 'total';
  soft?: boolean;
}

const WINDOWS = ['hour', 'day', 'week', 'month', 'total'] as const;

/**
 * `usd=5/day`, `tokens=2000000/month`, `usd=200/total`, with `,soft` for a budget that only alerts:
 * the config's `{usd: 5, window: day}` on one line.
 */
export function parseBudgetFlag(text: string): BudgetInput {
  const match = /^(usd|tokens)=([0-9]+(?:\.[0-9]+)?)\/([a-z]+)(,soft)?$/.exec(text.trim());
  const window = match?.[3] as (typeof WINDOWS)[number] | undefined;
  if (match === null || window === undefined || !WINDOWS.includes(window))
    throw new UsageError(
      `--budget: '${text}' is not UNIT=AMOUNT/WINDOW[,soft] (e.g. usd=5/day, tokens=2000000/month,soft; windows ${WINDOWS.join(', ')})`,
    );
  const amount = Number(match[2]);
  const unit = match[1] as 'usd' | 'tokens';
  if (!(amount > 0) || (unit === 'tokens' && !Number.isSafeInteger(amount)))
    throw new UsageError(
      `--budget: '${text}': the amount must be above 0${unit === 'tokens' ? ' and whole' : ''}`,
    );
  return { [unit]: amount, window, ...(match[4] === undefined ? {} : { soft: true }) };
}

/** interactive | batch | 0-1000, as the admin API takes it. */
export function parsePriorityFlag(text: string): 'interactive' | 'batch' | number {
  if (text === 'interactive' || text === 'batch') return text;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 1000)
    throw new UsageError(`--priority: '${text}' is not interactive, batch or a whole number 0-1000`);
  return value;
}

export function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new UsageError(`--${name}: must be a positive whole number`);
  return value;
}

/** A budget as the admin API shows it, for people: `$5/day`, `2000000 tokens/month (soft)`. */
export function formatBudget(budget: {
  usd?: number;
  tokens?: number;
  window: string;
  soft: boolean;
}): string {
  const amount = budget.usd === undefined ? `${budget.tokens ?? 0} tokens` : `$${budget.usd}`;
  return `${amount}/${budget.window}${budget.soft ? ' (soft)' : ''}`;
}

/** Columns of text, padded to their widest cell. */
export function table<T>(
  columns: readonly (readonly [string, (row: T) => string])[],
  rows: readonly T[],
): string {
  const cells = [columns.map(([title]) => title), ...rows.map((row) => columns.map(([, get]) => get(row)))];
  const widths = columns.map((_, index) => Math.max(...cells.map((line) => (line[index] ?? '').length)));
  return (
    cells
      .map((line) =>
        line
          .map((cell, index) => cell.padEnd(widths[index] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** `name: value` lines, for `show`. */
export function details(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${`${name}:`.padEnd(width + 2)}${value}`).join('\n') + '\n';
}

/** A rate limit as shown: `600/minute requests, 1000/hour tokens`, or `-`. */
export function formatRateLimit(
  policy: { requests?: string | string[]; tokens?: string | string[] } | null,
): string {
  if (policy === null) return '-';
  const parts: string[] = [];
  for (const kind of ['requests', 'tokens'] as const) {
    const value = policy[kind];
    if (value === undefined) continue;
    for (const rate of typeof value === 'string' ? [value] : value) parts.push(`${rate} ${kind}`);
  }
  return parts.length === 0 ? '-' : parts.join(', ');
}

/** `k=v` pairs of --metadata. */
export function parseMetadata(pairs: readonly string[] | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const at = pair.indexOf('=');
    if (at < 1) throw new UsageError(`--metadata: '${pair}' is not key=value`);
    metadata[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return metadata;
}
