/**
 * GET /v1/models/{id} (the openai SDK's models.retrieve): the list's model object for a model the key
 * may use, ids with `/` and `:` whether percent-encoded (as the SDK sends them) or not, and the same 404
 * for a model the key may not see as for one that does not exist.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { StandInUpstream } from '../support/stand-in-upstream.js';
import {
  RESTRICTED_KEY,
  TEST_KEY,
  startGateway,
  testConfig,
  type RunningGateway,
} from '../support/gateway-harness.js';
import type { Problem } from '../support/problem.js';

const SLASHED = 'meta-llama/Llama-3.1-8B';
const COLONED = 'llama3.2:3b';

describe('GET /v1/models/{id}', () => {
  let upstream: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    upstream.openAiModels = ['stand-in-discovered'];
    running = await startGateway(
      testConfig({
        backends: [
          { name: 'vllm', type: 'openai', url: `${upstream.url}/v1` },
          { name: 'ollama', type: 'ollama', url: upstream.url },
          { name: 'demo', type: 'demo' },
        ],
        models: [
          { name: 'demo', targets: [{ backend: 'demo' }] },
          { name: SLASHED, targets: [{ backend: 'vllm' }] },
          { name: COLONED, targets: [{ backend: 'ollama' }] },
          { name: 'stand-in-*', targets: [{ backend: 'vllm' }] },
        ],
      }),
    );
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  async function get(
    path: string,
    key: string | null = TEST_KEY,
  ): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${running.url}${path}`, {
      headers: key === null ? {} : { authorization: `Bearer ${key}` },
    });
    const type = response.headers.get('content-type') ?? '';
    const body: unknown = await response.json();
    if (response.status >= 400) assert.match(type, /^application\/problem\+json/);
    return { status: response.status, body };
  }

  it('answers the same model object as the list, through the openai SDK (ids with / and :)', async () => {
    const client = running.client();
    const list = (await client.models.list()).data;
    for (const id of [SLASHED, COLONED, 'demo', 'stand-in-discovered']) {
      const listed = list.find((model) => model.id === id);
      assert.ok(listed !== undefined, `${id} is listed`);
      const model = await client.models.retrieve(id);
      assert.deepEqual({ ...model }, { ...listed }, id);
    }
  });

  it('matches the id whether its / and : are percent-encoded or not', async () => {
    for (const path of [
      `/v1/models/${SLASHED}`,
      `/v1/models/${encodeURIComponent(SLASHED)}`,
      `/v1/models/${COLONED}`,
      `/v1/models/${encodeURIComponent(COLONED)}`,
    ]) {
      const answer = await get(path);
      assert.equal(answer.status, 200, path);
      assert.equal((answer.body as { id: string }).id, path.includes('llama3') ? COLONED : SLASHED, path);
    }
  });

  it('answers 404 model_not_found for a model that does not exist, through the SDK too', async () => {
    const answer = await get('/v1/models/no-such/model:1b');
    assert.equal(answer.status, 404);
    const problem = answer.body as Problem;
    assert.equal(problem.error.code, 'model_not_found');
    assert.equal(
      problem.detail,
      "The model 'no-such/model:1b' does not exist; GET /v1/models lists the models you can use",
    );
    await assert.rejects(running.client().models.retrieve('no-such-model'), (error: unknown) => {
      assert.ok(error instanceof OpenAI.NotFoundError, String(error));
      assert.equal(error.code, 'model_not_found');
      return true;
    });
  });

  it('does not tell a model the key may not use from one that does not exist', async () => {
    // The restricted key may use `demo` and `stand-in-*` only.
    assert.equal((await get('/v1/models/demo', RESTRICTED_KEY)).status, 200);
    assert.equal((await get('/v1/models/stand-in-discovered', RESTRICTED_KEY)).status, 200);
    const hidden = await get(`/v1/models/${encodeURIComponent(SLASHED)}`, RESTRICTED_KEY);
    const missing = await get('/v1/models/meta-llama/Llama-9-9B', RESTRICTED_KEY);
    assert.equal(hidden.status, 404);
    assert.equal(missing.status, 404);
    const shape = (problem: Problem, id: string): unknown => ({
      ...problem,
      detail: problem.detail.replace(id, '<id>'),
      error: { ...problem.error, message: problem.error.message.replace(id, '<id>') },
      request_id: '<id>',
      instance: '<instance>',
    });
    assert.deepEqual(
      shape(hidden.body as Problem, SLASHED),
      shape(missing.body as Problem, 'meta-llama/Llama-9-9B'),
    );
  });

  it('answers 401 without a key, and 400 naming the model for an empty or over-long id', async () => {
    assert.equal((await get(`/v1/models/${SLASHED}`, null)).status, 401);
    for (const id of ['', 'x'.repeat(257)]) {
      const answer = await get(`/v1/models/${id}`);
      assert.equal(answer.status, 400, `${id.length} characters`);
      const problem = answer.body as Problem;
      assert.equal(problem.error.code, 'invalid_request');
      assert.equal(problem.error.param, 'model');
    }
    assert.equal((await get(`/v1/models/${'x'.repeat(256)}`)).status, 404);
  });
});
