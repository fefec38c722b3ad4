import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ChartData, ChartUnit } from '../lib/chart-data.js';
import { formatCount, formatDuration, formatRatio, formatUsd } from '../lib/format.js';

/** Series colours, told apart in both themes and by people with the common colour blindnesses. */
export const PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899'];

export function formatValue(unit: ChartUnit, value: number | null): string {
  switch (unit) {
    case 'rate':
      return value === null ? '—' : `${formatCount(value)}/s`;
    case 'ratio':
      return formatRatio(value);
    case 'ms':
      return formatDuration(value);
    case 'count':
      return formatCount(value);
    case 'usd':
      return formatUsd(value);
  }
}

function color(index: number): string {
  return PALETTE[index % PALETTE.length] ?? '#3b82f6';
}

function cssColor(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

interface ChartProps {
  readonly title: string;
  readonly unit: ChartUnit;
  readonly additive: boolean;
  readonly data: ChartData;
  /** Bumped when the theme changes, to redraw with its colours. */
  readonly theme: string;
}

/** One uPlot chart that fills its panel's width; its summary is the accessible name. */
export function Chart({ title, unit, additive, data, theme }: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current;
    if (element === null) return undefined;
    const text = cssColor('--muted');
    const grid = cssColor('--border');
    const axis = {
      stroke: text,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
    };
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height: 180,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        // From 0, with some room above the highest value (uPlot's own range of all zeros is absurd).
        y: { range: (_plot, _min, max) => [0, max > 0 ? max * 1.15 : 1] },
      },
      axes: [
        axis,
        {
          ...axis,
          size: 64,
          values: (_plot, ticks) => ticks.map((tick) => formatValue(unit, tick)),
        },
      ],
      series: [
        {},
        ...data.series.map((series, index) => ({
          label: series.label,
          stroke: color(index),
          width: 1.5,
          spanGaps: false,
          // Percentiles and ratios have gaps where no request was: a lone value shows as a point.
          points: { show: !additive || data.x.length < 40, size: 6, fill: color(index) },
          value: (_plot: uPlot, value: number | null) => formatValue(unit, value),
        })),
      ],
    };
    const plot = new uPlot(
      options,
      [data.x, ...data.series.map((series) => series.values)] as uPlot.AlignedData,
      element,
    );
    const resize = new ResizeObserver(() => {
      plot.setSize({ width: Math.max(200, element.clientWidth), height: 180 });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [data, unit, additive, theme]);

  const peaks = data.series.map((series) => {
    const values = series.values.filter((value): value is number => value !== null);
    return `${series.label}: peak ${formatValue(unit, values.length === 0 ? null : Math.max(...values))}`;
  });
  return (
    <section class="panel chart" aria-label={title}>
      <h2>{title}</h2>
      <div
        class="plot"
        ref={host}
        role="img"
        aria-label={`${title}. ${peaks.length === 0 ? 'No data.' : peaks.join('; ')}`}
        data-chart={title}
        data-points={String(
          data.series.reduce(
            (sum, series) => sum + series.values.filter((value) => value !== null && value !== 0).length,
            0,
          ),
        )}
      />
      <div class="legend">
        {data.series.map((series, index) => (
          <span key={series.label}>
            <span class="swatch" style={{ background: color(index) }} />
            {series.label}
          </span>
        ))}
        {data.hiddenGroups > 0 ? <span>and {data.hiddenGroups} more</span> : null}
      </div>
    </section>
  );
}
