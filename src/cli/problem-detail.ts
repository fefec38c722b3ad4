/**
 * What to show of an admin API error answer: the problem's `detail` when the body is problem+json,
 * else the body's text as it is.
 */
export function problemDetail(text: string): string {
  try {
    return (JSON.parse(text) as { detail?: string } | null)?.detail ?? text;
  } catch {
    return text; // not problem+json: show the text
  }
}
