/** The UI's pages and their paths under /ui. */

export type PageId = 'overview' | 'keys' | 'teams' | 'requests' | 'backends' | 'config';

export const PAGES: readonly { id: PageId; path: string; title: string }[] = [
  { id: 'overview', path: '/ui/', title: 'Overview' },
  { id: 'keys', path: '/ui/keys', title: 'Keys' },
  { id: 'teams', path: '/ui/teams', title: 'Teams & budgets' },
  { id: 'requests', path: '/ui/requests', title: 'Request log' },
  { id: 'backends', path: '/ui/backends', title: 'Backends' },
  { id: 'config', path: '/ui/config', title: 'Config' },
];

export interface Route {
  readonly page: PageId;
  /** The rest of the path: a key id, a request id; null when none. */
  readonly item: string | null;
}

/** /ui, /ui/ → overview; /ui/keys/abc → keys, item abc; an unknown page → overview. */
export function parseRoute(pathname: string): Route {
  const rest = pathname.replace(/^\/ui\/?/, '');
  const [first = '', ...more] = rest.split('/');
  const page = PAGES.find((candidate) => candidate.id === first && first !== 'overview');
  const item = more.join('/');
  return {
    page: page?.id ?? 'overview',
    item: page === undefined || item === '' ? null : decodeURIComponent(item),
  };
}

export function pathOf(page: PageId, item: string | null = null): string {
  const base = PAGES.find((candidate) => candidate.id === page)?.path ?? '/ui/';
  return item === null ? base : `${base}/${encodeURIComponent(item)}`;
}
