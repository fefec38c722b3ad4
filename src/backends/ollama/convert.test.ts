import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletionRequest } from '../../api/schemas.js';
import { InvalidRequestError } from '../../errors/errors.js';
import {
  floatsToBase64,
  fromOllamaChatResponse,
  fromOllamaEmbedResponse,
  fromOllamaStreamLine,
  toOllamaChatRequest,
  type OllamaChatResponse,
} from './convert.js';

/** A chat request as the route hands it over: one user message plus the given fields. */
function request(fields: Record<string, unknown> = {}): ChatCompletionRequest {
  return {
    model: 'llama3.2:1b',
    messages: [{ role: 'user', content: 'Hi' }],
    ...fields,
  };
}

function withMessages(messages: unknown[], fields: Record<string, unknown> = {}): ChatCompletionRequest {
  return request({ messages, ...fields });
}

/** Asserts that fn throws an InvalidRequestError (400 invalid_request) about the given param. */
function assertInvalid(fn: () => unknown, param: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InvalidRequestError, `expected InvalidRequestError, got ${String(error)}`);
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.status, 400);
    assert.equal(error.param, param);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

describe('toOllamaChatRequest', () => {
  it('keeps model and messages, sets stream, and sends no options when none were given', () => {
    assert.deepEqual(toOllamaChatRequest(request(), false), {
      model: 'llama3.2:1b',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: false,
    });
    assert.equal(toOllamaChatRequest(request(), true).stream, true);
  });

  it('maps the sampling parameters to options', () => {
    const out = toOllamaChatRequest(
      request({ temperature: 0.3, top_p: 0.9, seed: 42, presence_penalty: 0.5, frequency_penalty: -0.5 }),
      false,
    );
    assert.deepEqual(out.options, {
      temperature: 0.3,
      top_p: 0.9,
      seed: 42,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
    });
  });

  it('leaves out parameters sent as null', () => {
    const out = toOllamaChatRequest(
      request({ temperature: null, top_p: null, max_tokens: null, stop: null, seed: 0 }),
      false,
    );
    assert.deepEqual(out.options, { seed: 0 });
  });

  it('maps max_tokens to num_predict, and max_completion_tokens wins over it', () => {
    assert.deepEqual(toOllamaChatRequest(request({ max_tokens: 50 }), false).options, { num_predict: 50 });
    assert.deepEqual(toOllamaChatRequest(request({ max_completion_tokens: 20 }), false).options, {
      num_predict: 20,
    });
    assert.deepEqual(
      toOllamaChatRequest(request({ max_tokens: 50, max_completion_tokens: 20 }), false).options,
      {
        num_predict: 20,
      },
    );
  });

  it('sends stop as a list, whether it came as a string or a list', () => {
    assert.deepEqual(toOllamaChatRequest(request({ stop: 'END' }), false).options, { stop: ['END'] });
    assert.deepEqual(toOllamaChatRequest(request({ stop: ['a', 'b'] }), false).options, { stop: ['a', 'b'] });
  });

  it("maps response_format json_object to format 'json' and json_schema to the schema itself", () => {
    assert.equal(
      toOllamaChatRequest(request({ response_format: { type: 'json_object' } }), false).format,
      'json',
    );
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const out = toOllamaChatRequest(
      request({ response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } } }),
      false,
    );
    assert.deepEqual(out.format, schema);
    assert.equal(
      toOllamaChatRequest(
        request({ response_format: { type: 'json_schema', json_schema: { name: 'x' } } }),
        false,
      ).format,
      'json',
    );
    assert.equal(
      'format' in toOllamaChatRequest(request({ response_format: { type: 'text' } }), false),
      false,
    );
  });

  it('sends the developer role as system and keeps the other roles', () => {
    const out = toOllamaChatRequest(
      withMessages([
        { role: 'developer', content: 'Be brief' },
        { role: 'system', content: 'Be kind' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
      ]),
      false,
    );
    assert.deepEqual(
      out.messages.map((message) => message.role),
      ['system', 'system', 'user', 'assistant'],
    );
  });

  it('joins the text parts of a multi-part message and treats null content as empty', () => {
    const out = toOllamaChatRequest(
      withMessages([
        {
          role: 'user',
          content: [
            { type: 'text', text: 'first' },
            { type: 'text', text: 'second' },
          ],
        },
        { role: 'assistant', content: null },
      ]),
      false,
    );
    assert.deepEqual(out.messages[0], { role: 'user', content: 'first\nsecond' });
    assert.deepEqual(out.messages[1], { role: 'assistant', content: '' });
  });

  it('sends data: image URLs as base64 images, and the text beside them', () => {
    const out = toOllamaChatRequest(
      withMessages([
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: 'data:image/jpeg;base64,/9j/4AAQ' },
          ],
        },
      ]),
      false,
    );
    assert.deepEqual(out.messages[0], {
      role: 'user',
      content: 'What is this?',
      images: ['iVBORw0KGgo=', '/9j/4AAQ'],
    });
  });

  it('refuses an http(s) image URL instead of fetching it', () => {
    for (const url of [
      'http://example.com/cat.png',
      'https://example.com/cat.png',
      'data:text/plain;base64,aGk=',
    ]) {
      assertInvalid(
        () =>
          toOllamaChatRequest(
            withMessages([
              { role: 'system', content: 'x' },
              {
                role: 'user',
                content: [
                  { type: 'text', text: 'What is this?' },
                  { type: 'image_url', image_url: { url } },
                ],
              },
            ]),
            false,
          ),
        'messages[1].content[1].image_url',
        /data: URLs/,
      );
    }
  });

  it('refuses a content part type Ollama cannot take', () => {
    assertInvalid(
      () =>
        toOllamaChatRequest(
          withMessages([{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }]),
          false,
        ),
      'messages[0].content[0].type',
      /input_audio/,
    );
  });

  it('parses tool call arguments sent as a JSON string into an object, and keeps object arguments', () => {
    const out = toOllamaChatRequest(
      withMessages([
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call-1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris","days":2}' },
            },
            { id: 'call-2', type: 'function', function: { name: 'get_time', arguments: { zone: 'CET' } } },
          ],
        },
        { role: 'tool', tool_call_id: 'call-1', name: 'get_weather', content: '{"temp":21}' },
      ]),
      false,
    );
    assert.deepEqual(out.messages[1], {
      role: 'assistant',
      content: '',
      tool_calls: [
        { function: { name: 'get_weather', arguments: { city: 'Paris', days: 2 } } },
        { function: { name: 'get_time', arguments: { zone: 'CET' } } },
      ],
    });
    assert.deepEqual(out.messages[2], { role: 'tool', content: '{"temp":21}', tool_name: 'get_weather' });
  });

  it('refuses tool call arguments that are not JSON', () => {
    assertInvalid(
      () =>
        toOllamaChatRequest(
          withMessages([
            { role: 'user', content: 'Hi' },
            {
              role: 'assistant',
              tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{city:' } }],
            },
          ]),
          false,
        ),
      'messages[1].tool_calls[0].function.arguments',
    );
  });

  it('passes tools through, and leaves out an empty list', () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    assert.deepEqual(toOllamaChatRequest(request({ tools }), false).tools, tools);
    assert.equal('tools' in toOllamaChatRequest(request({ tools: [] }), false), false);
  });

  it('refuses n > 1, and accepts n = 1', () => {
    assertInvalid(() => toOllamaChatRequest(request({ n: 2 }), false), 'n');
    assert.doesNotThrow(() => toOllamaChatRequest(request({ n: 1 }), false));
    assert.doesNotThrow(() => toOllamaChatRequest(request({ n: null }), false));
  });
});

describe('fromOllamaChatResponse', () => {
  const answer: OllamaChatResponse = {
    model: 'llama3.2:1b',
    message: { role: 'assistant', content: 'Hello there' },
    done: true,
    done_reason: 'stop',
    prompt_eval_count: 12,
    eval_count: 3,
  };

  it('maps content, usage and the stop reason into a chat.completion', () => {
    assert.deepEqual(fromOllamaChatResponse(answer, 'chatcmpl-1', 1700000000, 'llama'), {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1700000000,
      model: 'llama3.2:1b',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
    });
  });

  it('uses the requested model name when Ollama gives none, and zero usage when it counts nothing', () => {
    const completion = fromOllamaChatResponse({ message: { content: 'x' }, done: true }, 'id', 1, 'llama');
    assert.equal(completion.model, 'llama');
    assert.deepEqual(completion.usage, { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
  });

  it("maps done_reason 'length' to finish_reason 'length'", () => {
    const completion = fromOllamaChatResponse({ ...answer, done_reason: 'length' }, 'id', 1, 'llama');
    assert.equal(completion.choices[0]?.finish_reason, 'length');
  });

  it("maps tool calls to OpenAI's form with JSON-string arguments and finish_reason 'tool_calls'", () => {
    const completion = fromOllamaChatResponse(
      {
        ...answer,
        message: {
          role: 'assistant',
          content: '',
          tool_calls: [
            { function: { name: 'get_weather', arguments: { city: 'Paris' } } },
            { function: { name: 'get_time', arguments: {} } },
          ],
        },
      },
      'chatcmpl-9',
      1,
      'llama',
    );
    const choice = completion.choices[0];
    assert.equal(choice?.finish_reason, 'tool_calls');
    const calls = choice?.message.tool_calls ?? [];
    assert.deepEqual(
      calls.map((call) => ({ type: call.type, function: call.function })),
      [
        { type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { type: 'function', function: { name: 'get_time', arguments: '{}' } },
      ],
    );
    assert.deepEqual(JSON.parse(calls[0]?.function.arguments ?? ''), { city: 'Paris' });
    assert.equal(new Set(calls.map((call) => call.id)).size, 2, 'each call has its own id');
    assert.ok(calls.every((call) => call.id.startsWith('chatcmpl-9')));
  });
});

describe('fromOllamaStreamLine', () => {
  function newState(): { id: string; created: number; model: string; sentRole: boolean } {
    return { id: 'chatcmpl-s', created: 1700000000, model: 'llama', sentRole: false };
  }

  it('sends the role with the first delta, then content deltas only', () => {
    const state = newState();
    const first = fromOllamaStreamLine(
      { model: 'llama3.2:1b', message: { role: 'assistant', content: 'Hel' }, done: false },
      state,
    );
    assert.deepEqual(first, [
      {
        id: 'chatcmpl-s',
        object: 'chat.completion.chunk',
        created: 1700000000,
        model: 'llama3.2:1b',
        choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }],
      },
    ]);
    assert.equal(state.sentRole, true);
    const second = fromOllamaStreamLine(
      { message: { role: 'assistant', content: 'lo' }, done: false },
      state,
    );
    assert.equal(second.length, 1);
    assert.deepEqual(second[0]?.choices, [{ index: 0, delta: { content: 'lo' }, finish_reason: null }]);
    assert.equal(second[0]?.model, 'llama');
  });

  it('sends the role even when the first line has no content, and nothing for later empty lines', () => {
    const state = newState();
    const first = fromOllamaStreamLine({ message: { role: 'assistant', content: '' }, done: false }, state);
    assert.deepEqual(first[0]?.choices, [
      { index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null },
    ]);
    assert.deepEqual(
      fromOllamaStreamLine({ message: { role: 'assistant', content: '' }, done: false }, state),
      [],
    );
  });

  it('ends with a finish chunk and then a usage chunk with no choices', () => {
    const state = newState();
    fromOllamaStreamLine({ message: { content: 'Hi' }, done: false }, state);
    const last = fromOllamaStreamLine(
      {
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: 'stop',
        prompt_eval_count: 7,
        eval_count: 2,
      },
      state,
    );
    assert.equal(last.length, 2);
    assert.deepEqual(last[0]?.choices, [{ index: 0, delta: {}, finish_reason: 'stop' }]);
    assert.equal(last[0]?.usage, undefined);
    assert.deepEqual(last[1]?.choices, []);
    assert.deepEqual(last[1]?.usage, { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 });
    assert.ok(last.every((chunk) => chunk.id === 'chatcmpl-s' && chunk.object === 'chat.completion.chunk'));
  });

  it('keeps content that arrives on the last line, before the finish chunk', () => {
    const state = { ...newState(), sentRole: true };
    const last = fromOllamaStreamLine(
      { message: { content: '!' }, done: true, done_reason: 'length', eval_count: 1 },
      state,
    );
    assert.deepEqual(
      last.map((chunk) => chunk.choices[0] ?? null),
      [
        { index: 0, delta: { content: '!' }, finish_reason: null },
        { index: 0, delta: {}, finish_reason: 'length' },
        null,
      ],
    );
  });

  it("streams tool calls with an index and finishes with 'tool_calls'", () => {
    const state = { ...newState(), sentRole: true };
    const last = fromOllamaStreamLine(
      {
        message: { content: '', tool_calls: [{ function: { name: 'f', arguments: { a: 1 } } }] },
        done: true,
      },
      state,
    );
    const delta = last[0]?.choices[0]?.delta as {
      tool_calls?: { index: number; type: string; function: unknown }[];
    };
    assert.equal(delta.tool_calls?.[0]?.index, 0);
    assert.equal(delta.tool_calls?.[0]?.type, 'function');
    assert.deepEqual(delta.tool_calls?.[0]?.function, { name: 'f', arguments: '{"a":1}' });
    assert.equal(last[1]?.choices[0]?.finish_reason, 'tool_calls');
  });
});

describe('embeddings', () => {
  function decode(base64: string): number[] {
    const bytes = Buffer.from(base64, 'base64');
    // Copied into a fresh ArrayBuffer: a pooled Buffer's offset need not be a multiple of 4.
    return Array.from(new Float32Array(new Uint8Array(bytes).buffer));
  }

  it('floatsToBase64 round-trips through Float32Array (little-endian float32)', () => {
    const vector = [3, 0.5, -0.25, 0, 1e-3, 0.1, -123456.789];
    const base64 = floatsToBase64(vector);
    assert.equal(Buffer.from(base64, 'base64').length, vector.length * 4);
    assert.deepEqual(
      decode(base64),
      vector.map((value) => Math.fround(value)),
    );
    assert.equal(floatsToBase64([]), '');
    assert.equal(floatsToBase64([1]), Buffer.from([0x00, 0x00, 0x80, 0x3f]).toString('base64'));
  });

  it('fromOllamaEmbedResponse builds an OpenAI list, as floats or base64', () => {
    const response = {
      model: 'nomic-embed-text',
      embeddings: [
        [3, 0.5],
        [-0.25, 1],
      ],
      prompt_eval_count: 4,
    };
    assert.deepEqual(fromOllamaEmbedResponse(response, 'embed', 'float'), {
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [3, 0.5] },
        { object: 'embedding', index: 1, embedding: [-0.25, 1] },
      ],
      model: 'nomic-embed-text',
      usage: { prompt_tokens: 4, total_tokens: 4 },
    });
    const encoded = fromOllamaEmbedResponse(response, 'embed', 'base64');
    assert.deepEqual(
      encoded.data.map((item) => decode(item.embedding as string)),
      [
        [3, 0.5],
        [-0.25, 1],
      ],
    );
  });
});
