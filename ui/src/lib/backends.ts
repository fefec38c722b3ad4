/**
 * The backends page: GET /admin/backends joined with the last hour's stats per backend
 * (GET /admin/stats?group_by=backend) for latency and recent errors. test/ui/backends.test.ts.
 */
import type { StatsRow } from './chart-data.js';

export interface BackendView {
  name: string;
  type: string;
  url: string;
  /** unchecked, healthy or unhealthy. */
  health: string;
  health_detail: string | null;
  /** closed, half_open or open. */
  circuit: string;
  open_circuits: { model: string | null; state: string }[];
  open_circuits_total: number;
  in_flight: number;
  in_flight_all_instances: number | null;
  queued: number;
  max_concurrency: number | null;
}

export interface BackendRow extends BackendView {
  readonly requests: number;
  readonly errors: number;
  readonly errorRate: number | null;
  /** The last bucket's (the most recent minute with traffic) p50 and p95. */
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  /** ok, degraded (a circuit not closed, or errors), down (failing its health check). */
  readonly status: 'ok' | 'degraded' | 'down';
}

export function backendRows(backends: readonly BackendView[], stats: readonly StatsRow[]): BackendRow[] {
  return backends.map((backend) => {
    const rows = stats.filter((row) => row.group === backend.name);
    const requests = rows.reduce((sum, row) => sum + row.requests, 0);
    const errors = rows.reduce((sum, row) => sum + row.errors, 0);
    const latest = [...rows].reverse().find((row) => row.duration_p50_ms !== null);
    const status: BackendRow['status'] =
      backend.health === 'unhealthy'
        ? 'down'
        : backend.circuit !== 'closed' || (requests > 0 && errors / requests >= 0.2)
          ? 'degraded'
          : 'ok';
    return {
      ...backend,
      requests,
      errors,
      errorRate: requests === 0 ? null : errors / requests,
      p50Ms: latest?.duration_p50_ms ?? null,
      p95Ms: latest?.duration_p95_ms ?? null,
      status,
    };
  });
}
