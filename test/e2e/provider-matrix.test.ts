/**
 * Every ingress protocol × every cloud provider backend type × {text, tools, parallel tools, image},
 * each answered whole and streamed: chat completions, Responses, Anthropic Messages, Ollama /api/chat
 * and legacy completions (text only), through the ingress drivers the protocol matrix uses
 * (test/support/ingress-drivers.ts), against each provider's strict stand-in.
 *
 * A provider takes part once its backend type has landed and its stand-in is exported from
 * test/support/ (answering the scripted upstream's scenarios, so that the drivers' expectations hold):
 * `azure_openai` (test/support/azure-openai-upstream.ts), `anthropic` (test/support/anthropic-upstream.ts),
 * `bedrock` (test/support/bedrock-stand-in.ts, which checks each SigV4 signature; its replies to the
 * scenarios are written here in Converse's format, through the stand-in's `fallback`), `gemini`
 * and `vertex` (test/support/gemini-upstream.ts, Vertex AI's paths with tokens from its token service
 * for a service account key the test makes). What reached the provider is checked in its
 * own terms: the path and credentials, the prompt's marker, the tools, the image.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnthropicUpstream } from '../support/anthropic-upstream.js';
import { AzureOpenAiUpstream, type AzureRequest } from '../support/azure-openai-upstream.js';
import {
  BedrockStandIn,
  type BedrockReply,
  type BedrockRequest,
  type StreamItem,
} from '../support/bedrock-stand-in.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import { GeminiUpstream, type GeminiRecorded } from '../support/gemini-upstream.js';
import { SCRIPTED_CALLS, SCRIPTED_TEXT, imagesSeen } from '../support/scripted-upstream.js';
import {
  DRIVERS,
  PNG,
  TOOLS,
  expected,
  isObject,
  objects,
  sendTo,
  text,
  withoutIds,
  type Json,
  type Scenario,
} from '../support/ingress-drivers.js';

/** The scenarios of this matrix (JSON schemas and reasoning are each provider's own e2e test's). */
const SCENARIOS: readonly Scenario[] = ['text', 'tools', 'parallel_tools', 'image'];

/** One provider's stand-in, as the matrix drives it. */
interface ProviderStandIn {
  /** The backend's config entry (its `name` is the provider's type). */
  readonly backend: Json;
  /** The target's `model` on that backend. */
  readonly model: string;
  /** Requests received so far. */
  count(): number;
  /** Checks the last request in the provider's own terms. */
  checkLast(scenario: Scenario, stream: boolean): void;
  close(): Promise<void>;
}

interface Provider {
  readonly type: string;
  start(): Promise<ProviderStandIn>;
}

const AZURE_KEY = 'azure-matrix-key-5e8a1c';

/** What an OpenAI-shaped body (Azure's) carries for a scenario. */
function checkOpenAiBody(body: Json, scenario: Scenario): void {
  const messages = objects(body['messages']);
  const lastUser = [...messages].reverse().find((message) => message['role'] === 'user');
  const content = lastUser?.['content'];
  const said =
    typeof content === 'string'
      ? content
      : objects(content)
          .map((part) => text(part['text']))
          .join('');
  assert.ok(said.includes(`scenario:${scenario}`), `the prompt reached the provider: ${said}`);
  if (scenario === 'image') {
    const urls = objects(content).flatMap((part) =>
      part['type'] === 'image_url' && isObject(part['image_url']) ? [part['image_url']['url']] : [],
    );
    assert.deepEqual(urls, [`data:image/png;base64,${PNG}`], 'the image reached the provider as base64');
  }
  if (scenario === 'tools' || scenario === 'parallel_tools') {
    const tools = objects(body['tools']).map((tool) => tool['function'] as Json);
    assert.deepEqual(
      tools.map((tool) => ({ name: tool['name'], parameters: tool['parameters'] })),
      TOOLS.map((tool) => ({ name: tool.name, parameters: tool.parameters })),
      'the tools reached the provider',
    );
  }
}

const azure: Provider = {
  type: 'azure_openai',
  async start() {
    const upstream = await AzureOpenAiUpstream.start({ apiKey: AZURE_KEY, deployments: ['matrix-deploy'] });
    return {
      backend: { name: 'azure_openai', type: 'azure_openai', url: upstream.url, api_key: AZURE_KEY },
      model: 'matrix-deploy',
      count: () => upstream.requests.length,
      checkLast(scenario, stream) {
        const sent = upstream.requests.at(-1) as AzureRequest;
        assert.equal(sent.path, '/openai/deployments/matrix-deploy/chat/completions');
        assert.equal(sent.query.get('api-version'), '2024-10-21');
        assert.equal(sent.headers['api-key'], AZURE_KEY);
        assert.equal(sent.body['stream'] === true, stream, 'streamed upstream as asked');
        checkOpenAiBody(sent.body, scenario);
      },
      close: () => upstream.close(),
    };
  },
};

const ANTHROPIC_KEY = 'anthropic-matrix-key-9d2f7b';

/** What a Messages API body carries for a scenario. */
function checkAnthropicBody(body: Json, scenario: Scenario): void {
  const messages = objects(body['messages']);
  const lastUser = [...messages].reverse().find((message) => message['role'] === 'user');
  const blocks = objects(lastUser?.['content']);
  const said = blocks.map((block) => text(block['text'])).join('');
  assert.ok(said.includes(`scenario:${scenario}`), `the prompt reached the provider: ${said}`);
  if (scenario === 'image') {
    const images = blocks.flatMap((block) =>
      block['type'] === 'image' && isObject(block['source']) ? [block['source']] : [],
    );
    assert.deepEqual(images, [{ type: 'base64', media_type: 'image/png', data: PNG }], 'the image as base64');
  }
  if (scenario === 'tools' || scenario === 'parallel_tools') {
    assert.deepEqual(
      objects(body['tools']).map((tool) => ({ name: tool['name'], parameters: tool['input_schema'] })),
      TOOLS.map((tool) => ({ name: tool.name, parameters: tool.parameters })),
      'the tools reached the provider',
    );
  }
}

const anthropic: Provider = {
  type: 'anthropic',
  async start() {
    const upstream = await AnthropicUpstream.start({ apiKey: ANTHROPIC_KEY });
    return {
      backend: { name: 'anthropic', type: 'anthropic', url: upstream.url, api_key: ANTHROPIC_KEY },
      model: 'claude-sonnet-4-5',
      count: () => upstream.requests.length,
      checkLast(scenario, stream) {
        const sent = upstream.requests.at(-1);
        assert.ok(sent !== undefined);
        assert.equal(sent.path, '/v1/messages');
        assert.equal(sent.headers['x-api-key'], ANTHROPIC_KEY);
        assert.equal(sent.headers['anthropic-version'], '2023-06-01');
        assert.equal(sent.body['model'], 'claude-sonnet-4-5');
        assert.equal(sent.body['stream'] === true, stream, 'streamed upstream as asked');
        checkAnthropicBody(sent.body, scenario);
      },
      close: () => upstream.close(),
    };
  },
};

const BEDROCK_CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7MATRIX01',
  secretAccessKey: 'matrixSecretAccessKey/K7MDENG/bPxRfiCYEXAMPLE',
  sessionToken: 'IQoJb3JpZ2luX2VjMATRIXSESSIONTOKENwJalrXUtnFEMIK7MDENG',
};
const BEDROCK_MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
/** The AWS chain reads the environment: these are set while the matrix runs, then put back. */
const AWS_ENVIRONMENT = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
];

/** The scenario a Converse request asks for: its marker, and how many images it holds. */
function converseScenario(body: Json): { marker: string; images: number; said: string } {
  const messages = objects(body['messages']);
  const lastUser = [...messages].reverse().find((message) => message['role'] === 'user');
  const blocks = objects(lastUser?.['content']);
  const said = blocks.map((block) => text(block['text'])).join('');
  return {
    marker: /scenario:([a-z_]+)/.exec(said)?.[1] ?? 'text',
    images: blocks.filter((block) => isObject(block['image'])).length,
    said,
  };
}

const CONVERSE_USAGE = { inputTokens: 9, outputTokens: 5, totalTokens: 14 };

/** Bedrock's answer to a scenario: Converse JSON, or ConverseStream events (text in pieces, calls in fragments). */
function converseReply(request: BedrockRequest): BedrockReply {
  const { marker, images } = converseScenario(request.body ?? {});
  const calls = marker === 'tools' || marker === 'parallel_tools' ? SCRIPTED_CALLS[marker] : [];
  const said = calls.length > 0 ? '' : marker === 'image' ? imagesSeen(images) : SCRIPTED_TEXT;
  const stopReason = calls.length > 0 ? 'tool_use' : 'end_turn';
  if (request.operation === 'converse') {
    return {
      kind: 'json',
      body: {
        output: {
          message: {
            role: 'assistant',
            content: [
              ...(said === '' ? [] : [{ text: said }]),
              ...calls.map((call, index) => ({
                toolUse: { toolUseId: `tooluse_matrix${index}`, name: call.name, input: call.arguments },
              })),
            ],
          },
        },
        stopReason,
        usage: CONVERSE_USAGE,
        metrics: { latencyMs: 120 },
      },
    };
  }
  const events: StreamItem[] = [{ type: 'messageStart', payload: { role: 'assistant' } }];
  let index = 0;
  if (said !== '') {
    for (let at = 0; at < said.length; at += 7)
      events.push({
        type: 'contentBlockDelta',
        payload: { contentBlockIndex: index, delta: { text: said.slice(at, at + 7) } },
      });
    events.push({ type: 'contentBlockStop', payload: { contentBlockIndex: index } });
    index += 1;
  }
  for (const [number, call] of calls.entries()) {
    const input = JSON.stringify(call.arguments);
    events.push({
      type: 'contentBlockStart',
      payload: {
        contentBlockIndex: index,
        start: { toolUse: { toolUseId: `tooluse_matrix${number}`, name: call.name } },
      },
    });
    for (let at = 0; at < input.length; at += 5)
      events.push({
        type: 'contentBlockDelta',
        payload: { contentBlockIndex: index, delta: { toolUse: { input: input.slice(at, at + 5) } } },
      });
    events.push({ type: 'contentBlockStop', payload: { contentBlockIndex: index } });
    index += 1;
  }
  events.push({ type: 'messageStop', payload: { stopReason } });
  events.push({ type: 'metadata', payload: { usage: CONVERSE_USAGE, metrics: { latencyMs: 120 } } });
  return { kind: 'stream', events };
}

const bedrock: Provider = {
  type: 'bedrock',
  async start() {
    const saved = new Map(AWS_ENVIRONMENT.map((name) => [name, process.env[name]]));
    process.env['AWS_ACCESS_KEY_ID'] = BEDROCK_CREDENTIALS.accessKeyId;
    process.env['AWS_SECRET_ACCESS_KEY'] = BEDROCK_CREDENTIALS.secretAccessKey;
    process.env['AWS_SESSION_TOKEN'] = BEDROCK_CREDENTIALS.sessionToken;
    process.env['AWS_CONFIG_FILE'] = '/nonexistent/aws-config';
    process.env['AWS_SHARED_CREDENTIALS_FILE'] = '/nonexistent/aws-credentials';
    Reflect.deleteProperty(process.env, 'AWS_PROFILE');
    const standIn = new BedrockStandIn(BEDROCK_CREDENTIALS, 'us-east-1');
    standIn.fallback = converseReply;
    const url = await standIn.start();
    return {
      backend: { name: 'bedrock', type: 'bedrock', region: 'us-east-1', url },
      model: BEDROCK_MODEL,
      count: () => standIn.requests.length,
      checkLast(scenario, stream) {
        const sent = standIn.last();
        assert.equal(sent.modelId, BEDROCK_MODEL);
        assert.equal(sent.operation, stream ? 'converse-stream' : 'converse');
        const body = sent.body ?? {};
        const { said } = converseScenario(body);
        assert.ok(said.includes(`scenario:${scenario}`), `the prompt reached the provider: ${said}`);
        if (scenario === 'image') {
          const blocks = objects([...objects(body['messages'])].reverse()[0]?.['content']);
          const images = blocks.flatMap((block) => (isObject(block['image']) ? [block['image']] : []));
          assert.deepEqual(images, [{ format: 'png', source: { bytes: PNG } }], 'the image as base64 bytes');
        }
        if (scenario === 'tools' || scenario === 'parallel_tools') {
          const config = isObject(body['toolConfig']) ? body['toolConfig'] : {};
          assert.deepEqual(
            objects(config['tools']).map((tool) => {
              const spec = isObject(tool['toolSpec']) ? tool['toolSpec'] : {};
              const schema = isObject(spec['inputSchema']) ? spec['inputSchema'] : {};
              return { name: spec['name'], parameters: schema['json'] };
            }),
            TOOLS.map((tool) => ({ name: tool.name, parameters: tool.parameters })),
            'the tools reached the provider',
          );
        }
      },
      async close() {
        await standIn.stop();
        for (const [name, value] of saved) {
          if (value === undefined) Reflect.deleteProperty(process.env, name);
          else process.env[name] = value;
        }
      },
    };
  },
};

const GEMINI_KEY = 'AIzaSy-matrix-key-4c1e8a2b';

/** A generateContent call (Gemini's or Vertex AI's) for a scenario: its path, user parts and tools. */
function checkGenerateContent(
  sent: GeminiRecorded,
  model: string,
  scenario: Scenario,
  stream: boolean,
): void {
  assert.equal(sent.path.split('?')[0], `${model}:${stream ? 'streamGenerateContent' : 'generateContent'}`);
  const body = sent.body ?? {};
  const user = [...objects(body['contents'])].reverse().find((content) => content['role'] === 'user');
  const parts = objects(user?.['parts']);
  const said = parts.map((part) => text(part['text'])).join('');
  assert.ok(said.includes(`scenario:${scenario}`), `the prompt reached the provider: ${said}`);
  if (scenario === 'image') {
    const images = parts.flatMap((part) => (isObject(part['inlineData']) ? [part['inlineData']] : []));
    assert.deepEqual(images, [{ mimeType: 'image/png', data: PNG }], 'the image as inline data');
  }
  if (scenario === 'tools' || scenario === 'parallel_tools') {
    const declarations = objects(body['tools']).flatMap((tool) => objects(tool['functionDeclarations']));
    assert.deepEqual(
      declarations.map((declaration) => ({
        name: declaration['name'],
        parameters: declaration['parametersJsonSchema'] ?? declaration['parameters'],
      })),
      TOOLS.map((tool) => ({ name: tool.name, parameters: tool.parameters })),
      'the tools reached the provider',
    );
  }
}

const gemini: Provider = {
  type: 'gemini',
  async start() {
    const upstream = new GeminiUpstream(GEMINI_KEY, { project: 'matrix-project', location: 'us-central1' });
    const url = await upstream.start();
    return {
      backend: { name: 'gemini', type: 'gemini', url, api_key: GEMINI_KEY },
      model: 'gemini-2.5-flash',
      count: () => upstream.requests.length,
      checkLast(scenario, stream) {
        const sent = upstream.requests.at(-1);
        assert.ok(sent !== undefined);
        assert.equal(sent.headers['x-goog-api-key'], GEMINI_KEY);
        checkGenerateContent(sent, '/v1beta/models/gemini-2.5-flash', scenario, stream);
      },
      close: () => upstream.close(),
    };
  },
};

const VERTEX = { project: 'matrix-project', location: 'us-central1' };
const VERTEX_EMAIL = 'matrix@matrix-project.iam.gserviceaccount.com';

const vertex: Provider = {
  type: 'vertex',
  async start() {
    const upstream = new GeminiUpstream(GEMINI_KEY, VERTEX);
    const url = await upstream.start();
    const pair = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    upstream.trust(VERTEX_EMAIL, pair.publicKey);
    const keyDir = mkdtempSync(join(tmpdir(), 'gw-matrix-vertex-'));
    const keyFile = join(keyDir, 'service-account.json');
    writeFileSync(
      keyFile,
      JSON.stringify({
        type: 'service_account',
        project_id: VERTEX.project,
        private_key_id: 'matrix-key-1',
        private_key: pair.privateKey,
        client_email: VERTEX_EMAIL,
        client_id: '1234567890',
        token_uri: `${url}/token`,
      }),
    );
    return {
      backend: { name: 'vertex', type: 'vertex', url, ...VERTEX, credentials_file: keyFile },
      model: 'gemini-2.5-flash',
      // The token service's requests are not recorded: only calls to the model.
      count: () => upstream.requests.length,
      checkLast(scenario, stream) {
        const sent = upstream.requests.at(-1);
        assert.ok(sent !== undefined);
        const token = /^Bearer (.+)$/.exec(String(sent.headers['authorization']))?.[1];
        assert.ok(token !== undefined && upstream.issued.includes(token), 'a token the token service issued');
        checkGenerateContent(
          sent,
          `/v1/projects/${VERTEX.project}/locations/${VERTEX.location}/publishers/google/models/gemini-2.5-flash`,
          scenario,
          stream,
        );
      },
      async close() {
        await upstream.close();
        rmSync(keyDir, { recursive: true, force: true });
      },
    };
  },
};

/** The provider types whose backends and stand-ins have landed. */
const PROVIDERS: readonly Provider[] = [azure, anthropic, bedrock, gemini, vertex];

describe('ingress × provider × scenario matrix', () => {
  const standIns = new Map<string, ProviderStandIn>();
  let running: RunningGateway;

  before(async () => {
    for (const provider of PROVIDERS) standIns.set(provider.type, await provider.start());
    running = await startGateway(
      testConfig({
        backends: [...standIns.values()].map((standIn) => standIn.backend),
        models: PROVIDERS.map((provider) => ({
          name: `via-${provider.type}`,
          targets: [{ backend: provider.type, model: standIns.get(provider.type)?.model }],
        })),
      }),
      {},
      { logLevel: 'warn' },
    );
  });
  after(async () => {
    await running.stop();
    for (const standIn of standIns.values()) await standIn.close();
  });

  for (const driver of DRIVERS) {
    describe(driver.name, () => {
      for (const provider of PROVIDERS) {
        for (const scenario of SCENARIOS.filter((one) => driver.scenarios.includes(one))) {
          for (const stream of [false, true]) {
            it(`${provider.type}, ${scenario}, ${stream ? 'streamed' : 'whole'}`, async () => {
              const standIn = standIns.get(provider.type);
              assert.ok(standIn !== undefined);
              const before = standIn.count();
              const model = `via-${provider.type}`;
              const wire = await sendTo(running.url, driver, driver.request({ model, scenario, stream }));
              const answer = driver.read(wire, stream);
              assert.deepEqual(withoutIds(answer, driver.callIds), expected(scenario));
              assert.equal(standIn.count(), before + 1, 'one call to the provider');
              standIn.checkLast(scenario, stream);
            });
          }
        }
      }
    });
  }
});
