/**
 * No secret anywhere it could be read (RELIABILITY.md 15; issue 7, "A log capture contains no secret"):
 * marker strings as the client's API keys (valid and invalid, in both headers), the admin token, the
 * backends' upstream key, the metrics token, a cookie and a prompt, sent through every error path the
 * gateway has (401, 403, 404, 400, 413, 429 by key and by failed authentications, 502, 504, an error
 * event in a stream, admin 401 and 400, /metrics 401) and the good paths. Then everything captured is
 * grepped: every log line (at level trace), every response's status, headers and body, the /metrics
 * text, and every span exported over OTLP. The prompt may only reach the upstream. With
 * `logging.prompts` on, prompts are logged redacted and capped.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sha256Hex } from '../../src/auth/api-key.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import { exchange, exchangeText, type Exchange, type ExchangeOptions } from '../support/http-exchange.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';
import type { Problem } from '../support/problem.js';
import { StandInUpstream } from '../support/stand-in-upstream.js';

/** Each secret carries a marker of its own, found by grepping. */
const MARK = {
  validKey: 'MKVALIDKEY7Q',
  limitedKey: 'MKLIMITKEY3W',
  badKey: 'MKBADKEY9ZX',
  xApiKey: 'MKXAPIKEY4R',
  malformed: 'MKMALFORM2T',
  admin: 'MKADMINTOK5Y',
  wrongAdmin: 'MKWRONGADM6U',
  upstream: 'MKUPSTREAM8I',
  metrics: 'MKMETRICS1O',
  wrongMetrics: 'MKWRONGMET0P',
  cookie: 'MKCOOKIE5S',
  prompt: 'MKPROMPT42A',
} as const;

/**
 * A key in the gateway's format with the marker after its first 8 characters: the gateway may log a
 * failed key's first 8 characters at most (README, "Guessing"), never the marker.
 */
function keyWith(prefix: string, marker: string): string {
  return `sk-gw-${prefix}${marker}${'C'.repeat(38 - marker.length)}`;
}

const VALID_KEY = keyWith('ok', MARK.validKey);
const LIMITED_KEY = keyWith('lm', MARK.limitedKey);
const BAD_KEY = keyWith('zz', MARK.badKey);
const BAD_X_API_KEY = keyWith('yy', MARK.xApiKey);
const ADMIN_TOKEN = `admin-${MARK.admin}-0123456789`;
const METRICS_TOKEN = `metrics-${MARK.metrics}-0123456789`;
const UPSTREAM_KEY = `upstream-${MARK.upstream}-key`;
const PROMPT = `Please keep ${MARK.prompt} between us`;
const CHAT = '/v1/chat/completions';
const EMBEDDINGS = '/v1/embeddings';

function messages(text: string): { role: string; content: string }[] {
  return [{ role: 'user', content: text }];
}

/** Where each marker occurs in `text`, with a little context, for the failure message. */
function occurrences(text: string, markers: readonly string[], source: string): string[] {
  const found: string[] = [];
  for (const marker of markers) {
    let index = text.indexOf(marker);
    while (index !== -1) {
      found.push(
        `${marker} in ${source}: …${text.slice(Math.max(0, index - 60), index + marker.length + 20)}…`,
      );
      index = text.indexOf(marker, index + 1);
    }
  }
  return found;
}

/**
 * A log line with every serialised Buffer ({"type":"Buffer","data":[...]}) also given as the text it
 * holds: pino writes a Buffer's bytes as numbers, which a grep for a marker would not see.
 */
function withBuffersDecoded(line: string): string {
  const texts: string[] = [];
  JSON.parse(line, (_key, value: unknown) => {
    if (
      typeof value === 'object' &&
      value !== null &&
      (value as { type?: unknown }).type === 'Buffer' &&
      Array.isArray((value as { data?: unknown }).data)
    )
      texts.push(Buffer.from((value as { data: number[] }).data).toString('latin1'));
    return value;
  });
  return [line, ...texts].join('\n');
}

/** Writes raw bytes on a new connection; resolves with everything read until the gateway closes it. */
function rawExchange(url: string, raw: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) }, () => socket.end(raw));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}

function gatewayConfig(
  urls: { normal: string; failing: string; stalling: string; broken: string },
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return testConfig({
    server: { body_limit_bytes: 16_384 },
    backends: [
      { name: 'vllm', type: 'openai', url: `${urls.normal}/v1`, api_key: UPSTREAM_KEY },
      { name: 'failing', type: 'openai', url: `${urls.failing}/v1`, api_key: UPSTREAM_KEY },
      {
        name: 'stalling',
        type: 'openai',
        url: `${urls.stalling}/v1`,
        api_key: UPSTREAM_KEY,
        timeout_ms: 300,
      },
      { name: 'breaking', type: 'openai', url: `${urls.broken}/v1`, api_key: UPSTREAM_KEY },
    ],
    models: [
      { name: 'chat', targets: [{ backend: 'vllm', model: 'stand-in' }] },
      { name: 'embed', targets: [{ backend: 'vllm', model: 'stand-in-embed' }] },
      { name: 'broken', targets: [{ backend: 'failing' }] },
      { name: 'slow', targets: [{ backend: 'stalling' }] },
      { name: 'streamerr', targets: [{ backend: 'breaking' }] },
    ],
    extra: {
      cache: { enabled: true },
      auth: {
        keys: [
          {
            id: 'secret-key',
            sha256: sha256Hex(VALID_KEY),
            models: ['chat', 'embed', 'broken', 'slow', 'streamerr', 'ghost-*'],
          },
          { id: 'limited-secret', sha256: sha256Hex(LIMITED_KEY), rate_limit: { requests: '1/minute' } },
        ],
      },
      ...extra,
    },
  });
}

describe('secrets through every path (RELIABILITY 15)', () => {
  const normal = new StandInUpstream();
  const failing = new StandInUpstream();
  const stalling = new StandInUpstream();
  const breaking = new StandInUpstream();
  const receiver = new OtlpReceiver();
  let running: RunningGateway;
  const exchanges: Exchange[] = [];
  /** What came back to requests sent as raw bytes (no request_complete line for those). */
  const rawAnswers: string[] = [];
  let metricsText = '';

  /** Sends one request, keeps what came back, checks status and problem code. */
  async function send(
    path: string,
    status: number,
    code: string | null,
    options: ExchangeOptions,
  ): Promise<Exchange> {
    const answer = await exchange(`${running.url}${path}`, options);
    exchanges.push(answer);
    assert.equal(answer.status, status, `${path}: ${answer.text}`);
    if (code !== null) {
      assert.match(answer.headers['content-type'] ?? '', /^application\/problem\+json/, answer.text);
      assert.equal((JSON.parse(answer.text) as Problem).error.code, code);
    }
    return answer;
  }

  const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

  before(async () => {
    await Promise.all([
      normal.start(),
      failing.start(),
      stalling.start(),
      breaking.start(),
      receiver.start(),
    ]);
    failing.behaviour = { kind: 'status', status: 500 };
    stalling.behaviour = { kind: 'stall' };
    breaking.behaviour = { kind: 'stream-error-event-after', chunks: 3 };
    running = await startGateway(
      gatewayConfig({
        normal: normal.url,
        failing: failing.url,
        stalling: stalling.url,
        broken: breaking.url,
      }),
      {
        GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
        METRICS_TOKEN,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
      { logLevel: 'trace' },
    );
  });

  after(async () => {
    await running?.stop();
    await Promise.all([normal.stop(), failing.stop(), stalling.stop(), breaking.stop(), receiver.stop()]);
  });

  it('sends the markers through the good paths and every error path', async () => {
    const chatBody = { model: 'chat', messages: messages(PROMPT) };
    // Good paths: JSON, x-api-key, a stream, embeddings, a cache hit; a cookie the upstream must not get.
    await send(CHAT, 200, null, {
      headers: { ...bearer(VALID_KEY), cookie: `session=${MARK.cookie}` },
      body: chatBody,
    });
    await send(CHAT, 200, null, { headers: { 'x-api-key': VALID_KEY }, body: chatBody });
    const stream = await send(CHAT, 200, null, {
      headers: bearer(VALID_KEY),
      body: {
        ...chatBody,
        messages: messages(`${PROMPT} (stream)`),
        stream: true,
        stream_options: { include_usage: true },
      },
    });
    assert.match(stream.text, /data: \[DONE\]\n\n$/);
    await send(EMBEDDINGS, 200, null, {
      headers: bearer(VALID_KEY),
      body: { model: 'embed', input: [PROMPT] },
    });

    // 401: a wrong key (both headers), malformed Authorization headers, no key.
    await send(CHAT, 401, 'invalid_api_key', { headers: bearer(BAD_KEY), body: chatBody });
    await send(EMBEDDINGS, 401, 'invalid_api_key', {
      headers: { 'x-api-key': BAD_X_API_KEY },
      body: { model: 'embed', input: [PROMPT] },
    });
    await send(CHAT, 401, 'invalid_api_key', {
      headers: { authorization: `Token ${MARK.malformed}` },
      body: chatBody,
    });
    await send(CHAT, 401, 'invalid_api_key', {
      headers: { authorization: `Bearer two ${MARK.malformed}` },
      body: chatBody,
    });
    await send(CHAT, 401, 'invalid_api_key', { body: chatBody });

    // 403, 404, 400 (validation, both routes), 413.
    await send(CHAT, 403, 'model_not_allowed', {
      headers: bearer(VALID_KEY),
      body: { ...chatBody, model: 'other' },
    });
    await send(CHAT, 404, 'model_not_found', {
      headers: bearer(VALID_KEY),
      body: { ...chatBody, model: 'ghost-1' },
    });
    await send(CHAT, 400, 'invalid_request', {
      headers: bearer(VALID_KEY),
      body: { model: 'chat', messages: PROMPT },
    });
    await send(CHAT, 400, 'invalid_request', {
      headers: bearer(VALID_KEY),
      body: { ...chatBody, temperature: PROMPT, stop: { [PROMPT]: PROMPT } },
    });
    await send(CHAT, 400, 'invalid_request', {
      headers: bearer(VALID_KEY),
      body: { model: 'chat', messages: [{ role: PROMPT, content: PROMPT }] },
    });
    await send(EMBEDDINGS, 400, 'invalid_request', {
      headers: bearer(VALID_KEY),
      body: { model: 'embed', input: { text: PROMPT } },
    });
    await send(CHAT, 413, 'payload_too_large', {
      headers: bearer(VALID_KEY),
      body: { model: 'chat', messages: messages(`${PROMPT} ${'x'.repeat(20_000)} ${PROMPT}`) },
    });

    // 429 by the key's limit (1/minute).
    await send(CHAT, 200, null, { headers: bearer(LIMITED_KEY), body: chatBody });
    await send(CHAT, 429, 'rate_limit_exceeded', { headers: bearer(LIMITED_KEY), body: chatBody });

    // 502 (the upstream answers 500), 504 (it never answers), an error event in a stream.
    await send(CHAT, 502, 'upstream_error', {
      headers: bearer(VALID_KEY),
      body: { ...chatBody, model: 'broken' },
    });
    await send(CHAT, 504, 'upstream_timeout', {
      headers: bearer(VALID_KEY),
      body: { ...chatBody, model: 'slow' },
    });
    const broken = await send(CHAT, 200, null, {
      headers: bearer(VALID_KEY),
      body: { ...chatBody, model: 'streamerr', stream: true },
    });
    assert.match(broken.text, /^data: \{"type":.*"error":\{/m);
    assert.doesNotMatch(broken.text, /\[DONE\]/);

    // The admin API: 401 with a wrong token or none, 400 with a bad body, 200 with the token.
    await send('/admin/keys', 401, 'invalid_api_key', { headers: bearer(`wrong-${MARK.wrongAdmin}-token`) });
    await send('/admin/keys', 401, 'invalid_api_key', { headers: { authorization: MARK.wrongAdmin } });
    await send('/admin/keys', 401, 'invalid_api_key', {});
    await send('/admin/keys', 400, 'invalid_request', {
      headers: bearer(ADMIN_TOKEN),
      body: { name: 7, metadata: { note: PROMPT }, models: [PROMPT, 7] },
    });
    const listed = await send('/admin/keys', 200, null, { headers: bearer(ADMIN_TOKEN) });
    assert.match(listed.text, /"secret-key"/);
    await send('/admin/keys/secret-key', 200, null, { headers: bearer(ADMIN_TOKEN) });

    // /metrics: 401 without the token or with a wrong one, 200 with it.
    await send('/metrics', 401, 'invalid_api_key', {});
    await send('/metrics', 401, 'invalid_api_key', { headers: bearer(`${MARK.wrongMetrics}-0123456789`) });
    const scraped = await send('/metrics', 200, null, { headers: bearer(METRICS_TOKEN) });
    metricsText = scraped.text;
    assert.match(metricsText, /gateway_tokens_total\{kind="prompt",model="chat",key_id="secret-key"\}/);

    // 429 after repeated failed authentications from this address (20 a minute).
    let refused: Exchange | null = null;
    for (let attempt = 0; attempt < 30 && refused === null; attempt++) {
      const answer = await exchange(`${running.url}${CHAT}`, { headers: bearer(BAD_KEY), body: chatBody });
      exchanges.push(answer);
      if (answer.status === 429) refused = answer;
      else assert.equal(answer.status, 401, answer.text);
    }
    assert.ok(refused !== null, 'failed authentications were never limited');
    assert.equal((JSON.parse(refused.text) as Problem).error.code, 'rate_limit_exceeded');

    // Requests Node's HTTP parser refuses (issue 16, finding 4): at trace level these were logged with
    // err.rawPacket, the raw bytes of the request, key and prompt included.
    const unparseable = [
      `POST ${CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${VALID_KEY}\r\nBad Header: ${PROMPT}\r\nContent-Length: 2\r\n\r\n{}`,
      `POST ${CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${VALID_KEY}\r\nX-Note: ${PROMPT}${' pad'.repeat(5000)}\r\n\r\n`,
      `POST ${CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${VALID_KEY}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n${PROMPT}`,
    ];
    for (const raw of unparseable) {
      const answer = await rawExchange(running.url, raw);
      rawAnswers.push(answer);
      assert.match(answer, /^HTTP\/1\.1 (400|431) /, answer);
      assert.match(answer, /application\/problem\+json/, answer);
    }
  });

  it('put no secret and no prompt in any log line, response, metric or span', async () => {
    // Every request has been logged, and stopping the gateway flushes the last spans.
    const deadline = Date.now() + 5000;
    while (running.logs.filter((line) => line['msg'] === 'request_complete').length < exchanges.length) {
      assert.ok(Date.now() < deadline, 'timed out waiting for the request_complete lines');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await running.stop();

    // What was captured is what it should be (so that finding nothing means something).
    assert.ok(exchanges.length >= 40, `${exchanges.length} exchanges`);
    assert.equal(running.logs.filter((line) => line['msg'] === 'request_complete').length, exchanges.length);
    // Failed authentications, API and admin together, until the address was limited (20 a minute).
    const failedAuth = running.logs.filter((line) => line['msg'] === 'authentication failed');
    const failedAdmin = running.logs.filter((line) => line['msg'] === 'admin authentication failed');
    assert.equal(failedAdmin.length, 3);
    assert.ok(
      failedAuth.length + failedAdmin.length >= 20,
      `${failedAuth.length} + ${failedAdmin.length} logged`,
    );
    assert.ok(failedAuth.some((line) => line['key_hint'] === BAD_KEY.slice(0, 8)));
    assert.ok(
      running.logs.some((line) => line['msg'] === 'client error'),
      'no client error was logged',
    );
    assert.ok(receiver.spans.some((span) => span.name === 'chat stand-in'));
    assert.ok(receiver.spans.some((span) => span.name === 'POST /admin/keys'));
    assert.ok(metricsText.length > 1000);
    const upstreamText = JSON.stringify(
      [normal, failing, stalling, breaking].flatMap((upstream) => upstream.requests),
    );
    assert.ok(upstreamText.includes(MARK.prompt), 'the prompt reached the upstream');
    assert.ok(
      normal.requests.every((request) => request.headers['authorization'] === `Bearer ${UPSTREAM_KEY}`),
      'the upstream key reached the upstream',
    );

    const everything = Object.values(MARK);
    const found = [
      ...running.rawLogs.flatMap((line, index) =>
        occurrences(withBuffersDecoded(line), everything, `log line ${index}`),
      ),
      ...rawAnswers.flatMap((text, index) => occurrences(text, everything, `raw answer ${index}`)),
      ...exchanges.flatMap((item, index) =>
        occurrences(exchangeText(item), everything, `response ${index} (${item.method} ${item.url})`),
      ),
      ...occurrences(metricsText, everything, '/metrics'),
      ...receiver.bodies.flatMap((body, index) => occurrences(body, everything, `OTLP export ${index}`)),
    ];
    assert.deepEqual(found, []);

    // RELIABILITY 16 too: none of the client's credentials (key, cookie) went upstream, nor the
    // gateway's own tokens.
    const upstreamSecrets = Object.values(MARK).filter(
      (marker) => marker !== MARK.prompt && marker !== MARK.upstream,
    );
    assert.deepEqual(occurrences(upstreamText, upstreamSecrets, 'an upstream request'), []);
  });

  // V8's SyntaxError messages quote up to 10 characters of the body on each side of the error; a
  // prompt sent single-quoted or unquoted must not come back in the 400 (RELIABILITY 15).
  it('does not quote the body of a request that is not JSON in the error', async () => {
    const fresh = await startGateway(
      gatewayConfig({
        normal: normal.url,
        failing: failing.url,
        stalling: stalling.url,
        broken: breaking.url,
      }),
    );
    try {
      const quoted: string[] = [];
      const prompt = `${MARK.prompt} is what I want to keep`;
      for (const body of [
        `{"model":"chat","messages":[{"role":"user","content":'${prompt}'}]}`,
        `{"model":"chat","messages":[{"role":"user","content":${prompt}}]}`,
      ]) {
        const answer = await exchange(`${fresh.url}${CHAT}`, { headers: bearer(VALID_KEY), body });
        assert.equal(answer.status, 400, answer.text);
        const problem = JSON.parse(answer.text) as Problem;
        assert.equal(problem.error.code, 'invalid_request');
        assert.match(problem.detail, /not valid JSON/);
        // Any 6 characters of the marker that begins the prompt.
        if (answer.text.includes(MARK.prompt.slice(0, 6))) quoted.push(answer.text);
      }
      assert.deepEqual(quoted, []);
    } finally {
      await fresh.stop();
    }
  });
});

describe('logging.prompts: on, redacted and capped', () => {
  const MAX_BYTES = 256;
  const upstream = new StandInUpstream();
  let running: RunningGateway;

  before(async () => {
    await upstream.start();
    running = await startGateway(
      gatewayConfig(
        { normal: upstream.url, failing: upstream.url, stalling: upstream.url, broken: upstream.url },
        { logging: { prompts: { enabled: true, max_bytes: MAX_BYTES, redact: ['SECRET-[A-Z0-9]+'] } } },
      ),
    );
  });

  after(async () => {
    await running?.stop();
    await upstream.stop();
  });

  for (const route of [CHAT, EMBEDDINGS]) {
    it(`logs the prompt of ${route} without the redacted pattern, at most max_bytes`, async () => {
      const tag = route === CHAT ? 'chat' : 'embed';
      const text = `visible-${tag}-one SECRET-ABC123 visible-${tag}-two SECRET-Z9 ${'y'.repeat(2000)} tail-${tag}-end`;
      const requestId = `prompt-log-${tag}`;
      const answer = await exchange(`${running.url}${route}`, {
        headers: { authorization: `Bearer ${VALID_KEY}`, 'x-request-id': requestId },
        body:
          route === CHAT ? { model: 'chat', messages: messages(text) } : { model: 'embed', input: [text] },
      });
      assert.equal(answer.status, 200, answer.text);
      const deadline = Date.now() + 5000;
      let line: Record<string, unknown> | undefined;
      while (
        (line = running.logs.find(
          (entry) => entry['request_id'] === requestId && entry['msg'] === 'request_complete',
        )) === undefined
      ) {
        assert.ok(Date.now() < deadline, 'timed out waiting for the request_complete line');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const logged = Object.values(line).filter(
        (value): value is string => typeof value === 'string' && value.includes(`visible-${tag}-one`),
      );
      assert.equal(logged.length, 1, `one field holds the prompt: ${JSON.stringify(line)}`);
      const prompt = logged[0] ?? '';
      assert.ok(prompt.includes(`visible-${tag}-two`), prompt);
      assert.ok(!prompt.includes(`tail-${tag}-end`), 'capped');
      // Room for a truncation mark, no more.
      assert.ok(Buffer.byteLength(prompt) <= MAX_BYTES + 32, `${Buffer.byteLength(prompt)} bytes`);
      for (const raw of running.rawLogs) {
        assert.doesNotMatch(raw, /SECRET-[A-Z0-9]/);
        assert.ok(!raw.includes(MARK.validKey));
      }
    });
  }
});
