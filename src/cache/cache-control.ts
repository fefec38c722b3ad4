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
      // delta-seconds is 1*DIGIT (RFC 9111 §1.2.2): Number() alone would read '' as 0 and '1e3' as 1000.
      const digits = rawValue.trim().replace(/^"|"$/g, '');
      if (/^\d+$/.test(digits)) maxAgeSeconds = Math.min(maxAgeSeconds ?? Infinity, Number(digits));
    }
  }
  return { read, write, maxAgeSeconds };
}
