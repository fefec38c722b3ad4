import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText, get, type Role } from '../api.js';
import { Badge, Dialog, ErrorBox, Field, useLoad } from '../components/common.js';
import { BudgetBars } from '../components/budget-bars.js';
import type { BudgetStatus } from '../lib/budgets.js';
import { formatCount, formatRelative, formatTime, formatUsd } from '../lib/format.js';
import {
  emptyKeyForm,
  keyBody,
  keyFormOf,
  keyState,
  matchesSearch,
  rateLimitText,
  sortKeys,
  type KeyForm,
  type KeyView,
} from '../lib/keys.js';
import { queryString } from '../lib/query.js';
import { pathOf } from '../lib/routes.js';

interface KeysProps {
  readonly role: Role;
  readonly selected: string | null;
  readonly navigate: (path: string) => void;
  readonly thresholds: readonly number[];
}

export function Keys({ role, selected, navigate, thresholds }: KeysProps) {
  const keys = useLoad(async () => ((await get('/admin/keys')) as { data: KeyView[] }).data, []);
  const [search, setSearch] = useState('');
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ id: string; key: string } | null>(null);
  const searchBox = useRef<HTMLInputElement>(null);
  const now = Date.now();
  const list = sortKeys(keys.value ?? [], now).filter((key) => matchesSearch(key, search));
  const current = keys.value?.find((key) => key.id === selected) ?? null;

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (
        event.key === '/' &&
        !(event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement)
      ) {
        event.preventDefault();
        searchBox.current?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
    };
  }, []);

  return (
    <>
      <h1>Keys</h1>
      <div class="toolbar">
        <label class="field">
          Search
          <input
            ref={searchBox}
            type="search"
            value={search}
            placeholder="id, name, team, model… (/)"
            aria-label="Search keys"
            onInput={(event) => {
              setSearch(event.currentTarget.value);
            }}
          />
        </label>
        {role === 'admin' ? (
          <button
            type="button"
            class="primary"
            onClick={() => {
              setCreating(true);
            }}
          >
            Create key
          </button>
        ) : null}
        <span class="notice">
          {list.length} of {keys.value?.length ?? 0} keys
        </span>
      </div>
      <ErrorBox error={keys.error} />
      <div class={`split${current === null ? ' single' : ''}`}>
        <div class="panel table-wrap">
          <table aria-label="API keys">
            <thead>
              <tr>
                <th>Name</th>
                <th>Id</th>
                <th>State</th>
                <th class="hide-narrow">Team</th>
                <th class="hide-narrow">Models</th>
                <th class="hide-narrow">Expires</th>
                <th class="hide-narrow">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.map((key) => {
                const state = keyState(key, now);
                return (
                  <tr
                    key={key.id}
                    class="clickable"
                    aria-selected={key.id === selected}
                    data-key-id={key.id}
                    onClick={() => {
                      navigate(pathOf('keys', key.id));
                    }}
                  >
                    <td>
                      <a
                        href={pathOf('keys', key.id)}
                        onClick={(event) => {
                          event.preventDefault();
                        }}
                      >
                        {key.name}
                      </a>
                    </td>
                    <td>
                      <code>{key.id}</code>
                    </td>
                    <td>
                      <Badge kind={state}>{state}</Badge>
                    </td>
                    <td class="hide-narrow">{key.team ?? '—'}</td>
                    <td class="hide-narrow">{key.models?.join(', ') ?? 'all'}</td>
                    <td class="hide-narrow">
                      {key.expires_at === null ? 'never' : formatRelative(key.expires_at, now)}
                    </td>
                    <td class="hide-narrow">
                      {key.created_at === null ? 'config' : formatRelative(key.created_at, now)}
                    </td>
                  </tr>
                );
              })}
              {keys.value !== null && list.length === 0 ? (
                <tr>
                  <td colSpan={7} class="notice">
                    No key matches.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
        </div>
        {current === null ? null : (
          <KeyDetail
            key={current.id}
            apiKey={current}
            role={role}
            thresholds={thresholds}
            onClose={() => {
              navigate(pathOf('keys'));
            }}
            onChanged={keys.reload}
          />
        )}
      </div>
      <Dialog
        open={creating}
        title="Create a key"
        onClose={() => {
          setCreating(false);
        }}
      >
        <KeyFormView
          initial={emptyKeyForm()}
          original={null}
          submitLabel="Create"
          onCancel={() => {
            setCreating(false);
          }}
          onSubmit={async (body) => {
            const answer = (await api('POST', '/admin/keys', body)) as { id: string; key: string };
            setCreating(false);
            setCreated({ id: answer.id, key: answer.key });
            keys.reload();
          }}
        />
      </Dialog>
      <Dialog
        open={created !== null}
        title="Key created"
        onClose={() => {
          setCreated(null);
        }}
      >
        {created === null ? null : (
          <ShownOnce
            created={created}
            onDone={() => {
              const id = created.id;
              setCreated(null);
              navigate(pathOf('keys', id));
            }}
          />
        )}
      </Dialog>
    </>
  );
}

function ShownOnce({
  created,
  onDone,
}: {
  readonly created: { id: string; key: string };
  readonly onDone: () => void;
}) {
  const [copied, setCopied] = useState<string | null>(null);
  return (
    <>
      <p>This is the only time the key is shown. Copy it now; the gateway keeps only its hash.</p>
      <div class="secret">
        <code data-testid="new-key" aria-label="The new key">
          {created.key}
        </code>
        <button
          type="button"
          onClick={() => {
            navigator.clipboard.writeText(created.key).then(
              () => {
                setCopied('Copied');
              },
              (error: unknown) => {
                setCopied(`Could not copy (${errorText(error)}); select the key and copy it`);
              },
            );
          }}
        >
          Copy
        </button>
      </div>
      <p class="notice" aria-live="polite">
        {copied ?? ''}
      </p>
      <div class="dialog-actions">
        <button type="button" class="primary" onClick={onDone}>
          Done
        </button>
      </div>
    </>
  );
}

interface KeyFormProps {
  readonly initial: KeyForm;
  readonly original: KeyForm | null;
  readonly submitLabel: string;
  readonly onCancel: () => void;
  readonly onSubmit: (body: Record<string, unknown>) => Promise<void>;
}

export function KeyFormView({ initial, original, submitLabel, onCancel, onSubmit }: KeyFormProps) {
  const [form, setForm] = useState<KeyForm>(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const bind = (field: keyof KeyForm) => ({
    value: form[field],
    onInput: (event: { currentTarget: HTMLInputElement | HTMLTextAreaElement }) => {
      const value = event.currentTarget.value;
      setForm((previous) => ({ ...previous, [field]: value }));
    },
  });
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        const result = keyBody(form, original);
        if (!result.ok) {
          setProblem(`${result.field}: ${result.problem}`);
          return;
        }
        if (original !== null && Object.keys(result.body).length === 0) {
          onCancel();
          return;
        }
        setBusy(true);
        setProblem(null);
        onSubmit(result.body).then(
          () => {
            setBusy(false);
          },
          (error: unknown) => {
            setBusy(false);
            setProblem(errorText(error));
          },
        );
      }}
    >
      <div class="form-grid">
        <Field label="Name" wide>
          <input name="name" required maxLength={200} {...bind('name')} />
        </Field>
        <Field label="Team (id)">
          <input name="team" {...bind('team')} />
        </Field>
        <Field label="Models (empty: all)">
          <input name="models" placeholder="small, gpt-*" {...bind('models')} />
        </Field>
        <Field label="Requests limit">
          <input name="requests" placeholder="600/minute" {...bind('requestsLimit')} />
        </Field>
        <Field label="Tokens limit">
          <input name="tokens" placeholder="200000/minute" {...bind('tokensLimit')} />
        </Field>
        <Field label="Budgets, one per line" wide hint='e.g. "5 usd/day" or "2000000 tokens/month soft"'>
          <textarea name="budgets" rows={2} {...bind('budgets')} />
        </Field>
        <Field label="Expires (empty: never)">
          <input name="expires" type="datetime-local" {...bind('expiresAt')} />
        </Field>
        <Field label="Max concurrency">
          <input name="max_concurrency" inputMode="numeric" {...bind('maxConcurrency')} />
        </Field>
      </div>
      {problem === null ? null : (
        <div class="error-box" role="alert">
          {problem}
        </div>
      )}
      <div class="dialog-actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary" disabled={busy}>
          {submitLabel}
        </button>
      </div>
    </form>
  );
}

interface UsageRow {
  day?: string;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost: number | null;
}

interface KeyDetailProps {
  readonly apiKey: KeyView;
  readonly role: Role;
  readonly thresholds: readonly number[];
  readonly onClose: () => void;
  readonly onChanged: () => void;
}

function KeyDetail({ apiKey, role, thresholds, onClose, onChanged }: KeyDetailProps) {
  const usage = useLoad(
    async () =>
      (await get(
        `/admin/usage${queryString({ key: apiKey.id, group_by: 'day', from: new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10) })}`,
      )) as { data: UsageRow[]; budgets?: BudgetStatus[] },
    [apiKey.id],
  );
  const [editing, setEditing] = useState(false);
  const [revoking, setRevoking] = useState(false);
  const [problem, setProblem] = useState<unknown>(null);
  const state = keyState(apiKey, Date.now());
  const changeable = role === 'admin' && apiKey.source === 'store' && state !== 'revoked';
  const rows = usage.value?.data ?? [];
  const total = rows.reduce(
    (sum, row) => ({
      requests: sum.requests + row.requests,
      errors: sum.errors + row.errors,
      tokens: sum.tokens + row.prompt_tokens + row.completion_tokens,
      cost: sum.cost + (row.cost ?? 0),
    }),
    { requests: 0, errors: 0, tokens: 0, cost: 0 },
  );
  return (
    <aside class="panel detail" aria-label={`Key ${apiKey.name}`}>
      <div class="toolbar" style={{ justifyContent: 'space-between' }}>
        <h2>{apiKey.name}</h2>
        <button type="button" onClick={onClose} aria-label="Close the key's details">
          Close
        </button>
      </div>
      <dl>
        <dt>Id</dt>
        <dd>
          <code>{apiKey.id}</code>
        </dd>
        <dt>State</dt>
        <dd>
          <Badge kind={state}>{state}</Badge>
        </dd>
        <dt>Team</dt>
        <dd>{apiKey.team ?? '—'}</dd>
        <dt>Models</dt>
        <dd>{apiKey.models?.join(', ') ?? 'all'}</dd>
        <dt>Rate limit</dt>
        <dd>{rateLimitText(apiKey.rate_limit)}</dd>
        <dt>Expires</dt>
        <dd>{apiKey.expires_at === null ? 'never' : formatTime(apiKey.expires_at)}</dd>
        <dt>Created</dt>
        <dd>{apiKey.created_at === null ? 'in the config file' : formatTime(apiKey.created_at)}</dd>
        {apiKey.revoked_at === null ? null : (
          <>
            <dt>Revoked</dt>
            <dd>{formatTime(apiKey.revoked_at)}</dd>
          </>
        )}
        <dt>Source</dt>
        <dd>{apiKey.source === 'config' ? 'config file (read-only here)' : 'admin API'}</dd>
      </dl>
      {changeable ? (
        <div class="toolbar">
          <button
            type="button"
            onClick={() => {
              setEditing(true);
            }}
          >
            Edit
          </button>
          <button
            type="button"
            class="danger"
            onClick={() => {
              setRevoking(true);
            }}
          >
            Revoke
          </button>
        </div>
      ) : null}
      <ErrorBox error={problem} />
      <h2>Usage, last 30 days</h2>
      <ErrorBox error={usage.error} />
      <dl data-testid="key-usage">
        <dt>Requests</dt>
        <dd>{formatCount(total.requests)}</dd>
        <dt>Errors</dt>
        <dd>{formatCount(total.errors)}</dd>
        <dt>Tokens</dt>
        <dd>{formatCount(total.tokens)}</dd>
        <dt>Spend</dt>
        <dd>{formatUsd(total.cost)}</dd>
      </dl>
      {usage.value?.budgets === undefined || usage.value.budgets.length === 0 ? null : (
        <>
          <h2>Budgets</h2>
          <BudgetBars statuses={usage.value.budgets} thresholds={thresholds} />
        </>
      )}
      <Dialog
        open={editing}
        title={`Edit ${apiKey.name}`}
        onClose={() => {
          setEditing(false);
        }}
      >
        <KeyFormView
          initial={keyFormOf(apiKey)}
          original={keyFormOf(apiKey)}
          submitLabel="Save"
          onCancel={() => {
            setEditing(false);
          }}
          onSubmit={async (body) => {
            await api('PATCH', `/admin/keys/${encodeURIComponent(apiKey.id)}`, body);
            setEditing(false);
            onChanged();
          }}
        />
      </Dialog>
      <Dialog
        open={revoking}
        title={`Revoke ${apiKey.name}?`}
        onClose={() => {
          setRevoking(false);
        }}
      >
        <p>Requests with this key are refused by every instance within a second. This cannot be undone.</p>
        <div class="dialog-actions">
          <button
            type="button"
            onClick={() => {
              setRevoking(false);
            }}
          >
            Cancel
          </button>
          <button
            type="button"
            class="danger"
            onClick={() => {
              api('DELETE', `/admin/keys/${encodeURIComponent(apiKey.id)}`).then(
                () => {
                  setRevoking(false);
                  onChanged();
                },
                (error: unknown) => {
                  setRevoking(false);
                  setProblem(error);
                },
              );
            }}
          >
            Revoke the key
          </button>
        </div>
      </Dialog>
    </aside>
  );
}
