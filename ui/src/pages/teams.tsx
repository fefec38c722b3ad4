import { get } from '../api.js';
import { BudgetBars } from '../components/budget-bars.js';
import { ErrorBox, useLoad } from '../components/common.js';
import type { BudgetStatus } from '../lib/budgets.js';
import type { KeyView } from '../lib/keys.js';

interface TeamView {
  id: string;
  name: string;
  models: string[] | null;
  max_concurrency: number | null;
  source: 'config' | 'store';
}

interface TeamDetail extends TeamView {
  spend: BudgetStatus[];
}

export function Teams({ thresholds }: { readonly thresholds: readonly number[] }) {
  const teams = useLoad(async () => {
    const list = ((await get('/admin/teams')) as { data: TeamView[] }).data;
    const keys = ((await get('/admin/keys')) as { data: KeyView[] }).data;
    const details = await Promise.all(
      list.map(async (team) => (await get(`/admin/teams/${encodeURIComponent(team.id)}`)) as TeamDetail),
    );
    return details.map((team) => ({
      team,
      members: keys.filter((key) => key.team === team.id && key.revoked_at === null).length,
    }));
  }, []);
  return (
    <>
      <h1>Teams &amp; budgets</h1>
      <div class="toolbar">
        <button type="button" onClick={teams.reload}>
          Refresh
        </button>
        <span class="notice">
          Alerts fire at {thresholds.map((threshold) => `${String(Math.round(threshold * 100))}%`).join(', ')}{' '}
          of a budget (alerts.thresholds).
        </span>
      </div>
      <ErrorBox error={teams.error} />
      {teams.value !== null && teams.value.length === 0 ? (
        <p class="notice">No team yet: add one in the config file (teams:) or with POST /admin/teams.</p>
      ) : null}
      <div class="teams">
        {(teams.value ?? []).map(({ team, members }) => (
          <section class="panel" key={team.id} aria-label={`Team ${team.name}`}>
            <h2>
              {team.name} <code class="notice">{team.id}</code>
            </h2>
            <p class="notice">
              {members} active key{members === 1 ? '' : 's'} · models {team.models?.join(', ') ?? 'all'}
              {team.max_concurrency === null
                ? ''
                : ` · at most ${String(team.max_concurrency)} in flight`} ·{' '}
              {team.source === 'config' ? 'config file' : 'admin API'}
            </p>
            {team.spend.length === 0 ? (
              <p class="notice">No budget.</p>
            ) : (
              <BudgetBars statuses={team.spend} thresholds={thresholds} />
            )}
          </section>
        ))}
      </div>
    </>
  );
}
