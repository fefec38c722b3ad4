/**
 * Clients that speak the Responses API, against a gateway in front of the scripted upstream: the AI
 * SDK's default OpenAI model (`openai('model')` is a Responses model) with generateText, streamText and
 * a tool call in several steps, and LangChain's ChatOpenAI with useResponsesApi, invoke, stream and a
 * bound tool. Every request they send is recorded (through their `fetch`), to show what they used.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createOpenAI } from '@ai-sdk/openai';
import type { AIMessageChunk } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';
import { SCRIPTED_TEXT, SCRIPTED_USAGE, ScriptedUpstream, toolSaid } from '../support/scripted-upstream.js';

let scripted: ScriptedUpstream;
let gateway: RunningGateway;
/** The bodies the clients sent to POST /v1/responses, in order. */
const sent: Record<string, unknown>[] = [];

/** A fetch that records each Responses request's body, then sends it. */
const recordingFetch: typeof fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (url.endsWith('/v1/responses') && typeof init?.body === 'string')
    sent.push(JSON.parse(init.body) as Record<string, unknown>);
  return fetch(input, init);
};

before(async () => {
  scripted = await ScriptedUpstream.start();
  gateway = await startGateway(
    testConfig({
      backends: [
        { name: 'vllm', type: 'openai', url: scripted.openAiUrl },
        { name: 'ollama', type: 'ollama', url: scripted.ollamaUrl },
      ],
      models: [
        { name: 'via-openai', targets: [{ backend: 'vllm', model: 'scripted' }] },
        { name: 'via-ollama', targets: [{ backend: 'ollama', model: 'scripted:latest' }] },
      ],
    }),
  );
});

after(async () => {
  await gateway.stop();
  await scripted.close();
});

const weather = tool({
  description: 'The weather in a city',
  inputSchema: jsonSchema<{ city: string }>({
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  }),
  execute: ({ city }) => Promise.resolve(`sunny in ${city}`),
});

for (const model of ['via-openai', 'via-ollama']) {
  describe(`the AI SDK (@ai-sdk/openai, Responses) through ${model}`, () => {
    const provider = () =>
      createOpenAI({ baseURL: `${gateway.url}/v1`, apiKey: TEST_KEY, fetch: recordingFetch });

    it('generateText: the text and the usage, over POST /v1/responses', async () => {
      const before = sent.length;
      const result = await generateText({ model: provider()(model), prompt: 'Say hello' });
      assert.equal(result.text, SCRIPTED_TEXT);
      assert.equal(result.usage.inputTokens, SCRIPTED_USAGE.prompt_tokens);
      assert.equal(result.usage.outputTokens, SCRIPTED_USAGE.completion_tokens);
      assert.equal(sent.length, before + 1);
      assert.match(result.response.id, /^resp_/);
    });

    it('streamText: the text in parts, the finish reason', async () => {
      const result = streamText({ model: provider()(model), prompt: 'Say hello' });
      const parts: string[] = [];
      for await (const part of result.textStream) parts.push(part);
      assert.ok(parts.length > 1, 'the text came in several parts');
      assert.equal(parts.join(''), SCRIPTED_TEXT);
      assert.equal(await result.finishReason, 'stop');
      assert.equal(sent.at(-1)?.['stream'], true);
    });

    it('a tool call in two steps: the call, its result sent back, the answer', async () => {
      const before = sent.length;
      const result = await generateText({
        model: provider()(model),
        prompt: 'What is the weather in Paris? scenario:tools',
        tools: { get_weather: weather },
        stopWhen: stepCountIs(3),
      });
      assert.equal(result.steps.length, 2);
      assert.deepEqual(
        result.steps[0]?.toolCalls.map((call) => [call.toolName, call.input]),
        [['get_weather', { city: 'Paris' }]],
      );
      assert.equal(result.text, toolSaid('sunny in Paris'));
      // The second request sent the call and its output back as items.
      const second = sent[before + 1]?.['input'] as { type?: string }[];
      assert.deepEqual(
        second.map((item) => item.type ?? 'message'),
        ['message', 'function_call', 'function_call_output'],
      );
    });

    it('a later turn refers to the stored answer by item_reference (store: true), and the gateway resolves it', async () => {
      const first = await generateText({ model: provider()(model), prompt: 'Say hello' });
      const before = sent.length;
      const second = await generateText({
        model: provider()(model),
        messages: [
          { role: 'user', content: 'Say hello' },
          ...first.response.messages,
          { role: 'user', content: 'Again' },
        ],
      });
      assert.equal(second.text, SCRIPTED_TEXT);
      const input = sent[before]?.['input'] as { type?: string }[];
      assert.ok(
        input.some((item) => item.type === 'item_reference'),
        `the AI SDK sent ${JSON.stringify(input)}`,
      );
      const messages = scripted.requests.at(-1)?.body['messages'] as { role: string; content: unknown }[];
      assert.deepEqual(
        messages.map((message) => [message.role, message.content]),
        [
          ['user', 'Say hello'],
          ['assistant', SCRIPTED_TEXT],
          ['user', 'Again'],
        ],
      );
    });
  });

  describe(`LangChain (ChatOpenAI, useResponsesApi) through ${model}`, () => {
    const chat = () =>
      new ChatOpenAI({
        model,
        apiKey: TEST_KEY,
        useResponsesApi: true,
        maxRetries: 0,
        configuration: { baseURL: `${gateway.url}/v1`, fetch: recordingFetch },
      });

    it('invoke: the answer, its usage and the response id', async () => {
      const before = sent.length;
      const message = await chat().invoke('Say hello');
      assert.equal(message.text, SCRIPTED_TEXT);
      // (this version's types say never for usage_metadata)
      const usage = message.usage_metadata as { total_tokens?: number } | undefined;
      assert.equal(usage?.total_tokens, SCRIPTED_USAGE.total_tokens);
      assert.match(String(message.response_metadata['id']), /^resp_/);
      assert.equal(sent.length, before + 1);
    });

    it('stream: the answer in chunks', async () => {
      let joined: AIMessageChunk | undefined;
      let chunks = 0;
      for await (const chunk of await chat().stream('Say hello')) {
        joined = joined === undefined ? chunk : joined.concat(chunk);
        chunks++;
      }
      assert.ok(chunks > 2);
      assert.equal(joined?.text, SCRIPTED_TEXT);
      assert.equal(sent.at(-1)?.['stream'], true);
    });

    it('a bound tool: the model’s call comes back as a tool call', async () => {
      const message = await chat()
        .bindTools([
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'The weather in a city',
              parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            },
          },
        ])
        .invoke('What is the weather in Paris? scenario:tools');
      assert.deepEqual(
        message.tool_calls?.map((call) => [call.name, call.args]),
        [['get_weather', { city: 'Paris' }]],
      );
    });
  });
}
