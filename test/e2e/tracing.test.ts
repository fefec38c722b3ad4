/**
 * OpenTelemetry traces (issue 7, "Tests"): a local OTLP/HTTP receiver started by the test, a gateway
 * with OTEL_EXPORTER_OTLP_ENDPOINT pointing at it (OTEL_BSP_SCHEDULE_DELAY=100), and a stand-in upstream
 * that records the traceparent it gets. The spans arrive with the right parent-child links (the
 * caller's span → the server span → authenticate, cache_lookup, rate_limit and one client span per
 * upstream attempt) and GenAI attributes; the attempt's own context goes upstream. With tracing off the
 * caller's valid traceparent/tracestate is passed upstream unchanged, an invalid one is not, and
 * nothing is exported.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/free-port.js';
import { startGateway, TEST_KEY, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import { exchange, type Exchange } from '../support/http-exchange.js';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { STAND_IN_USAGE, StandInUpstream, type RecordedRequest } from '../support/stand-in-upstream.js';

const CHAT = '/v1/chat/completions';
const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;
const STATUS_ERROR = 2;

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** A caller's context: a fresh trace id and span id, sampled. */
function callerContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

function config(upstreamUrl: string, deadPort: number): Record<string, unknown> {
  return testConfig({
    backends: [
      { name: 'vllm', type: 'openai', url: `${upstreamUrl}/v1` },
      { name: 'dead', type: 'openai', url: `http://127.0.0.1:${deadPort}/v1` },
    ],
    models: [
      { name: 'chat', targets: [{ backend: 'vllm', model: 'stand-in' }] },
      // Two tiers: the first refuses connections, the second answers.
      { name: 'fallback', targets: [{ backend: 'dead' }, { backend: 'vllm', model: 'stand-in' }] },
      { name: 'down', targets: [{ backend: 'dead' }] },
    ],
    extra: {
      cache: { enabled: true },
      routing: { max_attempts: 3, circuit_breaker: { enabled: false } },
    },
  });
}

let sequence = 0;

async function chat(
  running: RunningGateway,
  model: string,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): Promise<Exchange> {
  const answer = await exchange(`${running.url}${CHAT}`, {
    headers: { authorization: `Bearer ${TEST_KEY}`, ...headers },
    // A prompt of its own each time: never a cache hit.
    body: { model, messages: [{ role: 'user', content: `tracing ${++sequence}` }], ...extra },
  });
  assert.equal(answer.status, 200, answer.text);
  return answer;
}

/** The one request the stand-in received for the gateway request with this X-Request-ID. */
function upstreamRequestOf(upstream: StandInUpstream, requestId: string): RecordedRequest {
  const found = upstream.requests.filter((request) => request.headers['x-request-id'] === requestId);
  assert.equal(found.length, 1, `one upstream request for ${requestId}`);
  return found[0] as RecordedRequest;
}

function only(spans: readonly ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((span) => span.name === name);
  assert.equal(found.length, 1, `one span named ${name}; have ${JSON.stringify(spans.map((s) => s.name))}`);
  return found[0] as ReceivedSpan;
}

describe('traces exported over OTLP/HTTP', () => {
  const upstream = new StandInUpstream();
  const receiver = new OtlpReceiver();
  let running: RunningGateway;

  before(async () => {
    await upstream.start();
    await receiver.start();
    running = await startGateway(config(upstream.url, await freePort()), {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
  });

  after(async () => {
    await running?.stop();
    await receiver.stop();
    await upstream.stop();
  });

  /** Waits for the spans of one trace until every name in `names` has arrived (each as often as listed). */
  function spansOf(traceId: string, names: string[]): Promise<ReceivedSpan[]> {
    return receiver.waitForSpans(
      `spans ${names.join(', ')} of trace ${traceId}`,
      (spans) => spans.filter((span) => span.traceId === traceId),
      (spans) =>
        names.every(
          (name) =>
            spans.filter((span) => span.name === name).length >=
            names.filter((other) => other === name).length,
        ),
    );
  }

  it("makes the server span a child of the caller's span, with children for each step", async () => {
    const caller = callerContext();
    const answer = await chat(running, 'chat', { traceparent: caller.traceparent, tracestate: 'vendor=abc' });
    const requestId = answer.headers['x-request-id'] ?? '';
    const spans = await spansOf(caller.traceId, [
      'POST /v1/chat/completions',
      'authenticate',
      'cache_lookup',
      'rate_limit',
      'chat stand-in',
    ]);
    assert.equal(spans.length, 5, JSON.stringify(spans.map((span) => span.name)));
    assert.ok(spans.every((span) => span.serviceName === 'ai-gateway'));

    const server = only(spans, 'POST /v1/chat/completions');
    assert.equal(server.kind, SERVER);
    assert.equal(server.traceId, caller.traceId);
    assert.equal(server.parentSpanId, caller.spanId);
    assert.notEqual(server.spanId, caller.spanId);
    assert.equal(server.attributes['http.request.method'], 'POST');
    assert.equal(server.attributes['http.route'], '/v1/chat/completions');
    assert.equal(server.attributes['http.response.status_code'], 200);
    assert.equal(server.attributes['ai_gateway.request_id'], requestId);
    assert.equal(server.attributes['gen_ai.request.model'], 'chat');
    assert.equal(server.attributes['ai_gateway.key_id'], 'test-key');
    assert.notEqual(server.status.code, STATUS_ERROR);

    for (const name of ['authenticate', 'cache_lookup', 'rate_limit']) {
      const step = only(spans, name);
      assert.equal(step.kind, INTERNAL, name);
      assert.equal(step.parentSpanId, server.spanId, `${name}'s parent is the server span`);
      assert.notEqual(step.status.code, STATUS_ERROR, name);
    }

    const attempt = only(spans, 'chat stand-in');
    assert.equal(attempt.kind, CLIENT);
    assert.equal(attempt.parentSpanId, server.spanId);
    assert.equal(attempt.attributes['gen_ai.operation.name'], 'chat');
    assert.equal(attempt.attributes['gen_ai.request.model'], 'stand-in');
    assert.equal(attempt.attributes['gen_ai.provider.name'], 'openai');
    assert.equal(attempt.attributes['gen_ai.usage.input_tokens'], STAND_IN_USAGE.prompt_tokens);
    assert.equal(attempt.attributes['gen_ai.usage.output_tokens'], STAND_IN_USAGE.completion_tokens);
    assert.equal(attempt.attributes['ai_gateway.backend'], 'vllm');
    assert.equal(attempt.attributes['ai_gateway.attempt'], 1);
    assert.notEqual(attempt.status.code, STATUS_ERROR);

    // The upstream got the attempt's context: the caller's trace, the attempt span as parent.
    const sent = upstreamRequestOf(upstream, requestId);
    assert.equal(sent.headers['traceparent'], `00-${caller.traceId}-${attempt.spanId}-01`);
    assert.equal(sent.headers['tracestate'], 'vendor=abc');
  });

  it('exports one client span per attempt when the first target refuses connections', async () => {
    const caller = callerContext();
    const answer = await chat(running, 'fallback', { traceparent: caller.traceparent });
    assert.equal(answer.headers['x-gateway-attempts'], '2');
    assert.equal(answer.headers['x-gateway-backend'], 'vllm');
    const spans = await spansOf(caller.traceId, [
      'POST /v1/chat/completions',
      'chat fallback',
      'chat stand-in',
    ]);
    const server = only(spans, 'POST /v1/chat/completions');
    assert.equal(server.parentSpanId, caller.spanId);
    assert.notEqual(server.status.code, STATUS_ERROR);

    const attempts = spans.filter((span) => span.kind === CLIENT);
    assert.equal(attempts.length, 2);
    const failed = only(spans, 'chat fallback');
    const answered = only(spans, 'chat stand-in');
    for (const span of [failed, answered]) {
      assert.equal(span.parentSpanId, server.spanId);
      assert.equal(span.attributes['gen_ai.operation.name'], 'chat');
      assert.equal(span.attributes['gen_ai.provider.name'], 'openai');
    }
    assert.equal(failed.status.code, STATUS_ERROR);
    assert.equal(failed.attributes['error.type'], 'upstream_error');
    assert.equal(failed.attributes['ai_gateway.backend'], 'dead');
    assert.equal(failed.attributes['ai_gateway.attempt'], 1);
    assert.equal(failed.attributes['gen_ai.request.model'], 'fallback');
    assert.equal(failed.attributes['gen_ai.usage.input_tokens'], undefined);

    assert.notEqual(answered.status.code, STATUS_ERROR);
    assert.equal(answered.attributes['error.type'], undefined);
    assert.equal(answered.attributes['ai_gateway.backend'], 'vllm');
    assert.equal(answered.attributes['ai_gateway.attempt'], 2);
    assert.equal(answered.attributes['gen_ai.usage.input_tokens'], STAND_IN_USAGE.prompt_tokens);
    assert.equal(answered.attributes['gen_ai.usage.output_tokens'], STAND_IN_USAGE.completion_tokens);

    const sent = upstreamRequestOf(upstream, answer.headers['x-request-id'] ?? '');
    assert.equal(sent.headers['traceparent'], `00-${caller.traceId}-${answered.spanId}-01`);
  });

  it('traces a stream too, starting a new trace when the caller sent no traceparent', async () => {
    const answer = await chat(running, 'chat', {}, { stream: true, stream_options: { include_usage: true } });
    assert.match(answer.text, /data: \[DONE\]\n\n$/);
    const requestId = answer.headers['x-request-id'] ?? '';
    const [server] = await receiver.waitForSpans(
      `the server span of ${requestId}`,
      (spans) => spans.filter((span) => span.attributes['ai_gateway.request_id'] === requestId),
      (spans) => spans.length === 1,
    );
    assert.ok(server !== undefined);
    assert.equal(server.parentSpanId, '', 'a root span');
    assert.match(server.traceId, /^[0-9a-f]{32}$/);
    assert.equal(server.attributes['gen_ai.usage.input_tokens'], STAND_IN_USAGE.prompt_tokens);
    assert.equal(server.attributes['gen_ai.usage.output_tokens'], STAND_IN_USAGE.completion_tokens);
    const spans = await spansOf(server.traceId, [
      'authenticate',
      'cache_lookup',
      'rate_limit',
      'chat stand-in',
    ]);
    for (const span of spans.filter((candidate) => candidate !== server))
      assert.equal(span.parentSpanId, server.spanId, span.name);
    const attempt = only(spans, 'chat stand-in');
    assert.equal(attempt.kind, CLIENT);
    assert.equal(attempt.attributes['gen_ai.usage.input_tokens'], STAND_IN_USAGE.prompt_tokens);
    assert.equal(attempt.attributes['gen_ai.usage.output_tokens'], STAND_IN_USAGE.completion_tokens);
    const sent = upstreamRequestOf(upstream, requestId);
    assert.equal(sent.body?.['stream'], true);
    assert.equal(sent.headers['traceparent'], `00-${server.traceId}-${attempt.spanId}-01`);
  });

  it('marks the server span failed when the answer is a 5xx', async () => {
    const caller = callerContext();
    const answer = await exchange(`${running.url}${CHAT}`, {
      headers: { authorization: `Bearer ${TEST_KEY}`, traceparent: caller.traceparent },
      body: { model: 'down', messages: [{ role: 'user', content: 'down' }] },
    });
    assert.equal(answer.status, 502, answer.text);
    // routing.max_attempts: 3, one target: three attempts, each a span of its own.
    assert.equal(answer.headers['x-gateway-attempts'], '3');
    const spans = await spansOf(caller.traceId, [
      'POST /v1/chat/completions',
      'chat down',
      'chat down',
      'chat down',
    ]);
    const server = only(spans, 'POST /v1/chat/completions');
    assert.equal(server.status.code, STATUS_ERROR);
    assert.equal(server.attributes['error.type'], 'upstream_error');
    assert.equal(server.attributes['http.response.status_code'], 502);
    const attempts = spans.filter((span) => span.name === 'chat down');
    assert.equal(attempts.length, 3);
    assert.deepEqual(attempts.map((span) => span.attributes['ai_gateway.attempt']).sort(), [1, 2, 3]);
    for (const attempt of attempts) {
      assert.equal(attempt.parentSpanId, server.spanId);
      assert.equal(attempt.status.code, STATUS_ERROR);
      assert.equal(attempt.attributes['error.type'], 'upstream_error');
    }
  });

  it('sent every span over OTLP/HTTP JSON to /v1/traces', () => {
    assert.ok(receiver.requests.length > 0);
    for (const request of receiver.requests) {
      assert.equal(request.method, 'POST');
      assert.equal(request.path, '/v1/traces');
      assert.match(request.contentType, /^application\/json/);
    }
  });
});

describe('with tracing off', () => {
  for (const variant of ['no OTEL_* variable', 'OTEL_SDK_DISABLED=true'] as const) {
    describe(variant, () => {
      const upstream = new StandInUpstream();
      const receiver = new OtlpReceiver();
      let running: RunningGateway;

      before(async () => {
        await upstream.start();
        await receiver.start();
        const env: Record<string, string> =
          variant === 'OTEL_SDK_DISABLED=true'
            ? {
                OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
                OTEL_BSP_SCHEDULE_DELAY: '100',
                OTEL_SDK_DISABLED: 'true',
              }
            : {};
        running = await startGateway(config(upstream.url, await freePort()), env);
      });

      after(async () => {
        await running?.stop();
        await receiver.stop();
        await upstream.stop();
      });

      it("passes the caller's valid traceparent and tracestate upstream unchanged", async () => {
        const caller = callerContext();
        const answer = await chat(running, 'chat', {
          traceparent: caller.traceparent,
          tracestate: 'vendor=abc,other=def',
        });
        const sent = upstreamRequestOf(upstream, answer.headers['x-request-id'] ?? '');
        assert.equal(sent.headers['traceparent'], caller.traceparent);
        assert.equal(sent.headers['tracestate'], 'vendor=abc,other=def');
        // On every attempt of a fallback too.
        const fallback = await chat(running, 'fallback', { traceparent: caller.traceparent });
        assert.equal(fallback.headers['x-gateway-attempts'], '2');
        assert.equal(
          upstreamRequestOf(upstream, fallback.headers['x-request-id'] ?? '').headers['traceparent'],
          caller.traceparent,
        );
      });

      /** The traceparent/tracestate the stand-in got for a chat request sent with these headers. */
      async function forwarded(headers: Record<string, string>): Promise<(string | undefined)[]> {
        const answer = await chat(running, 'chat', headers);
        const sent = upstreamRequestOf(upstream, answer.headers['x-request-id'] ?? '');
        return [
          sent.headers['traceparent'] as string | undefined,
          sent.headers['tracestate'] as string | undefined,
        ];
      }

      it('does not forward a malformed traceparent (nor its tracestate), nor invent one', async () => {
        for (const invalid of [
          'not-a-traceparent',
          `00-${hex(16).toUpperCase()}-${hex(8)}-01`,
          `00-${hex(16)}-${hex(8)}`,
          `00-${hex(16)}-${hex(8)}-01-zz`,
          `00-${hex(15)}-${hex(8)}-01`,
        ]) {
          assert.deepEqual(
            await forwarded({ traceparent: invalid, tracestate: 'vendor=abc' }),
            [undefined, undefined],
            invalid,
          );
        }
        assert.deepEqual(await forwarded({}), [undefined, undefined]);
        assert.deepEqual(await forwarded({ tracestate: 'vendor=abc' }), [undefined, undefined]);
      });

      // BUG (src/observability/tracing.ts:15, checked in passThrough at :44): the pass-through checks
      // the traceparent's shape only. W3C Trace Context (3.2.2.1, 3.2.2.3, 3.2.2.4) says an all-zero trace-id or
      // parent-id is invalid, and version ff is invalid; the README promises that only a *valid*
      // incoming traceparent is passed upstream. These are forwarded unchanged today, so this test fails
      // until the check also refuses them.
      // (The same code path serves both variants: checked once.)
      if (variant === 'no OTEL_* variable')
        it('does not forward a traceparent that W3C Trace Context calls invalid (all-zero ids, version ff)', async () => {
          const wrongly: string[] = [];
          for (const invalid of [
            `00-${'0'.repeat(32)}-${hex(8)}-01`,
            `00-${hex(16)}-${'0'.repeat(16)}-01`,
            `ff-${hex(16)}-${hex(8)}-01`,
          ]) {
            const [traceparent] = await forwarded({ traceparent: invalid });
            if (traceparent !== undefined) wrongly.push(traceparent);
          }
          assert.deepEqual(wrongly, [], 'forwarded upstream although invalid');
        });

      it('exports nothing (not even when it stops, which would flush any batch)', async () => {
        await running.stop();
        assert.ok(upstream.requests.length >= 5, 'requests were made');
        assert.deepEqual(receiver.requests, []);
        assert.ok(!running.logs.some((line) => line['msg'] === 'exporting traces over OTLP/HTTP'));
      });
    });
  }
});
