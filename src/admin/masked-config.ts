/**
 * The effective config as GET /admin/config shows it (issue 22): every default filled in, names in the
 * config file's snake_case, and no secret: upstream keys, tokens and their hashes, passwords, header
 * values, and the credentials and query of every URL are masked.
 */

export const MASK = '********';

/** Names whose string values are secrets (or hashes of secrets, which a guess could be checked against). */
const SECRET_NAME = /(key|secret|password|token|sha256|credential|authorization|signature)s?$/i;

export function maskedConfig(config: unknown): unknown {
  return mask(config, null);
}

function mask(value: unknown, name: string | null): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof RegExp) return value.source;
  if (typeof value === 'string') {
    if (name !== null && SECRET_NAME.test(name)) return MASK;
    return maskUrl(value);
  }
  if (typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => mask(item, name));
  const out: Record<string, unknown> = {};
  const headers = name !== null && /headers$/i.test(name);
  // Names people chose (header names, metadata) stay as written.
  const verbatim = headers || name === 'metadata';
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (typeof item === 'function') continue;
    out[verbatim ? key : snakeCase(key)] = headers && typeof item === 'string' ? MASK : mask(item, key);
  }
  return out;
}

/** A URL's user, password and query values masked; anything else as it is. */
export function maskUrl(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  if (url.username === '' && url.password === '' && url.search === '') return text;
  if (url.username !== '') url.username = MASK;
  if (url.password !== '') url.password = MASK;
  for (const key of [...url.searchParams.keys()]) url.searchParams.set(key, MASK);
  return url.toString();
}

export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
