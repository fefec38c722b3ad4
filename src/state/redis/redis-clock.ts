import { performance } from 'node:perf_hooks';
import { withDeadline } from '../deadline.js';
import type { RedisClient } from './redis-client.js';

/**
 * Redis's clock as this process sees it, so that a script can be sent with a deadline in Redis's own
 * time and refuse to act once it is late (a command written to a stalled server runs when the server
 * resumes, long after the caller gave up and fell back: issue 17).
 *
 * Why not send our own wall-clock time: the gateway's and Redis's clocks may differ by any amount, and
 * every instance's by a different one. Instead each reply that carries Redis's time (TIME, or a script
 * that returns it) bounds the offset between Redis's clock and this process's monotonic clock
 * (performance.now()): Redis read its clock after we sent and before we received, so
 *
 *   redisTime − receivedAt  ≤  offset  ≤  redisTime − sentAt.
 *
 * The estimate is the highest lower bound seen, lowered to a new lower bound whenever a reply's upper
 * bound shows it too high (Redis's clock stepped back, or drifted slower than ours). While Redis's clock
 * runs steadily or steps forward it never exceeds the true offset, so a deadline computed from it falls
 * no later, in Redis's time, than the moment the caller gives up: a script that runs late does nothing,
 * and one that ran in time has its answer on the way (within the time a reply takes to cross the
 * network) when the caller's timer fires. After a step back it may exceed it by at most how long the
 * next reply waited before Redis ran it, and is corrected by the first reply that shows it. It is early
 * by at most one reply's trip back, which a busy event loop lengthens; the best sample is kept, so one
 * slow reply costs nothing.
 *
 * In a Redis Cluster each node has its own clock; they are assumed to agree to within a few ms (NTP),
 * and a node whose clock is behind the estimate lowers it with its first reply.
 */
export class RedisClock {
  private offset: number | null = null;
  private syncing: Promise<void> | null = null;

  /** True once a reply has bounded the offset. */
  get known(): boolean {
    return this.offset !== null;
  }

  /** Redis's time (ms since the epoch) at local time `at` (performance.now()); NaN until known. */
  redisTime(at: number): number {
    return this.offset === null ? NaN : at + this.offset;
  }

  /** Learns from a reply that carries Redis's time (ms) for a command sent and received at local times. */
  observe(redisMs: number, sentAt: number, receivedAt: number): void {
    if (!Number.isFinite(redisMs)) return;
    const lower = redisMs - receivedAt;
    const upper = redisMs - sentAt;
    if (this.offset === null || lower > this.offset || this.offset > upper) this.offset = lower;
  }

  /** Asks Redis for its time (TIME), once for all the callers waiting; fails after `timeoutMs`. */
  sync(redis: RedisClient, timeoutMs: number): Promise<void> {
    this.syncing ??= (async () => {
      try {
        const sentAt = performance.now();
        // Observed even when it arrives after the caller gave up: a late reply still bounds the offset.
        const answer = redis.time().then(([seconds, microseconds]) => {
          this.observe(Number(seconds) * 1000 + Number(microseconds) / 1000, sentAt, performance.now());
        });
        await withDeadline(answer, timeoutMs);
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }
}
