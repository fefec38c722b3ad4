/**
 * Every ingress protocol × every backend kind × every scenario, table-driven: chat completions,
 * Responses, Anthropic Messages, Ollama /api/chat and legacy completions (text only), each against an
 * `openai` and an `ollama` backend pointing at the scripted upstream (test/support/scripted-upstream.ts),
 * for text, tools, parallel tools, an image, a JSON schema and reasoning, each answered whole and
 * streamed; then a tool-result follow-up turn per ingress.
 *
 * A driver per ingress (test/support/ingress-drivers.ts, shared with the provider matrix) writes the protocol's request with plain fetch, exactly as its clients put it on
 * the wire, and reads the answer by parsing the protocol's real wire format (the JSON body, SSE events,
 * NDJSON lines) into one shape, {text, reasoning, toolCalls, finish}, which is compared with the
 * scripted upstream's constants. What the upstream received is checked too: the image arrived as
 * base64, the schema and the tools arrived.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ScriptedUpstream, toolSaid, type ScriptedRequest } from '../support/scripted-upstream.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import {
  DRIVERS,
  PNG,
  SCHEMA,
  TOOLS,
  TOOL_RESULT,
  expected,
  isObject,
  objects,
  parseArguments,
  sendTo,
  text,
  withoutIds,
  type Driver,
  type Json,
  type Scenario,
  type Wire,
} from '../support/ingress-drivers.js';

interface Backend {
  readonly kind: 'openai' | 'ollama';
  readonly model: string;
  readonly path: string;
}

const BACKENDS: readonly Backend[] = [
  { kind: 'openai', model: 'scripted-openai', path: '/v1/chat/completions' },
  { kind: 'ollama', model: 'scripted-ollama', path: '/api/chat' },
];

/** What reached the upstream for this scenario, in that backend's own format. */
function checkUpstream(backend: Backend, scenario: Scenario, sent: ScriptedRequest): void {
  assert.equal(sent.path, backend.path);
  const body = sent.body;
  const messages = objects(body['messages']);
  if (scenario === 'image') {
    if (backend.kind === 'openai') {
      const urls = messages.flatMap((message) =>
        objects(message['content']).flatMap((part) =>
          part['type'] === 'image_url' && isObject(part['image_url']) ? [part['image_url']['url']] : [],
        ),
      );
      assert.deepEqual(urls, [`data:image/png;base64,${PNG}`], 'the image reached the upstream as base64');
    } else {
      const images = messages.flatMap((message) =>
        Array.isArray(message['images']) ? message['images'] : [],
      );
      assert.deepEqual(images, [PNG], 'the image reached Ollama as base64');
    }
  }
  if (scenario === 'json') {
    if (backend.kind === 'openai') {
      const format = body['response_format'] as Json;
      assert.equal(format['type'], 'json_schema');
      assert.deepEqual((format['json_schema'] as Json)['schema'], SCHEMA, 'the schema reached the upstream');
    } else assert.deepEqual(body['format'], SCHEMA, 'the schema reached Ollama as format');
  }
  if (scenario === 'tools' || scenario === 'parallel_tools') {
    const tools = objects(body['tools']).map((tool) => tool['function'] as Json);
    assert.deepEqual(
      tools.map((tool) => ({ name: tool['name'], parameters: tool['parameters'] })),
      TOOLS.map((tool) => ({ name: tool.name, parameters: tool.parameters })),
      'the tools reached the upstream',
    );
  }
  // The scenario's marker reached the upstream in the last user message, whatever the protocol.
  const lastUser = [...messages].reverse().find((message) => message['role'] === 'user');
  const said =
    typeof lastUser?.['content'] === 'string'
      ? lastUser['content']
      : objects(lastUser?.['content'])
          .map((part) => text(part['text']))
          .join('');
  assert.ok(said.includes(`scenario:${scenario}`), `the prompt reached the upstream: ${said}`);
}

// ---------------------------------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------------------------------

describe('protocol × backend × scenario matrix', () => {
  let upstream: ScriptedUpstream;
  let running: RunningGateway;

  before(async () => {
    upstream = await ScriptedUpstream.start();
    running = await startGateway(
      testConfig({
        backends: [
          { name: 'openai', type: 'openai', url: upstream.openAiUrl },
          { name: 'ollama', type: 'ollama', url: upstream.ollamaUrl },
        ],
        models: [
          { name: 'scripted-openai', targets: [{ backend: 'openai', model: 'scripted' }] },
          { name: 'scripted-ollama', targets: [{ backend: 'ollama', model: 'scripted:latest' }] },
        ],
      }),
      {},
      { logLevel: 'warn' },
    );
  });
  after(async () => {
    await running.stop();
    await upstream.close();
  });

  async function send(driver: Driver, body: Json): Promise<Wire> {
    return sendTo(running.url, driver, body);
  }

  for (const driver of DRIVERS) {
    describe(driver.name, () => {
      for (const backend of BACKENDS) {
        for (const scenario of driver.scenarios) {
          for (const stream of [false, true]) {
            it(`${backend.kind} backend, ${scenario}, ${stream ? 'streamed' : 'whole'}`, async () => {
              const before = upstream.requests.length;
              const wire = await send(driver, driver.request({ model: backend.model, scenario, stream }));
              const answer = driver.read(wire, stream);
              assert.deepEqual(withoutIds(answer, driver.callIds), expected(scenario));
              assert.equal(upstream.requests.length, before + 1, 'one upstream call');
              checkUpstream(backend, scenario, upstream.requests.at(-1) as ScriptedRequest);
            });
          }
        }
        const followUp = driver.followUp;
        if (followUp === null) continue;
        for (const stream of [false, true]) {
          it(`${backend.kind} backend, a tool result in the second turn, ${stream ? 'streamed' : 'whole'}`, async () => {
            const turn = { model: backend.model, scenario: 'tools' as const, stream };
            const first = driver.read(await send(driver, driver.request(turn)), stream);
            const call = first.toolCalls[0];
            assert.ok(call !== undefined, 'the first turn called a tool');
            const wire = await send(driver, followUp({ ...turn, call, result: TOOL_RESULT }));
            assert.deepEqual(driver.read(wire, stream), {
              text: toolSaid(TOOL_RESULT),
              reasoning: '',
              toolCalls: [],
              finish: 'stop',
            });
            // The upstream got the call and its result, in its own format.
            const messages = objects((upstream.requests.at(-1) as ScriptedRequest).body['messages']);
            const result = messages.at(-1) ?? {};
            assert.equal(result['role'], 'tool');
            assert.equal(result['content'], TOOL_RESULT);
            const assistant = messages.at(-2) ?? {};
            assert.equal(assistant['role'], 'assistant');
            const called = objects(assistant['tool_calls'])[0] ?? {};
            const fn = called['function'] as Json;
            assert.equal(fn['name'], call.name);
            assert.deepEqual(parseArguments(fn['arguments']), call.arguments);
            if (backend.kind === 'openai') {
              assert.ok(typeof called['id'] === 'string' && called['id'] !== '', 'the call has an id');
              assert.equal(result['tool_call_id'], called['id'], 'the result names the call');
              if (driver.callIds) assert.equal(called['id'], call.id, 'the call keeps its id');
            } else assert.equal(result['tool_name'], call.name, 'Ollama names the tool of a result');
          });
        }
      }
    });
  }
});
