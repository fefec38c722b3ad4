import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GatewayError, UpstreamClientError, UpstreamError } from '../../errors/errors.js';
import { mapGoogleError, retryDelayOf, type GoogleErrorContext } from './errors.js';

const SECRET = 'AIzaSyTESTsecretKEY1234567890';
const CONTEXT: GoogleErrorContext = {
  backend: 'gem',
  credentials: 'its api_key',
  redact: (text) => text.replaceAll(SECRET, '[redacted]'),
};

function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

describe('mapGoogleError', () => {
  it('429 RESOURCE_EXHAUSTED: a retryable 429 with Retry-After from the body’s RetryInfo', () => {
    const error = mapGoogleError(429, fixture('error-429.json'), undefined, CONTEXT);
    assert.ok(error instanceof UpstreamClientError);
    assert.equal(error.status, 429);
    assert.equal(error.code, 'rate_limit_exceeded');
    assert.equal(error.retryable, true);
    assert.equal(error.retryAfterMs, 37_000);
    assert.deepEqual(error.headers, { 'retry-after': '37' });
    assert.match(error.message, /RESOURCE_EXHAUSTED/);
  });

  it('prefers a Retry-After header to the body', () => {
    const error = mapGoogleError(429, fixture('error-429.json'), '5', CONTEXT);
    assert.equal(error?.retryAfterMs, 5_000);
  });

  it('503 UNAVAILABLE: a retryable 503', () => {
    const error = mapGoogleError(503, fixture('error-503.json'), undefined, CONTEXT);
    assert.ok(error instanceof GatewayError);
    assert.equal(error.status, 503);
    assert.equal(error.code, 'service_unavailable');
    assert.equal(error.retryable, true);
    assert.match(error.message, /overloaded/);
  });

  it('500 INTERNAL: left to the generic mapping (a retryable 502)', () => {
    const body = JSON.stringify({
      error: { code: 500, message: 'An internal error has occurred.', status: 'INTERNAL' },
    });
    assert.equal(mapGoogleError(500, body, undefined, CONTEXT), undefined);
  });

  it('400 INVALID_ARGUMENT: the client’s 400 with Google’s message, secrets removed', () => {
    const error = mapGoogleError(400, fixture('error-400.json'), undefined, CONTEXT);
    assert.ok(error instanceof UpstreamClientError);
    assert.equal(error.status, 400);
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.retryable, false);
    assert.match(error.message, /contents is not specified/);
    const echoed = JSON.stringify({
      error: { code: 400, message: `bad key ${SECRET} here`, status: 'INVALID_ARGUMENT' },
    });
    assert.doesNotMatch(mapGoogleError(400, echoed, undefined, CONTEXT)?.message ?? '', new RegExp(SECRET));
  });

  it('an invalid API key (400 API_KEY_INVALID) and 401/403: 502, credentials refused, no message passed on', () => {
    for (const [status, body] of [
      [400, fixture('error-api-key.json')],
      [403, fixture('error-403.json')],
      [
        401,
        JSON.stringify({
          error: {
            code: 401,
            message: 'Request had invalid authentication credentials.',
            status: 'UNAUTHENTICATED',
          },
        }),
      ],
    ] as const) {
      const error = mapGoogleError(status, body, undefined, CONTEXT);
      assert.ok(error instanceof UpstreamError, String(status));
      assert.equal(error.status, 502);
      assert.equal(error.retryable, false);
      assert.match(error.message, /refused the gateway's credentials/);
      assert.match(error.message, /check its api_key/);
      assert.doesNotMatch(error.message, /aiplatform\.endpoints\.predict|Please pass/);
    }
  });

  it('404 NOT_FOUND: model_not_found', () => {
    const error = mapGoogleError(404, fixture('error-404.json'), undefined, CONTEXT);
    assert.equal(error?.status, 404);
    assert.equal(error?.code, 'model_not_found');
  });

  it('FAILED_PRECONDITION: the backend’s setup, a 502', () => {
    const body = JSON.stringify({
      error: {
        code: 400,
        message: 'User location is not supported for the API use.',
        status: 'FAILED_PRECONDITION',
      },
    });
    const error = mapGoogleError(400, body, undefined, CONTEXT);
    assert.equal(error?.status, 502);
    assert.equal(error?.code, 'upstream_error');
  });

  it('a body that is not Google’s: undefined, for the generic mapping', () => {
    assert.equal(mapGoogleError(502, '<html>Bad Gateway</html>', undefined, CONTEXT), undefined);
    assert.equal(mapGoogleError(400, '{"detail":"x"}', undefined, CONTEXT), undefined);
  });
});

describe('retryDelayOf', () => {
  it('reads protobuf durations and ignores what is not RetryInfo', () => {
    assert.equal(
      retryDelayOf([{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }]),
      1500,
    );
    assert.equal(retryDelayOf([{ '@type': 'type.googleapis.com/google.rpc.Help', retryDelay: '9s' }]), null);
    assert.equal(
      retryDelayOf([{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: 'soon' }]),
      null,
    );
    assert.equal(
      retryDelayOf([{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '999999999s' }]),
      86_400_000,
    );
  });
});
