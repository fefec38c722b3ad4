import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level and no insignificant whitespace. */
export function canonicalJson(value: unknown): string {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value))
    return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

/** Request fields that change how an answer is delivered, not what it says. */
const DELIVERY_FIELDS = new Set(['model', 'stream', 'stream_options']);

export interface CacheKeyInput {
  readonly endpoint: 'chat' | 'embeddings';
  readonly backend: string;
  readonly upstreamModel: string;
  readonly body: Readonly<Record<string, unknown>>;
  /** The key's id (scope: key) or null (scope: global). */
  readonly scope: string | null;
}

/**
 * SHA-256 over the canonical form of everything that can change the answer: the endpoint, the resolved
 * backend and upstream model, and every request field (unknown ones included) but those that only
 * choose how it is delivered; and the tenant, unless the cache is global.
 */
export function cacheKey(input: CacheKeyInput): string {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(input.body))
    if (!DELIVERY_FIELDS.has(name)) fields[name] = value;
  const material = canonicalJson({
    endpoint: input.endpoint,
    backend: input.backend,
    model: input.upstreamModel,
    request: fields,
    scope: input.scope,
  });
  return createHash('sha256').update(material).digest('hex');
}
