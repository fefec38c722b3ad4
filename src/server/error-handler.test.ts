import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { InternalError, InvalidRequestError, PayloadTooLargeError, toProblem } from '../errors/errors.js';
import { toGatewayError } from './error-handler.js';

const request = { headers: { 'content-type': 'text/plain' } } as unknown as FastifyRequest;

describe('toGatewayError', () => {
  it('turns an unexpected error into a 500 whose body says nothing of its message or stack', () => {
    const bug = new TypeError('secret internal detail at /srv/app/x.js:10');
    const mapped = toGatewayError(bug, request, 1024);
    assert.ok(mapped instanceof InternalError);
    const problem = toProblem(mapped, '/v1/chat/completions', 'req-1');
    const text = JSON.stringify(problem);
    assert.equal(problem.status, 500);
    assert.ok(!text.includes('secret internal detail'));
    assert.ok(!text.includes('x.js'));
    assert.equal(problem.error.code, 'internal_error');
  });

  it("maps Fastify's body-too-large error to 413 naming the limit", () => {
    const mapped = toGatewayError(
      Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }),
      request,
      1024,
    );
    assert.ok(mapped instanceof PayloadTooLargeError);
    assert.match(mapped.message, /1024 bytes/);
  });

  it('keeps a GatewayError as it is', () => {
    const original = new InvalidRequestError('bad', { param: 'model' });
    assert.equal(toGatewayError(original, request, 1024), original);
  });
});
