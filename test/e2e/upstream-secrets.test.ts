/**
 * Issue 16, finding 6: an upstream that echoes the Authorization header it received in its error text
 * must not leak the backend's key through the gateway: not to the client (JSON errors and stream error
 * events), not to the logs, not to /health/ready.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';

const BACKEND_KEY = 'sk-upstream-backend-key-0123456789abcdef';
const ADMIN_TOKEN = 'admin-token-for-readiness-details';

type Mode = 'status-500' | 'status-401' | 'status-400' | 'stream-error' | 'ok';

/** Every answer quotes the request's Authorization header, as a careless upstream's error page does. */
class EchoingUpstream {
  chatMode: Mode = 'status-500';
  private readonly server: Server = createServer((request, response) => {
    this.answer(request, response);
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private answer(request: IncomingMessage, response: ServerResponse): void {
    request.resume();
    const echo = `request carried Authorization: ${request.headers.authorization ?? '(none)'}`;
    const fail = (status: number): void => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: echo } }));
    };
    // The health check's path: always failing, with the echo.
    if (request.url === '/v1/models') return fail(500);
    switch (this.chatMode) {
      case 'status-500':
        return fail(500);
      case 'status-401':
        return fail(401);
      case 'status-400':
        return fail(400);
      case 'stream-error': {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = {
          id: 'chatcmpl-echo',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'echo',
          choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }],
        };
        response.end(
          `data: ${JSON.stringify(chunk)}\n\ndata: ${JSON.stringify({ error: { message: echo } })}\n\n`,
        );
        return;
      }
      case 'ok':
        response.writeHead(404).end();
        return;
    }
  }
}

interface Ready {
  status: string;
  checks: Record<string, { status: string; detail?: string }>;
}

async function ready(url: string, token?: string): Promise<Ready> {
  const response = await fetch(`${url}/health/ready`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return (await response.json()) as Ready;
}

describe('an upstream that echoes the backend key in its errors', () => {
  const upstream = new EchoingUpstream();
  let running: RunningGateway;
  let client: OpenAI;

  before(async () => {
    const url = await upstream.start();
    running = await startGateway(
      testConfig({
        backends: [
          { name: 'echo', type: 'openai', url: `${url}/v1`, api_key: '${ECHO_BACKEND_KEY}' },
          // The same upstream under active health checks (which fail): the chats above stay routable.
          {
            name: 'probed',
            type: 'openai',
            url: `${url}/v1`,
            api_key: '${ECHO_BACKEND_KEY}',
            health_check: { path: '/models', interval_ms: 2000, timeout_ms: 2000, unhealthy_after: 1 },
          },
        ],
        models: [{ name: 'echo', targets: [{ backend: 'echo' }] }],
      }),
      { ECHO_BACKEND_KEY: BACKEND_KEY, GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
    );
    client = running.client();
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  const chatError = async (): Promise<InstanceType<typeof OpenAI.APIError>> => {
    try {
      await client.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'hi' }] });
    } catch (error) {
      if (error instanceof OpenAI.APIError) return error;
      throw error;
    }
    assert.fail('the request should have failed');
  };

  it('answers an upstream 500 with its message, the key removed', async () => {
    upstream.chatMode = 'status-500';
    const error = await chatError();
    assert.equal(error.status, 502);
    assert.ok(!JSON.stringify(error.error).includes(BACKEND_KEY), JSON.stringify(error.error));
    assert.match(error.message, /request carried Authorization: Bearer \[redacted\]/);
  });

  it('answers an upstream 400 with its message, the key removed', async () => {
    upstream.chatMode = 'status-400';
    const error = await chatError();
    assert.equal(error.status, 400);
    assert.ok(!JSON.stringify(error.error).includes(BACKEND_KEY), JSON.stringify(error.error));
    assert.match(error.message, /\[redacted\]/);
  });

  it('answers an upstream 401 without its text at all', async () => {
    upstream.chatMode = 'status-401';
    const error = await chatError();
    assert.equal(error.status, 502);
    assert.ok(!JSON.stringify(error.error).includes(BACKEND_KEY));
    assert.match(error.message, /refused the gateway's credentials/);
  });

  it("ends a stream with the upstream's error event, the key removed", async () => {
    upstream.chatMode = 'stream-error';
    const response = await fetch(`${running.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${client.apiKey}` },
      body: JSON.stringify({ model: 'echo', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const text = await response.text();
    assert.equal(response.status, 200);
    assert.match(text, /failed during the stream: request carried Authorization: Bearer \[redacted\]/);
    assert.ok(!text.includes(BACKEND_KEY), text);
  });

  it('gives /health/ready states only without the admin token, details without the key with it', async () => {
    const deadline = Date.now() + 5_000;
    let detailed = await ready(running.url, ADMIN_TOKEN);
    while (detailed.checks['backend:probed']?.status !== 'unhealthy') {
      assert.ok(Date.now() < deadline, `the health check never failed: ${JSON.stringify(detailed)}`);
      await new Promise((resolve) => setImmediate(resolve));
      detailed = await ready(running.url, ADMIN_TOKEN);
    }
    const detail = detailed.checks['backend:probed']?.detail ?? '';
    assert.match(detail, /Bearer \[redacted\]/);
    assert.ok(!JSON.stringify(detailed).includes(BACKEND_KEY), JSON.stringify(detailed));

    for (const token of [undefined, 'a-wrong-token-for-readiness']) {
      const plain = await ready(running.url, token);
      assert.equal(plain.checks['backend:probed']?.status, 'unhealthy');
      for (const [name, check] of Object.entries(plain.checks))
        assert.deepEqual(
          Object.keys(check),
          ['status'],
          `${name} shows states only: ${JSON.stringify(check)}`,
        );
    }
  });

  it('never writes the key to the logs', () => {
    assert.ok(
      running.logs.some((line) => line['msg'] === 'backend failed its health check'),
      'the health check failure was logged',
    );
    assert.ok(running.logs.some((line) => line['msg'] === 'stream ended with an error'));
    const leaking = running.rawLogs.filter((line) => line.includes(BACKEND_KEY));
    assert.deepEqual(leaking, []);
  });
});
