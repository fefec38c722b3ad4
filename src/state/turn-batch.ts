/**
 * Gathers the calls made in one turn of the event loop (until the I/O that arrived has been read: one
 * setImmediate) and hands them to `flush` together: one Redis script for many requests' calls, as the
 * rate limiter does (src/rate-limit/redis-limiter.ts). A script per call costs a command (and, under
 * load, a system call) each; the work inside Redis is the same.
 */
/**
 * The batches with calls waiting, sent together at the end of the turn by one setImmediate, in the
 * order they first had a call: the scripts of several batches (a request's budget reservation and its
 * slots) leave in the same callback, one after the other.
 */
const waiting = new Set<{ send(): void }>();
let scheduled = false;

function sendWaiting(): void {
  scheduled = false;
  const batches = [...waiting];
  waiting.clear();
  for (const batch of batches) batch.send();
}

export class TurnBatch<Item, Result> {
  private queue: { item: Item; resolve: (result: Result) => void; reject: (error: unknown) => void }[] = [];

  /** `flush` answers each item, in order; a rejection fails every item of the batch. */
  constructor(
    private readonly flush: (items: readonly Item[]) => Promise<readonly Result[]>,
    private readonly maxItems = 256,
  ) {}

  add(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      if (this.queue.push({ item, resolve, reject }) === 1) {
        waiting.add(this);
        if (!scheduled) {
          scheduled = true;
          setImmediate(sendWaiting);
        }
      } else if (this.queue.length >= this.maxItems) this.send();
    });
  }

  /** Sends what waits now (at the end of the turn, or at once when the batch is full). */
  readonly send = (): void => {
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.flush(batch.map((entry) => entry.item)).then(
      (results) => {
        batch.forEach((entry, index) => {
          entry.resolve(results[index] as Result);
        });
      },
      (error: unknown) => {
        for (const entry of batch) entry.reject(error);
      },
    );
  };
}
