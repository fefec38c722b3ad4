import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletionRequest } from '../../api/schemas.js';
import { InvalidRequestError } from '../../errors/errors.js';
import { SKIP_SIGNATURE, toGeminiRequestFromChat, type GeminiRequestPolicy } from './to-provider.js';
import type { GeminiRequest } from './wire.js';

const STRICT: GeminiRequestPolicy = { backend: 'gem', dropUnsupported: false };
const LENIENT: GeminiRequestPolicy = { backend: 'gem', dropUnsupported: true };

function chat(fields: Record<string, unknown> = {}): ChatCompletionRequest {
  return { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }], ...fields };
}

function translate(fields: Record<string, unknown> = {}, policy = STRICT): GeminiRequest {
  return toGeminiRequestFromChat(chat(fields), policy).request;
}

/** Asserts that fn throws a 400 invalid_request naming `param`, and returns its message. */
function refuses(fn: () => unknown, param: string): string {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof InvalidRequestError, `expected a 400, got ${String(caught)}`);
  assert.equal(caught.status, 400);
  assert.equal(caught.param, param);
  return caught.message;
}

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe('toGeminiRequestFromChat: messages', () => {
  it('turns system messages into systemInstruction and the rest into user/model contents', () => {
    const out = translate({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: 'Answer in French.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Bonjour.' },
        { role: 'user', content: [{ type: 'text', text: 'Again' }] },
      ],
    });
    assert.deepEqual(out.systemInstruction, { parts: [{ text: 'Be brief.\n\nAnswer in French.' }] });
    assert.deepEqual(out.contents, [
      { role: 'user', parts: [{ text: 'Hi' }] },
      { role: 'model', parts: [{ text: 'Bonjour.' }] },
      { role: 'user', parts: [{ text: 'Again' }] },
    ]);
    assert.equal(out.generationConfig, undefined);
    assert.equal(out.tools, undefined);
  });

  it('sends inline images as inlineData with their media type, and audio as audio/<format>', () => {
    const out = translate({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${PNG}`, detail: 'high' } },
            { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
          ],
        },
      ],
    });
    assert.deepEqual(out.contents[0]?.parts, [
      { text: 'What is this?' },
      { inlineData: { mimeType: 'image/jpeg', data: PNG } },
      { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
    ]);
  });

  it('refuses image URLs (https and gs://) with a 400 naming the exact field', () => {
    const message = refuses(
      () =>
        translate({
          messages: [
            { role: 'user', content: 'first' },
            {
              role: 'user',
              content: [
                { type: 'text', text: 'look' },
                { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
              ],
            },
          ],
        }),
      'messages[1].content[1].image_url.url',
    );
    assert.match(message, /data: URLs/);
    assert.match(message, /does not fetch 'https:' URLs/);
    refuses(
      () =>
        translate({
          messages: [{ role: 'user', content: [{ type: 'image_url', image_url: 'gs://bucket/a.png' }] }],
        }),
      'messages[0].content[0].image_url.url',
    );
  });

  it('turns tool calls into functionCall parts (the first with the skip signature) and names each result after its call', () => {
    const out = translate({
      messages: [
        { role: 'user', content: 'Weather in Paris and Tokyo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{"city":"Tokyo"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_2', content: '{"time":"09:00"}' },
        { role: 'tool', tool_call_id: 'call_1', content: 'Sunny, 21 °C' },
        { role: 'user', content: 'Thanks. And tomorrow?' },
      ],
    });
    assert.deepEqual(out.contents, [
      { role: 'user', parts: [{ text: 'Weather in Paris and Tokyo?' }] },
      {
        role: 'model',
        parts: [
          {
            functionCall: { name: 'get_weather', args: { city: 'Paris' } },
            thoughtSignature: SKIP_SIGNATURE,
          },
          { functionCall: { name: 'get_time', args: { city: 'Tokyo' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_time', response: { time: '09:00' } } },
          { functionResponse: { name: 'get_weather', response: { output: 'Sunny, 21 °C' } } },
          { text: 'Thanks. And tomorrow?' },
        ],
      },
    ]);
  });

  it('refuses a tool result whose call is unknown, naming its tool_call_id', () => {
    const message = refuses(
      () =>
        translate({
          messages: [
            { role: 'user', content: 'Hi' },
            { role: 'tool', tool_call_id: 'call_x', content: 'ok' },
          ],
        }),
      'messages[1].tool_call_id',
    );
    assert.match(message, /call_x/);
    assert.match(message, /name/);
  });

  it('takes the name a tool message gives itself (the legacy function role)', () => {
    const out = translate({
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'tool', tool_call_id: 'call_x', name: 'lookup', content: '[1,2]' },
      ],
    });
    assert.deepEqual(out.contents[0]?.parts[1], {
      functionResponse: { name: 'lookup', response: { output: '[1,2]' } },
    });
  });

  it('refuses tool call arguments that are not a JSON object, naming the call', () => {
    refuses(
      () =>
        translate({
          messages: [
            { role: 'user', content: 'Hi' },
            {
              role: 'assistant',
              content: 'Let me look.',
              tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1]' } }],
            },
          ],
        }),
      'messages[1].tool_calls[0].function.arguments',
    );
  });

  it('leaves reasoning out of replayed assistant messages', () => {
    const out = translate({
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.', reasoning_content: 'The user greets me.' },
        { role: 'user', content: 'Bye' },
      ],
    });
    assert.deepEqual(out.contents[1], { role: 'model', parts: [{ text: 'Hello.' }] });
  });

  it('refuses a conversation without any content', () => {
    refuses(() => translate({ messages: [{ role: 'system', content: 'Be brief.' }] }), 'messages');
  });
});

describe('toGeminiRequestFromChat: tools and options', () => {
  const weather = {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather of a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, unit: { enum: ['c', 'f'] } },
        required: ['city'],
        additionalProperties: false,
      },
      strict: true,
    },
  };

  it('sends tools as functionDeclarations with the JSON schema as written (parametersJsonSchema)', () => {
    const out = translate({ tools: [weather] });
    assert.deepEqual(out.tools, [
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'Weather of a city',
            parametersJsonSchema: weather.function.parameters,
          },
        ],
      },
    ]);
    assert.equal(out.toolConfig, undefined);
  });

  it('maps tool_choice to functionCallingConfig', () => {
    assert.deepEqual(translate({ tools: [weather], tool_choice: 'required' }).toolConfig, {
      functionCallingConfig: { mode: 'ANY' },
    });
    assert.deepEqual(translate({ tools: [weather], tool_choice: 'none' }).toolConfig, {
      functionCallingConfig: { mode: 'NONE' },
    });
    assert.deepEqual(
      translate({ tools: [weather], tool_choice: { type: 'function', function: { name: 'get_weather' } } })
        .toolConfig,
      { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } },
    );
    assert.equal(translate({ tools: [weather], tool_choice: 'auto' }).toolConfig, undefined);
    refuses(() => translate({ tool_choice: 'required' }), 'tool_choice');
  });

  it('maps the generation options to generationConfig', () => {
    const out = translate({
      max_completion_tokens: 300,
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      stop: ['END', 'STOP'],
      seed: 7,
      n: 2,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      logprobs: true,
      top_logprobs: 3,
    });
    assert.deepEqual(out.generationConfig, {
      maxOutputTokens: 300,
      temperature: 0.2,
      topP: 0.9,
      topK: 40,
      stopSequences: ['END', 'STOP'],
      seed: 7,
      candidateCount: 2,
      presencePenalty: 0.5,
      frequencyPenalty: -0.5,
      responseLogprobs: true,
      logprobs: 3,
    });
  });

  it('asks for JSON with the schema as written for json_schema, and JSON alone for json_object', () => {
    const schema = { type: 'object', properties: { answer: { type: 'integer' } }, required: ['answer'] };
    assert.deepEqual(
      translate({
        response_format: { type: 'json_schema', json_schema: { name: 'a', schema, strict: true } },
      }).generationConfig,
      { responseMimeType: 'application/json', responseJsonSchema: schema },
    );
    assert.deepEqual(translate({ response_format: { type: 'json_object' } }).generationConfig, {
      responseMimeType: 'application/json',
    });
    assert.equal(translate({ response_format: { type: 'text' } }).generationConfig, undefined);
  });

  it('turns reasoning effort into a thinking budget with thoughts included; none into budget 0', () => {
    assert.deepEqual(translate({ reasoning_effort: 'low' }).generationConfig, {
      thinkingConfig: { thinkingBudget: 1024, includeThoughts: true },
    });
    assert.deepEqual(translate({ reasoning_effort: 'high' }).generationConfig, {
      thinkingConfig: { thinkingBudget: 24576, includeThoughts: true },
    });
    assert.deepEqual(translate({ reasoning_effort: 'xhigh' }).generationConfig, {
      thinkingConfig: { thinkingBudget: 32768, includeThoughts: true },
    });
    assert.deepEqual(translate({ reasoning_effort: 'none' }).generationConfig, {
      thinkingConfig: { thinkingBudget: 0 },
    });
    refuses(() => translate({ reasoning_effort: 'extreme' }), 'reasoning_effort');
  });

  it('refuses what Gemini cannot honour with a 400 naming it, or drops and reports it with drop_unsupported', () => {
    const message = refuses(() => translate({ logit_bias: { '42': 5 } }), 'logit_bias');
    assert.match(message, /drop_unsupported: true on backend 'gem'/);
    refuses(() => translate({ tools: [weather], parallel_tool_calls: false }), 'parallel_tool_calls');
    refuses(() => translate({ frobnicate: 1 }), 'frobnicate');
    const { request, dropped } = toGeminiRequestFromChat(
      chat({ logit_bias: { '42': 5 }, frobnicate: 1, tools: [weather], parallel_tool_calls: false }),
      LENIENT,
    );
    assert.deepEqual(dropped, ['logit_bias', 'frobnicate', 'parallel_tool_calls']);
    assert.equal(request.tools?.length, 1);
  });

  it('accepts what changes nothing: metadata fields, empty logit_bias, text modalities, user', () => {
    const { dropped, request } = toGeminiRequestFromChat(
      chat({
        stream_options: { include_usage: true },
        metadata: { a: 'b' },
        store: false,
        logit_bias: {},
        modalities: ['text'],
        user: 'u-1',
        parallel_tool_calls: true,
      }),
      STRICT,
    );
    assert.deepEqual(dropped, []);
    assert.deepEqual(request, { contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] });
  });

  it("takes Ollama's fields from the Ollama ingress: keep_alive and runtime options ignored, think false as no thinking", () => {
    const { request, dropped } = toGeminiRequestFromChat(
      chat({ keep_alive: '5m', options: { num_ctx: 8192, num_thread: 4 }, think: false }),
      STRICT,
    );
    assert.deepEqual(dropped, []);
    assert.deepEqual(request.generationConfig, { thinkingConfig: { thinkingBudget: 0 } });
    refuses(() => translate({ options: { num_ctx: 8192, mirostat: 2 } }), 'options.mirostat');
  });

  it('bounds the names of dropped fields it reports', () => {
    const long = 'x'.repeat(500);
    const { dropped } = toGeminiRequestFromChat(chat({ [long]: 1, 'a,b\n': 2 }), LENIENT);
    assert.equal(dropped.length, 2);
    assert.ok((dropped[0] ?? '').length <= 64);
    assert.equal(dropped[1], 'a?b?');
  });
});
