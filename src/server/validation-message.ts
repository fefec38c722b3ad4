import type { FastifySchemaValidationError } from 'fastify';

const MAX_LISTED = 20;

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
  for (const error of errors) {
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
  const fields = [...byField.keys()];
  const listedFields: string[] = [];
  for (const [field, entry] of byField) {
    // A union whose value failed inside one branch (rate_limit.requests) and by type in the others
    // ("rate_limit: must be null"): the deeper message says what is wrong, the other would mislead.
    const onlyTypes = entry.other.length === 0 && entry.allowed.length === 0;
    if (onlyTypes && fields.some((other) => other.startsWith(`${field}.`) || other.startsWith(`${field}[`)))
      continue;
    listedFields.push(field);
    const parts = [...new Set(entry.other)];
    if (entry.allowed.length > 0) parts.unshift(`must be one of ${[...new Set(entry.allowed)].join(', ')}`);
    else if (entry.types.length > 0 && parts.length === 0)
      parts.unshift(`must be ${[...new Set(entry.types)].join(' or ')}`);
    if (parts.length === 0) parts.push('is not valid');
    lines.push(`${field}: ${parts.join('; ')}`);
  }
  const listed = lines.slice(0, MAX_LISTED);
  if (lines.length > MAX_LISTED) listed.push(`... and ${lines.length - MAX_LISTED} more`);
  const firstField = listedFields[0] ?? 'body';
  return { detail: `Invalid request: ${listed.join('; ')}`, firstField };
}
