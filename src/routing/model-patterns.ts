/** `*` matches every name, `prefix*` every name that starts with prefix, anything else only itself. */
export function matchesModelPattern(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

export function isModelAllowed(allowList: readonly string[] | null, name: string): boolean {
  return allowList === null || allowList.some((pattern) => matchesModelPattern(pattern, name));
}
