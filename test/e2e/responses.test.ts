/**
 * The Responses API end to end with the official openai SDK against a gateway in front of a scripted
 * upstream, once through an `openai` backend (vLLM's chat completions) and once through an `ollama`
 * backend (Ollama's /api/chat): create, streamed (iteration and the responses.stream() helper),
 * function calling over several turns with previous_response_id, item_reference, retrieve and delete,
 * JSON schema, images, and the errors the SDK surfaces (401, 400 naming the field, 404 for another
 * key's response, a failure in the middle of a stream).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import type { Response, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { sha256Hex } from '../../src/auth/api-key.js';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';
import {
  SCRIPTED_CALLS,
  SCRIPTED_JSON,
  SCRIPTED_NO_SCHEMA,
  SCRIPTED_REASONED_ANSWER,
  SCRIPTED_REASONING,
  SCRIPTED_TEXT,
  SCRIPTED_USAGE,
  ScriptedUpstream,
  imagesSeen,
  toolSaid,
} from '../support/scripted-upstream.js';
import { StandInUpstream } from '../support/stand-in-upstream.js';

const OTHER_KEY = 'sk-gw-otherCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC';
/** A 1×1 PNG. */
const PIXEL =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

const WEATHER_TOOL = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};
const TIME_TOOL = {
  type: 'function' as const,
  name: 'get_time',
  description: 'The time in a zone',
  parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
  strict: false,
};

let scripted: ScriptedUpstream;
let standIn: StandInUpstream;
let gateway: RunningGateway;
let client: OpenAI;
let other: OpenAI;

before(async () => {
  scripted = await ScriptedUpstream.start();
  standIn = new StandInUpstream();
  const standInUrl = await standIn.start();
  gateway = await startGateway(
    testConfig({
      backends: [
        { name: 'vllm', type: 'openai', url: scripted.openAiUrl },
        { name: 'ollama', type: 'ollama', url: scripted.ollamaUrl },
        { name: 'ollama-lenient', type: 'ollama', url: scripted.ollamaUrl, drop_unsupported: true },
        { name: 'failing', type: 'openai', url: `${standInUrl}/v1` },
      ],
      models: [
        { name: 'via-openai', targets: [{ backend: 'vllm', model: 'scripted' }] },
        { name: 'via-ollama', targets: [{ backend: 'ollama', model: 'scripted:latest' }] },
        { name: 'via-ollama-lenient', targets: [{ backend: 'ollama-lenient', model: 'scripted:latest' }] },
        { name: 'failing', targets: [{ backend: 'failing', model: 'stand-in' }] },
      ],
      extra: {
        auth: {
          keys: [
            { id: 'test-key', sha256: sha256Hex(TEST_KEY) },
            { id: 'other-key', sha256: sha256Hex(OTHER_KEY) },
          ],
        },
      },
    }),
  );
  client = gateway.client();
  other = gateway.client({ apiKey: OTHER_KEY });
});

after(async () => {
  await gateway.stop();
  await scripted.close();
  await standIn.stop();
});

/** The messages the upstream got for the last request of a model, as role and text. */
function lastUpstreamMessages(): { role: string; content: unknown; tool_calls?: unknown }[] {
  const last = scripted.requests.at(-1);
  assert.ok(last !== undefined, 'the upstream got no request');
  return last.body['messages'] as { role: string; content: unknown; tool_calls?: unknown }[];
}

function functionCalls(response: Response): { call_id: string; name: string; arguments: string }[] {
  return response.output.flatMap((item) => (item.type === 'function_call' ? [item] : []));
}

for (const model of ['via-openai', 'via-ollama']) {
  describe(`Responses through ${model}`, () => {
    it('responses.create: a response with its text, usage and the request echoed', async () => {
      const response = await client.responses.create({
        model,
        input: 'Say hello',
        instructions: 'Be brief.',
        metadata: { run: 'e2e' },
      });
      assert.match(response.id, /^resp_[0-9a-f]{48}$/);
      assert.equal(response.object, 'response');
      assert.equal(response.status, 'completed');
      assert.equal(response.output_text, SCRIPTED_TEXT);
      assert.equal(response.instructions, 'Be brief.');
      assert.deepEqual(response.metadata, { run: 'e2e' });
      assert.equal(response.error, null);
      assert.deepEqual(response.usage, {
        input_tokens: SCRIPTED_USAGE.prompt_tokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: SCRIPTED_USAGE.completion_tokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: SCRIPTED_USAGE.total_tokens,
      });
      // instructions reached the upstream as the system message.
      assert.deepEqual(lastUpstreamMessages()[0], { role: 'system', content: 'Be brief.' });
    });

    it('stream: true: the events in order, numbered, the text in deltas, the response at the end', async () => {
      const stream = await client.responses.create({ model, input: 'Say hello', stream: true });
      const events: ResponseStreamEvent[] = [];
      for await (const event of stream) events.push(event);
      assert.deepEqual(
        events.map((event) => event.sequence_number),
        events.map((_, index) => index),
      );
      assert.deepEqual(
        events.map((event) => event.type),
        [
          'response.created',
          'response.in_progress',
          'response.output_item.added',
          'response.content_part.added',
          ...events
            .filter((event) => event.type === 'response.output_text.delta')
            .map(() => 'response.output_text.delta'),
          'response.output_text.done',
          'response.content_part.done',
          'response.output_item.done',
          'response.completed',
        ],
      );
      const text = events
        .flatMap((event) => (event.type === 'response.output_text.delta' ? [event.delta] : []))
        .join('');
      assert.equal(text, SCRIPTED_TEXT);
      const completed = events.at(-1);
      assert.ok(completed?.type === 'response.completed');
      assert.equal(completed.response.status, 'completed');
      // output_text is the SDK's to compute (the helpers do; raw events carry the API's fields only).
      const message = completed.response.output[0];
      assert.ok(message?.type === 'message');
      assert.deepEqual(message.content, [
        { type: 'output_text', annotations: [], logprobs: [], text: SCRIPTED_TEXT },
      ]);
      assert.equal(completed.response.usage?.total_tokens, SCRIPTED_USAGE.total_tokens);
    });

    it('responses.stream(): reasoning as a reasoning item, then the answer; finalResponse()', async () => {
      const stream = client.responses.stream({ model, input: 'Think first. scenario:reasoning' });
      let reasoning = '';
      stream.on('response.reasoning_text.delta', (event) => {
        reasoning += event.delta;
      });
      const final = await stream.finalResponse();
      assert.equal(reasoning, SCRIPTED_REASONING);
      assert.equal(final.status, 'completed');
      assert.equal(final.output_text, SCRIPTED_REASONED_ANSWER);
      const [thinking, message] = final.output;
      assert.ok(thinking?.type === 'reasoning');
      assert.deepEqual(thinking.content, [{ type: 'reasoning_text', text: SCRIPTED_REASONING }]);
      assert.equal(message?.type, 'message');
    });

    it('function calling over three turns, each continuing the last with previous_response_id', async () => {
      const first = await client.responses.create({
        model,
        input: 'What is the weather in Paris? scenario:tools',
        tools: [WEATHER_TOOL],
      });
      const [call] = functionCalls(first);
      assert.ok(call !== undefined);
      assert.equal(call.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.arguments), SCRIPTED_CALLS.tools[0]?.arguments);

      const second = await client.responses.create({
        model,
        previous_response_id: first.id,
        input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny, 21°C' }],
        tools: [WEATHER_TOOL],
      });
      assert.equal(second.output_text, toolSaid('sunny, 21°C'));
      assert.equal(second.previous_response_id, first.id);
      const upstream = lastUpstreamMessages();
      assert.deepEqual(
        upstream.map((message) => message.role),
        ['user', 'assistant', 'tool'],
      );
      assert.equal((upstream[1]?.tool_calls as unknown[] | undefined)?.length, 1);

      // The third turn streams, through the helper.
      const third = await client.responses
        .stream({ model, previous_response_id: second.id, input: 'Thanks!' })
        .finalResponse();
      assert.equal(third.output_text, SCRIPTED_TEXT);
      assert.deepEqual(
        lastUpstreamMessages().map((message) => message.role),
        ['user', 'assistant', 'tool', 'assistant', 'user'],
      );
      assert.equal(lastUpstreamMessages()[3]?.content, toolSaid('sunny, 21°C'));
    });

    it('parallel function calls, streamed: one function_call item each, arguments in deltas', async () => {
      const stream = client.responses.stream({
        model,
        input: 'Weather in Paris and time in Tokyo. scenario:parallel_tools',
        tools: [WEATHER_TOOL, TIME_TOOL],
      });
      let argumentDeltas = 0;
      stream.on('response.function_call_arguments.delta', () => {
        argumentDeltas++;
      });
      const final = await stream.finalResponse();
      const calls = functionCalls(final);
      assert.deepEqual(
        calls.map((call) => [call.name, JSON.parse(call.arguments) as unknown]),
        SCRIPTED_CALLS.parallel_tools.map((call) => [call.name, call.arguments]),
      );
      assert.ok(argumentDeltas >= calls.length);
      // Both results in one turn, then the answer.
      const next = await client.responses.create({
        model,
        previous_response_id: final.id,
        input: calls.map((call) => ({
          type: 'function_call_output' as const,
          call_id: call.call_id,
          output: call.name === 'get_weather' ? 'rain' : '09:00',
        })),
      });
      assert.equal(next.output_text, toolSaid('09:00'));
      assert.deepEqual(
        lastUpstreamMessages().map((message) => message.role),
        ['user', 'assistant', 'tool', 'tool'],
      );
    });

    it('text.format json_schema reaches the backend as its structured output', async () => {
      const response = await client.responses.create({
        model,
        input: 'Give me the answer. scenario:json',
        text: {
          format: {
            type: 'json_schema',
            name: 'answer',
            schema: {
              type: 'object',
              properties: { answer: { type: 'number' } },
              required: ['answer'],
              additionalProperties: false,
            },
            strict: true,
          },
        },
      });
      assert.equal(response.output_text, SCRIPTED_JSON);
      assert.deepEqual(response.text?.format, {
        type: 'json_schema',
        name: 'answer',
        schema: {
          type: 'object',
          properties: { answer: { type: 'number' } },
          required: ['answer'],
          additionalProperties: false,
        },
        strict: true,
      });
      const plain = await client.responses.create({ model, input: 'Give me the answer. scenario:json' });
      assert.equal(plain.output_text, SCRIPTED_NO_SCHEMA);
    });

    it('an input_image (data: URL) reaches the backend', async () => {
      const response = await client.responses.create({
        model,
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'What is this? scenario:image' },
              { type: 'input_image', image_url: PIXEL, detail: 'low' },
            ],
          },
        ],
      });
      assert.equal(response.output_text, imagesSeen(1));
    });
  });
}

describe('Responses: stored responses', () => {
  it('retrieve returns the stored response; delete removes it; then 404', async () => {
    const created = await client.responses.create({ model: 'via-openai', input: 'Say hello' });
    const retrieved = await client.responses.retrieve(created.id);
    assert.deepEqual(retrieved, created);
    assert.deepEqual(await client.responses.delete(created.id), {
      id: created.id,
      object: 'response',
      deleted: true,
    });
    await assert.rejects(client.responses.retrieve(created.id), OpenAI.NotFoundError);
    await assert.rejects(client.responses.delete(created.id), OpenAI.NotFoundError);
  });

  it('retrieving a stored response as a stream is refused, naming stream', async () => {
    const created = await client.responses.create({ model: 'via-openai', input: 'Say hello' });
    const answer = await fetch(`${gateway.url}/v1/responses/${created.id}?stream=true`, {
      headers: { authorization: `Bearer ${TEST_KEY}` },
    });
    assert.equal(answer.status, 400);
    assert.equal(((await answer.json()) as { error: { param: string } }).error.param, 'stream');
  });

  it('a conversation over 4 MiB is answered but not stored; the log says so', async () => {
    const created = await client.responses.create({
      model: 'via-openai',
      input: `${'x'.repeat(4_300_000)} hi`,
    });
    assert.equal(created.output_text, SCRIPTED_TEXT);
    await assert.rejects(client.responses.retrieve(created.id), OpenAI.NotFoundError);
    const line = gateway.logs.find((entry) => entry['response_id'] === created.id);
    assert.equal(
      line?.['msg'],
      'response not stored: its conversation is over the size bound of a stored response; previous_response_id cannot continue it',
    );
    assert.ok((line['bytes'] as number) > 4 * 1024 * 1024);
  });

  it('a streamed response is stored once complete', async () => {
    const final = await client.responses.stream({ model: 'via-ollama', input: 'Say hello' }).finalResponse();
    const retrieved = await client.responses.retrieve(final.id);
    assert.equal(retrieved.output_text, SCRIPTED_TEXT);
    assert.equal(retrieved.status, 'completed');
    assert.deepEqual(
      retrieved.output.map((item) => item.id),
      final.output.map((item) => item.id),
    );
  });

  it('another API key cannot read, delete or continue a response: 404, as for one that does not exist', async () => {
    const created = await client.responses.create({ model: 'via-openai', input: 'Say hello' });
    const refused = await other.responses
      .create({ model: 'via-openai', previous_response_id: created.id, input: 'more' })
      .then(
        () => assert.fail('another key continued the response'),
        (error: unknown) => error,
      );
    assert.ok(refused instanceof OpenAI.NotFoundError);
    assert.equal(refused.status, 404);
    assert.equal(refused.param, 'previous_response_id');
    assert.equal(refused.code, 'not_found');
    await assert.rejects(other.responses.retrieve(created.id), OpenAI.NotFoundError);
    await assert.rejects(other.responses.delete(created.id), OpenAI.NotFoundError);
    // Still there for its own key.
    assert.equal((await client.responses.retrieve(created.id)).id, created.id);
  });

  it('store: false stores nothing: retrieve and previous_response_id are 404', async () => {
    const created = await client.responses.create({ model: 'via-openai', input: 'Say hello', store: false });
    // `store` is in the API's response, not in the SDK's type.
    assert.equal((created as unknown as { store: boolean }).store, false);
    await assert.rejects(client.responses.retrieve(created.id), OpenAI.NotFoundError);
    await assert.rejects(
      client.responses.create({ model: 'via-openai', previous_response_id: created.id, input: 'more' }),
      (error: unknown) => error instanceof OpenAI.NotFoundError && error.param === 'previous_response_id',
    );
  });

  it('item_reference brings back an output item of a stored response (of this key only)', async () => {
    const first = await client.responses.create({ model: 'via-openai', input: 'Say hello' });
    const message = first.output[0];
    assert.ok(message?.type === 'message');
    const next = await client.responses.create({
      model: 'via-openai',
      input: [
        { role: 'user', content: 'Say hello' },
        { type: 'item_reference', id: message.id },
        { role: 'user', content: 'Again' },
      ],
    });
    assert.equal(next.output_text, SCRIPTED_TEXT);
    assert.deepEqual(lastUpstreamMessages(), [
      { role: 'user', content: 'Say hello' },
      { role: 'assistant', content: SCRIPTED_TEXT },
      { role: 'user', content: 'Again' },
    ]);
    await assert.rejects(
      other.responses.create({
        model: 'via-openai',
        input: [
          { type: 'item_reference', id: message.id },
          { role: 'user', content: 'Again' },
        ],
      }),
      (error: unknown) => error instanceof OpenAI.NotFoundError && error.param === 'input[0].id',
    );
  });
});

describe('Responses: errors as the SDK surfaces them', () => {
  it('a bad API key: 401 AuthenticationError', async () => {
    const stranger = gateway.client({ apiKey: 'sk-gw-wrongDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD' });
    await assert.rejects(
      stranger.responses.create({ model: 'via-openai', input: 'hi' }),
      (error: unknown) => error instanceof OpenAI.AuthenticationError && error.status === 401,
    );
  });

  it('a hosted tool: 400 naming tools[1].type', async () => {
    const error = await client.responses
      .create({ model: 'via-openai', input: 'hi', tools: [WEATHER_TOOL, { type: 'web_search' }] })
      .then(
        () => assert.fail('accepted'),
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.equal(error.param, 'tools[1].type');
    assert.match(error.message, /only function tools/);
  });

  it('an unknown field: 400 naming it', async () => {
    const error = await client.responses.create({ model: 'via-openai', input: 'hi', top_k: 5 } as never).then(
      () => assert.fail('accepted'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.equal(error.param, 'top_k');
    assert.match(error.message, /top_k: unknown field/);
  });

  it('background: true: 400 naming background', async () => {
    await assert.rejects(
      client.responses.create({ model: 'via-openai', input: 'hi', background: true }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'background',
    );
  });

  it('an upstream that fails before answering: the gateway’s 502 as an APIError', async () => {
    standIn.once({ kind: 'status', status: 500 });
    await assert.rejects(
      client.responses.create({ model: 'failing', input: 'hi' }),
      (error: unknown) => error instanceof OpenAI.APIError && error.status === 502,
    );
  });

  it('a stream cut in the middle: an error event, then response.failed with what came so far', async () => {
    standIn.once({ kind: 'stream-cut-after', chunks: 2 });
    const stream = await client.responses.create({ model: 'failing', input: 'hi', stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const [error, failed] = events.slice(-2);
    assert.ok(error?.type === 'error');
    assert.equal(error.code, 'upstream_error');
    assert.ok(failed?.type === 'response.failed');
    assert.equal(failed.response.status, 'failed');
    assert.equal(failed.response.error?.code, 'server_error');
    assert.ok(events.some((event) => event.type === 'response.output_text.delta'));
    // A failed response is not stored.
    await assert.rejects(client.responses.retrieve(failed.response.id), OpenAI.NotFoundError);
  });
});

/** What Codex sends (fixtures/request-codex.json), on the wire: store false, its hints, a whole history. */
function codexRequest(model: string): Record<string, unknown> {
  const body = JSON.parse(
    readFileSync(
      new URL('../../src/protocols/openai-responses/fixtures/request-codex.json', import.meta.url),
      'utf8',
    ),
  ) as Record<string, unknown>;
  return { ...body, model };
}

async function postRaw(body: Record<string, unknown>): Promise<globalThis.Response> {
  return fetch(`${gateway.url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` },
    body: JSON.stringify(body),
  });
}

describe('Responses: a Codex CLI request on the wire (captured from Codex 0.171)', () => {
  for (const model of ['via-openai', 'via-ollama']) {
    it(`through ${model}: SSE frames of event and data, response.completed last, no [DONE]`, async () => {
      const answer = await postRaw(codexRequest(model));
      assert.equal(answer.status, 200);
      assert.match(answer.headers.get('content-type') ?? '', /^text\/event-stream/);
      const text = await answer.text();
      assert.doesNotMatch(text, /\[DONE\]/);
      const frames = text.split('\n\n').filter((frame) => frame !== '');
      const types = frames.map((frame) => {
        const match = /^event: ([a-z_.]+)\ndata: (\{.*\})$/s.exec(frame);
        assert.ok(match !== null, `a frame of one event and one data line: ${frame}`);
        assert.equal((JSON.parse(match[2] ?? '{}') as { type: string }).type, match[1]);
        return match[1];
      });
      assert.equal(types.at(-1), 'response.completed');
      const completed = JSON.parse(/data: (.*)$/s.exec(frames.at(-1) ?? '')?.[1] ?? '{}') as {
        response: { store: boolean; output: { type: string; content: { text: string }[] }[] };
      };
      assert.equal(completed.response.store, false);
      assert.equal(completed.response.output[0]?.content[0]?.text, toolSaid('unsupported call: get_weather'));
      // The whole history reached the backend, the namespace's functions among the tools.
      const upstream = scripted.requests.at(-1)?.body as { messages: { role: string }[]; tools: unknown[] };
      assert.deepEqual(
        upstream.messages.map((message) => message.role),
        ['system', 'system', 'user', 'user', 'assistant', 'tool'],
      );
      assert.equal(upstream.tools.length, 4);
    });
  }

  it('with its web_search tool (Codex’s default): 400 naming it, so that it is turned off', async () => {
    const body = codexRequest('via-openai');
    body['tools'] = [...(body['tools'] as unknown[]), { type: 'web_search', external_web_access: false }];
    const answer = await postRaw(body);
    assert.equal(answer.status, 400);
    const problem = (await answer.json()) as { error: { param: string; message: string } };
    assert.equal(problem.error.param, 'tools[3].type');
    assert.match(problem.error.message, /"web_search" tools are not supported/);
  });
});
