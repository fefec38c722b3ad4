import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from '../errors/errors.js';

/**
 * Request targets the gateway refuses before routing (issue 16, finding 13). Fastify decodes the path
 * before matching it, and routes absolute-form targets by their path: `/%6Detrics` reached /metrics and
 * `GET http://x/metrics` too, past a reverse proxy whose rules match the path as sent. A target is
 * accepted only in origin-form (RFC 9112 §3.2.1), with a path a proxy reads as the gateway does: no
 * percent-encoded unreserved character (RFC 3986 §2.3 says to send them as they are) or slash, no dot
 * segment, no empty segment.
 */

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const QUESTION = 0x3f;
const HASH = 0x23;

/**
 * Model ids contain `/` (meta-llama/Llama-3.1-8B), which the openai SDK's models.retrieve sends as %2F:
 * after this prefix an encoded slash is part of the id. Proxy and gateway still agree on the route, which
 * the literal prefix decides (GET /v1/models/{id}).
 */
const MODEL_PATH = '/v1/models/';

/** Null when the target is acceptable, else what the client should fix. One pass over the string. */
export function requestTargetProblem(target: string): string | null {
  if (target.charCodeAt(0) !== SLASH) {
    return 'The request target must be a path starting with / (origin-form), not an absolute URL or *';
  }
  const encodedSlashAllowed = target.startsWith(MODEL_PATH);
  const length = target.length;
  for (let index = 0; index < length; index++) {
    const code = target.charCodeAt(index);
    if (code === QUESTION || code === HASH) return null;
    if (code === SLASH) {
      const next = index + 1 < length ? target.charCodeAt(index + 1) : -1;
      if (next === SLASH) return 'The path must not contain an empty segment (//)';
      if (next === DOT && isDotSegment(target, index + 1)) {
        return 'The path must not contain . or .. segments; send the path they resolve to';
      }
    } else if (code === PERCENT) {
      const decoded = hexByte(target, index + 1);
      if (decoded === SLASH) {
        if (encodedSlashAllowed) continue;
        return 'The path must not contain an encoded slash (%2F)';
      }
      if (decoded !== null && isUnreserved(decoded)) {
        return `The path must not percent-encode '${String.fromCharCode(decoded)}' (${target.slice(index, index + 3)}); send it as it is`;
      }
    }
  }
  return null;
}

/** `.` or `..` from `start` up to the next `/`, `?`, `#` or the end. */
function isDotSegment(target: string, start: number): boolean {
  let end = start + 1;
  if (target.charCodeAt(end) === DOT) end++;
  if (end >= target.length) return true;
  const after = target.charCodeAt(end);
  return after === SLASH || after === QUESTION || after === HASH;
}

function hexByte(target: string, start: number): number | null {
  const high = hexDigit(target.charCodeAt(start));
  const low = hexDigit(target.charCodeAt(start + 1));
  return high === null || low === null ? null : high * 16 + low;
}

function hexDigit(code: number): number | null {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return null;
}

/** ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 §2.3). */
function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === DOT ||
    code === 0x5f ||
    code === 0x7e
  );
}

/** The onRequest hook that answers 400 to such targets; added right after the request state exists. */
export function refuseUnusualTargets(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const problem = requestTargetProblem(request.raw.url ?? '');
    if (problem === null) done();
    else done(new InvalidRequestError(problem));
  });
}
