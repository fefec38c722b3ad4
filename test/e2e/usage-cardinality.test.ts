/**
 * Issue 16, finding 5: usage and metrics must not grow with the model names clients make up. A key over
 * its rate limit sending 1,000 distinct names, 1,000 names that the upstream behind a pattern route
 * answers 404, and names that match no route or that the key may not use, against a real gateway (the
 * embedded store) and the stand-in upstream: GET /admin/usage then has exactly one row per key and
 * route (or `other`), and /metrics not one series more than after the first of each refusal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sha256Hex } from '../../src/auth/api-key.js';
import type { UsageRow } from '../../src/usage/usage.js';
import {
  RESTRICTED_KEY,
  standInConfig,
  startGateway,
  TEST_KEY,
  type RunningGateway,
} from '../support/gateway-harness.js';
import { pooledSender, type Answer, type PooledSender } from '../support/pooled-request.js';
import { STAND_IN_USAGE, StandInUpstream } from '../support/stand-in-upstream.js';

const ADMIN_TOKEN = 'admin-token-for-the-cardinality-tests';
const LIMITED_KEY = 'sk-gw-limitedCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC';
const FLOOD = 1000;

function row(key: string, model: string, requests: number, errors: number, tokens = false): UsageRow {
  const prompt = tokens ? STAND_IN_USAGE.prompt_tokens : 0;
  const completion = tokens ? STAND_IN_USAGE.completion_tokens : 0;
  return {
    key,
    model,
    requests,
    errors,
    cached: 0,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cost: null,
  };
}

/** A sample line's series: its name and labels. */
function withoutValue(line: string): string {
  return line.slice(0, line.lastIndexOf(' '));
}

/** The gateway's own series (process and Node metrics come and go with the garbage collector). */
function gatewaySeries(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('gateway_'));
}

describe('usage and metrics under a flood of made-up model names', () => {
  let upstream: StandInUpstream;
  let gateway: RunningGateway;
  let sender: PooledSender;

  const chat = (key: string, model: string): Promise<Answer> =>
    sender.send(gateway.url, 'POST', '/v1/chat/completions', {
      token: key,
      body: { model, messages: [{ role: 'user', content: 'hello' }] },
    });

  /** Sends `count` requests with distinct names, 25 at a time; every answer must have `status`. */
  async function flood(key: string, prefix: string, count: number, status: number): Promise<void> {
    for (let start = 0; start < count; start += 25) {
      const answers = await Promise.all(
        Array.from({ length: Math.min(25, count - start) }, (_, index) =>
          chat(key, `${prefix}${start + index}`),
        ),
      );
      for (const answer of answers) assert.equal(answer.status, status, answer.text);
    }
  }

  async function metricsText(): Promise<string> {
    const answer = await sender.send(gateway.url, 'GET', '/metrics');
    assert.equal(answer.status, 200);
    return answer.text;
  }

  before(async () => {
    upstream = new StandInUpstream();
    const document = standInConfig(await upstream.start());
    const auth = document['auth'] as { keys: unknown[] };
    auth.keys.push({ id: 'limited-key', sha256: sha256Hex(LIMITED_KEY), rate_limit: '1/hour' });
    gateway = await startGateway(document, { GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN });
    sender = pooledSender(10_000);
  });

  after(async () => {
    await sender.close();
    await gateway.stop();
    await upstream.stop();
  });

  it('counts refusals and upstream 404s under the route or `other`, in a fixed number of rows and series', async () => {
    // The limited key's one request an hour, for a name the upstream serves: counted under that name.
    const served = await chat(LIMITED_KEY, 'stand-in-served');
    assert.equal(served.status, 200, served.text);
    // From now on the upstream knows no model.
    upstream.behaviour = { kind: 'status', status: 404, body: '{"error":{"message":"no such model"}}' };
    // One of each refusal, so that their metric series exist before the flood.
    await flood(LIMITED_KEY, 'stand-in-warm-limited-', 1, 429);
    await flood(TEST_KEY, 'stand-in-warm-missing-', 1, 404);
    await flood(TEST_KEY, 'warm-unrouted-', 1, 404);
    await flood(RESTRICTED_KEY, 'warm-forbidden-', 1, 403);
    // And of the requests that read the results (their series appear once they have been answered).
    await sender.send(gateway.url, 'GET', '/admin/usage', { token: ADMIN_TOKEN });
    await metricsText();
    const seriesBefore = gatewaySeries(await metricsText()).map(withoutValue);

    await flood(LIMITED_KEY, 'stand-in-limited-', FLOOD, 429);
    await flood(TEST_KEY, 'stand-in-missing-', FLOOD, 404);
    await flood(TEST_KEY, 'unrouted-', 100, 404);
    await flood(RESTRICTED_KEY, 'forbidden-', 100, 403);
    assert.equal(
      upstream.requests.length,
      1 + 1 + FLOOD,
      'only the served and the 404 requests went upstream',
    );

    const answer = await sender.send(gateway.url, 'GET', '/admin/usage', { token: ADMIN_TOKEN });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual((answer.json as { data: UsageRow[] }).data, [
      row('limited-key', 'stand-in-*', FLOOD + 1, FLOOD + 1),
      row('limited-key', 'stand-in-served', 1, 0, true),
      row('restricted-key', 'other', 101, 101),
      row('test-key', 'other', 101, 101),
      row('test-key', 'stand-in-*', FLOOD + 1, FLOOD + 1),
    ]);

    const seriesAfter = gatewaySeries(await metricsText()).map(withoutValue);
    assert.deepEqual(seriesAfter, seriesBefore, 'the flood added metric series');
    assert.ok(
      !seriesAfter.some((line) => /stand-in-(limited|missing)-|unrouted-|forbidden-/.test(line)),
      'a made-up name in a label',
    );
  });
});
