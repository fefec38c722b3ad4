/**
 * The keys page's logic: the create and edit form as the admin API's bodies, search, and a key's state.
 * test/ui/keys.test.ts.
 */

export interface BudgetView {
  usd?: number;
  tokens?: number;
  window: string;
  soft: boolean;
}

/** A key as GET /admin/keys lists it. */
export interface KeyView {
  id: string;
  name: string;
  created_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  models: string[] | null;
  rate_limit: { requests?: string | string[]; tokens?: string | string[] } | null;
  metadata: Record<string, string>;
  team: string | null;
  priority: number;
  max_concurrency: number | null;
  budgets: BudgetView[];
  source: 'config' | 'store';
}

/** What the form holds: text as typed. */
export interface KeyForm {
  name: string;
  team: string;
  /** Comma- or space-separated model patterns; empty: every model. */
  models: string;
  requestsLimit: string;
  tokensLimit: string;
  /** One budget per line: "5 usd/day", "2000000 tokens/month", "10 usd/week soft". */
  budgets: string;
  /** A datetime-local value (the browser's zone); empty: never. */
  expiresAt: string;
  maxConcurrency: string;
}

export function emptyKeyForm(): KeyForm {
  return {
    name: '',
    team: '',
    models: '',
    requestsLimit: '',
    tokensLimit: '',
    budgets: '',
    expiresAt: '',
    maxConcurrency: '',
  };
}

const RATE = /^\d+\/(second|minute|hour|day)$/;
const BUDGET = /^(\d+(?:\.\d+)?)\s*(usd|\$|tokens?)\s*\/\s*(hour|day|week|month|total)(\s+soft)?$/i;

function firstRate(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(', ') : value;
}

function budgetLine(budget: BudgetView): string {
  const amount =
    budget.usd === undefined ? `${String(budget.tokens ?? 0)} tokens` : `${String(budget.usd)} usd`;
  return `${amount}/${budget.window}${budget.soft ? ' soft' : ''}`;
}

/** Two digits. */
function pad(value: number): string {
  return String(value).padStart(2, '0');
}

/** An ISO time as a datetime-local value in the zone of `offsetMinutes` (Date's getTimezoneOffset). */
export function toLocalInput(iso: string | null, offsetMinutes = new Date().getTimezoneOffset()): string {
  if (iso === null) return '';
  const time = Date.parse(iso);
  if (!Number.isFinite(time)) return '';
  const local = new Date(time - offsetMinutes * 60_000);
  return `${String(local.getUTCFullYear())}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}`;
}

/** A key's rate limit as a person reads it: "600/minute requests, 200000/minute tokens". */
export function rateLimitText(limit: KeyView['rate_limit']): string {
  if (limit === null) return 'the default';
  const parts: string[] = [];
  const requests = firstRate(limit.requests);
  const tokens = firstRate(limit.tokens);
  if (requests !== '') parts.push(`${requests} requests`);
  if (tokens !== '') parts.push(`${tokens} tokens`);
  return parts.length === 0 ? 'the default' : parts.join(', ');
}

export function keyFormOf(key: KeyView): KeyForm {
  return {
    name: key.name,
    team: key.team ?? '',
    models: key.models?.join(', ') ?? '',
    requestsLimit: firstRate(key.rate_limit?.requests),
    tokensLimit: firstRate(key.rate_limit?.tokens),
    budgets: key.budgets.map(budgetLine).join('\n'),
    expiresAt: toLocalInput(key.expires_at),
    maxConcurrency: key.max_concurrency === null ? '' : String(key.max_concurrency),
  };
}

export type FormResult =
  { ok: true; body: Record<string, unknown> } | { ok: false; field: keyof KeyForm; problem: string };

function rates(text: string): string | string[] | null {
  const list = text
    .split(/[,\s]+/)
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (list.length === 0) return null;
  return list.length === 1 ? (list[0] ?? null) : list;
}

/**
 * The body of POST /admin/keys (or, with `original`, of PATCH /admin/keys/{id}: only what changed,
 * null clearing a field). A problem names the field and what is expected.
 */
export function keyBody(form: KeyForm, original: KeyForm | null = null, now = Date.now()): FormResult {
  const name = form.name.trim();
  if (name === '') return { ok: false, field: 'name', problem: 'a name is required' };
  const models = form.models
    .split(/[,\s]+/)
    .map((model) => model.trim())
    .filter((model) => model !== '');
  const requests = rates(form.requestsLimit);
  const tokens = rates(form.tokensLimit);
  for (const [field, value] of [
    ['requestsLimit', requests],
    ['tokensLimit', tokens],
  ] as const) {
    const list = value === null ? [] : Array.isArray(value) ? value : [value];
    const bad = list.find((rate) => !RATE.test(rate));
    if (bad !== undefined)
      return { ok: false, field, problem: `'${bad}' is not N/second, N/minute, N/hour or N/day` };
  }
  const budgets: Record<string, unknown>[] = [];
  for (const line of form.budgets.split('\n').map((text) => text.trim())) {
    if (line === '') continue;
    const match = BUDGET.exec(line);
    if (match === null)
      return {
        ok: false,
        field: 'budgets',
        problem: `'${line}' is not like "5 usd/day" or "1000000 tokens/month"`,
      };
    const amount = Number(match[1]);
    const unit = (match[2] ?? '').toLowerCase();
    const window = (match[3] ?? '').toLowerCase();
    budgets.push({
      ...(unit === 'usd' || unit === '$' ? { usd: amount } : { tokens: Math.round(amount) }),
      window,
      ...(match[4] === undefined ? {} : { soft: true }),
    });
  }
  let expiresAt: string | null = null;
  if (form.expiresAt.trim() !== '') {
    const time = new Date(form.expiresAt.trim()).getTime();
    if (!Number.isFinite(time)) return { ok: false, field: 'expiresAt', problem: 'not a date and time' };
    if (time <= now) return { ok: false, field: 'expiresAt', problem: 'must be in the future' };
    expiresAt = new Date(time).toISOString();
  }
  let maxConcurrency: number | null = null;
  if (form.maxConcurrency.trim() !== '') {
    maxConcurrency = Number(form.maxConcurrency.trim());
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1)
      return { ok: false, field: 'maxConcurrency', problem: 'a whole number of at least 1' };
  }
  const rateLimit =
    requests === null && tokens === null
      ? null
      : { ...(requests === null ? {} : { requests }), ...(tokens === null ? {} : { tokens }) };
  const full: Record<string, unknown> = {
    name,
    team: form.team.trim() === '' ? null : form.team.trim(),
    models: models.length === 0 ? null : models,
    rate_limit: rateLimit,
    budgets,
    expires_at: expiresAt,
    max_concurrency: maxConcurrency,
  };
  if (original === null) {
    // A new key: only what is set.
    const body: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(full))
      if (value !== null && !(Array.isArray(value) && value.length === 0)) body[field] = value;
    return { ok: true, body };
  }
  const before = keyBody(original, null, 0);
  const previous = before.ok ? before.body : {};
  const body: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(full)) {
    const old = previous[field] ?? (field === 'budgets' ? [] : null);
    if (JSON.stringify(old) !== JSON.stringify(value)) body[field] = value;
  }
  return { ok: true, body };
}

export type KeyState = 'active' | 'revoked' | 'expired';

export function keyState(key: Pick<KeyView, 'revoked_at' | 'expires_at'>, now: number): KeyState {
  if (key.revoked_at !== null) return 'revoked';
  if (key.expires_at !== null && !(Date.parse(key.expires_at) > now)) return 'expired';
  return 'active';
}

/** Whether a key matches what is typed in the search box: every word in its id, name, team, models or metadata. */
export function matchesSearch(key: KeyView, search: string): boolean {
  const words = search
    .toLowerCase()
    .split(/\s+/)
    .filter((word) => word !== '');
  if (words.length === 0) return true;
  const text = [
    key.id,
    key.name,
    key.team ?? '',
    ...(key.models ?? []),
    ...Object.entries(key.metadata).map(([name, value]) => `${name}=${value}`),
  ]
    .join(' ')
    .toLowerCase();
  return words.every((word) => text.includes(word));
}

/** Keys in the list's order: active first, then by name. */
export function sortKeys(keys: readonly KeyView[], now: number): KeyView[] {
  const rank: Record<KeyState, number> = { active: 0, expired: 1, revoked: 2 };
  return [...keys].sort(
    (a, b) =>
      rank[keyState(a, now)] - rank[keyState(b, now)] ||
      a.name.localeCompare(b.name) ||
      a.id.localeCompare(b.id),
  );
}
