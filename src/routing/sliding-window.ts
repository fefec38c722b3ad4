/**
 * Counts events over the last `windowSeconds` seconds in one-second buckets (a ring), so that a sum
 * costs at most one pass over a few numbers and memory never grows. The window is whole seconds: a sum
 * covers between windowSeconds - 1 and windowSeconds seconds of history.
 */
export class SlidingWindow {
  private readonly buckets: Float64Array;
  private readonly seconds: Float64Array;

  constructor(
    private readonly windowSeconds: number,
    /** How many counters each bucket keeps (e.g. attempts and failures). */
    private readonly fields: number,
    private readonly now: () => number = Date.now,
  ) {
    this.buckets = new Float64Array(windowSeconds * fields);
    this.seconds = new Float64Array(windowSeconds).fill(-1);
  }

  add(field: number, amount = 1): void {
    const second = Math.floor(this.now() / 1000);
    const slot = second % this.windowSeconds;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.buckets.fill(0, slot * this.fields, (slot + 1) * this.fields);
    }
    this.buckets[slot * this.fields + field] = (this.buckets[slot * this.fields + field] ?? 0) + amount;
  }

  sum(field: number): number {
    const oldest = Math.floor(this.now() / 1000) - this.windowSeconds + 1;
    let total = 0;
    for (let slot = 0; slot < this.windowSeconds; slot++) {
      if ((this.seconds[slot] ?? -1) >= oldest) total += this.buckets[slot * this.fields + field] ?? 0;
    }
    return total;
  }

  clear(): void {
    this.seconds.fill(-1);
    this.buckets.fill(0);
  }
}
