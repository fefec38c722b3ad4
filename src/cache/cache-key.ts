import { hash } from 'node:crypto';

/** JSON with object keys sorted at every level and no insignificant whitespace. */
export function canonicalJson(value: unknown): string {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let index = 0; index < value.length; index++) {
      if (index > 0) out += ',';
      const item: unknown = value[index];
      out += item === undefined ? 'null' : canonicalJson(item);
    }
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  // Code-unit order, as the default sort compares strings.
  const keys = Object.keys(object).sort();
  let out = '{';
  for (const key of keys) {
    const item = object[key];
    if (item === undefined) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(key)}:${canonicalJson(item)}`;
  }
  return `${out}}`;
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
  return hash('sha256', material, 'hex');
}
