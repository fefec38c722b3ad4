/**
 * Calls to the gateway's admin API from the page. The session is the HttpOnly cookie the browser sends
 * by itself; the page holds only the CSRF token, in memory, and sends it with every change.
 */

export type Role = 'admin' | 'viewer';

export interface Session {
  role: Role;
  csrf_token: string;
  expires_at: string;
}

/** A problem+json answer (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly code: string | null = null,
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

let csrfToken: string | null = null;
let onSignedOut: () => void = () => undefined;

export function useSession(session: Session | null): void {
  csrfToken = session?.csrf_token ?? null;
}

/** Called when the server says the session is gone (expired, signed out elsewhere). */
export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback;
}

async function problemOf(response: Response): Promise<ApiError> {
  let detail = `${String(response.status)} ${response.statusText}`;
  let code: string | null = null;
  try {
    const body = (await response.json()) as { detail?: unknown; error?: { code?: unknown } };
    if (typeof body.detail === 'string') detail = body.detail;
    if (typeof body.error?.code === 'string') code = body.error.code;
  } catch {
    // not JSON: the status line says enough
  }
  return new ApiError(response.status, detail, code);
}

/** The answer's JSON, as sent (the pages say what they expect of it); undefined for 204. */
export async function api(method: string, path: string, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    throw new ApiError(
      0,
      `The gateway did not answer (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (!response.ok) {
    const problem = await problemOf(response);
    if (response.status === 401 && !path.startsWith('/ui/api/session')) onSignedOut();
    throw problem;
  }
  if (response.status === 204) return undefined;
  return (await response.json()) as unknown;
}

export const get = (path: string): Promise<unknown> => api('GET', path);

export async function signIn(token: string): Promise<Session> {
  return (await api('POST', '/ui/api/session', { token })) as Session;
}

export async function currentSession(): Promise<Session | null> {
  try {
    return (await api('GET', '/ui/api/session')) as Session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function signOut(): Promise<void> {
  await api('DELETE', '/ui/api/session');
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.detail;
  return error instanceof Error ? error.message : String(error);
}
