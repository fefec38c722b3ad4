/**
 * Issue 16, finding 13: request targets that a reverse proxy reads differently from the gateway
 * (percent-encoded letters, encoded slashes, dot segments, `//`, absolute-form) are refused with 400
 * before routing, so that a proxy's path rules (say, "deny /metrics") cannot be walked around. Sent on
 * raw sockets: fetch would normalise most of them away.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startGateway, testConfig, TEST_KEY, type RunningGateway } from '../support/gateway-harness.js';
import type { Problem } from '../support/problem.js';

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** Sends one request exactly as written and reads the answer until the server closes. */
function send(
  port: number,
  method: string,
  target: string,
  headers: string[] = [],
  body = '',
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      received += text;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const split = received.indexOf('\r\n\r\n');
      const head = split === -1 ? received : received.slice(0, split);
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
        headers: head.toLowerCase(),
        body: split === -1 ? '' : received.slice(split + 4),
      });
    });
    const lines = [
      `${method} ${target} HTTP/1.1`,
      'Host: gateway.test',
      'Connection: close',
      ...headers,
      ...(body === ''
        ? []
        : ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`]),
    ];
    socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** The body of a chunked answer, joined (the gateway's problem bodies have a Content-Length anyway). */
function problemOf(answer: RawAnswer): Problem {
  const text = answer.headers.includes('transfer-encoding: chunked')
    ? answer.body.replace(/(^|\r\n)[0-9a-f]+\r\n/g, '').replace(/\r\n$/, '')
    : answer.body;
  return JSON.parse(text) as Problem;
}

describe('request targets a proxy would read differently', () => {
  let running: RunningGateway;
  let port: number;

  before(async () => {
    running = await startGateway(
      testConfig({
        backends: [{ name: 'demo', type: 'demo' }],
        models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
      }),
    );
    port = Number(new URL(running.url).port);
  });
  after(async () => {
    await running.stop();
  });

  it('serves /metrics as written (the control: metrics are open on this gateway)', async () => {
    const answer = await send(port, 'GET', '/metrics');
    assert.equal(answer.status, 200);
    assert.match(answer.body, /gateway_http_requests_total/);
  });

  for (const target of [
    '/%6Detrics',
    '/%6detrics',
    '/metrics/.',
    '/v1/../metrics',
    '/./metrics',
    '//metrics',
    '/%2e%2e/metrics',
    'http://gateway.test/metrics',
    'http://elsewhere.example/metrics',
  ]) {
    it(`answers GET ${target} with 400 problem+json saying what to fix`, async () => {
      const answer = await send(port, 'GET', target);
      assert.equal(answer.status, 400, answer.body);
      assert.match(answer.headers, /content-type: application\/problem\+json/);
      const problem = problemOf(answer);
      assert.equal(problem.error.code, 'invalid_request');
      assert.match(problem.detail, /path|origin-form/);
      assert.doesNotMatch(answer.body, /gateway_http_requests_total/);
    });
  }

  for (const target of ['/v1/chat/%63ompletions', '/v1%2Fchat/completions', '/v1//chat/completions']) {
    it(`answers POST ${target} with 400 before the handler runs`, async () => {
      const body = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] });
      const answer = await send(port, 'POST', target, [`Authorization: Bearer ${TEST_KEY}`], body);
      assert.equal(answer.status, 400, answer.body);
      assert.equal(problemOf(answer).error.code, 'invalid_request');
      assert.doesNotMatch(answer.body, /chat\.completion/);
    });
  }

  it('still answers an ordinary chat completion on the same socket code path', async () => {
    const body = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] });
    const answer = await send(
      port,
      'POST',
      '/v1/chat/completions',
      [`Authorization: Bearer ${TEST_KEY}`],
      body,
    );
    assert.equal(answer.status, 200, answer.body);
  });
});
