import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { AuthenticationError } from '../errors/errors.js';

export const KEY_PREFIX = 'sk-gw-';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_BODY_LENGTH = 40;
/** What a plausible key looks like; anything else is refused before hashing. */
const KEY_SHAPE = /^[\x21-\x7e]{8,512}$/;

/** A new key: the prefix and 40 base62 characters from the CSPRNG (about 238 bits). */
export function generateApiKey(): string {
  let body = '';
  while (body.length < KEY_BODY_LENGTH) {
    for (const byte of randomBytes(64)) {
      // Rejection sampling keeps the characters uniform: 248 = 4 × 62.
      if (byte < 248 && body.length < KEY_BODY_LENGTH) body += BASE62.charAt(byte % 62);
    }
  }
  return KEY_PREFIX + body;
}

/** `key_` and 16 hex characters. */
export function newKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`;
}

/** Compares two hex digests in constant time (for the admin token, which is one value, not a look-up). */
export function digestsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

/**
 * The key a client sent, from `Authorization: Bearer <key>` or `x-api-key: <key>`.
 * Throws 401 for a missing or malformed header; never echoes what was sent.
 */
/** The token of `Authorization: Bearer <token>`; null when the header is absent or of another shape. */
export function bearerToken(authorization: string | undefined): string | null {
  if (authorization === undefined) return null;
  return /^Bearer +(\S+) *$/i.exec(authorization)?.[1] ?? null;
}

export function extractApiKey(headers: IncomingHttpHeaders): string {
  const authorization = headers.authorization;
  let key: string | undefined;
  if (authorization !== undefined) {
    const token = bearerToken(authorization);
    if (token === null)
      throw new AuthenticationError("Malformed Authorization header; send 'Authorization: Bearer <key>'");
    key = token;
  } else {
    const header = headers['x-api-key'];
    key = Array.isArray(header) ? header[0] : header;
  }
  if (key === undefined || key === '') {
    throw new AuthenticationError(
      "Missing API key; send 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
    );
  }
  if (!KEY_SHAPE.test(key)) throw new AuthenticationError('Malformed API key');
  return key;
}

/**
 * The first 8 characters of a key shaped like this gateway's keys, for logs; null for anything else
 * (an admin token or another secret sent by mistake must not leave any of its characters in a log).
 */
export function keyHint(key: string): string | null {
  return GATEWAY_KEY_SHAPE.test(key) ? key.slice(0, 8) : null;
}

/** A key as generateApiKey makes them. */
const GATEWAY_KEY_SHAPE = new RegExp(`^${KEY_PREFIX}[0-9A-Za-z]{${KEY_BODY_LENGTH}}$`);
