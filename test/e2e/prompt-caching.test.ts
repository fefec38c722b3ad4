/**
 * Prompt caching end to end (docs/providers.md, docs/conversation.md): `cache_control` breakpoints from
 * an Anthropic Messages client (Anthropic's own SDK) and from an OpenAI chat client (content parts and
 * tools, OpenRouter's and LiteLLM's shape) reach an `anthropic` backend where the client put them, a
 * `bedrock` backend as Converse cachePoint blocks, and never an `openai` backend; more than Anthropic's
 * four breakpoints is the gateway's 400, and the upstream is never called.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type OpenAI from 'openai';
import { AnthropicUpstream, cacheBreakpoints } from '../support/anthropic-upstream.js';
import { BedrockStandIn } from '../support/bedrock-stand-in.js';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';
import { StandInUpstream } from '../support/stand-in-upstream.js';

const ANTHROPIC_KEY = 'sk-ant-api03-prompt-caching-test-key';
const CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENwJalrXUtnFEMIK7MDENGbPxRfiCY',
};
const REGION = 'us-east-1';
const BEDROCK_CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const AWS_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
];

const EPHEMERAL = { type: 'ephemeral' } as const;
const HOUR = { type: 'ephemeral', ttl: '1h' } as const;
const LONG_SYSTEM = 'You are a careful assistant for a weather service. '.repeat(40);

const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
};

/** An OpenAI chat request with breakpoints on the system text, a user part and a tool (not in OpenAI's types). */
function markedChat(model: string): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming {
  return {
    model,
    messages: [
      { role: 'system', content: [{ type: 'text', text: LONG_SYSTEM, cache_control: HOUR }] },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Some context. ' },
          { type: 'text', text: 'What is the weather in Paris?', cache_control: EPHEMERAL },
        ],
      },
    ],
    tools: [
      {
        type: 'function',
        function: { name: 'get_weather', parameters: WEATHER_TOOL.input_schema },
        cache_control: EPHEMERAL,
      },
    ],
  } as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming;
}

describe('prompt caching (cache_control)', () => {
  let anthropicUpstream: AnthropicUpstream;
  let openaiUpstream: StandInUpstream;
  let bedrock: BedrockStandIn;
  let running: RunningGateway;
  let anthropic: Anthropic;
  let openai: OpenAI;
  const saved = new Map<string, string | undefined>();

  before(async () => {
    for (const name of AWS_ENV) saved.set(name, process.env[name]);
    process.env['AWS_ACCESS_KEY_ID'] = CREDENTIALS.accessKeyId;
    process.env['AWS_SECRET_ACCESS_KEY'] = CREDENTIALS.secretAccessKey;
    process.env['AWS_SESSION_TOKEN'] = CREDENTIALS.sessionToken;
    process.env['AWS_CONFIG_FILE'] = '/nonexistent/aws-config';
    process.env['AWS_SHARED_CREDENTIALS_FILE'] = '/nonexistent/aws-credentials';
    Reflect.deleteProperty(process.env, 'AWS_PROFILE');
    anthropicUpstream = await AnthropicUpstream.start({ apiKey: ANTHROPIC_KEY });
    openaiUpstream = new StandInUpstream();
    const openaiUrl = await openaiUpstream.start();
    bedrock = new BedrockStandIn(CREDENTIALS, REGION);
    const bedrockUrl = await bedrock.start();
    running = await startGateway(
      testConfig({
        backends: [
          { name: 'claude', type: 'anthropic', url: anthropicUpstream.url, api_key: ANTHROPIC_KEY },
          { name: 'vllm', type: 'openai', url: `${openaiUrl}/v1` },
          { name: 'aws', type: 'bedrock', region: REGION, url: bedrockUrl },
        ],
        models: [
          { name: 'claude', targets: [{ backend: 'claude', model: 'claude-sonnet-4-5' }] },
          { name: 'local', targets: [{ backend: 'vllm', model: 'Qwen/Qwen3-8B' }] },
          { name: 'bedrock-claude', targets: [{ backend: 'aws', model: BEDROCK_CLAUDE }] },
        ],
      }),
    );
    anthropic = new Anthropic({ baseURL: running.url, apiKey: TEST_KEY, maxRetries: 0, timeout: 10_000 });
    openai = running.client();
  });

  after(async () => {
    await running.stop();
    await anthropicUpstream.close();
    await openaiUpstream.stop();
    await bedrock.stop();
    for (const [name, value] of saved) {
      if (value === undefined) Reflect.deleteProperty(process.env, name);
      else process.env[name] = value;
    }
  });

  it('@anthropic-ai/sdk → anthropic backend: cache_control on system, a tool and a block arrives where the client put it', async () => {
    const before = anthropicUpstream.requests.length;
    const message = await anthropic.messages.create({
      model: 'claude',
      max_tokens: 256,
      system: [
        { type: 'text', text: LONG_SYSTEM, cache_control: { type: 'ephemeral', ttl: '1h' } },
        { type: 'text', text: 'Answer in one sentence.' },
      ],
      tools: [{ ...WEATHER_TOOL, cache_control: { type: 'ephemeral' } }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is the weather in Paris?', cache_control: { type: 'ephemeral' } },
          ],
        },
      ],
    });
    assert.equal(message.type, 'message');
    assert.equal(anthropicUpstream.requests.length, before + 1);
    const sent = anthropicUpstream.requests.at(-1)?.body ?? {};
    assert.deepEqual(cacheBreakpoints(sent), [
      { path: 'tools.0', cacheControl: EPHEMERAL },
      { path: 'system.0', cacheControl: HOUR },
      { path: 'messages.0.content.0', cacheControl: EPHEMERAL },
    ]);
    // The system blocks stay apart, the unmarked one without a breakpoint.
    assert.deepEqual(sent['system'], [
      { type: 'text', text: LONG_SYSTEM, cache_control: HOUR },
      { type: 'text', text: 'Answer in one sentence.' },
    ]);
  });

  it('@anthropic-ai/sdk streaming: the breakpoints arrive too', async () => {
    const stream = anthropic.messages.stream({
      model: 'claude',
      max_tokens: 256,
      system: [{ type: 'text', text: LONG_SYSTEM, cache_control: { type: 'ephemeral' } }],
      tools: [{ ...WEATHER_TOOL, cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const final = await stream.finalMessage();
    assert.equal(final.role, 'assistant');
    const sent = anthropicUpstream.requests.at(-1)?.body ?? {};
    assert.equal(sent['stream'], true);
    assert.deepEqual(cacheBreakpoints(sent), [
      { path: 'tools.0', cacheControl: HOUR },
      { path: 'system.0', cacheControl: EPHEMERAL },
    ]);
  });

  it('@anthropic-ai/sdk: five breakpoints are a 400 from the gateway naming cache_control; Anthropic is not called', async () => {
    const before = anthropicUpstream.requests.length;
    const marked = (text: string) => ({
      type: 'text' as const,
      text,
      cache_control: { type: 'ephemeral' as const },
    });
    const error = await anthropic.messages
      .create({
        model: 'claude',
        max_tokens: 256,
        system: [marked('a'), marked('b')],
        tools: [{ ...WEATHER_TOOL, cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: [marked('c'), marked('d')] }],
      })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.BadRequestError, String(error));
    assert.match(error.message, /cache_control.*at most 4/);
    assert.equal(anthropicUpstream.requests.length, before);
  });

  it('@anthropic-ai/sdk: a malformed cache_control is a 400 naming the field', async () => {
    const error = await anthropic.messages
      .create({
        model: 'claude',
        max_tokens: 256,
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'text',
                text: 'Hi',
                cache_control: { type: 'ephemeral', ttl: '2h' } as unknown as { type: 'ephemeral' },
              },
            ],
          },
        ],
      })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof Anthropic.BadRequestError, String(error));
    assert.match(error.message, /messages\[0\]\.content\[0\]\.cache_control\.ttl/);
  });

  it('OpenAI SDK chat client → anthropic backend: cache_control on content parts and a tool arrives', async () => {
    const completion = await openai.chat.completions.create(markedChat('claude'));
    assert.equal(completion.object, 'chat.completion');
    const sent = anthropicUpstream.requests.at(-1)?.body ?? {};
    assert.deepEqual(cacheBreakpoints(sent), [
      { path: 'tools.0', cacheControl: EPHEMERAL },
      { path: 'system.0', cacheControl: HOUR },
      { path: 'messages.0.content.1', cacheControl: EPHEMERAL },
    ]);
    assert.deepEqual((sent['messages'] as unknown[])[0], {
      role: 'user',
      content: [
        { type: 'text', text: 'Some context. ' },
        { type: 'text', text: 'What is the weather in Paris?', cache_control: EPHEMERAL },
      ],
    });
  });

  it('OpenAI SDK chat client → openai backend: cache_control is left out, everything else goes through', async () => {
    const completion = await openai.chat.completions.create(markedChat('local'));
    assert.equal(completion.object, 'chat.completion');
    const sent = openaiUpstream.requests.at(-1)?.body ?? {};
    assert.ok(!JSON.stringify(sent).includes('cache_control'), JSON.stringify(sent));
    assert.deepEqual((sent['messages'] as unknown[])[1], {
      role: 'user',
      content: [
        { type: 'text', text: 'Some context. ' },
        { type: 'text', text: 'What is the weather in Paris?' },
      ],
    });
    assert.deepEqual((sent['tools'] as unknown[])[0], {
      type: 'function',
      function: { name: 'get_weather', parameters: WEATHER_TOOL.input_schema },
    });
  });

  it('@anthropic-ai/sdk → openai backend: no cache_control upstream', async () => {
    await anthropic.messages.create({
      model: 'local',
      max_tokens: 64,
      system: [{ type: 'text', text: LONG_SYSTEM, cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral' } }] },
      ],
    });
    const sent = openaiUpstream.requests.at(-1)?.body ?? {};
    assert.equal(sent['model'], 'Qwen/Qwen3-8B');
    assert.ok(!JSON.stringify(sent).includes('cache_control'), JSON.stringify(sent));
  });

  it('OpenAI SDK chat client → bedrock backend: cachePoint blocks after the marked system text, user text and tool', async () => {
    bedrock.reply(BEDROCK_CLAUDE, {
      kind: 'json',
      body: {
        output: { message: { role: 'assistant', content: [{ text: 'Sunny.' }] } },
        stopReason: 'end_turn',
        usage: { inputTokens: 900, outputTokens: 2, totalTokens: 902, cacheWriteInputTokens: 850 },
        metrics: { latencyMs: 90 },
      },
    });
    const completion = await openai.chat.completions.create(markedChat('bedrock-claude'));
    assert.equal(completion.choices[0]?.message.content, 'Sunny.');
    const sent = bedrock.last().body ?? {};
    assert.deepEqual(sent['system'], [{ text: LONG_SYSTEM }, { cachePoint: { type: 'default', ttl: '1h' } }]);
    assert.deepEqual(sent['messages'], [
      {
        role: 'user',
        content: [
          { text: 'Some context. ' },
          { text: 'What is the weather in Paris?' },
          { cachePoint: { type: 'default' } },
        ],
      },
    ]);
    const tools = (sent['toolConfig'] as { tools: unknown[] }).tools;
    assert.deepEqual(tools[1], { cachePoint: { type: 'default' } });
  });
});
