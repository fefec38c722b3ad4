/**
 * Stored responses (`store: true`, OpenAI's default): each completed or incomplete response with the
 * conversation it answered, so that `previous_response_id` continues it, GET reads it and DELETE
 * removes it. Kept in the gateway's key-value store (Redis or SQLite) for responses.store_ttl_seconds,
 * under the API key that created it: another key sees nothing (404).
 *
 * A record holds the response and its input items already flattened (the previous response's
 * conversation, then this request's items with item_references replaced), so that continuing a
 * conversation reads one record, never a chain.
 */
import type { KeyValueStore } from '../../state/kv-store.js';
import { isResponseId } from './ids.js';
import type { Item } from './to-conversation.js';

export interface StoredResponse {
  /** The `response` object as it was answered. */
  readonly response: Readonly<Record<string, unknown>>;
  /** Every input item of the conversation this response answered, in order. */
  readonly input: readonly Item[];
}

/** Larger records are not stored (and said so in the log): a conversation grows with each turn. */
export const MAX_STORED_BYTES = 4 * 1024 * 1024;

export type PutResult = { readonly stored: true } | { readonly stored: false; readonly bytes: number };

export class ResponseStore {
  constructor(
    private readonly kv: KeyValueStore,
    readonly maxBytes = MAX_STORED_BYTES,
  ) {}

  /** The record of a response of this API key; null if there is none (unknown, expired, another key's). */
  async get(keyId: string, responseId: string): Promise<StoredResponse | null> {
    if (!isResponseId(responseId)) return null;
    const json = await this.kv.get(storageKey(keyId, responseId));
    if (json === null) return null;
    try {
      const record = JSON.parse(json) as StoredResponse;
      return typeof record.response === 'object' && Array.isArray(record.input) ? record : null;
    } catch {
      return null; // a record we cannot read is none
    }
  }

  /** Stores the record unless its JSON is over the bound. */
  async put(keyId: string, record: StoredResponse, ttlSeconds: number): Promise<PutResult> {
    const id = record.response['id'];
    if (typeof id !== 'string' || !isResponseId(id)) throw new Error('a stored response needs its resp_ id');
    const json = JSON.stringify(record);
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > this.maxBytes) return { stored: false, bytes };
    await this.kv.set(storageKey(keyId, id), json, ttlSeconds);
    return { stored: true };
  }

  async delete(keyId: string, responseId: string): Promise<boolean> {
    if (!isResponseId(responseId)) return false;
    return this.kv.delete(storageKey(keyId, responseId));
  }
}

/** `gw-resp:<key id>:<response id>`: one key's responses under one prefix. */
export function storageKey(keyId: string, responseId: string): string {
  return `gw-resp:${encodeURIComponent(keyId)}:${responseId}`;
}
