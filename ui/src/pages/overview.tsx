import { useMemo, useState } from 'preact/hooks';
import { get } from '../api.js';
import { Chart } from '../components/chart.js';
import { ErrorBox, useLoad } from '../components/common.js';
import { CHARTS, labelRows, shapeChart, totals, type StatsRow } from '../lib/chart-data.js';
import { formatCount, formatDuration, formatRatio, formatUsd } from '../lib/format.js';
import { RANGES, statsQuery, statsWindow, type StatsGroup, type StatsRange } from '../lib/query.js';

const GROUPS: readonly { value: StatsGroup; label: string }[] = [
  { value: 'none', label: 'All traffic' },
  { value: 'model', label: 'By model' },
  { value: 'key', label: 'By key' },
  { value: 'team', label: 'By team' },
  { value: 'backend', label: 'By backend' },
];

/** Teams charted at most when grouping by team (one stats request each). */
const MAX_TEAMS = 8;

async function loadRows(range: StatsRange, group: StatsGroup) {
  const window = statsWindow(range, Date.now());
  if (group !== 'team') {
    const answer = (await get(`/admin/stats${statsQuery(window, group)}`)) as { data: StatsRow[] };
    return { window, rows: answer.data };
  }
  const teams = ((await get('/admin/teams')) as { data: { id: string }[] }).data.slice(0, MAX_TEAMS);
  const parts = await Promise.all(
    teams.map(async (team) => ({
      group: team.id,
      rows: (
        (await get(`/admin/stats${statsQuery(window, 'team', { team: team.id })}`)) as { data: StatsRow[] }
      ).data,
    })),
  );
  return { window, rows: labelRows(parts) };
}

export function Overview({ theme }: { readonly theme: string }) {
  const [range, setRange] = useState<StatsRange>('hour');
  const [group, setGroup] = useState<StatsGroup>('none');
  const stats = useLoad(() => loadRows(range, group), [range, group]);
  const charts = useMemo(() => {
    if (stats.value === null) return [];
    const { rows, window } = stats.value;
    return CHARTS.map((chart) => ({ chart, data: shapeChart(rows, window, chart) }));
  }, [stats.value]);
  const sum = stats.value === null ? null : totals(stats.value.rows);

  return (
    <>
      <h1>Overview</h1>
      <div class="toolbar" role="group" aria-label="Chart settings">
        <div class="segmented" role="group" aria-label="Time range">
          {RANGES.map((option) => (
            <button
              key={option.value}
              type="button"
              aria-pressed={range === option.value}
              onClick={() => {
                setRange(option.value);
              }}
            >
              {option.label}
            </button>
          ))}
        </div>
        <label class="field">
          Group
          <select
            value={group}
            aria-label="Group charts by"
            onChange={(event) => {
              setGroup(event.currentTarget.value as StatsGroup);
            }}
          >
            {GROUPS.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={stats.reload} aria-label="Refresh the charts">
          Refresh
        </button>
        {stats.loading ? (
          <span class="notice" aria-live="polite">
            Loading…
          </span>
        ) : null}
      </div>
      <ErrorBox error={stats.error} />
      {sum === null ? null : (
        <div class="tiles" aria-label="Totals of the range">
          <Tile label="Requests" value={formatCount(sum.requests)} />
          <Tile label="Error rate" value={formatRatio(sum.errorRate)} />
          <Tile label="Slowest p95" value={formatDuration(sum.worstP95Ms)} />
          <Tile label="Tokens" value={formatCount(sum.tokens)} />
          <Tile label="Cost" value={formatUsd(sum.costUsd)} />
          <Tile label="Cache hit ratio" value={formatRatio(sum.cacheHitRatio)} />
        </div>
      )}
      <div class="charts">
        {charts.map(({ chart, data }) => (
          <Chart
            key={chart.id}
            title={chart.title}
            unit={chart.unit}
            additive={chart.additive}
            data={data}
            theme={theme}
          />
        ))}
      </div>
    </>
  );
}

function Tile({ label, value }: { readonly label: string; readonly value: string }) {
  return (
    <div class="panel tile" data-tile={label}>
      <div class="label">{label}</div>
      <div class="value">{value}</div>
    </div>
  );
}
