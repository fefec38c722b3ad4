import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { bearerToken, digestsEqual, sha256Hex } from '../auth/api-key.js';
import { AuthenticationError } from '../errors/errors.js';
import type { PrometheusMetrics } from './metrics.js';

/** True when no token is configured, or the request carries it as `Authorization: Bearer <token>`. */
function authorized(headers: IncomingHttpHeaders, tokenSha256: string | null): boolean {
  if (tokenSha256 === null) return true;
  const token = bearerToken(headers.authorization);
  return token !== null && digestsEqual(sha256Hex(token), tokenSha256);
}

/** GET /metrics on the gateway's own port. */
export function registerMetricsRoute(
  app: FastifyInstance,
  metrics: PrometheusMetrics,
  tokenSha256: string | null,
): void {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['Health'],
        summary: 'Prometheus metrics (text format)',
        ...(tokenSha256 === null ? {} : { security: [{ metricsToken: [] }] }),
      },
    },
    async (request, reply) => {
      if (!authorized(request.headers, tokenSha256)) {
        throw new AuthenticationError("Invalid metrics token; send 'Authorization: Bearer <token>'");
      }
      const text = await metrics.render();
      return reply.type(metrics.contentType).header('cache-control', 'no-store').send(text);
    },
  );
}

/**
 * /metrics on a port of its own (metrics.port), so that it can stay off the public listener. Plain
 * node:http: one route, nothing else.
 */
export async function listenMetrics(
  metrics: PrometheusMetrics,
  tokenSha256: string | null,
  host: string,
  port: number,
): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end();
      return;
    }
    if (!authorized(request.headers, tokenSha256)) {
      response
        .writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' })
        .end('invalid metrics token\n');
      return;
    }
    metrics.render().then(
      (text) => {
        response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      () => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics could not be collected\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : port };
}
