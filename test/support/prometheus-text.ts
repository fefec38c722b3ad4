/**
 * A /metrics scrape read with a real Prometheus text-format parser (parse-prometheus-text-format).
 *
 * That parser flattens every histogram family into one object and drops the labels, `_count` and `_sum`
 * of labelled histograms (yunyu/parse-prometheus-text-format issue #13, fix in the unmerged PR #8). So
 * the text is parsed twice: once as it is (which checks every line and gives each family's TYPE), and
 * once with the histogram and summary TYPE lines turned into `untyped`, which makes the parser return
 * each `_bucket`, `_count` and `_sum` series as a family of its own, with its labels.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Scrape {
  readonly text: string;
  /** Each family's TYPE as the parser read it: COUNTER, GAUGE, HISTOGRAM, SUMMARY, UNTYPED. */
  readonly types: ReadonlyMap<string, string>;
  /** Every sample of one series name (`x_total`, `x_count`, `x_bucket`, a gauge's name...). */
  samples(name: string): Sample[];
  /** The sample names present. */
  names(): string[];
}

export function parseScrape(text: string): Scrape {
  const families = parsePrometheusTextFormat(text);
  const types = new Map(families.map((family) => [family.name, family.type]));
  const untyped = text.replace(/^# TYPE (\S+) (histogram|summary)$/gm, '# TYPE $1 untyped');
  const byName = new Map<string, Sample[]>();
  for (const family of parsePrometheusTextFormat(untyped)) {
    const list = byName.get(family.name) ?? [];
    for (const sample of family.metrics) {
      if (sample.value === undefined) throw new Error(`${family.name}: a sample without a value`);
      list.push({ labels: sample.labels ?? {}, value: Number(sample.value) });
    }
    byName.set(family.name, list);
  }
  return {
    text,
    types,
    samples: (name) => byName.get(name) ?? [],
    names: () => [...byName.keys()].filter((name) => (byName.get(name) ?? []).length > 0),
  };
}

/**
 * The series of one sample name as `{ "label=value,label=value": value }` (labels in the order given),
 * for deepEqual against every series expected: a missing or an extra one fails as well as a wrong count.
 */
export function seriesOf(
  scrape: Scrape,
  name: string,
  labelNames: readonly string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const sample of scrape.samples(name)) {
    const extra = Object.keys(sample.labels).filter((label) => !labelNames.includes(label));
    if (extra.length > 0) throw new Error(`${name}: unexpected labels ${extra.join(', ')}`);
    const key = labelNames.map((label) => `${label}=${sample.labels[label] ?? ''}`).join(',');
    if (key in out) throw new Error(`${name}: two samples with the labels ${key}`);
    out[key] = sample.value;
  }
  return out;
}
