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
  const shape = shapeOf(body);
  if (shape.depth > MAX_JSON_DEPTH) {
    throw new InvalidRequestError(`The request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  if (shape.members > MAX_OBJECT_MEMBERS) {
    throw new InvalidRequestError(
      `The request body has an object with more than ${MAX_OBJECT_MEMBERS} members; send fewer fields`,
    );
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

/**
 * Members one JSON object may have. Parsing objects with very many distinct keys is what costs V8 the
 * most per byte (one object of 500,000 keys: about a second of a blocked event loop; issue 16,
 * finding 1), and no request of this API needs more.
 */
export const MAX_OBJECT_MEMBERS = 1_000;

/**
 * One pass over the bytes outside strings: the deepest nesting of [ and {, and the most members of one
 * object; stops once either is past its limit.
 */
function shapeOf(body: Buffer): { depth: number; members: number } {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  // Per open container: its members so far, or -1 for an array.
  const members = new Int32Array(MAX_JSON_DEPTH + 2);
  for (let index = 0; index < body.length; index++) {
    const byte = body[index];
    if (inString) {
      if (byte === 0x5c) index++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x3a) {
      // A colon outside strings ends one member's name.
      const count = (members[depth] ?? 0) + 1;
      members[depth] = count;
      if (count > MAX_OBJECT_MEMBERS) return { depth: deepest, members: count };
    } else if (byte === 0x5b || byte === 0x7b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > MAX_JSON_DEPTH) return { depth: deepest, members: 0 };
      }
      members[depth] = 0;
    } else if (byte === 0x5d || byte === 0x7d) {
      if (depth > 0) depth--;
    }
  }
  return { depth: deepest, members: 0 };
}
