/** What a request's Cache-Control header allows (RFC 9111 §5.2.1, the request directives we honour). */
export interface CacheDirectives {
  /** May a stored answer be used? (no-cache: no) */
  readonly read: boolean;
  /** May this answer be stored? (no-store: no; and no-store also forbids reading) */
  readonly write: boolean;
  /** Only entries younger than this many seconds may be used (max-age=N). */
  readonly maxAgeSeconds: number | null;
}

export function parseCacheControl(header: string | string[] | undefined): CacheDirectives {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  let read = true;
  let write = true;
  let maxAgeSeconds: number | null = null;
  for (const part of text.split(',')) {
    const [rawName, rawValue] = part.split('=', 2);
    const name = rawName?.trim().toLowerCase() ?? '';
    if (name === 'no-cache') read = false;
    else if (name === 'no-store') {
      read = false;
      write = false;
    } else if (name === 'max-age' && rawValue !== undefined) {
      const seconds = Number(rawValue.trim().replace(/^"|"$/g, ''));
      if (Number.isInteger(seconds) && seconds >= 0)
        maxAgeSeconds = Math.min(maxAgeSeconds ?? Infinity, seconds);
    }
  }
  return { read, write, maxAgeSeconds };
}
