/**
 * The model name a request is counted under in usage. A client may send any name; counted as sent,
 * 1,000 made-up names refused by a rate limit, or answered 404 by the upstream behind a `*` route,
 * made 1,000 (hour, key, model) cells kept for retention_days (issue 16, finding 5). So the client's
 * name is used only once it is known to be served:
 *
 * - it is the exact name of a configured route (not a pattern such as `*` or `gpt-*`): the config
 *   bounds those names;
 * - or an upstream answered this request for it (2xx: an answer or a stream's first chunk), or a
 *   stored answer did (the cache keeps only such answers): each such name cost an upstream answer.
 *
 * Otherwise the request is counted under the route it matched (its pattern: `*`, `gpt-*`), or under
 * OTHER_MODEL when it matched none or the key may not use the model (404, 403). Refusals (429, 403,
 * 404) and upstream failures for names never served thus add at most one cell per key, route and hour.
 */

/** Where requests that matched no route (or a model the key may not use) are counted. */
export const OTHER_MODEL = 'other';

/** What a finished request knows about its model (see RequestState). */
export interface ModelOutcome {
  /** The name the client sent. */
  readonly model: string;
  /** The configured route it matched; null when it matched none or was refused before routing. */
  readonly routeName: string | null;
  /** An upstream answered it (2xx), or a stored answer did. */
  readonly answered: boolean;
}

export function usageModel(outcome: ModelOutcome): string {
  if (outcome.routeName === null) return OTHER_MODEL;
  if (outcome.answered || outcome.model === outcome.routeName) return outcome.model;
  return outcome.routeName;
}
