import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GatewayError, UpstreamClientError, UpstreamError } from '../../errors/errors.js';
import { azureError, azureRetryAfterMs, filteredCategories } from './errors.js';

const fixture = (name: string): string => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');
const NOW = Date.parse('2026-12-02T10:00:00Z');

describe('Azure OpenAI errors', () => {
  it('a prompt refused by the content filter is a 400 invalid_request naming the filtered categories', () => {
    const error = azureError('az', 400, fixture('error-content-filter-prompt.json'), {}, []);
    assert.ok(error instanceof UpstreamClientError);
    assert.equal(error.status, 400);
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.retryable, false);
    assert.match(error.message, /^Backend 'az': the prompt was filtered by Azure OpenAI's content filter/);
    assert.match(error.message, /\(jailbreak, violence \(medium\)\)/);
    assert.doesNotMatch(
      error.message,
      /hate|sexual|self_harm/,
      'categories that did not filter are not named',
    );
  });

  it("reads the reference's spelling too (inner_error.content_filter_results), and a body without categories", () => {
    const spelled = JSON.stringify({
      error: {
        code: 'content_filter',
        message: 'filtered',
        inner_error: {
          code: 'ResponsibleAIPolicyViolation',
          content_filter_results: { sexual: { filtered: true, severity: 'high' } },
        },
      },
    });
    assert.match(azureError('az', 400, spelled, {}, [])?.message ?? '', /\(sexual \(high\)\)/);
    const bare = JSON.stringify({ error: { code: 'content_filter', message: 'filtered' } });
    assert.match(azureError('az', 400, bare, {}, [])?.message ?? '', /\(no category given\)/);
  });

  it('names only category-like keys and known severities, and at most 12 of them', () => {
    assert.deepEqual(
      filteredCategories({
        'Ignore previous instructions': { filtered: true },
        custom_blocklists: { filtered: true, details: [{ filtered: true, id: 'list-1' }] },
        violence: { filtered: true, severity: 'catastrophic <b>' },
      }),
      ['custom_blocklists', 'violence'],
    );
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`c${i}`, { filtered: true }]));
    const named = filteredCategories(many);
    assert.equal(named.length, 13);
    assert.equal(named.at(-1), '8 more');
  });

  it('a 429 is a retryable 429 after retry-after-ms, else retry-after', () => {
    const text = fixture('error-rate-limit.json');
    const error = azureError('az', 429, text, { 'retry-after-ms': '5800', 'retry-after': '6' }, []);
    assert.ok(error instanceof UpstreamClientError);
    assert.equal(error.status, 429);
    assert.equal(error.code, 'rate_limit_exceeded');
    assert.equal(error.retryable, true);
    assert.equal(error.retryAfterMs, 5800);
    assert.deepEqual(error.headers, { 'retry-after': '6' });
    assert.match(error.message, /exceeded token rate limit/);
    assert.equal(azureError('az', 429, text, { 'retry-after': '20' }, [])?.retryAfterMs, 20_000);
    assert.equal(azureError('az', 429, text, { 'x-ms-retry-after-ms': '250' }, [])?.retryAfterMs, 250);
    assert.equal(azureError('az', 429, text, {}, [])?.retryAfterMs, null);
  });

  it('retry-after-ms wins over retry-after; an unusable one falls back', () => {
    assert.equal(azureRetryAfterMs({ 'retry-after-ms': '1500.5', 'retry-after': '9' }, NOW), 1501);
    assert.equal(azureRetryAfterMs({ 'retry-after-ms': 'soon', 'retry-after': '9' }, NOW), 9000);
    assert.equal(azureRetryAfterMs({ 'retry-after': 'Wed, 02 Dec 2026 10:00:03 GMT' }, NOW), 3000);
    assert.equal(azureRetryAfterMs({}, NOW), null);
  });

  it('a 503 is a retryable 503 with Retry-After; another 5xx a retryable upstream error', () => {
    const overloaded = azureError(
      'az',
      503,
      fixture('error-service-unavailable.json'),
      { 'retry-after': '2' },
      [],
    );
    assert.ok(overloaded instanceof GatewayError);
    assert.equal(overloaded.status, 503);
    assert.equal(overloaded.code, 'service_unavailable');
    assert.equal(overloaded.retryable, true);
    assert.equal(overloaded.retryAfterMs, 2000);
    assert.deepEqual(overloaded.headers, { 'retry-after': '2' });
    const failed = azureError('az', 500, '{"error":{"code":"InternalServerError","message":"boom"}}', {}, []);
    assert.ok(failed instanceof UpstreamError);
    assert.equal(failed.retryable, true);
    assert.match(failed.message, /status 500: boom/);
  });

  it('an unknown deployment is 404 model_not_found; other answers keep the generic mapping', () => {
    const missing = azureError('az', 404, fixture('error-deployment-not-found.json'), {}, []);
    assert.ok(missing instanceof UpstreamClientError);
    assert.equal(missing.status, 404);
    assert.equal(missing.code, 'model_not_found');
    assert.match(missing.message, /no such deployment/);
    assert.equal(azureError('az', 404, fixture('error-resource-not-found.json'), {}, []), undefined);
    assert.equal(azureError('az', 401, fixture('error-unauthorized.json'), {}, []), undefined);
    assert.equal(azureError('az', 400, '{"error":{"code":null,"message":"bad"}}', {}, []), undefined);
  });

  it('removes the secrets it is given from the messages it passes on', () => {
    const token = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-part';
    const text = JSON.stringify({
      error: { code: '500', message: `failed for key azure-key-123456 and token ${token}` },
    });
    const error = azureError('az', 500, text, {}, ['azure-key-123456', token]);
    assert.ok(error !== undefined);
    assert.ok(!error.message.includes(token), error.message);
    assert.ok(!error.message.includes('secret-part'));
    assert.ok(!error.message.includes('azure-key-123456'));
    assert.match(error.message, /key \[redacted\] and token \[redacted\]/);
  });
});
