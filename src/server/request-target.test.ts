import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestTargetProblem } from './request-target.js';

describe('requestTargetProblem', () => {
  it('accepts ordinary paths, with any query', () => {
    for (const target of [
      '/',
      '/metrics',
      '/v1/chat/completions',
      '/admin/keys/key_01%20x',
      '/admin/keys/a%3Ab',
      '/v1/models?x=%6D&y=//..',
      '/health/ready#..',
      '/v1/models/llama3.2:1b',
      '/files/.hidden',
      '/a/..b',
      '/a/b.',
    ]) {
      assert.equal(requestTargetProblem(target), null, target);
    }
  });

  it('refuses targets that are not origin-form', () => {
    for (const target of ['http://x/metrics', 'HTTPS://x/v1/models', '*', 'metrics', '']) {
      assert.match(requestTargetProblem(target) ?? '', /origin-form/, target);
    }
  });

  it('refuses percent-encoded unreserved characters, upper or lower case', () => {
    for (const target of [
      '/%6Detrics',
      '/%6detrics',
      '/v1/chat/%63ompletions',
      '/v1/%2e%2e/metrics',
      '/a%7Eb',
      '/a%5F',
      '/a%2D',
    ]) {
      assert.match(requestTargetProblem(target) ?? '', /must not percent-encode/, target);
    }
  });

  it('refuses an encoded slash', () => {
    for (const target of ['/v1%2Fchat/completions', '/v1%2fmodels', '/v1/models%2Fx', '/v1/chat/a%2Fb']) {
      assert.match(requestTargetProblem(target) ?? '', /%2F/, target);
    }
  });

  it("accepts an encoded slash in a model id after /v1/models/ (the openai SDK's models.retrieve)", () => {
    for (const target of ['/v1/models/meta-llama%2FLlama-3.1-8B', '/v1/models/a%2fb%2Fc?x=1']) {
      assert.equal(requestTargetProblem(target), null, target);
    }
    assert.match(requestTargetProblem('/v1/models/a%2F..%2F%2e%2e') ?? '', /must not percent-encode '\.'/);
    assert.match(requestTargetProblem('/v1/models/../metrics') ?? '', /\. or \.\. segments/);
  });

  it('refuses dot segments and empty segments', () => {
    for (const target of ['/./metrics', '/v1/../metrics', '/v1/..', '/v1/.', '/v1/..?x', '/v1/.#y']) {
      assert.match(requestTargetProblem(target) ?? '', /\. or \.\. segments/, target);
    }
    for (const target of ['//metrics', '/v1//models', '/v1/models//']) {
      assert.match(requestTargetProblem(target) ?? '', /empty segment/, target);
    }
  });
});
