import type { KeyRecord } from './key-record.js';
import type { TeamRecord } from './team-record.js';

/** `*` and `prefix*` as the prefix they match; an exact name as null. */
function prefixOf(pattern: string): string | null {
  return pattern.endsWith('*') ? pattern.slice(0, -1) : null;
}

/** The patterns (0 or 1) whose names match both `a` and `b` (src/routing/model-patterns.ts rules). */
function intersectPattern(a: string, b: string): string | null {
  const prefixA = prefixOf(a);
  const prefixB = prefixOf(b);
  if (prefixA === null && prefixB === null) return a === b ? a : null;
  if (prefixA === null) return a.startsWith(prefixB as string) ? a : null;
  if (prefixB === null) return b.startsWith(prefixA) ? b : null;
  // Two prefixes: the longer one, when it extends the shorter.
  if (prefixA.startsWith(prefixB)) return a;
  if (prefixB.startsWith(prefixA)) return b;
  return null;
}

/**
 * One allow-list that allows exactly the names both lists allow (null allows every name), so that the
 * router's single check (`router.resolve(model, allowList)`, the same 403 model_not_allowed) applies
 * the key's and the team's lists together. Patterns are exact names and prefixes, and the intersection
 * of two prefixes is a prefix or nothing, so the result is again such a list.
 */
export function intersectModelLists(
  a: readonly string[] | null,
  b: readonly string[] | null,
): readonly string[] | null {
  if (a === null) return b;
  if (b === null) return a;
  const out = new Set<string>();
  for (const left of a) {
    for (const right of b) {
      const both = intersectPattern(left, right);
      if (both !== null) out.add(both);
    }
  }
  return [...out];
}

/** Memoized per key record and team record: both are replaced, never changed, when they change. */
const memo = new WeakMap<KeyRecord, { team: TeamRecord; models: readonly string[] | null }>();

/** The models a request of this key may use: its own allow-list and its team's. */
export function allowedModels(key: KeyRecord, team: TeamRecord | null): readonly string[] | null {
  if (team === null || team.models === null) return key.models;
  const cached = memo.get(key);
  if (cached?.team === team) return cached.models;
  const models = intersectModelLists(key.models, team.models);
  memo.set(key, { team, models });
  return models;
}

/** The allow-list of a request's key and team (null: every model, also before authentication). */
export function requestModels(state: {
  readonly key: KeyRecord | null;
  readonly team: TeamRecord | null;
}): readonly string[] | null {
  return state.key === null ? null : allowedModels(state.key, state.team);
}
