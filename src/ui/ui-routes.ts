/**
 * The admin web UI (issue 22): its pages at /ui (one index.html for every client-side route, hashed
 * assets under /ui/assets/) and its sign-in at /ui/api/session. A plugin of its own with no hook: the
 * chat routes never run any of this.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import {
  AuthenticationError,
  ForbiddenError,
  GatewayError,
  RouteNotFoundError,
  ServiceUnavailableError,
} from '../errors/errors.js';
import { requestPath } from '../server/request-state.js';
import { errorResponses } from '../server/routes/openapi-fragments.js';
import { chooseEncoding, StaticAssets, type StaticFile } from './static-assets.js';
import { SESSION_COOKIE, cookieValue, csrfMatches, type UiSession, type UiSessions } from './ui-sessions.js';

export interface UiRoutesOptions {
  readonly adminTokenSha256: string | null;
  readonly viewerTokenSha256: string | null;
  readonly authenticator: Pick<Authenticator, 'authenticateOperator'>;
  readonly sessions: UiSessions;
  /** The built UI; dist/web-ui by default. */
  readonly assets?: StaticAssets;
}

/**
 * Nothing from another origin: the bundle carries its own scripts, styles and fonts. Styles set from
 * script (element.style) are not inline styles in CSP's sense and need no 'unsafe-inline'.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

const NOT_BUILT = 'The admin UI is not built: run `npm run build:ui` (npm ci builds it) and reload this page';

const tags = ['UI'];

const SessionSchema = Type.Object(
  {
    role: Type.Union([Type.Literal('admin'), Type.Literal('viewer')]),
    csrf_token: Type.String({ description: 'Send as x-csrf-token with every change' }),
    expires_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export async function registerUiRoutes(app: FastifyInstance, options: UiRoutesOptions): Promise<void> {
  await app.register((instance, _pluginOptions, done) => {
    uiPlugin(instance, options);
    done();
  });
}

function uiPlugin(app: FastifyInstance, options: UiRoutesOptions): void {
  const assets = options.assets ?? new StaticAssets();
  const { sessions } = options;

  const sessionOf = async (request: FastifyRequest): Promise<{ id: string; session: UiSession } | null> => {
    const id = cookieValue(request.headers.cookie, SESSION_COOKIE);
    if (id === undefined) return null;
    let session: UiSession | null;
    try {
      session = await sessions.find(id);
    } catch {
      throw new ServiceUnavailableError('The session store is unavailable; retry shortly', 1);
    }
    return session === null ? null : { id, session };
  };

  app.post<{ Body: { token: string } }>(
    '/ui/api/session',
    {
      schema: {
        tags,
        summary: 'Sign in to the admin UI with the admin or viewer token: sets an HttpOnly session cookie',
        body: Type.Object(
          { token: Type.String({ minLength: 1, maxLength: 1024 }) },
          { additionalProperties: false },
        ),
        response: { 201: SessionSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const admin = options.adminTokenSha256;
      if (admin === null)
        throw new GatewayError(
          'not_found',
          'No admin token is configured (auth.admin_token_sha256 or GATEWAY_ADMIN_TOKEN): the admin UI needs one',
        );
      // 401 for a wrong token, 429 once the address has failed too often: the admin API's budget.
      const role = options.authenticator.authenticateOperator(request.body.token, request.ip, {
        admin,
        viewer: options.viewerTokenSha256,
      });
      let created: { id: string; session: UiSession };
      try {
        created = await sessions.create(role);
      } catch {
        throw new ServiceUnavailableError('The session store is unavailable; retry shortly', 1);
      }
      request.log.info({ role }, 'ui signed in');
      return reply
        .code(201)
        .header('set-cookie', sessionCookie(request, created.id, created.session.expiresAt))
        .header('cache-control', 'no-store')
        .type('application/json')
        .send(JSON.stringify(sessionView(created.session)));
    },
  );

  app.get(
    '/ui/api/session',
    {
      schema: {
        tags,
        summary: 'The signed-in role and its CSRF token; 401 without a live session',
        response: { 200: SessionSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const found = await sessionOf(request);
      if (found === null) throw new AuthenticationError('Not signed in, or the session has expired');
      return reply
        .header('cache-control', 'no-store')
        .type('application/json')
        .send(JSON.stringify(sessionView(found.session)));
    },
  );

  app.delete(
    '/ui/api/session',
    {
      schema: {
        tags,
        summary: 'Sign out: ends the session (x-csrf-token required) and clears its cookie',
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const found = await sessionOf(request);
      if (found !== null) {
        if (!csrfMatches(found.session, request.headers['x-csrf-token']))
          throw new ForbiddenError('Signing out needs the x-csrf-token header');
        await sessions.delete(found.id).catch(() => undefined);
      }
      return reply
        .code(204)
        .header('set-cookie', sessionCookie(request, '', 0))
        .header('cache-control', 'no-store')
        .send();
    },
  );

  const sendFile = (request: FastifyRequest, reply: FastifyReply, file: StaticFile): FastifyReply => {
    reply.header('etag', file.etag).header('vary', 'accept-encoding').type(file.type);
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    const encoding = chooseEncoding(file, request.headers['accept-encoding']);
    if (encoding !== null) reply.header('content-encoding', encoding);
    return reply.send(encoding === 'br' ? file.brotli : encoding === 'gzip' ? file.gzip : file.body);
  };

  const page = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const index = assets.get('index.html');
    if (index === null) throw new ServiceUnavailableError(NOT_BUILT);
    reply.headers(PAGE_HEADERS).header('cache-control', 'no-cache');
    return sendFile(request, reply, index);
  };

  app.get('/ui', { schema: { tags, summary: 'The admin web UI' } }, page);
  app.get<{ Params: { '*': string } }>('/ui/*', { schema: { hide: true } }, async (request, reply) => {
    const path = request.params['*'];
    if (path.startsWith('api/')) throw new RouteNotFoundError(request.method, requestPath(request));
    if (!path.startsWith('assets/')) return page(request, reply);
    const file = assets.get(path);
    if (file === null) {
      if (!assets.built) throw new ServiceUnavailableError(NOT_BUILT);
      throw new RouteNotFoundError(request.method, requestPath(request));
    }
    reply
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff');
    return sendFile(request, reply, file);
  });
}

function sessionView(session: UiSession): Record<string, string> {
  return {
    role: session.role,
    csrf_token: session.csrfToken,
    expires_at: new Date(session.expiresAt).toISOString(),
  };
}

/** The session cookie (an empty value and expiresAt 0 clear it). */
function sessionCookie(request: FastifyRequest, value: string, expiresAt: number): string {
  const maxAge = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
  return [
    `${SESSION_COOKIE}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${maxAge}`,
    `Expires=${new Date(maxAge === 0 ? 0 : expiresAt).toUTCString()}`,
    ...(request.protocol === 'https' ? ['Secure'] : []),
  ].join('; ');
}
