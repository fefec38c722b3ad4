import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { HOUR_MS, hourOf } from './hours.js';
import type { UsageBatch, UsageEvent, UsageIncrement, UsageStore } from './usage.js';

export interface UsageRecorderOptions {
  /** How often increments are sent to the store, when there are any (default 1000 ms). */
  readonly flushIntervalMs?: number;
  /**
   * At most this many (hour, key, model) cells wait in memory, pending or unsent (default 100,000).
   * Beyond it, events of new cells are dropped and counted (a warning every 10 s); events of cells
   * already waiting are still added.
   */
  readonly maxCells?: number;
  /** At most this many cells per store call (default 1000): one short Redis script each. */
  readonly batchCells?: number;
  /** The clock (default Date.now): for events without a valid `at`, and to space warnings. */
  readonly now?: () => number;
  /** Identifies this recorder's batches in the store (default a random UUID). */
  readonly source?: string;
}

interface Cell {
  readonly hour: string;
  readonly keyId: string;
  readonly model: string;
  requests: number;
  errors: number;
  cached: number;
  promptTokens: number;
  completionTokens: number;
  costMicros: number | null;
}

interface Batch {
  readonly batch: UsageBatch;
  readonly increments: UsageIncrement[];
}

const WARN_EVERY_MS = 10_000;

function count(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}

/**
 * Collects usage in memory and sends it to the store in batches. record() is O(1) and does no I/O: it
 * adds the event to its (hour, key, model) cell. Every flushIntervalMs (when there is anything) the
 * cells are sealed into numbered batches and sent, one store.add each, in order. A batch the store
 * refused stays first in line and is sent again, unchanged and with the same number, at the next flush:
 * nothing is lost while the store is down, and the store's batch check makes a retry of a batch that
 * was applied after all (a timeout) count once. Memory is bounded by maxCells.
 */
export class UsageRecorder {
  private pending = new Map<string, Cell>();
  private readonly unsent: Batch[] = [];
  private unsentCells = 0;
  private sequence = 0;
  private dropped = 0;
  private droppedSinceWarning = 0;
  private lastDropWarning = Number.NEGATIVE_INFINITY;
  private lastStoreWarning = Number.NEGATIVE_INFINITY;
  private chain: Promise<boolean> = Promise.resolve(true);
  private flushing = false;
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly maxCells: number;
  private readonly batchCells: number;
  private readonly source: string;
  // The hour of the last event, kept so that most events format no date.
  private hourFrom = 0;
  private hourTo = 0;
  private hour = '';

  constructor(
    private readonly store: UsageStore,
    private readonly logger: Logger,
    options: UsageRecorderOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.maxCells = options.maxCells ?? 100_000;
    this.batchCells = options.batchCells ?? 1000;
    this.source = options.source ?? randomUUID();
    this.timer = setInterval(() => {
      if (!this.flushing && (this.pending.size > 0 || this.unsent.length > 0)) void this.flush();
    }, options.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** Counts one finished request. No I/O. */
  record(event: UsageEvent): void {
    const at = Number.isFinite(event.at) ? event.at : this.now();
    if (at < this.hourFrom || at >= this.hourTo) {
      this.hourFrom = Math.floor(at / HOUR_MS) * HOUR_MS;
      this.hourTo = this.hourFrom + HOUR_MS;
      this.hour = hourOf(this.hourFrom);
    }
    // The hour has a fixed length and the key id a length prefix: no two cells share an id.
    const id = `${this.hour}${event.keyId.length}:${event.keyId}${event.model}`;
    let cell = this.pending.get(id);
    if (cell === undefined) {
      if (this.pending.size + this.unsentCells >= this.maxCells) {
        this.drop();
        return;
      }
      cell = {
        hour: this.hour,
        keyId: event.keyId,
        model: event.model,
        requests: 0,
        errors: 0,
        cached: 0,
        promptTokens: 0,
        completionTokens: 0,
        costMicros: null,
      };
      this.pending.set(id, cell);
    }
    cell.requests++;
    if (event.error) cell.errors++;
    if (event.cached) cell.cached++;
    cell.promptTokens += count(event.promptTokens);
    cell.completionTokens += count(event.completionTokens);
    if (event.costMicros !== null) cell.costMicros = (cell.costMicros ?? 0) + count(event.costMicros);
  }

  /**
   * Sends everything recorded so far; resolves true when the store has all of it, false when the store
   * failed (what failed waits for the next flush; a warning is logged at most every 10 s). Never rejects.
   * Calls are serialised: a flush that starts while another runs waits for it, then sends what is new.
   */
  flush(): Promise<boolean> {
    this.chain = this.chain.then(
      () => this.flushNow(),
      () => this.flushNow(),
    );
    return this.chain;
  }

  /** Flushes once more and stops the timer; for shutdown, before the stores close. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const delivered = await this.flush();
    if (!delivered) {
      this.logger.error(
        { cells: this.waitingCells },
        'usage store unavailable at shutdown: these usage counters are lost',
      );
    }
  }

  /** Cells waiting in memory: recorded and not yet sent, or sent and refused. */
  get waitingCells(): number {
    return this.pending.size + this.unsentCells;
  }

  /** Events dropped since start because maxCells cells were waiting. */
  get droppedEvents(): number {
    return this.dropped;
  }

  private async flushNow(): Promise<boolean> {
    this.flushing = true;
    try {
      this.seal();
      while (this.unsent.length > 0) {
        const next = this.unsent[0] as Batch;
        try {
          await this.store.add(next.increments, next.batch);
        } catch (error) {
          this.warnStore(error);
          return false;
        }
        this.unsent.shift();
        this.unsentCells -= next.increments.length;
      }
      return true;
    } finally {
      this.flushing = false;
    }
  }

  /** Turns the pending cells into numbered batches, after those still unsent. */
  private seal(): void {
    if (this.pending.size === 0) return;
    const cells = [...this.pending.values()];
    this.pending = new Map();
    for (let start = 0; start < cells.length; start += this.batchCells) {
      const increments: UsageIncrement[] = cells.slice(start, start + this.batchCells);
      this.unsent.push({ batch: { source: this.source, sequence: ++this.sequence }, increments });
      this.unsentCells += increments.length;
    }
  }

  private drop(): void {
    this.dropped++;
    this.droppedSinceWarning++;
    const now = this.now();
    if (now - this.lastDropWarning >= WARN_EVERY_MS) {
      this.lastDropWarning = now;
      this.logger.warn(
        { dropped: this.droppedSinceWarning, dropped_total: this.dropped, max_cells: this.maxCells },
        'usage events dropped: too many usage counters wait for the store',
      );
      this.droppedSinceWarning = 0;
    }
  }

  private warnStore(error: unknown): void {
    const now = this.now();
    if (now - this.lastStoreWarning < WARN_EVERY_MS) return;
    this.lastStoreWarning = now;
    this.logger.warn(
      {
        detail: error instanceof Error ? error.message : String(error),
        cells: this.waitingCells,
      },
      'usage store unavailable; usage counters wait in memory and are sent again',
    );
  }
}
