import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  AuthenticationError,
  GatewayError,
  InvalidRequestError,
  ModelNotAllowedError,
  PROBLEM_KINDS,
  PayloadTooLargeError,
  RateLimitExceededError,
  ServiceUnavailableError,
  UpstreamTimeoutError,
  type ErrorCode,
} from '../../errors/errors.js';
import { anthropicErrorShape, anthropicErrorType } from './errors.js';

describe("errors in Anthropic's shape", () => {
  it('has the documented error body shape', () => {
    const documented = JSON.parse(
      readFileSync(new URL('./fixtures/error-not-found.json', import.meta.url), 'utf8'),
    ) as Record<string, unknown>;
    const { contentType, body } = anthropicErrorShape(
      new GatewayError('not_found', 'The requested resource could not be found.'),
      '/v1/messages',
      'req_011CSHoEeqs5C35K2UUqR7Fy',
    );
    assert.equal(contentType, 'application/json');
    assert.deepEqual(JSON.parse(body), documented);
  });

  it('maps each gateway error to the type Anthropic uses for that status', () => {
    const cases: [GatewayError, string][] = [
      [new InvalidRequestError('bad'), 'invalid_request_error'],
      [new AuthenticationError('Invalid API key'), 'authentication_error'],
      [new ModelNotAllowedError('m'), 'permission_error'],
      [new GatewayError('model_not_found', 'no'), 'not_found_error'],
      [new PayloadTooLargeError(10), 'request_too_large'],
      // Fastify's 413 while reading the body
      [new InvalidRequestError('too large', { status: 413 }), 'request_too_large'],
      [new RateLimitExceededError('slow down', { 'retry-after': '3' }), 'rate_limit_error'],
      [new GatewayError('internal_error', 'bug'), 'api_error'],
      [new GatewayError('upstream_error', 'bad gateway'), 'api_error'],
      [new ServiceUnavailableError('down', 1), 'overloaded_error'],
      // An overloaded upstream (an anthropic backend's 529): an upstream_error with the status 503
      [
        new GatewayError('upstream_error', 'overloaded', { status: 503, retryable: true }),
        'overloaded_error',
      ],
      [new UpstreamTimeoutError('slow'), 'timeout_error'],
      // An upstream 422 keeps its status and is a client error
      [new GatewayError('invalid_request', 'unprocessable', { status: 422 }), 'invalid_request_error'],
    ];
    for (const [error, type] of cases) assert.equal(anthropicErrorType(error), type, error.code);
  });

  it('has a type for every error code of the gateway', () => {
    for (const code of Object.keys(PROBLEM_KINDS) as ErrorCode[])
      assert.match(anthropicErrorType(new GatewayError(code, 'x')), /_error$|^request_too_large$/, code);
  });
});
