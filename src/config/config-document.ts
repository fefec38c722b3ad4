import { LineCounter, parseDocument, type ErrorCode, type YAMLError } from 'yaml';

/**
 * Keys that reach an object's prototype when assigned (`auth: {__proto__: {enabled: false}}` would
 * turn auth off without a single own field failing validation); no config field has these names.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key);
}

export function forbiddenKeyProblem(path: string, key: string): string {
  return `${path}: the key '${key}' is not allowed in a config file (it would reach an object's prototype)`;
}

/**
 * What went wrong, in words that never quote the file: yaml's own messages carry the offending line,
 * and a config line may hold an inline secret (issue 16, finding 11).
 */
const REASONS: Partial<Record<ErrorCode, string>> = {
  BAD_INDENT: 'bad indentation',
  TAB_AS_INDENT: 'a tab used for indentation',
  DUPLICATE_KEY: 'a key used twice in one mapping',
  MISSING_CHAR: 'a closing bracket, brace or quote is missing',
  UNEXPECTED_TOKEN: 'unexpected characters',
  BLOCK_AS_IMPLICIT_KEY: 'a mapping where a plain value was expected (a value with ": " needs quotes)',
  MULTILINE_IMPLICIT_KEY: 'a key that runs over several lines',
  BAD_DQ_ESCAPE: 'an invalid escape in a double-quoted string',
  MULTIPLE_DOCS: 'more than one YAML document',
  BAD_ALIAS: 'an alias to an unknown anchor',
  RESOURCE_EXHAUSTION: 'too many aliases',
};

export type DocumentResult = { readonly value: unknown } | { readonly problems: readonly string[] };

/**
 * Parses a config file's YAML into plain data whose objects have no prototype, refusing the keys in
 * FORBIDDEN_KEYS wherever they appear. Problems name a line and column (or a field path), never text.
 */
export function parseConfigDocument(text: string, file: string): DocumentResult {
  // prettyErrors would append the offending source line to each message; positions come from here.
  const lines = new LineCounter();
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  if (document.errors.length > 0)
    return { problems: document.errors.map((error) => syntaxProblem(error, lines, file)) };
  let parsed: unknown;
  try {
    // Maps rather than objects: yaml would otherwise build objects with Object.prototype, and a
    // `__proto__` key would be one step away from setting it.
    parsed = document.toJS({ mapAsMap: true });
  } catch {
    return {
      problems: [`${file}: the YAML cannot be read (too many aliases, or an alias to an unknown anchor)`],
    };
  }
  const problems: string[] = [];
  const value = plainOf(parsed, '', problems);
  return problems.length > 0 ? { problems: problems.map((problem) => `${file}: ${problem}`) } : { value };
}

function syntaxProblem(error: YAMLError, lines: LineCounter, file: string): string {
  const reason =
    REASONS[error.code] ?? `YAML syntax error (${error.code.toLowerCase().replaceAll('_', ' ')})`;
  const position = lines.linePos(error.pos[0]);
  return `${file}: line ${position.line}, column ${position.col}: ${reason}`;
}

function plainOf(value: unknown, path: string, problems: string[]): unknown {
  if (Array.isArray(value)) return value.map((item, index) => plainOf(item, `${path}[${index}]`, problems));
  if (!(value instanceof Map)) return value;
  const out = Object.create(null) as Record<string, unknown>;
  for (const [rawKey, item] of value as Map<unknown, unknown>) {
    if (rawKey !== null && typeof rawKey === 'object') {
      problems.push(`${path === '' ? '(root)' : path}: a key must be a plain word, not a list or mapping`);
      continue;
    }
    const key = String(rawKey);
    const where = path === '' ? key : `${path}.${key}`;
    if (isForbiddenKey(key)) {
      problems.push(forbiddenKeyProblem(where, key));
      continue;
    }
    out[key] = plainOf(item, where, problems);
  }
  return out;
}
