import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletionRequest } from '../../api/schemas.js';
import { InvalidRequestError } from '../../errors/errors.js';
import {
  floatsToBase64,
  fromOllamaChatResponse,
  fromOllamaEmbedResponse,
  fromOllamaStreamLine,
  newStreamState,
  toOllamaChatRequest,
  type OllamaChatRequest,
  type OllamaChatResponse,
  type OllamaRequestPolicy,
  type OllamaStreamState,
} from './convert.js';

/** A chat request as the route hands it over: one user message plus the given fields. */
function request(fields: Record<string, unknown> = {}): ChatCompletionRequest {
  return {
    model: 'llama3.2:1b',
    messages: [{ role: 'user', content: 'Hi' }],
    ...fields,
  };
}

/** The Ollama request alone (the translation's `dropped` list is checked where it matters). */
function toOllama(
  chat: ChatCompletionRequest,
  stream: boolean,
  policy?: OllamaRequestPolicy,
): OllamaChatRequest {
  return toOllamaChatRequest(chat, stream, policy).request;
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
    assert.deepEqual(toOllama(request(), false), {
      model: 'llama3.2:1b',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: false,
    });
    assert.equal(toOllama(request(), true).stream, true);
  });

  it('maps the sampling parameters to options', () => {
    const out = toOllama(
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
    const out = toOllama(
      request({ temperature: null, top_p: null, max_tokens: null, stop: null, seed: 0 }),
      false,
    );
    assert.deepEqual(out.options, { seed: 0 });
  });

  it('maps max_tokens to num_predict, and max_completion_tokens wins over it', () => {
    assert.deepEqual(toOllama(request({ max_tokens: 50 }), false).options, { num_predict: 50 });
    assert.deepEqual(toOllama(request({ max_completion_tokens: 20 }), false).options, {
      num_predict: 20,
    });
    assert.deepEqual(toOllama(request({ max_tokens: 50, max_completion_tokens: 20 }), false).options, {
      num_predict: 20,
    });
  });

  it('sends stop as a list, whether it came as a string or a list', () => {
    assert.deepEqual(toOllama(request({ stop: 'END' }), false).options, { stop: ['END'] });
    assert.deepEqual(toOllama(request({ stop: ['a', 'b'] }), false).options, { stop: ['a', 'b'] });
  });

  it("maps response_format json_object to format 'json' and json_schema to the schema itself", () => {
    assert.equal(toOllama(request({ response_format: { type: 'json_object' } }), false).format, 'json');
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const out = toOllama(
      request({ response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } } }),
      false,
    );
    assert.deepEqual(out.format, schema);
    assert.equal(
      toOllama(request({ response_format: { type: 'json_schema', json_schema: { name: 'x' } } }), false)
        .format,
      'json',
    );
    assert.equal('format' in toOllama(request({ response_format: { type: 'text' } }), false), false);
  });

  it('sends the developer role as system and keeps the other roles', () => {
    const out = toOllama(
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
    const out = toOllama(
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
    const out = toOllama(
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
          toOllama(
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
        toOllama(
          withMessages([{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }]),
          false,
        ),
      'messages[0].content[0].type',
      /input_audio/,
    );
  });

  it('parses tool call arguments sent as a JSON string into an object, and keeps object arguments', () => {
    const out = toOllama(
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
        { id: 'call-1', function: { name: 'get_weather', arguments: { city: 'Paris', days: 2 } } },
        { id: 'call-2', function: { name: 'get_time', arguments: { zone: 'CET' } } },
      ],
    });
    assert.deepEqual(out.messages[2], {
      role: 'tool',
      content: '{"temp":21}',
      tool_name: 'get_weather',
      tool_call_id: 'call-1',
    });
  });

  it('refuses tool call arguments that are not JSON', () => {
    assertInvalid(
      () =>
        toOllama(
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
    assert.deepEqual(toOllama(request({ tools }), false).tools, tools);
    assert.equal('tools' in toOllama(request({ tools: [] }), false), false);
  });

  it('refuses n > 1, and accepts n = 1', () => {
    assertInvalid(() => toOllama(request({ n: 2 }), false), 'n');
    assert.doesNotThrow(() => toOllama(request({ n: 1 }), false));
    assert.doesNotThrow(() => toOllama(request({ n: null }), false));
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
    assert.ok(calls.every((call) => /^call_[a-z0-9]{24}$/.test(call.id)));
  });
});

describe('fromOllamaStreamLine', () => {
  function newState(): OllamaStreamState {
    return newStreamState('chatcmpl-s', 1700000000, 'llama');
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

describe('toOllamaChatRequest: what Ollama can honour (issue 18)', () => {
  const strict: OllamaRequestPolicy = { backend: 'gpu-box', dropUnsupported: false };
  const lenient: OllamaRequestPolicy = { backend: 'gpu-box', dropUnsupported: true };

  it('maps reasoning_effort to think: none turns it off, any other effort on, as a level for gpt-oss', () => {
    const think = (effort: string, model = 'qwen3:8b'): unknown =>
      toOllama(request({ model, reasoning_effort: effort }), false).think;
    assert.equal(think('none'), false);
    for (const effort of ['minimal', 'low', 'medium', 'high', 'xhigh']) assert.equal(think(effort), true);
    assert.equal(think('low', 'gpt-oss:20b'), 'low');
    assert.equal(think('medium', 'gpt-oss:20b'), 'medium');
    assert.equal(think('high', 'library/GPT-OSS:120b'), 'high');
    assert.equal(think('minimal', 'gpt-oss:20b'), 'low');
    assert.equal(think('xhigh', 'gpt-oss:20b'), 'high');
    assert.equal(think('none', 'gpt-oss:20b'), false);
    assert.equal('think' in toOllama(request(), false), false);
    assert.equal('think' in toOllama(request({ reasoning_effort: null }), false), false);
    assertInvalid(() => toOllama(request({ reasoning_effort: 'extreme' }), false), 'reasoning_effort');
  });

  it("passes the client's own think through as given, over reasoning_effort", () => {
    assert.equal(toOllama(request({ think: true }), false).think, true);
    assert.equal(toOllama(request({ think: false, reasoning_effort: 'high' }), false).think, false);
    assert.equal(toOllama(request({ think: 'high', reasoning_effort: 'none' }), false).think, 'high');
    assertInvalid(() => toOllama(request({ think: 1 }), false), 'think');
    assertInvalid(() => toOllama(request({ think: 'x'.repeat(33) }), false), 'think');
  });

  it("sends an assistant message's reasoning_content as Ollama's thinking", () => {
    const out = toOllama(
      withMessages([
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello', reasoning_content: 'They greet me.' },
        { role: 'user', content: 'Again', reasoning_content: 'not an assistant: ignored' },
      ]),
      false,
    );
    assert.deepEqual(out.messages[1], { role: 'assistant', content: 'Hello', thinking: 'They greet me.' });
    assert.deepEqual(out.messages[2], { role: 'user', content: 'Again' });
  });

  it('passes keep_alive through and refuses a value of another type', () => {
    assert.equal(toOllama(request({ keep_alive: '10m' }), false).keep_alive, '10m');
    assert.equal(toOllama(request({ keep_alive: 0 }), false).keep_alive, 0);
    assert.equal('keep_alive' in toOllama(request({ keep_alive: null }), false), false);
    assertInvalid(() => toOllama(request({ keep_alive: { minutes: 5 } }), false), 'keep_alive');
  });

  it('maps top_k, min_p, repeat_penalty and num_ctx to options, and `options` overrides key by key', () => {
    assert.deepEqual(
      toOllama(request({ top_k: 40, min_p: 0.05, repeat_penalty: 1.1, num_ctx: 8192 }), false).options,
      { top_k: 40, min_p: 0.05, repeat_penalty: 1.1, num_ctx: 8192 },
    );
    const out = toOllama(
      request({
        temperature: 0.2,
        max_tokens: 100,
        top_k: 40,
        options: { num_ctx: 16384, temperature: 0.9, top_k: 10, mirostat: 2 },
      }),
      false,
    );
    assert.deepEqual(out.options, {
      temperature: 0.9,
      num_predict: 100,
      top_k: 10,
      num_ctx: 16384,
      mirostat: 2,
    });
  });

  it('refuses Ollama parameters of the wrong type or out of range, naming them', () => {
    assertInvalid(() => toOllama(request({ options: [1] }), false), 'options');
    assertInvalid(() => toOllama(request({ options: 'num_ctx=8192' }), false), 'options');
    assertInvalid(() => toOllama(request({ top_k: 1.5 }), false), 'top_k');
    assertInvalid(() => toOllama(request({ top_k: -1 }), false), 'top_k');
    assertInvalid(() => toOllama(request({ min_p: 2 }), false), 'min_p');
    assertInvalid(() => toOllama(request({ repeat_penalty: '1.1' }), false), 'repeat_penalty');
    assertInvalid(() => toOllama(request({ num_ctx: 0 }), false), 'num_ctx');
  });

  it('sends logprobs and top_logprobs at the top level, as /api/chat takes them', () => {
    const out = toOllama(request({ logprobs: true, top_logprobs: 3 }), false);
    assert.equal(out.logprobs, true);
    assert.equal(out.top_logprobs, 3);
    assert.equal(out.options, undefined);
    const plain = toOllama(request({ logprobs: true }), true);
    assert.equal(plain.logprobs, true);
    assert.equal('top_logprobs' in plain, false);
    assert.equal('logprobs' in toOllama(request({ logprobs: false, top_logprobs: 0 }), false), false);
    assertInvalid(() => toOllama(request({ logprobs: true, top_logprobs: 21 }), false), 'top_logprobs');
    assertInvalid(() => toOllama(request({ top_logprobs: 2 }), false), 'top_logprobs', /logprobs/);
    assertInvalid(() => toOllama(request({ logprobs: 'yes' }), false), 'logprobs');
  });

  it('keeps stop (a string or a list) and seed', () => {
    assert.deepEqual(toOllama(request({ stop: '\n\n', seed: 7 }), false).options, {
      stop: ['\n\n'],
      seed: 7,
    });
    assert.deepEqual(toOllama(request({ stop: ['a', 'b'], seed: 7 }), false).options, {
      stop: ['a', 'b'],
      seed: 7,
    });
  });

  it('sends no tools for tool_choice "none", and the tools for "auto"', () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    assert.equal('tools' in toOllama(request({ tools, tool_choice: 'none' }), false), false);
    assert.deepEqual(toOllama(request({ tools, tool_choice: 'auto' }), false).tools, tools);
    // parallel_tool_calls: false changes nothing when no tools are sent.
    assert.equal(
      'tools' in toOllama(request({ tools, tool_choice: 'none', parallel_tool_calls: false }), false),
      false,
    );
  });

  it('names a tool result after the call it answers, found by tool_call_id, else by its own name', () => {
    const out = toOllama(
      withMessages([
        { role: 'user', content: 'Weather and time?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
            { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_b', content: '12:00' },
        { role: 'tool', tool_call_id: 'call_a', content: 'sunny' },
        { role: 'tool', tool_call_id: 'call_zz', name: 'lookup', content: 'x' },
        { role: 'tool', tool_call_id: 'call_zz', content: 'y' },
      ]),
      false,
    );
    assert.deepEqual(out.messages[2], {
      role: 'tool',
      content: '12:00',
      tool_name: 'get_time',
      tool_call_id: 'call_b',
    });
    assert.deepEqual(out.messages[3], {
      role: 'tool',
      content: 'sunny',
      tool_name: 'get_weather',
      tool_call_id: 'call_a',
    });
    assert.equal(out.messages[4]?.tool_name, 'lookup');
    assert.equal('tool_name' in (out.messages[5] ?? {}), false);
  });

  it('only looks a tool call id up among earlier messages', () => {
    const out = toOllama(
      withMessages([
        { role: 'user', content: 'Hi' },
        { role: 'tool', tool_call_id: 'call_late', content: 'early' },
        {
          role: 'assistant',
          tool_calls: [{ id: 'call_late', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
      ]),
      false,
    );
    assert.equal('tool_name' in (out.messages[1] ?? {}), false);
  });

  const UNSUPPORTED: [string, Record<string, unknown>][] = [
    ['logit_bias', { logit_bias: { '50256': -100 } }],
    ['audio', { audio: { voice: 'alloy', format: 'wav' } }],
    ['modalities', { modalities: ['text', 'audio'] }],
    ['prediction', { prediction: { type: 'content', content: 'x' } }],
    ['web_search_options', { web_search_options: {} }],
    ['functions', { functions: [{ name: 'f', parameters: {} }] }],
    ['function_call', { function_call: { name: 'f' } }],
    ['n', { n: 3 }],
    ['tool_choice', { tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'required' }],
    [
      'tool_choice',
      {
        tools: [{ type: 'function', function: { name: 'f' } }],
        tool_choice: { type: 'function', function: { name: 'f' } },
      },
    ],
    [
      'parallel_tool_calls',
      { tools: [{ type: 'function', function: { name: 'f' } }], parallel_tool_calls: false },
    ],
    ['response_format', { response_format: { type: 'grammar' } }],
    ['mirostat_tau', { mirostat_tau: 5 }],
    ['verbosity', { verbosity: 'low' }],
  ];

  for (const [field, fields] of UNSUPPORTED) {
    it(`refuses ${field} ${JSON.stringify(fields[field])} with a 400 that names it and says how to fix it`, () => {
      assertInvalid(
        () => toOllamaChatRequest(request(fields), false, strict),
        field,
        /Backend 'gpu-box' cannot honour .*Remove it from the request, or set drop_unsupported: true on backend 'gpu-box'/,
      );
    });

    it(`drops and reports ${field} ${JSON.stringify(fields[field])} with drop_unsupported`, () => {
      const { request: out, dropped } = toOllamaChatRequest(request(fields), true, lenient);
      assert.deepEqual(dropped, [field]);
      assert.equal(field in out, false);
    });
  }

  it('still sends the tools when a tool_choice it cannot honour is dropped (the model chooses)', () => {
    const tools = [{ type: 'function', function: { name: 'f' } }];
    const { request: out, dropped } = toOllamaChatRequest(
      request({ tools, tool_choice: 'required' }),
      false,
      lenient,
    );
    assert.deepEqual(out.tools, tools);
    assert.deepEqual(dropped, ['tool_choice']);
  });

  it('lists every dropped field once, in request order, and nothing when nothing was dropped', () => {
    const translation = toOllamaChatRequest(
      request({ logit_bias: { '1': 1 }, temperature: 0.5, audio: {}, n: 2, unknown_field: true }),
      false,
      lenient,
    );
    assert.deepEqual(translation.dropped, ['logit_bias', 'audio', 'unknown_field', 'n']);
    assert.deepEqual(translation.request.options, { temperature: 0.5 });
    assert.deepEqual(toOllamaChatRequest(request({ temperature: 0.5 }), false, lenient).dropped, []);
  });

  it('never refuses metadata, nulls, or values that change nothing', () => {
    const harmless = request({
      user: 'u-1',
      store: true,
      metadata: { team: 'a' },
      service_tier: 'auto',
      safety_identifier: 'hash',
      prompt_cache_key: 'k',
      stream: true,
      stream_options: { include_usage: true },
      logit_bias: {},
      modalities: ['text'],
      functions: [],
      function_call: 'auto',
      audio: null,
      prediction: null,
      n: 1,
      parallel_tool_calls: true,
      tool_choice: 'auto',
      response_format: { type: 'text' },
      some_client_extension: null,
    });
    const translation = toOllamaChatRequest(harmless, false, strict);
    assert.deepEqual(translation.dropped, []);
    assert.deepEqual(translation.request, {
      model: 'llama3.2:1b',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: false,
    });
  });

  it('bounds the names of dropped fields: 32 at most, 64 printable characters each', () => {
    const fields: Record<string, unknown> = {};
    for (let index = 0; index < 40; index++) fields[`extra_${index}`] = index;
    fields['x'.repeat(10_000)] = 1;
    const { dropped } = toOllamaChatRequest(request(fields), false, lenient);
    assert.equal(dropped.length, 32);
    assert.ok(dropped.every((name) => name.length <= 64 && /^[\x21-\x2b\x2d-\x7e]+$/.test(name)));
    assertInvalid(
      () => toOllamaChatRequest(request({ 'a, b\r\nX-Evil: 1': 1 }), false, strict),
      'a??b??X-Evil:?1',
    );
    assertInvalid(
      () => toOllamaChatRequest(request({ ['y'.repeat(5000)]: 1 }), false, strict),
      `${'y'.repeat(61)}...`,
    );
  });

  it('keeps refusing remote image URLs, saying why', () => {
    assertInvalid(
      () =>
        toOllama(
          withMessages([
            {
              role: 'user',
              content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }],
            },
          ]),
          false,
        ),
      'messages[0].content[0].image_url',
      /data: URLs.*does not fetch/,
    );
  });
});

describe('fromOllamaChatResponse: reasoning, logprobs, tool call ids (issue 18)', () => {
  it('maps message.thinking to reasoning_content', () => {
    const completion = fromOllamaChatResponse(
      {
        message: { role: 'assistant', content: '4', thinking: '2 + 2 is 4.' },
        done: true,
        done_reason: 'stop',
      },
      'chatcmpl-r',
      1,
      'qwen3',
    );
    assert.deepEqual(completion.choices[0]?.message, {
      role: 'assistant',
      content: '4',
      reasoning_content: '2 + 2 is 4.',
    });
  });

  it("maps logprobs to choices[].logprobs.content, with OpenAI's bytes and top_logprobs", () => {
    const completion = fromOllamaChatResponse(
      {
        message: { role: 'assistant', content: 'Hi!' },
        done: true,
        logprobs: [
          {
            token: 'Hi',
            logprob: -0.1,
            bytes: [72, 105],
            top_logprobs: [
              { token: 'Hi', logprob: -0.1, bytes: [72, 105] },
              { token: 'Hello', logprob: -2.5 },
            ],
          },
          { token: '!', logprob: -0.01 },
          { token: 7, logprob: 'bad' },
        ],
      },
      'chatcmpl-l',
      1,
      'llama',
    );
    assert.deepEqual((completion.choices[0] as unknown as { logprobs: unknown }).logprobs, {
      content: [
        {
          token: 'Hi',
          logprob: -0.1,
          bytes: [72, 105],
          top_logprobs: [
            { token: 'Hi', logprob: -0.1, bytes: [72, 105] },
            { token: 'Hello', logprob: -2.5, bytes: null },
          ],
        },
        { token: '!', logprob: -0.01, bytes: null, top_logprobs: [] },
      ],
      refusal: null,
    });
  });

  it("keeps Ollama's own tool call ids, and replaces a repeated one", () => {
    const completion = fromOllamaChatResponse(
      {
        message: {
          content: '',
          tool_calls: [
            { id: 'call_abc12345', function: { index: 0, name: 'f', arguments: {} } },
            { id: 'call_abc12345', function: { index: 1, name: 'g', arguments: {} } },
          ],
        },
        done: true,
      },
      'chatcmpl-i',
      1,
      'llama',
    );
    const ids = completion.choices[0]?.message.tool_calls?.map((call) => call.id) ?? [];
    assert.equal(ids[0], 'call_abc12345');
    assert.match(ids[1] ?? '', /^call_[a-z0-9]{24}$/);
  });
});

describe('fromOllamaStreamLine: parallel tool calls, reasoning, logprobs (issue 18)', () => {
  type StreamedCall = {
    index: number;
    id: string;
    type: string;
    function: { name: string; arguments: string };
  };

  function callsOf(chunks: ReturnType<typeof fromOllamaStreamLine>): StreamedCall[] {
    return chunks.flatMap(
      (chunk) => (chunk.choices[0]?.delta as { tool_calls?: StreamedCall[] } | undefined)?.tool_calls ?? [],
    );
  }

  /** Ollama's lines for two parallel calls, one per line, then the done line (without calls). */
  function parallelLines(withIndex: boolean): OllamaChatResponse[] {
    const call = (index: number, name: string, city: string): OllamaChatResponse => ({
      model: 'qwen3',
      message: {
        role: 'assistant',
        content: '',
        tool_calls: [{ function: { ...(withIndex ? { index } : {}), name, arguments: { city } } }],
      },
      done: false,
    });
    return [
      call(0, 'get_weather', 'Paris'),
      call(1, 'get_weather', 'Tokyo'),
      {
        model: 'qwen3',
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: 'stop',
        eval_count: 9,
      },
    ];
  }

  for (const withIndex of [false, true]) {
    it(`numbers calls sent one per line across the stream (${withIndex ? 'with' : 'without'} function.index)`, () => {
      const state = newStreamState('chatcmpl-p', 1, 'qwen3');
      const chunks = parallelLines(withIndex).flatMap((line) => fromOllamaStreamLine(line, state));
      const calls = callsOf(chunks);
      assert.deepEqual(
        calls.map((call) => [call.index, call.type, call.function.name, JSON.parse(call.function.arguments)]),
        [
          [0, 'function', 'get_weather', { city: 'Paris' }],
          [1, 'function', 'get_weather', { city: 'Tokyo' }],
        ],
      );
      assert.ok(calls.every((call) => /^call_[a-z0-9]{24}$/.test(call.id)));
      assert.notEqual(calls[0]?.id, calls[1]?.id);
      const finish = chunks
        .flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason))
        .filter(Boolean);
      assert.deepEqual(finish, ['tool_calls']);
    });
  }

  it("finishes with 'tool_calls' when the calls came on earlier lines and the done line has none", () => {
    const state = newStreamState('chatcmpl-f', 1, 'llama');
    fromOllamaStreamLine(
      { message: { content: '', tool_calls: [{ function: { name: 'f', arguments: {} } }] }, done: false },
      state,
    );
    const last = fromOllamaStreamLine({ message: { content: '' }, done: true, done_reason: 'stop' }, state);
    assert.equal(last[0]?.choices[0]?.finish_reason, 'tool_calls');
  });

  it('never gives an index twice, even when Ollama repeats function.index 0 on every line', () => {
    const state = newStreamState('chatcmpl-x', 1, 'llama');
    const line = (name: string): OllamaChatResponse => ({
      message: {
        content: '',
        tool_calls: [{ id: 'call_same0001', function: { index: 0, name, arguments: {} } }],
      },
      done: false,
    });
    const calls = callsOf([
      ...fromOllamaStreamLine(line('a'), state),
      ...fromOllamaStreamLine(line('b'), state),
    ]);
    assert.deepEqual(
      calls.map((call) => call.index),
      [0, 1],
    );
    assert.equal(calls[0]?.id, 'call_same0001');
    assert.notEqual(calls[1]?.id, 'call_same0001');
  });

  it('maps thinking to delta.reasoning_content, before the content', () => {
    const state = newStreamState('chatcmpl-t', 1, 'qwen3');
    const lines: OllamaChatResponse[] = [
      { message: { role: 'assistant', content: '', thinking: 'Let me' }, done: false },
      { message: { role: 'assistant', content: '', thinking: ' think.' }, done: false },
      { message: { role: 'assistant', content: '4' }, done: false },
      { message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop' },
    ];
    const deltas = lines
      .flatMap((line) => fromOllamaStreamLine(line, state))
      .map((chunk) => chunk.choices[0]?.delta);
    assert.deepEqual(deltas.slice(0, 3), [
      { role: 'assistant', reasoning_content: 'Let me' },
      { reasoning_content: ' think.' },
      { content: '4' },
    ]);
  });

  it("puts each line's logprobs on its chunk", () => {
    const state = newStreamState('chatcmpl-l', 1, 'llama');
    const chunks = fromOllamaStreamLine(
      {
        message: { role: 'assistant', content: 'Hi' },
        done: false,
        logprobs: [
          { token: 'Hi', logprob: -0.2, bytes: [72, 105], top_logprobs: [{ token: 'Hi', logprob: -0.2 }] },
        ],
      },
      state,
    );
    assert.deepEqual(chunks[0]?.choices, [
      {
        index: 0,
        delta: { role: 'assistant', content: 'Hi' },
        finish_reason: null,
        logprobs: {
          content: [
            {
              token: 'Hi',
              logprob: -0.2,
              bytes: [72, 105],
              top_logprobs: [{ token: 'Hi', logprob: -0.2, bytes: null }],
            },
          ],
          refusal: null,
        },
      },
    ]);
    // A line with logprobs alone (Ollama sends them while it buffers a tool call) still reaches the client.
    const alone = fromOllamaStreamLine(
      { message: { role: 'assistant', content: '' }, done: false, logprobs: [{ token: '{"', logprob: -1 }] },
      state,
    );
    assert.equal(alone.length, 1);
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
