/**
 * The bound on log lines held in memory while stdout is not read (issue 17, item 7). pino's
 * asynchronous destination (sonic-boom) keeps every line it cannot write yet: with a stuck log
 * collector, 74,000 requests left 28.6 MB of lines in memory and RSS climbed until an out-of-memory
 * kill. sonic-boom's own `maxLength` drops a line that would take the buffer past the bound and emits
 * `drop`; this module counts those drops, says so on stderr once when dropping starts and once when
 * lines are written again, and keeps the exit-time flush from blocking on a pipe that is not read.
 */
import type { EventEmitter } from 'node:events';

/**
 * Flush ticks in a row without a completed write after which stdout counts as stalled. Every tick
 * starts a write when none is under way (an empty one when nothing is buffered), so a pipe that is
 * read completes at least one write per tick; at 250 ms a tick this is a second.
 */
const STALLED_TICKS = 4;

let droppedTotal = 0;

/** Log lines this process dropped because stdout was not read (gateway_log_lines_dropped_total). */
export function droppedLogLines(): number {
  return droppedTotal;
}

/** A notice for stderr: the message and the fields that go with it. */
export interface LogBufferNotice {
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface LogBufferWatchOptions {
  /** The destination's maxLength. */
  readonly maxBytes: number;
  /** Says something on stderr (stdout being the pipe that is stuck). */
  readonly notify: (notice: LogBufferNotice) => void;
}

/**
 * What the destination's events say about stdout: whether lines are being dropped, and whether the
 * pipe is stalled. Fed by `drop` and `write` events and by the periodic flush's {@link tick}.
 */
export class LogBufferWatch {
  private dropping = false;
  /** Lines dropped since dropping started. */
  private droppedNow = 0;
  private droppedSinceTick = false;
  private wroteSinceDrop = false;
  private ticksWithoutWrite = 0;

  constructor(private readonly options: LogBufferWatchOptions) {}

  /** A line did not fit in the buffer and was dropped. */
  dropped(): void {
    droppedTotal++;
    this.droppedNow++;
    this.droppedSinceTick = true;
    this.wroteSinceDrop = false;
    if (this.dropping) return;
    this.dropping = true;
    this.options.notify({
      msg: 'stdout is not read: log lines past the buffer bound are dropped until it is (gateway_log_lines_dropped_total counts them)',
      max_buffer_bytes: this.options.maxBytes,
    });
  }

  /** A write to stdout completed (the pipe took bytes, or an empty flush returned). */
  wrote(): void {
    this.ticksWithoutWrite = 0;
    this.wroteSinceDrop = true;
  }

  /**
   * Called by the periodic flush. Dropping ends once stdout took bytes after the last drop and a
   * whole tick passed without one: a reader that keeps up again, not one that takes a line now and
   * then from a full buffer.
   */
  tick(): void {
    this.ticksWithoutWrite++;
    if (this.dropping && this.wroteSinceDrop && !this.droppedSinceTick) {
      this.dropping = false;
      this.options.notify({
        msg: 'stdout is read again: log lines are written again',
        dropped_lines: this.droppedNow,
      });
      this.droppedNow = 0;
    }
    this.droppedSinceTick = false;
  }

  /** No write has completed for a while: a synchronous flush would block until stdout is read. */
  get stalled(): boolean {
    // Dropping: the buffer is at its bound, so stdout was not taking lines a moment ago either (a busy
    // event loop may not have ticked four times since).
    return this.dropping || this.ticksWithoutWrite >= STALLED_TICKS;
  }

  /** Subscribes to a sonic-boom destination's `drop` and `write` events. */
  watch(destination: EventEmitter): void {
    destination.on('drop', () => {
      this.dropped();
    });
    destination.on('write', () => {
      this.wrote();
    });
  }
}
