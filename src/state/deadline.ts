/**
 * Rejects when `promise` has not settled within `ms`. The timer's verdict waits one more turn of the
 * event loop (setImmediate runs after the poll phase, where sockets are read): when this process was too
 * busy to read an answer that had already arrived, as in a burst of requests, the answer wins. A plain
 * timer (ioredis' commandTimeout) fires first there, and then every instance of a burst falls back to
 * its own limit: the limit times the number of instances.
 *
 * The clock starts in a setImmediate too: a client that auto-pipelines (ioredis) writes the command in
 * a setImmediate queued when it was called, so this one runs after the write, and time the process
 * spent busy before it could write does not count against the store. An infinite `ms` sets no deadline.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  // No deadline (Infinity): as it is (a timer would take Infinity for 1 ms).
  if (!Number.isFinite(ms)) return promise;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    setImmediate(() => {
      if (settled) return;
      timer = setTimeout(() => {
        setImmediate(() => {
          if (settled) return;
          settled = true;
          reject(new Error(`the store did not answer within ${ms} ms`));
        });
      }, ms);
    });
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
