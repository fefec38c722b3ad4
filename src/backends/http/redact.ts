/** What a removed secret reads as. */
export const REDACTED = '[redacted]';

/** A credential after an auth scheme, whoever's it is: an upstream that echoes headers shows these. */
const CREDENTIAL = /\b(Bearer|Basic)\s+[^\s"'`,;]+/gi;

/**
 * Removes secrets from text an upstream sent (issue 16, finding 6): each of `secrets` wherever it
 * appears, and any `Bearer …`/`Basic …` credential. `secrets` must be ordered longest first, so that a
 * secret containing another is removed whole. Runs on error paths only, never per chunk of an answer.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.replaceAll(secret, REDACTED);
  }
  return out.replace(CREDENTIAL, (_whole, scheme: string) => `${scheme} ${REDACTED}`);
}
