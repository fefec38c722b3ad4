/**
 * The client's parsers, on their own: server-sent events split anywhere, the rate-limit headers
 * (draft-ietf-httpapi-ratelimit-headers-10 and OpenAI's), Retry-After, the backoff, and error bodies.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../src/errors.js';
import { parseOpenAiDuration, parseRateLimit, parseRetryAfter, parseStructuredList } from '../src/headers.js';
import { SseParser } from '../src/sse.js';
import { backoffMs, retryDelayMs } from '../src/transport.js';

describe('SseParser', () => {
  const stream = 'data: {"a":1}\n\n: a comment\nevent: note\ndata: two\ndata: lines\n\ndata: [DONE]\n\n';

  it('reads events, comments, event names and multi-line data', () => {
    const events = new SseParser().push(stream);
    assert.deepEqual(
      events.map(({ event, data }) => ({ event, data })),
      [
        { event: 'message', data: '{"a":1}' },
        { event: 'note', data: 'two\nlines' },
        { event: 'message', data: '[DONE]' },
      ],
    );
  });

  it('gives the same events whatever the chunking, with \\n, \\r\\n or \\r line ends', () => {
    for (const ending of ['\n', '\r\n', '\r']) {
      const text = stream.replaceAll('\n', ending);
      const whole = new SseParser().push(text);
      for (let size = 1; size <= 7; size++) {
        const parser = new SseParser();
        const events = [];
        for (let at = 0; at < text.length; at += size) events.push(...parser.push(text.slice(at, at + size)));
        assert.deepEqual(events, whole, `ending ${JSON.stringify(ending)}, chunks of ${size}`);
      }
      assert.equal(whole.length, 3);
    }
  });

  it('drops an event that is not ended by a blank line', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push('data: half'), []);
    parser.end();
    assert.deepEqual(parser.push('\n\n'), []);
  });
});

describe('rate-limit headers', () => {
  it('reads RateLimit-Policy and RateLimit, several limits, and x-ratelimit-*', () => {
    const headers = new Headers({
      'ratelimit-policy': '"requests";q=100;w=60, "tokens";q=20000;w=60',
      ratelimit: '"requests";r=42;t=17, "tokens";r=19000;t=3',
      'x-ratelimit-limit-requests': '100',
      'x-ratelimit-remaining-requests': '42',
      'x-ratelimit-reset-requests': '17s',
      'x-ratelimit-limit-tokens': '20000',
      'x-ratelimit-remaining-tokens': '19000',
      'x-ratelimit-reset-tokens': '2.5s',
    });
    assert.deepEqual(parseRateLimit(headers), {
      limits: [
        { name: 'requests', quota: 100, windowSeconds: 60, remaining: 42, resetSeconds: 17 },
        { name: 'tokens', quota: 20000, windowSeconds: 60, remaining: 19000, resetSeconds: 3 },
      ],
      requests: { limit: 100, remaining: 42, resetMs: 17_000 },
      tokens: { limit: 20000, remaining: 19000, resetMs: 2500 },
    });
  });

  it('is null without any rate-limit header, and lenient with malformed ones', () => {
    assert.equal(parseRateLimit(new Headers()), null);
    const odd = parseRateLimit(new Headers({ ratelimit: 'garbage;;, "ok";r=1;t=2, "x\\"y";r=?1' }));
    assert.deepEqual(odd?.limits, [
      { name: 'garbage', quota: null, windowSeconds: null, remaining: null, resetSeconds: null },
      { name: 'ok', quota: null, windowSeconds: null, remaining: 1, resetSeconds: 2 },
      { name: 'x"y', quota: null, windowSeconds: null, remaining: null, resetSeconds: null },
    ]);
    assert.deepEqual(parseStructuredList(''), []);
  });

  it("reads OpenAI's durations", () => {
    assert.equal(parseOpenAiDuration('250ms'), 250);
    assert.equal(parseOpenAiDuration('1.5s'), 1500);
    assert.equal(parseOpenAiDuration('1m0s'), 60_000);
    assert.equal(parseOpenAiDuration('6m0s'), 360_000);
    assert.equal(parseOpenAiDuration('1h2m3s'), 3_723_000);
    assert.equal(parseOpenAiDuration(''), null);
    assert.equal(parseOpenAiDuration('soon'), null);
  });
});

describe('Retry-After and backoff', () => {
  it('prefers retry-after-ms, then Retry-After in seconds or as a date', () => {
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '2', 'retry-after-ms': '1234' })), 1234);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '2' })), 2000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now), 5000);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'whenever' })), null);
    assert.equal(parseRetryAfter(new Headers()), null);
  });

  it('backs off exponentially, capped, jittered in the upper half', () => {
    assert.equal(
      backoffMs(1, () => 0),
      250,
    );
    assert.equal(
      backoffMs(1, () => 1),
      500,
    );
    assert.equal(
      backoffMs(2, () => 1),
      1000,
    );
    assert.equal(
      backoffMs(10, () => 1),
      8000,
    );
    assert.equal(
      backoffMs(10, () => 0),
      4000,
    );
  });

  it('waits at least what the gateway asked, plus at most 10% (250 ms)', () => {
    assert.equal(
      retryDelayMs(1, 1000, () => 0),
      1000,
    );
    assert.equal(
      retryDelayMs(1, 1000, () => 1),
      1100,
    );
    assert.equal(
      retryDelayMs(1, 60_000, () => 1),
      60_250,
    );
    assert.equal(
      retryDelayMs(3, 0, () => 1),
      0,
    );
  });
});

describe('GatewayError.fromBody', () => {
  it('takes every member of a problem', () => {
    const error = GatewayError.fromBody(
      429,
      {
        type: 'https://ai-gateway.dev/problems/rate-limit-exceeded',
        title: 'Too Many Requests',
        status: 429,
        detail: 'Rate limit of 1 requests per second exceeded for key k',
        instance: '/v1/chat/completions',
        request_id: 'r-1',
        error: { message: '…', type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null },
      },
      { retryAfterMs: 900 },
    );
    assert.equal(error.status, 429);
    assert.equal(error.code, 'rate_limit_exceeded');
    assert.equal(error.type, 'https://ai-gateway.dev/problems/rate-limit-exceeded');
    assert.equal(error.errorType, 'rate_limit_error');
    assert.equal(error.title, 'Too Many Requests');
    assert.equal(error.message, 'Rate limit of 1 requests per second exceeded for key k');
    assert.equal(error.instance, '/v1/chat/completions');
    assert.equal(error.requestId, 'r-1');
    assert.equal(error.retryAfterMs, 900);
    assert.equal(error.param, null);
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'GatewayError');
  });

  it("derives the code from the status for a body that is not a problem (a proxy's page)", () => {
    const error = GatewayError.fromBody(502, '<html>Bad Gateway</html>', { requestId: 'from-header' });
    assert.equal(error.code, 'upstream_error');
    assert.equal(error.message, '<html>Bad Gateway</html>');
    assert.equal(error.requestId, 'from-header');
    assert.equal(GatewayError.fromBody(418, null).code, 'http_error');
  });

  it('takes the status from the problem of an error event in a stream', () => {
    const error = GatewayError.fromBody(undefined, {
      status: 504,
      detail: 'idle',
      error: { code: 'upstream_timeout' },
    });
    assert.equal(error.status, 504);
    assert.equal(error.code, 'upstream_timeout');
  });
});
