/**
 * Stream events → the Responses SSE stream (fixtures/stream-*.sse, in the event shapes of OpenAI's
 * API reference and SDK types). The openai SDK's own stream accumulator reads each transcript into the
 * response the last event carries; the stored response is written before that event; a failure is an
 * `error` event then response.failed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import { AnswerAccumulator } from '../../conversation/events.js';
import type { StreamEvent } from '../../conversation/model.js';
import { UpstreamTimeoutError } from '../../errors/errors.js';
import { echoOf, toResponse, type Json } from './from-conversation.js';
import type { ResponsesRequest } from './schema.js';
import { ResponsesEventEncoder } from './stream-events.js';

const ID = 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b';
const CREATED = 1741476542;
const START: StreamEvent = { type: 'start', id: 'chatcmpl-1', model: 'qwen3', created: CREATED };

interface Frame {
  event: string;
  data: Json;
}

/** An SSE transcript as frames; completed_at (the clock's) set to the fixtures' value. */
function framesOf(text: string): Frame[] {
  return text
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const [eventLine, dataLine, ...rest] = block.split('\n');
      assert.equal(rest.length, 0, `one event and one data line per frame: ${block}`);
      assert.match(eventLine ?? '', /^event: /);
      assert.match(dataLine ?? '', /^data: /);
      const data = JSON.parse((dataLine ?? '').slice('data: '.length)) as Json;
      const response = data['response'] as Json | undefined;
      if (typeof response?.['completed_at'] === 'number') response['completed_at'] = CREATED + 1;
      return { event: (eventLine ?? '').slice('event: '.length), data };
    });
}

function fixture(name: string): string {
  return readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');
}

interface Run {
  text: string;
  stored: Json[];
  answer: ReturnType<AnswerAccumulator['result']>;
  echo: ReturnType<typeof echoOf>;
}

async function run(batches: StreamEvent[][], request: Partial<ResponsesRequest> = {}): Promise<Run> {
  const echo = echoOf({ model: 'qwen3', input: 'x', ...request }, ID, CREATED);
  const stored: Json[] = [];
  let text = '';
  const encoder = new ResponsesEventEncoder(echo, 'qwen3', (response) => {
    stored.push(response);
    return Promise.resolve();
  });
  const accumulator = new AnswerAccumulator();
  for (const batch of batches) {
    for (const event of batch) accumulator.add(event);
    text += encoder.events(batch);
  }
  const answer = accumulator.result();
  text += await encoder.end(answer);
  return { text, stored, answer, echo };
}

const TEXT: StreamEvent[][] = [
  [START, { type: 'text', choice: 0, text: 'Hel' }],
  [{ type: 'text', choice: 0, text: 'lo.' }],
  [{ type: 'finish', choice: 0, reason: 'stop' }],
  [{ type: 'usage', usage: { inputTokens: 9, outputTokens: 2 } }],
];

const TOOLS_REQUEST: Partial<ResponsesRequest> = {
  tools: [
    {
      type: 'function',
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } } },
    },
    {
      type: 'function',
      name: 'get_time',
      parameters: { type: 'object', properties: { zone: { type: 'string' } } },
    },
  ],
};

const REASONING_TOOLS: StreamEvent[][] = [
  [START, { type: 'reasoning', choice: 0, text: 'Two tools' }],
  [{ type: 'reasoning', choice: 0, text: ' at once.' }],
  [{ type: 'text', choice: 0, text: 'Checking.' }],
  [{ type: 'tool_call_start', choice: 0, call: 0, id: 'call_1', name: 'get_weather' }],
  [{ type: 'tool_call_delta', choice: 0, call: 0, arguments: '{"city":' }],
  [{ type: 'tool_call_delta', choice: 0, call: 0, arguments: '"Paris"}' }],
  [
    { type: 'tool_call_start', choice: 0, call: 1, id: 'call_2', name: 'get_time' },
    { type: 'tool_call_delta', choice: 0, call: 1, arguments: '{"zone":"Asia/Tokyo"}' },
  ],
  [{ type: 'finish', choice: 0, reason: 'tool_calls' }],
  [{ type: 'usage', usage: { inputTokens: 20, outputTokens: 30, cachedInputTokens: 4, reasoningTokens: 5 } }],
];

const INCOMPLETE: StreamEvent[][] = [
  [START, { type: 'text', choice: 0, text: 'Once upon a time' }],
  [{ type: 'finish', choice: 0, reason: 'length' }],
  [{ type: 'usage', usage: { inputTokens: 12, outputTokens: 16 } }],
];

const CASES: [string, StreamEvent[][], Partial<ResponsesRequest>, string][] = [
  ['text', TEXT, {}, 'stream-text.sse'],
  ['reasoning, text and two tool calls', REASONING_TOOLS, TOOLS_REQUEST, 'stream-reasoning-tools.sse'],
  ['stopped by max_output_tokens', INCOMPLETE, { max_output_tokens: 16 }, 'stream-incomplete.sse'],
];

describe('stream events → Responses SSE', () => {
  for (const [what, batches, request, name] of CASES) {
    it(`${what}: the transcript of ${name}`, async () => {
      const { text } = await run(batches, request);
      assert.deepEqual(framesOf(text), framesOf(fixture(name)));
    });

    it(`${what}: numbered from 0 without a gap, event names as the data's type, no [DONE]`, async () => {
      const frames = framesOf((await run(batches, request)).text);
      frames.forEach((frame, index) => {
        assert.equal(frame.data['sequence_number'], index);
        assert.equal(frame.data['type'], frame.event);
      });
      assert.equal(frames[0]?.event, 'response.created');
      assert.equal(frames[1]?.event, 'response.in_progress');
      assert.match(frames.at(-1)?.event ?? '', /^response\.(completed|incomplete)$/);
    });

    it(`${what}: the last event's response is the complete answer's, and the one stored`, async () => {
      const { text, stored, answer, echo } = await run(batches, request);
      const last = framesOf(text).at(-1)?.data['response'] as Json;
      const whole = toResponse(answer, echo, 'qwen3');
      if (typeof whole['completed_at'] === 'number') whole['completed_at'] = CREATED + 1;
      assert.deepEqual(last, whole);
      assert.equal(stored.length, 1);
      const kept = stored[0] as Json;
      if (typeof kept['completed_at'] === 'number') kept['completed_at'] = CREATED + 1;
      assert.deepEqual(kept, last);
    });

    it(`${what}: the openai SDK's responses.stream() reads it into that response`, async () => {
      const { text } = await run(batches, request);
      const client = new OpenAI({
        apiKey: 'unused',
        maxRetries: 0,
        fetch: () =>
          Promise.resolve(new Response(text, { headers: { 'content-type': 'text/event-stream' } })),
      });
      const events: string[] = [];
      const stream = client.responses.stream({ model: 'qwen3', input: 'x' });
      stream.on('event', (event) => events.push(event.type));
      const final = await stream.finalResponse();
      const frames = framesOf(text);
      assert.deepEqual(
        events,
        frames.map((frame) => frame.event),
      );
      const last = frames.at(-1)?.data['response'] as Json;
      // What the SDK adds of its own: output_text, and from its parsing output_parsed, parsed and
      // parsed_arguments.
      const { output_text: outputText, output_parsed: _parsed, ...rest } = final as unknown as Json;
      if (typeof rest['completed_at'] === 'number') rest['completed_at'] = CREATED + 1;
      for (const item of rest['output'] as Json[]) {
        delete item['parsed_arguments'];
        for (const part of (item['content'] as Json[] | undefined) ?? []) delete part['parsed'];
      }
      assert.deepEqual(rest, last);
      const message = (last['output'] as Json[]).find((item) => item['type'] === 'message');
      assert.equal(
        outputText,
        ((message?.['content'] as Json[] | undefined)?.[0]?.['text'] as string | undefined) ?? '',
      );
    });
  }

  it('the response is stored before the last event is handed out', async () => {
    const order: string[] = [];
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const encoder = new ResponsesEventEncoder(
      echoOf({ model: 'qwen3', input: 'x' }, ID, CREATED),
      'qwen3',
      async () => {
        order.push('storing');
        await released;
        order.push('stored');
      },
    );
    const accumulator = new AnswerAccumulator();
    for (const batch of TEXT) {
      for (const event of batch) accumulator.add(event);
      encoder.events(batch);
    }
    const ending = encoder.end(accumulator.result()).then((frames) => {
      order.push('ended');
      return frames;
    });
    // Every pending callback runs: end() is still waiting for the store.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, ['storing']);
    release();
    assert.match(await ending, /event: response\.completed/);
    assert.deepEqual(order, ['storing', 'stored', 'ended']);
  });

  it('log probabilities ride on the delta of the text they came with', async () => {
    const { text } = await run(
      [
        [
          START,
          { type: 'text', choice: 0, text: 'Hi' },
          { type: 'logprobs', choice: 0, content: [{ token: 'Hi', logprob: -0.5, top_logprobs: [] }] },
        ],
        [{ type: 'finish', choice: 0, reason: 'stop' }],
      ],
      { include: ['message.output_text.logprobs'] },
    );
    const frames = framesOf(text);
    const delta = frames.find((frame) => frame.event === 'response.output_text.delta');
    assert.deepEqual(delta?.data['logprobs'], [{ token: 'Hi', logprob: -0.5, top_logprobs: [] }]);
    const done = frames.find((frame) => frame.event === 'response.output_item.done')?.data['item'] as {
      content: Json[];
    };
    assert.deepEqual(done.content[0]?.['logprobs'], [
      { token: 'Hi', bytes: [72, 105], logprob: -0.5, top_logprobs: [] },
    ]);
  });

  it('a failure after the stream started: an error event, then response.failed; nothing stored', () => {
    const stored: Json[] = [];
    const encoder = new ResponsesEventEncoder(
      echoOf({ model: 'qwen3', input: 'x' }, ID, CREATED),
      'qwen3',
      (r) => {
        stored.push(r);
        return Promise.resolve();
      },
    );
    let text = encoder.events([START, { type: 'text', choice: 0, text: 'Partial' }]);
    text += encoder.error(
      new UpstreamTimeoutError('The upstream went silent for 60000 ms'),
      '/v1/responses',
      'req-1',
    );
    const frames = framesOf(text);
    const [error, failed] = frames.slice(-2);
    assert.deepEqual(error, {
      event: 'error',
      data: {
        type: 'error',
        sequence_number: frames.length - 2,
        code: 'upstream_timeout',
        message: 'The upstream went silent for 60000 ms',
        param: null,
      },
    });
    assert.equal(failed?.event, 'response.failed');
    const response = failed?.data['response'] as Json;
    assert.equal(response['status'], 'failed');
    assert.deepEqual(response['error'], {
      code: 'server_error',
      message: 'The upstream went silent for 60000 ms',
    });
    // What was produced so far, as the client saw it.
    assert.equal(((response['output'] as Json[])[0]?.['content'] as Json[] | undefined)?.length, 0);
    assert.equal(stored.length, 0);
  });
});
