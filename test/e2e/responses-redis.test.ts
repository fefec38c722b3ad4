/**
 * Stored responses on Redis: two gateways sharing one private redis-server store and read each other's
 * responses (created on one, retrieved, continued and deleted on the other), each with its TTL; a
 * stalled Redis makes reading one a 503 to retry, not a 500 or a hang.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { SCRIPTED_TEXT, ScriptedUpstream } from '../support/scripted-upstream.js';
import { requireTool } from '../support/system-tool.js';

const needsRedis = { skip: requireTool('redis-server', 'redis-server') };

describe('stored responses on Redis, shared by two gateways', needsRedis, () => {
  let redis: PrivateRedis;
  let probe: Redis;
  let scripted: ScriptedUpstream;
  let a: RunningGateway;
  let b: RunningGateway;

  before(async () => {
    redis = await startRedisServer();
    probe = new Redis(redis.url);
    scripted = await ScriptedUpstream.start();
    const document = testConfig({
      backends: [{ name: 'vllm', type: 'openai', url: scripted.openAiUrl }],
      models: [{ name: 'via-openai', targets: [{ backend: 'vllm', model: 'scripted' }] }],
      extra: { redis: { url: redis.url }, responses: { store_ttl_seconds: 600 } },
    });
    a = await startGateway(document);
    b = await startGateway(document);
  });

  after(async () => {
    redis.resume();
    await a.stop();
    await b.stop();
    probe.disconnect();
    await redis.stop();
    await scripted.close();
  });

  it('created on one gateway, retrieved, continued and deleted on the other', async () => {
    const created = await a.client().responses.create({ model: 'via-openai', input: 'Say hello' });
    const ttl = await probe.ttl(`gw-resp:test-key:${created.id}`);
    assert.ok(ttl > 590 && ttl <= 600, `TTL ${ttl}`);
    assert.deepEqual(await b.client().responses.retrieve(created.id), created);
    const next = await b.client().responses.create({
      model: 'via-openai',
      previous_response_id: created.id,
      input: 'Again',
    });
    assert.equal(next.output_text, SCRIPTED_TEXT);
    assert.deepEqual(
      (scripted.requests.at(-1)?.body['messages'] as { role: string; content: string }[]).map((message) => [
        message.role,
        message.content,
      ]),
      [
        ['user', 'Say hello'],
        ['assistant', SCRIPTED_TEXT],
        ['user', 'Again'],
      ],
    );
    await b.client().responses.delete(created.id);
    await assert.rejects(a.client().responses.retrieve(created.id), OpenAI.NotFoundError);
  });

  it('a stalled Redis: retrieving is a 503 to retry', async () => {
    const created = await a.client().responses.create({ model: 'via-openai', input: 'Say hello' });
    redis.stall();
    try {
      const error = await a
        .client()
        .responses.retrieve(created.id)
        .then(
          () => assert.fail('answered while Redis was stalled'),
          (caught: unknown) => caught,
        );
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, 503);
      assert.equal(error.headers.get('retry-after'), '1');
    } finally {
      redis.resume();
    }
    assert.equal((await a.client().responses.retrieve(created.id)).id, created.id);
  });
});
