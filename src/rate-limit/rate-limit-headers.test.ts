import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRate } from '../config/rate-string.js';
import type { LimitStatus } from './limiter-store.js';
import type { AppliedLimit, LimitKind } from './policy.js';
import { openAiDuration, rateLimitHeaders } from './rate-limit-headers.js';

function applied(name: string, kind: LimitKind, rate: string): AppliedLimit {
  const parsed = parseRate(rate);
  assert.ok(parsed !== null, rate);
  return { name, kind, rate: parsed, scope: `key:${kind}:${rate}`, subject: 'key team-a' };
}

function status(limit: AppliedLimit, remaining: number, resetMs: number): LimitStatus {
  return { limit, remaining, resetMs };
}

describe('rateLimitHeaders', () => {
  it('gives nothing when no limit applies', () => {
    assert.deepEqual(rateLimitHeaders([]), {});
  });

  it('writes RateLimit-Policy and RateLimit as draft-ietf-httpapi-ratelimit-headers-10 items', () => {
    const headers = rateLimitHeaders([status(applied('requests', 'requests', '100/minute'), 42, 17_000)]);
    assert.equal(headers['ratelimit-policy'], '"requests";q=100;w=60');
    assert.equal(headers.ratelimit, '"requests";r=42;t=17');
  });

  it('lists every limit, comma-separated, in the same order in both headers', () => {
    const headers = rateLimitHeaders([
      status(applied('requests-minute', 'requests', '100/minute'), 99, 600),
      status(applied('requests-day', 'requests', '2000/day'), 1999, 43_200),
      status(applied('tokens', 'tokens', '20000/minute'), 19_200, 2400),
      status(applied('model-requests', 'requests', '10/hour'), 9, 360_000),
    ]);
    assert.equal(
      headers['ratelimit-policy'],
      '"requests-minute";q=100;w=60, "requests-day";q=2000;w=86400, "tokens";q=20000;w=60, "model-requests";q=10;w=3600',
    );
    assert.equal(
      headers.ratelimit,
      '"requests-minute";r=99;t=1, "requests-day";r=1999;t=44, "tokens";r=19200;t=3, "model-requests";r=9;t=360',
    );
  });

  it('t is the whole seconds until the budget is whole, rounded up; 0 when it is whole', () => {
    const limit = applied('requests', 'requests', '100/minute');
    const t = (resetMs: number): string | undefined =>
      rateLimitHeaders([status(limit, 1, resetMs)]).ratelimit;
    assert.equal(t(0), '"requests";r=1;t=0');
    assert.equal(t(1), '"requests";r=1;t=1');
    assert.equal(t(1000), '"requests";r=1;t=1');
    assert.equal(t(1000.5), '"requests";r=1;t=2');
    assert.equal(t(59_999), '"requests";r=1;t=60');
  });

  it('x-ratelimit-* show the tightest limit of each kind', () => {
    const headers = rateLimitHeaders([
      status(applied('requests-minute', 'requests', '100/minute'), 40, 36_000),
      status(applied('requests-day', 'requests', '2000/day'), 3, 85_000_000),
      status(applied('tokens-minute', 'tokens', '20000/minute'), 19_200, 2400),
      status(applied('model-tokens', 'tokens', '5000/hour'), 4000, 720_000),
    ]);
    assert.equal(headers['x-ratelimit-limit-requests'], '2000');
    assert.equal(headers['x-ratelimit-remaining-requests'], '3');
    assert.equal(headers['x-ratelimit-reset-requests'], '23h36m40s');
    assert.equal(headers['x-ratelimit-limit-tokens'], '5000');
    assert.equal(headers['x-ratelimit-remaining-tokens'], '4000');
    assert.equal(headers['x-ratelimit-reset-tokens'], '12m0s');
  });

  it('leaves out the x-ratelimit-* of a kind that has no limit', () => {
    const headers = rateLimitHeaders([status(applied('requests', 'requests', '100/minute'), 42, 34_800)]);
    assert.deepEqual(Object.keys(headers).sort(), [
      'ratelimit',
      'ratelimit-policy',
      'x-ratelimit-limit-requests',
      'x-ratelimit-remaining-requests',
      'x-ratelimit-reset-requests',
    ]);
    assert.equal(headers['x-ratelimit-reset-requests'], '34.8s');
  });
});

describe('openAiDuration', () => {
  it('writes less than a second in whole milliseconds, rounded up', () => {
    assert.equal(openAiDuration(0), '0ms');
    assert.equal(openAiDuration(20), '20ms');
    assert.equal(openAiDuration(0.2), '1ms');
    assert.equal(openAiDuration(999), '999ms');
    assert.equal(openAiDuration(-5), '0ms');
  });

  it('writes seconds, minutes and hours as OpenAI does', () => {
    assert.equal(openAiDuration(1000), '1s');
    assert.equal(openAiDuration(1500), '1.5s');
    assert.equal(openAiDuration(34_800), '34.8s');
    assert.equal(openAiDuration(60_000), '1m0s');
    assert.equal(openAiDuration(360_000), '6m0s');
    assert.equal(openAiDuration(61_250), '1m1.25s');
    assert.equal(openAiDuration(3_600_000), '1h0m0s');
    assert.equal(openAiDuration(5_430_250), '1h30m30.25s');
    assert.equal(openAiDuration(86_400_000), '24h0m0s');
  });

  it('carries a value that rounds up into the next unit instead of writing 1000ms, 60s or 1m60s', () => {
    assert.equal(openAiDuration(999.5), '1s');
    assert.equal(openAiDuration(59_999.9), '1m0s');
    assert.equal(openAiDuration(119_999.9), '2m0s');
    assert.equal(openAiDuration(3_599_999.9), '1h0m0s');
  });

  it('always matches the format and says the same time, for any reset time up to a day', () => {
    const FORMAT = /^(?:(?:(\d+)h)?(?:(\d+)m)?(\d+(?:\.\d+)?)s|(\d+)ms)$/;
    for (let milliseconds = 0; milliseconds < 86_400_000; milliseconds = milliseconds * 1.05 + 0.3) {
      const text = openAiDuration(milliseconds);
      const match = FORMAT.exec(text);
      assert.ok(match !== null, `${milliseconds} ms gave '${text}'`);
      const [, hours, minutes, seconds, millis] = match;
      let said: number;
      if (millis !== undefined) {
        assert.ok(Number(millis) < 1000, text);
        said = Number(millis);
      } else {
        assert.ok(hours === undefined || minutes !== undefined, `${text}: hours without minutes`);
        assert.ok(Number(minutes ?? 0) < 60 && Number(seconds) < 60, `${text}: a unit overflows`);
        said = Number(hours ?? 0) * 3_600_000 + Number(minutes ?? 0) * 60_000 + Number(seconds) * 1000;
      }
      assert.ok(said >= milliseconds - 0.5 && said < milliseconds + 1, `${milliseconds} ms said as ${text}`);
    }
  });
});
