import { createKey } from './key-factory.js';
import { hasNoKeys, type Authenticator } from './authenticator.js';
import type { KeyStore } from './key-store.js';

/**
 * On a first start with no key anywhere, creates one so that the gateway is never open to everyone.
 * Returns the new key (to be shown once) or null when keys already exist. Only the hash is stored.
 */
export async function ensureFirstKey(
  authenticator: Authenticator,
  store: KeyStore,
): Promise<{ id: string; key: string } | null> {
  if (!(await hasNoKeys(authenticator, store))) return null;
  const { key, record } = createKey({ name: 'first-start' });
  await store.create(record);
  return { id: record.id, key };
}
