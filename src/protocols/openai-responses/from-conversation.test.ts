/**
 * Answers → the `response` object (fixtures/response-*.json, in the shape of OpenAI's API reference):
 * items and their ids, statuses, usage, log probabilities, and what the response echoes of its request.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Answer, Choice } from '../../conversation/model.js';
import { echoOf, toResponse } from './from-conversation.js';
import { parseItemId } from './ids.js';
import type { ResponsesRequest } from './schema.js';

const ID = 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b';
const CREATED = 1741476542;

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
}

function answerOf(choice: Omit<Choice, 'index'>, usage?: Answer['usage']): Answer {
  return {
    id: 'chatcmpl-1',
    model: 'qwen3',
    created: CREATED,
    choices: [{ index: 0, ...choice }],
    ...(usage === undefined ? {} : { usage }),
  };
}

function respond(answer: Answer, request: Partial<ResponsesRequest> = {}): Record<string, unknown> {
  const response = toResponse(
    answer,
    echoOf({ model: 'qwen3', input: 'x', ...request }, ID, CREATED),
    'qwen3',
  );
  if (typeof response['completed_at'] === 'number') response['completed_at'] = CREATED + 1;
  return response;
}

describe('answer → response object', () => {
  it('reasoning and text: a reasoning item and a message, usage, the request echoed (fixture)', () => {
    const response = respond(
      answerOf(
        {
          parts: [
            { type: 'reasoning', text: 'Let me think.' },
            { type: 'text', text: '42.' },
          ],
          finishReason: 'stop',
        },
        { inputTokens: 9, outputTokens: 5, reasoningTokens: 3 },
      ),
      { instructions: 'Answer briefly.', reasoning: { effort: 'low' }, metadata: { session: 's-1' } },
    );
    assert.deepEqual(response, fixture('response-reasoning.json'));
  });

  it('each tool call is a function_call item whose id names the response and its place', () => {
    const response = respond(
      answerOf({
        parts: [
          { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { type: 'tool_call', id: 'call_2', name: 'get_time', arguments: '{"zone":"Asia/Tokyo"}' },
        ],
        finishReason: 'tool_calls',
      }),
    );
    const output = response['output'] as Record<string, unknown>[];
    assert.deepEqual(output, [
      {
        id: `fc_${ID.slice(5)}_0`,
        type: 'function_call',
        status: 'completed',
        arguments: '{"city":"Paris"}',
        call_id: 'call_1',
        name: 'get_weather',
      },
      {
        id: `fc_${ID.slice(5)}_1`,
        type: 'function_call',
        status: 'completed',
        arguments: '{"zone":"Asia/Tokyo"}',
        call_id: 'call_2',
        name: 'get_time',
      },
    ]);
    assert.equal(response['status'], 'completed');
    assert.deepEqual(parseItemId(output[1]?.['id'] as string), { responseId: ID, outputIndex: 1 });
    // No usage reported: null, not zeros that were never counted.
    assert.equal(response['usage'], null);
  });

  it('a call of a namespace tool’s function comes back with its namespace and own name', () => {
    const response = respond(
      answerOf({
        parts: [{ type: 'tool_call', id: 'call_1', name: 'agents__spawn', arguments: '{}' }],
        finishReason: 'tool_calls',
      }),
      {
        tools: [
          {
            type: 'namespace',
            name: 'agents',
            description: 'Sub-agents',
            tools: [{ type: 'function', name: 'spawn', parameters: { type: 'object' } }],
          },
        ],
      },
    );
    const [call] = response['output'] as Record<string, unknown>[];
    assert.equal(call?.['name'], 'spawn');
    assert.equal(call?.['namespace'], 'agents');
    // The namespace is echoed as it was sent.
    assert.equal((response['tools'] as Record<string, unknown>[])[0]?.['type'], 'namespace');
  });

  it('stopped by max_output_tokens: incomplete, and so is its message', () => {
    const response = respond(
      answerOf({ parts: [{ type: 'text', text: 'Once upon' }], finishReason: 'length' }),
      {
        max_output_tokens: 16,
      },
    );
    assert.equal(response['status'], 'incomplete');
    assert.deepEqual(response['incomplete_details'], { reason: 'max_output_tokens' });
    assert.equal('completed_at' in response, false);
    assert.equal((response['output'] as { status: string }[])[0]?.status, 'incomplete');
    assert.equal(response['max_output_tokens'], 16);
  });

  it('stopped by a content filter: incomplete for that reason', () => {
    const response = respond(
      answerOf({ parts: [{ type: 'text', text: 'x' }], finishReason: 'content_filter' }),
    );
    assert.deepEqual(response['incomplete_details'], { reason: 'content_filter' });
  });

  it('log probabilities on output_text, with bytes as OpenAI gives them', () => {
    const response = respond(
      answerOf({
        parts: [{ type: 'text', text: 'Hi' }],
        finishReason: 'stop',
        logprobs: [{ token: 'Hi', logprob: -0.1, top_logprobs: [{ token: 'Hi', logprob: -0.1 }] }],
      }),
    );
    const part = (response['output'] as { content: Record<string, unknown>[] }[])[0]?.content[0];
    assert.deepEqual(part?.['logprobs'], [
      {
        token: 'Hi',
        bytes: [72, 105],
        logprob: -0.1,
        top_logprobs: [{ token: 'Hi', bytes: [72, 105], logprob: -0.1 }],
      },
    ]);
  });

  it('echoes tools, tool_choice, text.format, store and the rest of the request', () => {
    const response = respond(answerOf({ parts: [{ type: 'text', text: '{}' }], finishReason: 'stop' }), {
      tools: [{ type: 'function', name: 'f', parameters: { type: 'object' }, strict: true }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      text: { format: { type: 'json_object' } },
      store: false,
      temperature: 0.5,
      top_p: 0.5,
      previous_response_id: 'resp_previous',
      user: 'u-1',
      safety_identifier: 's-1',
    });
    assert.deepEqual(response['tools'], [
      { type: 'function', name: 'f', description: null, parameters: { type: 'object' }, strict: true },
    ]);
    assert.equal(response['tool_choice'], 'required');
    assert.equal(response['parallel_tool_calls'], false);
    assert.deepEqual(response['text'], { format: { type: 'json_object' } });
    assert.equal(response['store'], false);
    assert.equal(response['temperature'], 0.5);
    assert.equal(response['previous_response_id'], 'resp_previous');
    assert.equal(response['user'], 'u-1');
    assert.equal(response['safety_identifier'], 's-1');
    // output_text is computed by the SDKs from the output, not sent (OpenAI's API does not send it).
    assert.equal('output_text' in response, false);
  });
});
