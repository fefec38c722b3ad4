/**
 * The part of a key Redis Cluster hashes to choose its slot: the text between the first `{` and the
 * first `}` after it when that is not empty, else the whole key. Keys with the same hash tag are on one
 * slot, so one script or transaction may touch them together.
 */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/** Items grouped by the hash tag of their key, in first-seen order: one group per slot at most. */
export function groupByHashTag<T>(items: readonly T[], keyOf: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const tag = hashTag(keyOf(item));
    const group = groups.get(tag);
    if (group === undefined) groups.set(tag, [item]);
    else group.push(item);
  }
  return [...groups.values()];
}
