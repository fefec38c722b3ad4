/**
 * Drivers for every ingress protocol, shared by the matrices (test/e2e/protocol-matrix.test.ts,
 * test/e2e/provider-matrix.test.ts): chat completions, Responses, Anthropic Messages, Ollama /api/chat
 * and legacy completions (text only). A driver writes the protocol's request with plain fetch, exactly
 * as its clients put it on the wire, and reads the answer by parsing the protocol's real wire format
 * (the JSON body, SSE events, NDJSON lines) into one shape, {text, reasoning, toolCalls, finish}, which
 * is compared with the scripted upstream's constants (test/support/scripted-upstream.ts).
 */
import assert from 'node:assert/strict';
import { createParser } from 'eventsource-parser';
import {
  SCRIPTED_CALLS,
  SCRIPTED_JSON,
  SCRIPTED_REASONED_ANSWER,
  SCRIPTED_REASONING,
  SCRIPTED_TEXT,
  imagesSeen,
} from './scripted-upstream.js';
import { TEST_KEY } from './gateway-harness.js';

export type Json = Record<string, unknown>;
export type Scenario = 'text' | 'tools' | 'parallel_tools' | 'image' | 'json' | 'reasoning';

export interface ToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: unknown;
}

/** An answer in any protocol, normalised. */
export interface Normalised {
  readonly text: string;
  readonly reasoning: string;
  readonly toolCalls: readonly ToolCall[];
  /** stop, tool_calls or length, from the protocol's own stop reason. */
  readonly finish: string;
}

export interface Wire {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** A 1×1 transparent PNG. */
export const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
export const SCHEMA = {
  type: 'object',
  properties: { answer: { type: 'integer' } },
  required: ['answer'],
  additionalProperties: false,
};
export const TOOLS = [
  {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
  {
    name: 'get_time',
    description: 'The time in a zone',
    parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
  },
];
export const TOOL_RESULT = 'Sunny, 21 °C';

export function prompt(scenario: Scenario): string {
  return `Please answer. scenario:${scenario}`;
}

export interface Turn {
  readonly model: string;
  readonly scenario: Scenario;
  readonly stream: boolean;
}

/** The second turn: the first turn's request, the call the model made, and the tool's result. */
export interface FollowUp extends Turn {
  readonly call: ToolCall;
  readonly result: string;
}

export interface Driver {
  readonly name: string;
  readonly path: string;
  /** Legacy completions can only ask for text. */
  readonly scenarios: readonly Scenario[];
  readonly headers?: Readonly<Record<string, string>>;
  /** Whether the protocol gives each tool call an id (Ollama's calls have none). */
  readonly callIds: boolean;
  request(turn: Turn): Json;
  /** The turn that sends the tool's result back; null when the protocol has no tools. */
  followUp: ((turn: FollowUp) => Json) | null;
  read(wire: Wire, stream: boolean): Normalised;
}

// ---------------------------------------------------------------------------------------------------
// Wire formats
// ---------------------------------------------------------------------------------------------------

export interface SseEvent {
  readonly event: string | undefined;
  readonly data: string;
}

/** Server-sent events as a client's parser sees them (eventsource-parser: comments and retries skipped). */
export function sseEvents(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = createParser({
    onEvent: (message) => events.push({ event: message.event, data: message.data }),
  });
  parser.feed(text);
  return events;
}

export function ndjsonLines(text: string): Json[] {
  assert.ok(text.endsWith('\n'), 'NDJSON ends each line with a newline');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Json);
}

export function parseArguments(value: unknown): unknown {
  return typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
}

export function assertType(wire: Wire, stream: boolean, streamType: string): void {
  assert.equal(wire.status, 200, wire.body);
  assert.ok(
    wire.contentType.startsWith(stream ? streamType : 'application/json'),
    `content type ${wire.contentType}`,
  );
}

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function objects(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

export function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

// ---------------------------------------------------------------------------------------------------
// Drivers
// ---------------------------------------------------------------------------------------------------

export const chatCompletions: Driver = {
  callIds: true,
  name: 'chat completions',
  path: '/v1/chat/completions',
  scenarios: ['text', 'tools', 'parallel_tools', 'image', 'json', 'reasoning'],
  request: (turn) => ({
    model: turn.model,
    messages: chatMessages(turn.scenario),
    ...chatOptions(turn),
  }),
  followUp: (turn) => ({
    model: turn.model,
    messages: [
      ...chatMessages(turn.scenario),
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: turn.call.id,
            type: 'function',
            function: { name: turn.call.name, arguments: JSON.stringify(turn.call.arguments) },
          },
        ],
      },
      { role: 'tool', tool_call_id: turn.call.id, content: turn.result },
    ],
    ...chatOptions(turn),
  }),
  read(wire, stream) {
    assertType(wire, stream, 'text/event-stream');
    if (!stream) {
      const choice = objects((JSON.parse(wire.body) as Json)['choices'])[0] ?? {};
      const message = isObject(choice['message']) ? choice['message'] : {};
      return {
        text: text(message['content']),
        reasoning: text(message['reasoning_content'] ?? message['reasoning']),
        toolCalls: objects(message['tool_calls']).map((call) => {
          const fn = isObject(call['function']) ? call['function'] : {};
          return { id: text(call['id']), name: text(fn['name']), arguments: parseArguments(fn['arguments']) };
        }),
        finish: text(choice['finish_reason']),
      };
    }
    const events = sseEvents(wire.body);
    assert.equal(events.at(-1)?.data, '[DONE]', 'a chat stream ends with data: [DONE]');
    let said = '';
    let reasoning = '';
    let finish = '';
    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    for (const event of events.slice(0, -1)) {
      const chunk = JSON.parse(event.data) as Json;
      assert.equal(chunk['object'], 'chat.completion.chunk');
      for (const choice of objects(chunk['choices'])) {
        const delta = isObject(choice['delta']) ? choice['delta'] : {};
        said += text(delta['content']);
        reasoning += text(delta['reasoning_content'] ?? delta['reasoning']);
        for (const call of objects(delta['tool_calls'])) {
          const index = call['index'] as number;
          const fn = isObject(call['function']) ? call['function'] : {};
          const known = calls.get(index) ?? { id: text(call['id']), name: text(fn['name']), arguments: '' };
          known.arguments += text(fn['arguments']);
          calls.set(index, known);
        }
        if (typeof choice['finish_reason'] === 'string') finish = choice['finish_reason'];
      }
    }
    return {
      text: said,
      reasoning,
      toolCalls: [...calls.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, call]) => ({ ...call, arguments: parseArguments(call.arguments) })),
      finish,
    };
  },
};

export function chatMessages(scenario: Scenario): Json[] {
  const messages: Json[] = [{ role: 'system', content: 'Be brief.' }];
  if (scenario === 'image')
    messages.push({
      role: 'user',
      content: [
        { type: 'text', text: prompt(scenario) },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
      ],
    });
  else messages.push({ role: 'user', content: prompt(scenario) });
  return messages;
}

export function chatOptions(turn: Turn): Json {
  return {
    ...(turn.stream ? { stream: true } : {}),
    ...(turn.scenario === 'tools' || turn.scenario === 'parallel_tools'
      ? { tools: TOOLS.map((tool) => ({ type: 'function', function: tool })) }
      : {}),
    ...(turn.scenario === 'json'
      ? {
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'answer', schema: SCHEMA, strict: true },
          },
        }
      : {}),
    ...(turn.scenario === 'reasoning' ? { reasoning_effort: 'low' } : {}),
  };
}

export const responses: Driver = {
  callIds: true,
  name: 'Responses',
  path: '/v1/responses',
  scenarios: ['text', 'tools', 'parallel_tools', 'image', 'json', 'reasoning'],
  request: (turn) => ({ model: turn.model, input: responsesInput(turn.scenario), ...responsesOptions(turn) }),
  followUp: (turn) => ({
    model: turn.model,
    input: [
      ...responsesInput(turn.scenario),
      {
        type: 'function_call',
        call_id: turn.call.id,
        name: turn.call.name,
        arguments: JSON.stringify(turn.call.arguments),
      },
      { type: 'function_call_output', call_id: turn.call.id, output: turn.result },
    ],
    ...responsesOptions(turn),
  }),
  read(wire, stream) {
    assertType(wire, stream, 'text/event-stream');
    if (!stream) return responseOf(JSON.parse(wire.body) as Json);
    // The deltas, and the response.completed event's whole response: both must say the same.
    const events = sseEvents(wire.body);
    let said = '';
    let reasoning = '';
    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    let completed: Json | null = null;
    for (const event of events) {
      const data = JSON.parse(event.data) as Json;
      assert.equal(event.event, data['type'], 'each event is named by its type');
      switch (data['type']) {
        case 'response.output_text.delta':
          said += text(data['delta']);
          break;
        case 'response.reasoning_text.delta':
        case 'response.reasoning_summary_text.delta':
          reasoning += text(data['delta']);
          break;
        case 'response.output_item.added': {
          const item = isObject(data['item']) ? data['item'] : {};
          if (item['type'] === 'function_call')
            calls.set(data['output_index'] as number, {
              id: text(item['call_id']),
              name: text(item['name']),
              arguments: '',
            });
          break;
        }
        case 'response.function_call_arguments.delta': {
          const call = calls.get(data['output_index'] as number);
          assert.ok(call !== undefined, 'arguments come after their call was added');
          call.arguments += text(data['delta']);
          break;
        }
        case 'response.completed':
        case 'response.incomplete':
          completed = isObject(data['response']) ? data['response'] : null;
          break;
      }
    }
    assert.ok(completed !== null, 'a Responses stream ends with response.completed');
    const streamed: Normalised = {
      text: said,
      reasoning,
      toolCalls: [...calls.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, call]) => ({ ...call, arguments: parseArguments(call.arguments) })),
      finish: finishOfResponse(completed, calls.size > 0),
    };
    assert.deepEqual(responseOf(completed), streamed, 'response.completed holds what the deltas said');
    return streamed;
  },
};

export function responsesInput(scenario: Scenario): Json[] {
  const content: Json[] = [{ type: 'input_text', text: prompt(scenario) }];
  if (scenario === 'image')
    content.push({ type: 'input_image', image_url: `data:image/png;base64,${PNG}`, detail: 'auto' });
  return [
    { role: 'developer', content: 'Be brief.' },
    { role: 'user', content },
  ];
}

export function responsesOptions(turn: Turn): Json {
  return {
    ...(turn.stream ? { stream: true } : {}),
    ...(turn.scenario === 'tools' || turn.scenario === 'parallel_tools'
      ? { tools: TOOLS.map((tool) => ({ type: 'function', ...tool })) }
      : {}),
    ...(turn.scenario === 'json'
      ? { text: { format: { type: 'json_schema', name: 'answer', schema: SCHEMA, strict: true } } }
      : {}),
    ...(turn.scenario === 'reasoning' ? { reasoning: { effort: 'low' } } : {}),
  };
}

/** Responses has no finish reason: a completed response that called tools ended for them. */
export function finishOfResponse(response: Json, called: boolean): string {
  if (response['status'] === 'incomplete') return 'length';
  assert.equal(response['status'], 'completed');
  return called ? 'tool_calls' : 'stop';
}

export function responseOf(response: Json): Normalised {
  assert.equal(response['object'], 'response');
  let said = '';
  let reasoning = '';
  const toolCalls: ToolCall[] = [];
  for (const item of objects(response['output'])) {
    if (item['type'] === 'message')
      for (const part of objects(item['content']))
        if (part['type'] === 'output_text') said += text(part['text']);
    if (item['type'] === 'reasoning')
      for (const part of [...objects(item['content']), ...objects(item['summary'])])
        reasoning += text(part['text']);
    if (item['type'] === 'function_call')
      toolCalls.push({
        id: text(item['call_id']),
        name: text(item['name']),
        arguments: parseArguments(item['arguments']),
      });
  }
  return { text: said, reasoning, toolCalls, finish: finishOfResponse(response, toolCalls.length > 0) };
}

export const ANTHROPIC_FINISH: Readonly<Record<string, string>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
};

export const anthropicMessages: Driver = {
  callIds: true,
  name: 'Anthropic Messages',
  path: '/v1/messages',
  scenarios: ['text', 'tools', 'parallel_tools', 'image', 'json', 'reasoning'],
  // As Anthropic's SDKs send it: the key in x-api-key, and the API version.
  headers: { 'x-api-key': TEST_KEY, 'anthropic-version': '2023-06-01' },
  request: (turn) => ({
    model: turn.model,
    system: 'Be brief.',
    messages: [{ role: 'user', content: anthropicContent(turn.scenario) }],
    ...anthropicOptions(turn),
  }),
  followUp: (turn) => ({
    model: turn.model,
    system: 'Be brief.',
    messages: [
      { role: 'user', content: anthropicContent(turn.scenario) },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: turn.call.id, name: turn.call.name, input: turn.call.arguments }],
      },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: turn.call.id, content: turn.result }],
      },
    ],
    ...anthropicOptions(turn),
  }),
  read(wire, stream) {
    assertType(wire, stream, 'text/event-stream');
    if (!stream) return messageOf(JSON.parse(wire.body) as Json);
    const events = sseEvents(wire.body);
    assert.deepEqual(
      [events[0]?.event, events.at(-1)?.event],
      ['message_start', 'message_stop'],
      'an Anthropic stream opens with message_start and closes with message_stop',
    );
    const blocks = new Map<number, Json>();
    const inputs = new Map<number, string>();
    let stopReason = '';
    for (const event of events) {
      const data = JSON.parse(event.data) as Json;
      assert.equal(event.event, data['type'], 'each event is named by its type');
      const index = data['index'] as number;
      if (data['type'] === 'content_block_start') {
        assert.ok(!blocks.has(index), 'a block starts once');
        blocks.set(index, { ...(data['content_block'] as Json) });
        inputs.set(index, '');
      } else if (data['type'] === 'content_block_delta') {
        const block = blocks.get(index);
        assert.ok(block !== undefined, 'a delta comes after its block started');
        const delta = data['delta'] as Json;
        if (delta['type'] === 'text_delta') block['text'] = text(block['text']) + text(delta['text']);
        else if (delta['type'] === 'thinking_delta')
          block['thinking'] = text(block['thinking']) + text(delta['thinking']);
        else if (delta['type'] === 'input_json_delta')
          inputs.set(index, (inputs.get(index) ?? '') + text(delta['partial_json']));
        else if (delta['type'] === 'signature_delta') block['signature'] = delta['signature'];
      } else if (data['type'] === 'message_delta') {
        stopReason = text((data['delta'] as Json)['stop_reason']);
      }
    }
    const content = [...blocks.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, block]) =>
        block['type'] === 'tool_use' ? { ...block, input: parseArguments(inputs.get(index) || '{}') } : block,
      );
    return messageOf({ type: 'message', role: 'assistant', content, stop_reason: stopReason });
  },
};

export function anthropicContent(scenario: Scenario): Json[] {
  const content: Json[] = [{ type: 'text', text: prompt(scenario) }];
  if (scenario === 'image')
    content.unshift({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } });
  return content;
}

export function anthropicOptions(turn: Turn): Json {
  return {
    max_tokens: 2048,
    ...(turn.stream ? { stream: true } : {}),
    ...(turn.scenario === 'tools' || turn.scenario === 'parallel_tools'
      ? {
          tools: TOOLS.map((tool) => ({
            name: tool.name,
            description: tool.description,
            input_schema: tool.parameters,
          })),
        }
      : {}),
    ...(turn.scenario === 'json'
      ? { output_config: { format: { type: 'json_schema', schema: SCHEMA } } }
      : {}),
    ...(turn.scenario === 'reasoning' ? { thinking: { type: 'enabled', budget_tokens: 1024 } } : {}),
  };
}

export function messageOf(message: Json): Normalised {
  assert.equal(message['type'], 'message');
  assert.equal(message['role'], 'assistant');
  let said = '';
  let reasoning = '';
  const toolCalls: ToolCall[] = [];
  for (const block of objects(message['content'])) {
    if (block['type'] === 'text') said += text(block['text']);
    else if (block['type'] === 'thinking') reasoning += text(block['thinking']);
    else if (block['type'] === 'tool_use')
      toolCalls.push({ id: text(block['id']), name: text(block['name']), arguments: block['input'] });
  }
  const stop = text(message['stop_reason']);
  return { text: said, reasoning, toolCalls, finish: ANTHROPIC_FINISH[stop] ?? stop };
}

export const ollamaChat: Driver = {
  callIds: false,
  name: 'Ollama /api/chat',
  path: '/api/chat',
  scenarios: ['text', 'tools', 'parallel_tools', 'image', 'json', 'reasoning'],
  request: (turn) => ({ model: turn.model, messages: ollamaMessages(turn.scenario), ...ollamaOptions(turn) }),
  followUp: (turn) => ({
    model: turn.model,
    messages: [
      ...ollamaMessages(turn.scenario),
      {
        role: 'assistant',
        content: '',
        // As ollama clients send back the message they got: with the call's id when it had one.
        tool_calls: [
          {
            ...(turn.call.id === '' ? {} : { id: turn.call.id }),
            function: { name: turn.call.name, arguments: turn.call.arguments },
          },
        ],
      },
      { role: 'tool', content: turn.result, tool_name: turn.call.name },
    ],
    ...ollamaOptions(turn),
  }),
  read(wire, stream) {
    assertType(wire, stream, 'application/x-ndjson');
    const lines = stream ? ndjsonLines(wire.body) : [JSON.parse(wire.body) as Json];
    assert.equal(lines.at(-1)?.['done'], true, 'the last line is done: true');
    assert.ok(
      lines.slice(0, -1).every((line) => line['done'] === false),
      'only the last line is done',
    );
    let said = '';
    let reasoning = '';
    const toolCalls: ToolCall[] = [];
    for (const line of lines) {
      const message = isObject(line['message']) ? line['message'] : {};
      said += text(message['content']);
      reasoning += text(message['thinking']);
      for (const call of objects(message['tool_calls'])) {
        const fn = isObject(call['function']) ? call['function'] : {};
        // Ollama sends each call whole, its arguments an object.
        assert.ok(isObject(fn['arguments']), 'Ollama tool call arguments are an object');
        toolCalls.push({ id: text(call['id']), name: text(fn['name']), arguments: fn['arguments'] });
      }
    }
    const reason = text(lines.at(-1)?.['done_reason']);
    // Ollama has no finish reason for tool calls: its done_reason is stop.
    return {
      text: said,
      reasoning,
      toolCalls,
      finish: reason === 'stop' && toolCalls.length > 0 ? 'tool_calls' : reason,
    };
  },
};

export function ollamaMessages(scenario: Scenario): Json[] {
  return [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: prompt(scenario), ...(scenario === 'image' ? { images: [PNG] } : {}) },
  ];
}

export function ollamaOptions(turn: Turn): Json {
  return {
    // Ollama streams unless told not to.
    ...(turn.stream ? {} : { stream: false }),
    ...(turn.scenario === 'tools' || turn.scenario === 'parallel_tools'
      ? { tools: TOOLS.map((tool) => ({ type: 'function', function: tool })) }
      : {}),
    ...(turn.scenario === 'json' ? { format: SCHEMA } : {}),
    ...(turn.scenario === 'reasoning' ? { think: true } : {}),
  };
}

export const legacyCompletions: Driver = {
  callIds: true,
  name: 'legacy completions',
  path: '/v1/completions',
  scenarios: ['text'],
  request: (turn) => ({
    model: turn.model,
    prompt: prompt(turn.scenario),
    max_tokens: 64,
    ...(turn.stream ? { stream: true } : {}),
  }),
  followUp: null,
  read(wire, stream) {
    assertType(wire, stream, 'text/event-stream');
    if (!stream) {
      const body = JSON.parse(wire.body) as Json;
      assert.equal(body['object'], 'text_completion');
      const choice = objects(body['choices'])[0] ?? {};
      return {
        text: text(choice['text']),
        reasoning: '',
        toolCalls: [],
        finish: text(choice['finish_reason']),
      };
    }
    const events = sseEvents(wire.body);
    assert.equal(events.at(-1)?.data, '[DONE]', 'a completions stream ends with data: [DONE]');
    let said = '';
    let finish = '';
    for (const event of events.slice(0, -1)) {
      const chunk = JSON.parse(event.data) as Json;
      assert.equal(chunk['object'], 'text_completion');
      for (const choice of objects(chunk['choices'])) {
        said += text(choice['text']);
        if (typeof choice['finish_reason'] === 'string') finish = choice['finish_reason'];
      }
    }
    return { text: said, reasoning: '', toolCalls: [], finish };
  },
};

export const DRIVERS: readonly Driver[] = [
  chatCompletions,
  responses,
  anthropicMessages,
  ollamaChat,
  legacyCompletions,
];

// ---------------------------------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------------------------------

export function expected(scenario: Scenario): Normalised {
  const calls = (name: 'tools' | 'parallel_tools'): ToolCall[] =>
    SCRIPTED_CALLS[name].map((call) => ({ id: '', name: call.name, arguments: call.arguments }));
  switch (scenario) {
    case 'text':
      return { text: SCRIPTED_TEXT, reasoning: '', toolCalls: [], finish: 'stop' };
    case 'tools':
    case 'parallel_tools':
      return { text: '', reasoning: '', toolCalls: calls(scenario), finish: 'tool_calls' };
    case 'image':
      return { text: imagesSeen(1), reasoning: '', toolCalls: [], finish: 'stop' };
    case 'json':
      return { text: SCRIPTED_JSON, reasoning: '', toolCalls: [], finish: 'stop' };
    case 'reasoning':
      return { text: SCRIPTED_REASONED_ANSWER, reasoning: SCRIPTED_REASONING, toolCalls: [], finish: 'stop' };
  }
}

/** The answer without call ids (the upstream makes them up), each call's id checked to be there. */
export function withoutIds(answer: Normalised, ids: boolean): Normalised {
  if (ids) for (const call of answer.toolCalls) assert.ok(call.id !== '', `tool call ${call.name} has an id`);
  return { ...answer, toolCalls: answer.toolCalls.map((call) => ({ ...call, id: '' })) };
}

/** Sends a driver's request to the gateway at `url` as its clients do, and takes the whole answer. */
export async function sendTo(url: string, driver: Driver, body: Json): Promise<Wire> {
  const response = await fetch(`${url}${driver.path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(driver.headers ?? { authorization: `Bearer ${TEST_KEY}` }),
    },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    body: await response.text(),
  };
}
