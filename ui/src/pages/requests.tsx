import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from '../api.js';
import { Badge, ErrorBox, Field, useLoad } from '../components/common.js';
import { formatDuration, formatCount, formatMicros, formatTime, statusKind } from '../lib/format.js';
import {
  FILTER_NAMES,
  filterParameters,
  filterProblem,
  filtersFromSearch,
  queryString,
  requestsQuery,
  searchOfFilters,
  type RequestFilters,
} from '../lib/query.js';
import { appendPage, prependLive, timings, type RequestRecord } from '../lib/requests.js';
import { pathOf } from '../lib/routes.js';

const LABELS: Record<keyof RequestFilters, string> = {
  key: 'Key id',
  team: 'Team',
  model: 'Model',
  backend: 'Backend',
  status: 'Status (429, 5xx)',
  error_code: 'Error code',
  cache: 'Cache (HIT, MISS)',
  from: 'From',
  to: 'To',
  min_duration_ms: 'Min duration (ms)',
  request_id: 'Request id',
};

interface RequestsProps {
  readonly selected: string | null;
  readonly navigate: (path: string, replace?: boolean) => void;
}

export function Requests({ selected, navigate }: RequestsProps) {
  const [filters, setFilters] = useState<RequestFilters>(() => filtersFromSearch(location.search));
  const [draft, setDraft] = useState<RequestFilters>(filters);
  const [records, setRecords] = useState<RequestRecord[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState(false);
  const [liveState, setLiveState] = useState<'off' | 'connecting' | 'on' | 'lost'>('off');
  const generation = useRef(0);
  const sentinel = useRef<HTMLDivElement>(null);

  const loadPage = (reset: boolean): void => {
    const ticket = reset ? ++generation.current : generation.current;
    setLoading(true);
    get(`/admin/requests${requestsQuery(filters, reset ? null : cursor)}`).then(
      (answer) => {
        if (ticket !== generation.current) return;
        const page = answer as { data: RequestRecord[]; next_cursor: string | null };
        setRecords((shown) => (reset ? page.data : appendPage(shown, page.data)));
        setCursor(page.next_cursor);
        setDone(page.next_cursor === null);
        setLoading(false);
        setError(null);
      },
      (problem: unknown) => {
        if (ticket !== generation.current) return;
        setLoading(false);
        setError(problem);
      },
    );
  };

  // A new set of filters: the first page again.
  useEffect(() => {
    setRecords([]);
    setCursor(null);
    setDone(false);
    loadPage(true);
  }, [filters]);

  // Infinite scroll: the next page when the end of the list comes into view.
  useEffect(() => {
    const element = sentinel.current;
    if (element === null || done || loading || cursor === null) return undefined;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) loadPage(false);
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
    };
  }, [cursor, done, loading]);

  // The live tail: server-sent events of new records, put in front as they come.
  useEffect(() => {
    if (!live) {
      setLiveState('off');
      return undefined;
    }
    setLiveState('connecting');
    const source = new EventSource(`/admin/requests/stream${queryString(filterParameters(filters))}`);
    let pending: RequestRecord[] = [];
    let frame = 0;
    source.onopen = () => {
      setLiveState('on');
    };
    source.onerror = () => {
      setLiveState(source.readyState === EventSource.CLOSED ? 'lost' : 'connecting');
    };
    source.addEventListener('request', (event) => {
      pending.push(JSON.parse((event as MessageEvent<string>).data) as RequestRecord);
      if (frame !== 0) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        const incoming = pending;
        pending = [];
        setRecords((shown) => prependLive(shown, incoming));
      });
    });
    return () => {
      cancelAnimationFrame(frame);
      source.close();
    };
  }, [live, filters]);

  const problem = filterProblem(draft);
  const current = records.find((record) => record.request_id === selected) ?? null;

  return (
    <>
      <h1>Request log</h1>
      <form
        class="panel"
        aria-label="Filters"
        onSubmit={(event) => {
          event.preventDefault();
          if (problem !== null) return;
          setFilters(draft);
          history.replaceState(null, '', `${pathOf('requests', selected)}${searchOfFilters(draft)}`);
        }}
      >
        <div class="filters">
          {FILTER_NAMES.map((name) => (
            <Field key={name} label={LABELS[name]}>
              {name === 'from' || name === 'to' ? (
                <input
                  name={name}
                  type="datetime-local"
                  value={draft[name]}
                  onInput={(event) => {
                    const value = event.currentTarget.value;
                    setDraft((previous) => ({ ...previous, [name]: value }));
                  }}
                />
              ) : (
                <input
                  name={name}
                  type="text"
                  value={draft[name]}
                  onInput={(event) => {
                    const value = event.currentTarget.value;
                    setDraft((previous) => ({ ...previous, [name]: value }));
                  }}
                />
              )}
            </Field>
          ))}
        </div>
        <div class="toolbar" style={{ marginBottom: 0 }}>
          <button type="submit" class="primary" disabled={problem !== null}>
            Apply
          </button>
          <button
            type="button"
            onClick={() => {
              const empty = filtersFromSearch('');
              setDraft(empty);
              setFilters(empty);
              history.replaceState(null, '', pathOf('requests', selected));
            }}
          >
            Clear
          </button>
          <label class={`live${liveState === 'on' ? ' on' : ''}`}>
            <input
              type="checkbox"
              role="switch"
              checked={live}
              aria-label="Live tail"
              onChange={(event) => {
                setLive(event.currentTarget.checked);
              }}
            />
            <span class="dot" aria-hidden="true" />
            Live tail{live ? ` (${liveState})` : ''}
          </label>
          {problem === null ? null : <span class="client-error">{problem}</span>}
        </div>
      </form>
      <ErrorBox error={error} />
      <div class={`split${current === null ? ' single' : ''}`} style={{ marginTop: '12px' }}>
        <div class="panel table-wrap">
          <table aria-label="Requests, newest first">
            <thead>
              <tr>
                <th>Time</th>
                <th>Status</th>
                <th>Model</th>
                <th class="hide-narrow">Key</th>
                <th class="hide-narrow">Backend</th>
                <th class="num">Duration</th>
                <th class="num hide-narrow">Tokens</th>
                <th class="num hide-narrow">Cost</th>
                <th class="hide-narrow">Cache</th>
              </tr>
            </thead>
            <tbody>
              {records.map((record) => (
                <tr
                  key={record.request_id}
                  class="clickable"
                  tabIndex={0}
                  aria-selected={record.request_id === selected}
                  data-request-id={record.request_id}
                  onClick={() => {
                    navigate(`${pathOf('requests', record.request_id)}${location.search}`);
                  }}
                  onKeyDown={(event) => {
                    if (event.key === 'Enter' || event.key === ' ') {
                      event.preventDefault();
                      navigate(`${pathOf('requests', record.request_id)}${location.search}`);
                    }
                  }}
                >
                  <td>{formatTime(record.time)}</td>
                  <td class={statusKind(record.status)}>{record.status}</td>
                  <td>{record.model ?? '—'}</td>
                  <td class="hide-narrow">{record.key_id ?? '—'}</td>
                  <td class="hide-narrow">{record.backend ?? '—'}</td>
                  <td class="num">{formatDuration(record.duration_ms)}</td>
                  <td class="num hide-narrow">
                    {formatCount((record.prompt_tokens ?? 0) + (record.completion_tokens ?? 0))}
                  </td>
                  <td class="num hide-narrow">{formatMicros(record.cost_micros)}</td>
                  <td class="hide-narrow">{record.cache ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div ref={sentinel} class="sentinel" />
          <p class="notice" aria-live="polite">
            {loading ? 'Loading…' : done ? `${String(records.length)} requests; no older one.` : ''}
          </p>
          {!done && !loading && cursor !== null ? (
            <button
              type="button"
              onClick={() => {
                loadPage(false);
              }}
            >
              Load older requests
            </button>
          ) : null}
        </div>
        {selected === null ? null : (
          <RequestDetail
            key={selected}
            requestId={selected}
            shown={current}
            onClose={() => {
              navigate(`${pathOf('requests')}${location.search}`);
            }}
          />
        )}
      </div>
    </>
  );
}

interface DetailProps {
  readonly requestId: string;
  readonly shown: RequestRecord | null;
  readonly onClose: () => void;
}

function RequestDetail({ requestId, shown, onClose }: DetailProps) {
  const record = useLoad(
    async () => (await get(`/admin/requests/${encodeURIComponent(requestId)}`)) as RequestRecord,
    [requestId],
  );
  const closeButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    closeButton.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
    };
  }, [onClose]);
  // A live-tail record may not be written yet: show it until the store has it.
  const value = record.value ?? shown;
  return (
    <aside class="panel detail" aria-label={`Request ${requestId}`}>
      <div class="toolbar" style={{ justifyContent: 'space-between' }}>
        <h2>Request</h2>
        <button type="button" ref={closeButton} onClick={onClose} aria-label="Close the request's details">
          Close
        </button>
      </div>
      {value === null ? <ErrorBox error={record.error} /> : <RecordView record={value} />}
    </aside>
  );
}

function RecordView({ record }: { readonly record: RequestRecord }) {
  return (
    <>
      <dl>
        <dt>Request id</dt>
        <dd>
          <code>{record.request_id}</code>
        </dd>
        <dt>Time</dt>
        <dd>{formatTime(record.time)}</dd>
        <dt>Status</dt>
        <dd class={statusKind(record.status)}>
          {record.status}
          {record.error_code === null ? '' : ` ${record.error_code}`}
        </dd>
        <dt>Route</dt>
        <dd>
          {record.route} <span class="notice">({record.protocol})</span>
        </dd>
        <dt>Model</dt>
        <dd>
          {record.model ?? '—'}
          {record.upstream_model === null || record.upstream_model === record.model
            ? ''
            : ` → ${record.upstream_model}`}
        </dd>
        <dt>Key</dt>
        <dd>
          {record.key_id ?? '—'}
          {record.team === null ? '' : ` (team ${record.team})`}
        </dd>
        <dt>Backend</dt>
        <dd>{record.backend ?? '—'}</dd>
        <dt>Cache</dt>
        <dd>{record.cache ?? '—'}</dd>
        <dt>Tokens</dt>
        <dd>
          {formatCount(record.prompt_tokens)} in, {formatCount(record.completion_tokens)} out
          {record.cached_tokens === null || record.cached_tokens === 0
            ? ''
            : `, ${formatCount(record.cached_tokens)} cached`}
          {record.reasoning_tokens === null || record.reasoning_tokens === 0
            ? ''
            : `, ${formatCount(record.reasoning_tokens)} reasoning`}
        </dd>
        <dt>Cost</dt>
        <dd>{formatMicros(record.cost_micros)}</dd>
      </dl>
      <h2>Timings</h2>
      <dl>
        {timings(record).map(([label, ms]) => (
          <Fragment key={label}>
            <dt>{label}</dt>
            <dd>{formatDuration(ms)}</dd>
          </Fragment>
        ))}
      </dl>
      <h2>Attempts</h2>
      {record.attempts.length === 0 ? (
        <p class="notice">No upstream call (answered by the gateway or the cache).</p>
      ) : (
        <div class="table-wrap">
          <table aria-label="Attempts">
            <thead>
              <tr>
                <th>#</th>
                <th>Backend</th>
                <th>Model</th>
                <th>Outcome</th>
                <th class="num">Duration</th>
              </tr>
            </thead>
            <tbody>
              {record.attempts.map((attempt, index) => (
                <tr key={index}>
                  <td>{index + 1}</td>
                  <td>{attempt.backend}</td>
                  <td>{attempt.model}</td>
                  <td>
                    <Badge kind={attempt.outcome === 'ok' ? 'healthy' : 'unhealthy'}>
                      {attempt.outcome}
                      {attempt.error_code === undefined ? '' : ` ${attempt.error_code}`}
                    </Badge>
                  </td>
                  <td class="num">{formatDuration(attempt.duration_ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Client</h2>
      <dl>
        <dt>Address</dt>
        <dd>{record.client_address ?? '—'}</dd>
        <dt>User-Agent</dt>
        <dd>{record.user_agent ?? '—'}</dd>
      </dl>
      {record.prompt === null && record.answer === null ? (
        <p class="notice">Prompt and answer are not logged (logging.prompts.enabled).</p>
      ) : (
        <>
          <h2>Prompt</h2>
          <pre>{record.prompt ?? '—'}</pre>
          <h2>Answer</h2>
          <pre>{record.answer ?? '—'}</pre>
        </>
      )}
    </>
  );
}
