import { randomBytes } from 'node:crypto';
import type { EmbeddedStore } from '../state/embedded/embedded-store.js';
import { generateApiKey, sha256Hex } from './api-key.js';
import type { Authenticator } from './authenticator.js';

/**
 * On a first start with no key anywhere, creates one so that the gateway is never open to everyone.
 * Returns the new key (to be shown once) or null when keys already exist. Only the hash is stored.
 */
export function ensureFirstKey(
  authenticator: Authenticator,
  store: EmbeddedStore,
): { id: string; key: string } | null {
  if (!authenticator.hasNoKeys()) return null;
  const key = generateApiKey();
  const id = `key_${randomBytes(8).toString('hex')}`;
  store.insertKey({
    id,
    name: 'first-start',
    sha256: sha256Hex(key),
    createdAt: new Date().toISOString(),
    expiresAt: null,
    revokedAt: null,
    models: null,
    rateLimit: null,
    metadata: {},
    source: 'store',
  });
  return { id, key };
}
