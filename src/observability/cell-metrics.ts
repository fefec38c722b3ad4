/**
 * Counters and histograms for the request path that cost a few Map look-ups per update: each label
 * combination's cell is found through nested Maps keyed by label value (no label object, no string
 * built or hashed per update, as prom-client's labels() does). They are registered in a prom-client
 * Registry, which formats them with everything else at scrape time.
 */

type Labels = Record<string, string>;

interface MetricValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

/** Finds or makes the cell of a label combination. */
class Cells<C> {
  private readonly root = new Map<string, unknown>();
  readonly all: { labels: Labels; cell: C }[] = [];

  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: () => C,
  ) {}

  get(values: readonly string[]): C {
    let map = this.root;
    const last = values.length - 1;
    for (let index = 0; index < last; index++) {
      const value = values[index] as string;
      let next = map.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        map.set(value, next);
      }
      map = next;
    }
    const leaf = values[last] as string;
    let cell = map.get(leaf) as C | undefined;
    if (cell === undefined) {
      cell = this.make();
      map.set(leaf, cell);
      const labels: Labels = {};
      this.labelNames.forEach((name, index) => {
        labels[name] = values[index] as string;
      });
      this.all.push({ labels, cell });
    }
    return cell;
  }

  clear(): void {
    this.root.clear();
    this.all.length = 0;
  }
}

export interface CounterCell {
  value: number;
}

export class CellCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly cells: Cells<CounterCell>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly string[],
  ) {
    this.cells = new Cells(labelNames, () => ({ value: 0 }));
  }

  /** The cell of these label values (in labelNames order); add to its value. */
  cell(...values: string[]): CounterCell {
    return this.cells.get(values);
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.cells.all.map(({ labels, cell }) => ({ labels, value: cell.value })),
    };
  }

  reset(): void {
    this.cells.clear();
  }
}

export class HistogramCell {
  sum = 0;
  count = 0;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let index = 0;
    while (index < this.bounds.length && value > (this.bounds[index] as number)) index++;
    this.counts[index] = (this.counts[index] ?? 0) + 1;
    this.sum += value;
    this.count++;
  }
}

export class CellHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly cells: Cells<HistogramCell>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
  ) {
    this.cells = new Cells(labelNames, () => new HistogramCell(bounds));
  }

  cell(...values: string[]): HistogramCell {
    return this.cells.get(values);
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    for (const { labels, cell } of this.cells.all) {
      let cumulative = 0;
      this.bounds.forEach((bound, index) => {
        cumulative += cell.counts[index] ?? 0;
        values.push({
          labels: { ...labels, le: String(bound) },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push({
        labels: { ...labels, le: '+Inf' },
        value: cell.count,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.cells.clear();
  }
}
