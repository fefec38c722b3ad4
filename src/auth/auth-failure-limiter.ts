/**
 * Limits failed authentications per client address, in process: a token bucket of `burst` failures
 * refilled at `perMinute`. Once an address has spent it, its requests get 429 before any key look-up,
 * so a stream of guessed keys costs the store nothing. The map of addresses is bounded.
 */
export class AuthFailureLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedAt: number }>();

  constructor(
    private readonly options: { burst: number; perMinute: number; maxAddresses: number } = {
      burst: 20,
      perMinute: 20,
      maxAddresses: 10_000,
    },
  ) {}

  /** Seconds until this address may try again, or 0 when it may now. */
  retryAfter(address: string, now = Date.now()): number {
    const bucket = this.refill(address, now);
    if (bucket === undefined || bucket.tokens >= 1) return 0;
    return Math.ceil(((1 - bucket.tokens) * 60) / this.options.perMinute);
  }

  recordFailure(address: string, now = Date.now()): void {
    let bucket = this.refill(address, now);
    if (bucket === undefined) {
      if (this.buckets.size >= this.options.maxAddresses) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      bucket = { tokens: this.options.burst, updatedAt: now };
      this.buckets.set(address, bucket);
    }
    bucket.tokens = Math.max(0, bucket.tokens - 1);
  }

  private refill(address: string, now: number): { tokens: number; updatedAt: number } | undefined {
    const bucket = this.buckets.get(address);
    if (bucket === undefined) return undefined;
    const refilled = bucket.tokens + ((now - bucket.updatedAt) / 60_000) * this.options.perMinute;
    bucket.updatedAt = now;
    bucket.tokens = Math.min(this.options.burst, refilled);
    if (bucket.tokens >= this.options.burst) {
      this.buckets.delete(address);
      return undefined;
    }
    return bucket;
  }
}
