/**
 * Fixed latency buckets, the same in every store and in the rollups: a rollup row keeps one count per
 * bucket, so p50/p95 of any set of rollup rows is their summed counts read back here. Precision is the
 * bucket's width (about ±25% of the value); that is what a chart needs, and it keeps rollups additive.
 */

/** Upper bounds in ms (exclusive); a last, open bucket holds everything from 120 s on. */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10_000, 15_000,
  20_000, 30_000, 60_000, 120_000,
];

export const BUCKET_COUNT = LATENCY_BOUNDS_MS.length + 1;

export function bucketOf(ms: number): number {
  let index = 0;
  while (index < LATENCY_BOUNDS_MS.length && ms >= (LATENCY_BOUNDS_MS[index] ?? Infinity)) index += 1;
  return index;
}

/** [lower, upper) of a bucket; the last one's upper is Infinity. */
export function bucketRange(index: number): readonly [number, number] {
  return [index === 0 ? 0 : (LATENCY_BOUNDS_MS[index - 1] ?? 0), LATENCY_BOUNDS_MS[index] ?? Infinity];
}

/**
 * The q-quantile (0 < q ≤ 1) of a histogram, interpolated linearly inside the bucket it falls in; the
 * open last bucket answers its lower bound. Null for an empty histogram.
 */
export function quantile(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let index = 0; index < counts.length; index += 1) {
    const count = counts[index] ?? 0;
    if (count > 0 && below + count >= rank) {
      const [lower, upper] = bucketRange(index);
      if (upper === Infinity) return lower;
      return Math.round(lower + ((rank - below) / count) * (upper - lower));
    }
    below += count;
  }
  return bucketRange(counts.length - 1)[0];
}

/** SQL for the bucket index of a column, identical in SQLite and PostgreSQL. */
export function bucketSql(column: string): string {
  const cases = LATENCY_BOUNDS_MS.map((bound, index) => `WHEN ${column} < ${bound} THEN ${index}`);
  return `CASE ${cases.join(' ')} ELSE ${LATENCY_BOUNDS_MS.length} END`;
}
