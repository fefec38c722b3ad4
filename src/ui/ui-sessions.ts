/**
 * Sessions of the admin web UI (issue 22). Signing in with the admin or viewer token gives a random
 * session id, sent back only as an HttpOnly cookie; the token itself is never kept by the page.
 *
 * Sessions live in the gateway's key-value store (src/state/kv-store.ts): Redis when one is configured,
 * so that every worker and every instance knows every session, else the embedded SQLite file (one
 * instance). Only the SHA-256 of a session id is stored, so whoever reads the store cannot use what
 * they read. An entry expires with its session (the store's TTL) and is deleted on sign-out.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../auth/api-key.js';
import type { OperatorRole } from '../auth/authenticator.js';
import type { KeyValueStore } from '../state/kv-store.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'gw_ui_session';

export interface UiSession {
  readonly role: OperatorRole;
  /** Sent by the page as `x-csrf-token` with every change. */
  readonly csrfToken: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

export interface UiSessionsOptions {
  readonly store: KeyValueStore;
  /** How long a session lasts (ui.session_ttl_ms). */
  readonly ttlMs: number;
  readonly now?: () => number;
}

const KEY_PREFIX = 'ui-session:';

export class UiSessions {
  private readonly now: () => number;

  constructor(private readonly options: UiSessionsOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A new session for this role: its id (for the cookie only) and what the page may know. */
  async create(role: OperatorRole): Promise<{ id: string; session: UiSession }> {
    const id = randomBytes(32).toString('base64url');
    const session: UiSession = {
      role,
      csrfToken: randomBytes(24).toString('base64url'),
      expiresAt: this.now() + this.options.ttlMs,
    };
    await this.options.store.set(
      storeKey(id),
      JSON.stringify({ role, csrf: session.csrfToken, expires_at: session.expiresAt }),
      Math.ceil(this.options.ttlMs / 1000),
    );
    return { id, session };
  }

  /** The live session of this id; null when there is none or it has expired. */
  async find(id: string): Promise<UiSession | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
    const text = await this.options.store.get(storeKey(id));
    if (text === null) return null;
    const stored = parseStored(text);
    if (stored === null || stored.expiresAt <= this.now()) return null;
    return stored;
  }

  async delete(id: string): Promise<void> {
    if (/^[A-Za-z0-9_-]{43}$/.test(id)) await this.options.store.delete(storeKey(id));
  }
}

function storeKey(id: string): string {
  return KEY_PREFIX + sha256Hex(id);
}

function parseStored(text: string): UiSession | null {
  try {
    const value = JSON.parse(text) as { role?: unknown; csrf?: unknown; expires_at?: unknown };
    if (
      (value.role !== 'admin' && value.role !== 'viewer') ||
      typeof value.csrf !== 'string' ||
      typeof value.expires_at !== 'number'
    )
      return null;
    return { role: value.role, csrfToken: value.csrf, expiresAt: value.expires_at };
  } catch {
    return null;
  }
}

/** The CSRF token a change carries equals the session's (compared in constant time). */
export function csrfMatches(session: UiSession, sent: string | string[] | undefined): boolean {
  if (typeof sent !== 'string') return false;
  const left = Buffer.from(sent);
  const right = Buffer.from(session.csrfToken);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The value of one cookie in a Cookie header; undefined when absent. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}
