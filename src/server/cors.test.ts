import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fastify from 'fastify';
import { allowedRequestHeaders, registerCors } from './cors.js';

describe('registerCors', () => {
  it('adds no hook when no origin is listed: a gateway without CORS pays nothing per request', () => {
    const app = fastify();
    const hooks: string[] = [];
    app.addHook = (name: string) => {
      hooks.push(name);
      return app;
    };
    registerCors(app, []);
    assert.deepEqual(hooks, []);
    registerCors(app, ['https://app.example']);
    assert.deepEqual(hooks, ['onRequest']);
  });
});

describe('allowedRequestHeaders', () => {
  it('is the gateway’s own list when the preflight asks for nothing', () => {
    assert.equal(
      allowedRequestHeaders(undefined),
      'authorization, x-api-key, content-type, x-request-id, cache-control, traceparent, tracestate, anthropic-version',
    );
  });

  it('adds the SDK headers asked for, once each and in lower case, and nothing else', () => {
    const allowed = allowedRequestHeaders(
      'X-Stainless-Lang, x-stainless-lang, anthropic-beta, authorization, cookie, x-forwarded-for',
    ).split(', ');
    assert.deepEqual(allowed.slice(-2), ['x-stainless-lang', 'anthropic-beta']);
    assert.equal(allowed.filter((name) => name === 'authorization').length, 1);
    assert.ok(!allowed.includes('cookie') && !allowed.includes('x-forwarded-for'));
  });

  it('reads at most 64 names of a long list', () => {
    const requested = Array.from({ length: 10_000 }, (_, index) => `x-stainless-h${index}`).join(',');
    const added = allowedRequestHeaders(requested)
      .split(', ')
      .filter((name) => name.startsWith('x-stainless-'));
    assert.equal(added.length, 64);
  });
});
