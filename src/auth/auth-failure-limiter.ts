import { isIPv6 } from 'node:net';

export interface AuthFailureLimiterOptions {
  /** Failures an address may have in a row before it is refused. */
  readonly burst: number;
  /** Failures given back per minute. */
  readonly perMinute: number;
  /** Addresses remembered at most; past it, new addresses share one bucket (see below). */
  readonly maxAddresses: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const DEFAULTS: AuthFailureLimiterOptions = { burst: 20, perMinute: 20, maxAddresses: 10_000 };
/** Full-map sweeps of refilled buckets happen at most this often. */
const SWEEP_INTERVAL_MS = 1_000;

/**
 * Limits failed authentications per client address, in process: a token bucket of `burst` failures
 * refilled at `perMinute`. Only failures are ever refused: the caller asks `refuse` after a key or token
 * has failed, so a valid key is never refused here, whatever its address did before (issue 16,
 * finding 2: behind a NAT or a load balancer every client shares one address).
 *
 * Memory is bounded without letting an address escape by flooding the map with others (finding 8): a
 * bucket leaves the map only once it has refilled (its address is no longer limited); while the map is
 * full of addresses that are, every new address shares one overflow bucket. IPv6 addresses are counted
 * per /64, the block one subscriber usually holds.
 */
export class AuthFailureLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly overflow: Bucket;
  private lastSweep = Number.NEGATIVE_INFINITY;
  private readonly options: AuthFailureLimiterOptions;

  constructor(options: Partial<AuthFailureLimiterOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.overflow = { tokens: this.options.burst, updatedAt: 0 };
  }

  /**
   * Records one failure from this address; returns the seconds until it may try again when it has spent
   * its budget (the failure is then refused with 429 instead of 401), or 0.
   */
  fail(address: string, now = Date.now()): number {
    const bucket = this.bucketOf(clientBlock(address), now);
    // The tolerance absorbs float rounding of refills (2 s + 1 s of refill is one whole failure).
    if (bucket.tokens < 1 - 1e-9)
      return Math.ceil(((1 - bucket.tokens) * 60) / this.options.perMinute - 1e-9);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    return 0;
  }

  /** Addresses remembered now (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private bucketOf(block: string, now: number): Bucket {
    const known = this.buckets.get(block);
    if (known !== undefined) {
      this.refill(known, now);
      return known;
    }
    if (this.buckets.size >= this.options.maxAddresses) this.sweep(now);
    if (this.buckets.size >= this.options.maxAddresses) {
      this.refill(this.overflow, now);
      return this.overflow;
    }
    const bucket = { tokens: this.options.burst, updatedAt: now };
    this.buckets.set(block, bucket);
    return bucket;
  }

  private refill(bucket: Bucket, now: number): void {
    const refilled = bucket.tokens + ((now - bucket.updatedAt) / 60_000) * this.options.perMinute;
    bucket.tokens = Math.min(this.options.burst, refilled);
    bucket.updatedAt = now;
  }

  /** Forgets the addresses whose buckets have refilled: they are limited no more. */
  private sweep(now: number): void {
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [block, bucket] of this.buckets) {
      this.refill(bucket, now);
      if (bucket.tokens >= this.options.burst) this.buckets.delete(block);
    }
  }
}

/** The block an address is limited as: itself for IPv4, its /64 for IPv6. */
export function clientBlock(address: string): string {
  if (!isIPv6(address)) return address;
  // An IPv4-mapped IPv6 address (::ffff:1.2.3.4) is the IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  const groups = expandIPv6(address);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, in lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  const zone = address.indexOf('%');
  const bare = zone === -1 ? address : address.slice(0, zone);
  const halves = bare.split('::');
  const head = halves[0] ?? '';
  const tail = halves[1];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // A trailing dotted IPv4 part stands for two groups.
  const last = right.length > 0 ? right : left;
  const dotted = last.at(-1);
  if (dotted?.includes('.') === true) {
    const bytes = dotted.split('.').map(Number);
    last.splice(
      -1,
      1,
      (((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0)).toString(16),
      (((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)).toString(16),
    );
  }
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...new Array<string>(missing).fill('0'), ...right].map((group) =>
    Number.parseInt(group, 16).toString(16),
  );
}
