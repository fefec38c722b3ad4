/**
 * Circuit breakers per backend and upstream model (issue 17, item 5): on a pass-through `*` route every
 * client model used to share one breaker, so that a model answering 500 made every model answer 503 for
 * the cooldown. A real gateway with its default routing settings in front of a stand-in upstream on
 * which one model fails and another keeps answering.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { APIError } from 'openai';
import { parseScrape } from '../support/prometheus-text.js';
import { STAND_IN_TOKENS, StandInUpstream } from '../support/stand-in-upstream.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';

const ADMIN_ENV = { GATEWAY_ADMIN_TOKEN: 'breakers-tests-admin-token' };
const CHAT = '/v1/chat/completions';
const MESSAGES = [{ role: 'user' as const, content: 'Hi' }];

describe('a pass-through route where one model fails: only that model’s circuit opens', () => {
  let upstream: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    upstream.byModel.set('model-a', { kind: 'status', status: 500 });
    running = await startGateway(
      testConfig({
        backends: [{ name: 'standin', type: 'openai', url: `${upstream.url}/v1` }],
        models: [{ name: '*', targets: [{ backend: 'standin' }] }],
        // The gateway's own routing defaults (3 attempts, 5 failures open a circuit for 30 s), with
        // short backoffs so that the file stays fast.
        extra: { routing: { backoff_base_ms: 5, backoff_max_ms: 20 } },
      }),
      ADMIN_ENV,
    );
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  const callsOf = (model: string): number =>
    upstream.requests.filter((request) => request.path === CHAT && request.body?.['model'] === model).length;

  it('model A answers 500 until its circuit opens, then 503 with Retry-After without reaching the upstream', async () => {
    const client = running.client();
    for (let request = 0; request < 2; request++) {
      await assert.rejects(
        client.chat.completions.create({ model: 'model-a', messages: MESSAGES }),
        (error: unknown) => error instanceof APIError && error.status === 502,
      );
    }
    const tried = callsOf('model-a');
    assert.ok(tried >= 5, `the default breaker opens after 5 failures; ${tried} attempts reached model A`);
    await assert.rejects(
      client.chat.completions.create({ model: 'model-a', messages: MESSAGES }),
      (error: unknown) =>
        error instanceof APIError && error.status === 503 && Number(error.headers?.get('retry-after')) >= 1,
    );
    assert.equal(callsOf('model-a'), tried, 'an open circuit is not called');
  });

  it('model B on the same route and backend keeps answering, streamed and not', async () => {
    const client = running.client();
    const completion = await client.chat.completions.create({ model: 'model-b', messages: MESSAGES });
    assert.equal(completion.choices[0]?.message.content, STAND_IN_TOKENS.join(''));
    const stream = await client.chat.completions.create({
      model: 'model-b',
      messages: MESSAGES,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(text, STAND_IN_TOKENS.join(''));
    assert.equal(callsOf('model-b'), 2);
  });

  it('names the open circuit by backend and model in /health/ready, which stays 200', async () => {
    const response = await fetch(`${running.url}/health/ready`, {
      headers: { authorization: `Bearer ${ADMIN_ENV.GATEWAY_ADMIN_TOKEN}` },
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { checks: Record<string, { status: string; detail?: string }> };
    const check = body.checks['backend:standin'];
    assert.equal(check?.status, 'degraded');
    assert.match(check?.detail ?? '', /circuits: standin\/model-a open$/);
  });

  it('shows the pass-through target open in gateway_circuit_state (one series for the target, not one per name)', async () => {
    const text = await (await fetch(`${running.url}/metrics`)).text();
    const series = parseScrape(text)
      .samples('gateway_circuit_state')
      .map((sample) => [sample.labels['target'], sample.labels['backend'], sample.value]);
    assert.deepEqual(series, [['standin/(client model)', 'standin', 2]]);
  });
});
