import { useEffect } from 'preact/hooks';
import { get } from '../api.js';
import { Badge, ErrorBox, useLoad } from '../components/common.js';
import { backendRows, type BackendView } from '../lib/backends.js';
import type { StatsRow } from '../lib/chart-data.js';
import { formatCount, formatDuration, formatRatio } from '../lib/format.js';
import { statsQuery, statsWindow } from '../lib/query.js';

/** The page refreshes itself this often. */
const REFRESH_MS = 5000;

export function Backends() {
  const backends = useLoad(async () => {
    const list = ((await get('/admin/backends')) as { data: BackendView[] }).data;
    // Latency and errors come from the request log; without it the page still shows the live state.
    let stats: StatsRow[] = [];
    let statsProblem: string | null = null;
    try {
      stats = (
        (await get(`/admin/stats${statsQuery(statsWindow('hour', Date.now()), 'backend')}`)) as {
          data: StatsRow[];
        }
      ).data;
    } catch (error) {
      statsProblem = error instanceof Error ? error.message : String(error);
    }
    return { rows: backendRows(list, stats), statsProblem };
  }, []);
  const { reload } = backends;
  useEffect(() => {
    const timer = setInterval(reload, REFRESH_MS);
    return () => {
      clearInterval(timer);
    };
  }, [reload]);
  return (
    <>
      <h1>Backends</h1>
      <div class="toolbar">
        <button type="button" onClick={reload}>
          Refresh
        </button>
        <span class="notice">Refreshed every 5 s. Requests, errors and latency: the last hour.</span>
      </div>
      <ErrorBox error={backends.error} />
      {backends.value?.statsProblem == null ? null : (
        <p class="notice">No latency or error figures: {backends.value.statsProblem}</p>
      )}
      <div class="panel table-wrap">
        <table aria-label="Backends">
          <thead>
            <tr>
              <th>Backend</th>
              <th>Status</th>
              <th>Health check</th>
              <th>Circuit</th>
              <th class="num">In flight</th>
              <th class="num">Queued</th>
              <th class="num">Requests</th>
              <th class="num">Errors</th>
              <th class="num">p50</th>
              <th class="num">p95</th>
              <th class="hide-narrow">URL</th>
            </tr>
          </thead>
          <tbody>
            {(backends.value?.rows ?? []).map((row) => (
              <tr key={row.name} data-backend={row.name}>
                <td>
                  <strong>{row.name}</strong> <span class="notice">{row.type}</span>
                </td>
                <td>
                  <Badge kind={row.status}>{row.status}</Badge>
                </td>
                <td title={row.health_detail ?? ''}>
                  <Badge kind={row.health}>{row.health}</Badge>
                  {row.health_detail === null ? null : <div class="notice">{row.health_detail}</div>}
                </td>
                <td>
                  <Badge kind={row.circuit}>{row.circuit.replace('_', '-')}</Badge>
                  {row.open_circuits_total === 0 ? null : (
                    <div class="notice">
                      {row.open_circuits
                        .map((circuit) => `${circuit.model ?? '(other)'} ${circuit.state}`)
                        .join(', ')}
                    </div>
                  )}
                </td>
                <td class="num">
                  {row.in_flight}
                  {row.max_concurrency === null ? '' : ` / ${String(row.max_concurrency)}`}
                </td>
                <td class="num">{row.queued}</td>
                <td class="num">{formatCount(row.requests)}</td>
                <td class="num">
                  {formatCount(row.errors)} {row.errorRate === null ? '' : `(${formatRatio(row.errorRate)})`}
                </td>
                <td class="num">{formatDuration(row.p50Ms)}</td>
                <td class="num">{formatDuration(row.p95Ms)}</td>
                <td class="hide-narrow">
                  <code>{row.url}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
