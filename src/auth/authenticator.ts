import type { IncomingHttpHeaders } from 'node:http';
import type { StaticKey } from '../config/config.js';
import { AuthenticationError } from '../errors/errors.js';
import type { EmbeddedStore } from '../state/embedded/embedded-store.js';
import { extractApiKey, sha256Hex } from './api-key.js';
import type { KeyRecord } from './key-record.js';

/**
 * Decides who a request is from. Keys are looked up by their SHA-256 (a Map lookup, so no comparison
 * of secrets happens at all, and nothing depends on how much of a guess was right): first the config's
 * static keys, then the state store.
 */
export class Authenticator {
  private readonly staticKeys = new Map<string, KeyRecord>();

  constructor(
    keys: readonly StaticKey[],
    private readonly store: EmbeddedStore,
  ) {
    for (const key of keys) {
      this.staticKeys.set(key.sha256, {
        id: key.id,
        name: key.name,
        sha256: key.sha256,
        createdAt: null,
        expiresAt: null,
        revokedAt: null,
        models: key.models,
        rateLimit: key.rateLimit,
        metadata: key.metadata,
        source: 'config',
      });
    }
  }

  authenticate(headers: IncomingHttpHeaders): KeyRecord {
    const hash = sha256Hex(extractApiKey(headers));
    const record = this.staticKeys.get(hash) ?? this.store.findKeyByHash(hash);
    if (record === null) throw new AuthenticationError('Invalid API key');
    if (record.revokedAt !== null) throw new AuthenticationError('Invalid API key');
    if (record.expiresAt !== null && Date.parse(record.expiresAt) <= Date.now()) {
      throw new AuthenticationError('This API key has expired');
    }
    return record;
  }

  /** True when no key exists anywhere, so the first start must create one. */
  hasNoKeys(): boolean {
    return this.staticKeys.size === 0 && this.store.countKeys() === 0;
  }
}
