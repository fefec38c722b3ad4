/**
 * Rows of a usage answer: cells (or groups the store already summed) added up per group, sorted, and
 * written as JSON rows or CSV. Both stores use this, so that they answer the same query the same way.
 */
import type { UsageGroup, UsageRow } from './usage.js';

/** The counters of one cell (or of one group a store summed); costMicros null: no price applied. */
export interface UsageSums {
  readonly requests: number;
  readonly errors: number;
  readonly cached: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly costMicros: number | null;
}

/** What a cell is grouped by: key id, model, 'YYYY-MM-DD', 'YYYY-MM-DDTHH:00:00Z'. */
export type GroupValues = Partial<Record<UsageGroup, string>>;

interface Accumulated {
  values: string[];
  requests: number;
  errors: number;
  cached: number;
  promptTokens: number;
  completionTokens: number;
  costMicros: number;
  priced: boolean;
}

function emptyGroup(values: string[]): Accumulated {
  return {
    values,
    requests: 0,
    errors: 0,
    cached: 0,
    promptTokens: 0,
    completionTokens: 0,
    costMicros: 0,
    priced: false,
  };
}

/** The grouping values of a cell of hour 'YYYY-MM-DDTHH'. */
export function cellGroupValues(hour: string, keyId: string, model: string): GroupValues {
  return { key: keyId, model, day: hour.slice(0, 10), hour: `${hour}:00:00Z` };
}

export class UsageRowBuilder {
  private readonly groups = new Map<string, Accumulated>();

  constructor(private readonly groupBy: readonly UsageGroup[]) {}

  add(values: GroupValues, sums: UsageSums): void {
    const ordered = this.groupBy.map((group) => values[group] ?? '');
    const id = JSON.stringify(ordered);
    let group = this.groups.get(id);
    if (group === undefined) {
      group = emptyGroup(ordered);
      this.groups.set(id, group);
    }
    group.requests += sums.requests;
    group.errors += sums.errors;
    group.cached += sums.cached;
    group.promptTokens += sums.promptTokens;
    group.completionTokens += sums.completionTokens;
    if (sums.costMicros !== null) {
      group.costMicros += sums.costMicros;
      group.priced = true;
    }
  }

  /**
   * The rows, sorted by the grouping values in group_by order (days and hours oldest first). With no
   * grouping there is always exactly one row, zeros when nothing was used.
   */
  rows(): UsageRow[] {
    const groups = [...this.groups.values()];
    if (this.groupBy.length === 0 && groups.length === 0) groups.push(emptyGroup([]));
    groups.sort((a, b) => compareValues(a.values, b.values));
    return groups.map((group) => {
      const row: Record<string, unknown> = {};
      this.groupBy.forEach((name, index) => {
        row[name] = group.values[index];
      });
      row['requests'] = group.requests;
      row['errors'] = group.errors;
      row['cached'] = group.cached;
      row['prompt_tokens'] = group.promptTokens;
      row['completion_tokens'] = group.completionTokens;
      row['total_tokens'] = group.promptTokens + group.completionTokens;
      row['cost'] = group.priced ? group.costMicros / 1_000_000 : null;
      return row as unknown as UsageRow;
    });
  }
}

function compareValues(a: readonly string[], b: readonly string[]): number {
  for (let index = 0; index < a.length; index++) {
    const left = a[index] ?? '';
    const right = b[index] ?? '';
    if (left !== right) return left < right ? -1 : 1;
  }
  return 0;
}

/** The counter columns of every row, after the grouping columns. */
export const USAGE_COUNTER_COLUMNS = [
  'requests',
  'errors',
  'cached',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'cost',
] as const;

/**
 * Characters a terminal or a spreadsheet may act on instead of showing: C0 and C1 controls and DEL (ESC
 * starts terminal escape sequences, BEL rings, CR and LF break lines), and the Unicode marks that
 * reorder or split lines of text (bidirectional overrides and isolates, line and paragraph separators).
 * Key ids and model names come from clients (issue 16, finding 7).
 */
export const CONTROL_CHARACTER =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const CONTROL_CHARACTERS = new RegExp(CONTROL_CHARACTER.source, 'g');

/** The text without any CONTROL_CHARACTER. */
export function stripControls(text: string): string {
  return text.replace(CONTROL_CHARACTERS, '');
}

/**
 * RFC 4180 CSV: a header line, then one line per row, CRLF line ends; fields with a comma or a quote
 * are quoted. Control characters are left out of text fields (key ids and model names come from
 * clients): a line break or an escape sequence in a name could neither be shown nor be told apart. A
 * text field that a spreadsheet would run as a formula (it starts with =, +, - or @) is prefixed with a
 * single quote. An unpriced cost is an empty field.
 */
export function usageCsv(rows: readonly UsageRow[], groupBy: readonly UsageGroup[]): string {
  const columns = [...groupBy, ...USAGE_COUNTER_COLUMNS];
  const lines = [columns.join(',')];
  for (const row of rows) {
    const record = row as unknown as Record<string, unknown>;
    lines.push(columns.map((column) => csvField(record[column])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

function csvField(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return '';
  let text = stripControls(value);
  if (/^[=+\-@]/.test(text)) text = `'${text}`;
  return /[",]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
