/**
 * The one place that decides who may use /admin (issue 22): the admin token as before, the read-only
 * viewer token (GET and HEAD only), or a session of the admin web UI (a cookie, with its CSRF token on
 * every change). Without an admin token configured every /admin route answers 404 as if it did not exist.
 */
import type { FastifyRequest } from 'fastify';
import { bearerToken } from '../auth/api-key.js';
import type { Authenticator, OperatorRole } from '../auth/authenticator.js';
import {
  AuthenticationError,
  ForbiddenError,
  RouteNotFoundError,
  ServiceUnavailableError,
} from '../errors/errors.js';
import { requestPath } from '../server/request-state.js';
import {
  SESSION_COOKIE,
  cookieValue,
  csrfMatches,
  type UiSession,
  type UiSessions,
} from '../ui/ui-sessions.js';

export interface AdminAccessOptions {
  /** auth.admin_token_sha256 (or GATEWAY_ADMIN_TOKEN's); null: /admin does not exist. */
  readonly adminTokenSha256: string | null;
  readonly viewerTokenSha256: string | null;
  readonly authenticator: Pick<Authenticator, 'authenticateOperator'>;
  /** The UI's sessions; null when the UI is off (a cookie then authenticates nothing). */
  readonly sessions: UiSessions | null;
}

/** Methods that change nothing: all a viewer may use. */
export function isReading(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

export const READ_ONLY_DETAIL =
  'The viewer token is read-only: this change needs the admin token (auth.admin_token_sha256)';

export class AdminAccess {
  constructor(private readonly options: AdminAccessOptions) {}

  /** onRequest hook of every /admin route. */
  readonly guard = async (request: FastifyRequest): Promise<void> => {
    await this.authorize(request);
  };

  /**
   * Who the request is from, or the error that refuses it: 404 without an admin token, 401 for a
   * missing or wrong token or an expired session (429 once an address has failed too often), 403 for
   * a change by a viewer or by a session without its CSRF token.
   */
  async authorize(request: FastifyRequest): Promise<OperatorRole> {
    const admin = this.options.adminTokenSha256;
    if (admin === null) throw new RouteNotFoundError(request.method, requestPath(request));
    const reading = isReading(request.method);
    const sessionId = this.sessionIdOf(request);
    if (request.headers.authorization !== undefined || sessionId === undefined) {
      // API clients: exactly the admin-token check of before, the viewer token besides.
      const role = this.options.authenticator.authenticateOperator(
        bearerToken(request.headers.authorization),
        request.ip,
        { admin, viewer: this.options.viewerTokenSha256 },
      );
      if (role === 'viewer' && !reading) throw new ForbiddenError(READ_ONLY_DETAIL);
      return role;
    }
    const session = await this.session(sessionId);
    if (session === null)
      throw new AuthenticationError('The UI session has expired or was signed out; sign in again');
    // A cookie rides along with any request the browser sends: a change must prove it comes from the
    // page, which alone knows the CSRF token (SameSite=Strict is the first line, this the second).
    if (!reading && !csrfMatches(session, request.headers['x-csrf-token']))
      throw new ForbiddenError('A change from a UI session needs its x-csrf-token header');
    if (session.role === 'viewer' && !reading) throw new ForbiddenError(READ_ONLY_DETAIL);
    return session.role;
  }

  /**
   * The operator's role when the request shows a valid credential, else null, never an error: for
   * answers that only add detail for operators (GET /health/ready). A wrong token still counts as a
   * failed authentication.
   */
  async roleOf(request: FastifyRequest): Promise<OperatorRole | null> {
    if (request.headers.authorization === undefined && this.sessionIdOf(request) === undefined) return null;
    try {
      return await this.authorize(request);
    } catch {
      return null;
    }
  }

  private sessionIdOf(request: FastifyRequest): string | undefined {
    if (this.options.sessions === null) return undefined;
    return cookieValue(request.headers.cookie, SESSION_COOKIE);
  }

  private async session(id: string): Promise<UiSession | null> {
    const sessions = this.options.sessions;
    if (sessions === null) return null;
    try {
      return await sessions.find(id);
    } catch {
      throw new ServiceUnavailableError('The session store is unavailable; retry shortly', 1);
    }
  }
}
