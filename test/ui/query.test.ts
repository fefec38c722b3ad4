/** The admin UI's query strings (ui/src/lib/query.ts): the request log's filters and the stats range. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  emptyFilters,
  filterProblem,
  filtersFromSearch,
  queryString,
  requestsQuery,
  searchOfFilters,
  statsQuery,
  statsWindow,
} from '../../ui/src/lib/query.js';

describe('admin UI query strings', () => {
  it('skips empty parameters and trims the others', () => {
    assert.equal(queryString({ a: ' x ', b: '', c: null, d: undefined, e: 0 }), '?a=x&e=0');
    assert.equal(queryString({ a: '' }), '');
  });

  it('builds a request-log page query from the filters, limit and cursor', () => {
    const filters = { ...emptyFilters(), model: 'small', status: '5xx', cache: 'hit', key: 'k 1' };
    assert.equal(requestsQuery(filters), '?key=k+1&model=small&status=5xx&cache=HIT&limit=50');
    assert.equal(
      requestsQuery(filters, 'abc=', 20),
      '?key=k+1&model=small&status=5xx&cache=HIT&limit=20&cursor=abc%3D',
    );
  });

  it('sends a datetime-local time as ms since the epoch, and other forms as written', () => {
    const local = requestsQuery({ ...emptyFilters(), from: '2026-12-02T10:30' });
    assert.equal(local, `?from=${String(new Date('2026-12-02T10:30').getTime())}&limit=50`);
    assert.equal(
      requestsQuery({ ...emptyFilters(), to: '2026-12-02T10:30:00Z' }),
      '?to=2026-12-02T10%3A30%3A00Z&limit=50',
    );
  });

  it('reads filters back from the page URL, and writes only those set', () => {
    const filters = filtersFromSearch('?model=small&status=429&unknown=x');
    assert.equal(filters.model, 'small');
    assert.equal(filters.status, '429');
    assert.equal(filters.key, '');
    assert.equal(searchOfFilters(filters), '?model=small&status=429');
  });

  it('names a filter a person mistyped before asking the server', () => {
    assert.equal(filterProblem(emptyFilters()), null);
    assert.equal(filterProblem({ ...emptyFilters(), status: '4xx' }), null);
    assert.match(filterProblem({ ...emptyFilters(), status: 'bad' }) ?? '', /^status/);
    assert.match(filterProblem({ ...emptyFilters(), cache: 'maybe' }) ?? '', /^cache/);
    assert.match(filterProblem({ ...emptyFilters(), min_duration_ms: '1.5' }) ?? '', /^min duration/);
  });

  it('asks for the last hour by minute and the last day or 30 days by hour, to the end of the current bucket', () => {
    const now = Date.UTC(2026, 11, 2, 15, 41, 12);
    const hour = statsWindow('hour', now);
    assert.equal(hour.bucket, 'minute');
    assert.equal(hour.to, Date.UTC(2026, 11, 2, 15, 42));
    assert.equal(hour.to - hour.from, 3_600_000);
    const month = statsWindow('month', now);
    assert.equal(month.bucket, 'hour');
    assert.equal(month.to, Date.UTC(2026, 11, 2, 16));
    assert.equal((month.to - month.from) / month.bucketMs, 720);
    assert.equal(
      statsQuery(hour, 'model'),
      `?bucket=minute&from=${String(hour.from)}&to=${String(hour.to)}&group_by=model`,
    );
    assert.equal(
      statsQuery(hour, 'team', { team: 'research' }),
      `?bucket=minute&from=${String(hour.from)}&to=${String(hour.to)}&team=research`,
    );
    assert.ok(!statsQuery(hour, 'none').includes('group_by'));
  });
});
