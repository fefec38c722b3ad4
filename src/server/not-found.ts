import type { FastifyInstance, RouteOptions } from 'fastify';
import { MethodNotAllowedError, RouteNotFoundError } from '../errors/errors.js';
import { requestPath } from './request-state.js';

/**
 * Fastify answers an unknown method on a known path with 404; HTTP says 405 with an Allow header
 * (RFC 9110 §15.5.6). The route table collected here tells which it is.
 */
export function installNotFound(app: FastifyInstance): void {
  const routes: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const source =
      '^' +
      route.url
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/:[^/]+/g, '[^/]+')
        .replace(/\*/g, '.*') +
      '$';
    let entry = routes.find((candidate) => candidate.pattern.source === source);
    if (entry === undefined) {
      entry = { pattern: new RegExp(source), methods: new Set() };
      routes.push(entry);
    }
    for (const method of methods) entry.methods.add(method);
  });
  app.setNotFoundHandler((request) => {
    const path = requestPath(request);
    const allowed = new Set<string>();
    for (const route of routes)
      if (route.pattern.test(path)) for (const method of route.methods) allowed.add(method);
    if (allowed.size > 0) throw new MethodNotAllowedError(request.method, path, [...allowed].sort());
    throw new RouteNotFoundError(request.method, path);
  });
}
