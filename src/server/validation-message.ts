import type { FastifySchemaValidationError } from 'fastify';

const MAX_LISTED = 20;
/** Ajv errors read at most: the rest cannot change what the first MAX_LISTED lines say much. */
export const MAX_ERRORS_READ = 1_000;

/** "/messages/0/role" → "messages[0].role" */
export function fieldPath(instancePath: string, missing?: unknown): string {
  let out = '';
  const parts = instancePath.split('/').slice(1);
  if (typeof missing === 'string') parts.push(missing);
  for (const part of parts) {
    const segment = part.replaceAll('~1', '/').replaceAll('~0', '~');
    out += /^\d+$/.test(segment) ? `[${segment}]` : out === '' ? segment : `.${segment}`;
  }
  return out === '' ? 'body' : out;
}

/**
 * Turns Ajv's errors into one line per offending field. Ajv reports a union (anyOf) as one error per
 * branch; those are folded into "must be one of ..." so that the client reads what to send instead.
 */
export function describeValidationErrors(errors: readonly FastifySchemaValidationError[]): {
  detail: string;
  firstField: string;
} {
  const byField = new Map<string, { allowed: string[]; types: string[]; other: string[] }>();
  for (const error of errors.slice(0, MAX_ERRORS_READ)) {
    const params: Record<string, unknown> = error.params;
    const field = fieldPath(
      error.instancePath,
      error.keyword === 'required'
        ? params['missingProperty']
        : error.keyword === 'additionalProperties'
          ? params['additionalProperty']
          : undefined,
    );
    let entry = byField.get(field);
    if (entry === undefined) {
      entry = { allowed: [], types: [], other: [] };
      byField.set(field, entry);
    }
    if (error.keyword === 'const') entry.allowed.push(JSON.stringify(params['allowedValue']));
    else if (error.keyword === 'type') entry.types.push(String(params['type']));
    else if (error.keyword === 'required') entry.other.push('is required');
    else if (error.keyword === 'additionalProperties') entry.other.push('unknown field');
    else if (error.keyword !== 'anyOf' && error.message !== undefined) entry.other.push(error.message);
  }
  const lines: string[] = [];
  // Every field that has a deeper field with an error of its own: one pass over the fields' parents,
  // so that the work stays linear in the number of errors (issue 16, finding 1).
  const parents = new Set<string>();
  for (const field of byField.keys()) for (const parent of parentsOf(field)) parents.add(parent);
  const listedFields: string[] = [];
  for (const [field, entry] of byField) {
    // A union whose value failed inside one branch (rate_limit.requests) and by type in the others
    // ("rate_limit: must be null"): the deeper message says what is wrong, the other would mislead.
    const onlyTypes = entry.other.length === 0 && entry.allowed.length === 0;
    if (onlyTypes && parents.has(field)) continue;
    listedFields.push(field);
    const parts = [...new Set(entry.other)];
    if (entry.allowed.length > 0) parts.unshift(`must be one of ${[...new Set(entry.allowed)].join(', ')}`);
    else if (entry.types.length > 0 && parts.length === 0)
      parts.unshift(`must be ${[...new Set(entry.types)].join(' or ')}`);
    if (parts.length === 0) parts.push('is not valid');
    lines.push(`${field}: ${parts.join('; ')}`);
  }
  const listed = lines.slice(0, MAX_LISTED);
  if (errors.length > MAX_ERRORS_READ) listed.push('... and more');
  else if (lines.length > MAX_LISTED) listed.push(`... and ${lines.length - MAX_LISTED} more`);
  const firstField = listedFields[0] ?? 'body';
  return { detail: `Invalid request: ${listed.join('; ')}`, firstField };
}

/** "messages[3].content[0]" → "messages[3].content", "messages[3]", "messages". */
function parentsOf(field: string): string[] {
  const parents: string[] = [];
  for (let index = field.length - 1; index > 0; index--) {
    const char = field[index];
    if (char === '.' || char === '[') parents.push(field.slice(0, index));
  }
  return parents;
}
