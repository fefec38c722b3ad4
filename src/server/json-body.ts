import { isUtf8 } from 'node:buffer';
import secureJson from 'secure-json-parse';
import { InvalidRequestError } from '../errors/errors.js';

export const MAX_JSON_DEPTH = 64;

/**
 * Parses a request body as JSON, refusing what JSON.parse would accept but the gateway must not:
 * invalid UTF-8 (which would otherwise be silently replaced), prototype-poisoning keys, and nesting so
 * deep that re-serialising it for the upstream would overflow the stack.
 */
export function parseJsonBody(body: Buffer): unknown {
  return parseJsonText(body).value;
}

/** parseJsonBody, with the text it parsed. */
export function parseJsonText(body: Buffer): { value: unknown; text: string } {
  if (!isUtf8(body)) throw new InvalidRequestError('The request body is not valid UTF-8');
  const depth = nestingDepth(body);
  if (depth > MAX_JSON_DEPTH) {
    throw new InvalidRequestError(`The request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  const text = body.toString('utf8');
  if (text.trim() === '') throw new InvalidRequestError('The request body is empty; send a JSON object');
  try {
    const value: unknown = secureJson.parse(text, undefined, {
      protoAction: 'error',
      constructorAction: 'error',
    });
    return { value, text };
  } catch (error) {
    const message = error instanceof Error ? error.message : '';
    if (/forbidden/i.test(message)) {
      throw new InvalidRequestError(
        'The request body contains a forbidden property name (__proto__ or constructor.prototype)',
      );
    }
    // Only the position: V8's message quotes the body around the error, and the body may be a prompt.
    const position = /at position (\d+)/.exec(message)?.[1];
    throw new InvalidRequestError(
      position === undefined
        ? 'The request body is not valid JSON'
        : `The request body is not valid JSON (error at byte ${position})`,
    );
  }
}

/** Deepest nesting of [ and { outside strings; stops counting once past the limit. */
function nestingDepth(body: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < body.length; index++) {
    const byte = body[index];
    if (inString) {
      if (byte === 0x5c) index++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x5b || byte === 0x7b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > MAX_JSON_DEPTH) return deepest;
      }
    } else if (byte === 0x5d || byte === 0x7d) {
      depth--;
    }
  }
  return deepest;
}
