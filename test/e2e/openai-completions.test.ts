/**
 * POST /v1/completions (OpenAI's legacy completions) through the official openai SDK's
 * completions.create, streamed and not, against scripted upstreams behind an `openai` backend and an
 * `ollama` backend: the prompt reaches the backend as one user message of a chat request.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { SCRIPTED_TEXT, SCRIPTED_USAGE, ScriptedUpstream } from '../support/scripted-upstream.js';
import { TEST_KEY, startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';

for (const backend of ['openai', 'ollama'] as const) {
  describe(`POST /v1/completions through the openai SDK, ${backend} backend`, () => {
    let upstream: ScriptedUpstream;
    let running: RunningGateway;
    let client: OpenAI;

    before(async () => {
      upstream = await ScriptedUpstream.start();
      running = await startGateway(
        testConfig({
          backends: [
            {
              name: 'up',
              type: backend,
              url: backend === 'openai' ? upstream.openAiUrl : upstream.ollamaUrl,
            },
          ],
          models: [{ name: 'scripted', targets: [{ backend: 'up', model: 'upstream-model' }] }],
        }),
        {},
        { logLevel: 'silent' },
      );
      client = running.client();
    });
    after(async () => {
      await running.stop();
      await upstream.close();
    });

    it('answers a text_completion; the prompt travels as one user message, max_tokens 16 by default', async () => {
      const completion = await client.completions.create({
        model: 'scripted',
        prompt: 'Say hello',
        temperature: 0.5,
      });
      assert.equal(completion.object, 'text_completion');
      assert.match(completion.id, /^cmpl-/);
      assert.equal(completion.choices.length, 1);
      assert.equal(completion.choices[0]?.text, SCRIPTED_TEXT);
      assert.equal(completion.choices[0]?.index, 0);
      assert.equal(completion.choices[0]?.finish_reason, 'stop');
      assert.equal(completion.choices[0]?.logprobs, null);
      assert.deepEqual(completion.usage, SCRIPTED_USAGE);
      const sent = upstream.requests.at(-1)!.body;
      const messages = sent['messages'] as { role: string; content: string }[];
      assert.deepEqual(
        messages.map((message) => [message.role, message.content]),
        [['user', 'Say hello']],
      );
      if (backend === 'openai') {
        assert.equal(sent['max_tokens'], 16);
        assert.equal(sent['temperature'], 0.5);
      } else {
        assert.deepEqual(sent['options'], { temperature: 0.5, num_predict: 16 });
      }
    });

    it('streams text_completion chunks, the usage chunk when asked for, then [DONE]', async () => {
      const stream = await client.completions.create({
        model: 'scripted',
        prompt: ['Say hello'],
        max_tokens: 50,
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      const finishes: (string | null)[] = [];
      let usage: unknown = null;
      let chunks = 0;
      for await (const chunk of stream) {
        chunks++;
        assert.equal(chunk.object, 'text_completion');
        assert.match(chunk.id, /^cmpl-/);
        for (const choice of chunk.choices) {
          text += choice.text;
          if (choice.finish_reason !== null) finishes.push(choice.finish_reason);
        }
        if (chunk.usage != null) usage = chunk.usage;
      }
      assert.ok(chunks > 2);
      assert.equal(text, SCRIPTED_TEXT);
      assert.deepEqual(finishes, ['stop']);
      assert.deepEqual(usage, SCRIPTED_USAGE);
    });

    it('leaves the usage chunk out when not asked for', async () => {
      const stream = await client.completions.create({
        model: 'scripted',
        prompt: 'Say hello',
        stream: true,
      });
      for await (const chunk of stream) assert.equal(chunk.usage ?? null, null);
    });
  });
}

describe('POST /v1/completions refusals', () => {
  let upstream: ScriptedUpstream;
  let running: RunningGateway;

  before(async () => {
    upstream = await ScriptedUpstream.start();
    running = await startGateway(
      testConfig({
        backends: [{ name: 'up', type: 'openai', url: upstream.openAiUrl }],
        models: [{ name: 'scripted', targets: [{ backend: 'up' }] }],
      }),
      {},
      { logLevel: 'silent' },
    );
  });
  after(async () => {
    await running.stop();
    await upstream.close();
  });

  it('refuses what it cannot honour with a 400 problem naming the field, and sends nothing upstream', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ prompt: ['one', 'two'] }, 'prompt'],
      [{ prompt: [1, 2, 3] }, 'prompt'],
      [{ prompt: [[1, 2]] }, 'prompt'],
      [{ prompt: 'def f(', suffix: 'return x' }, 'suffix'],
      [{ prompt: 'Hi', echo: true }, 'echo'],
      [{ prompt: 'Hi', best_of: 3 }, 'best_of'],
      [{ prompt: 'Hi', logprobs: 6 }, 'logprobs'],
    ];
    const before = upstream.requests.length;
    for (const [fields, param] of cases) {
      const response = await fetch(`${running.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'scripted', ...fields }),
      });
      assert.equal(response.status, 400, JSON.stringify(fields));
      assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const problem = (await response.json()) as { error: { param: string | null; message: string } };
      assert.ok(problem.error.param?.startsWith(param), `${JSON.stringify(fields)}: ${problem.error.param}`);
    }
    assert.equal(upstream.requests.length, before);
  });

  it('the SDK raises the problem as a BadRequestError', async () => {
    await assert.rejects(
      running.client().completions.create({ model: 'scripted', prompt: 'Hi', echo: true }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && /echo/.test(error.message),
    );
  });
});
