/**
 * RELIABILITY.md item 5 (issue 17, item 8): an upstream that resets the connection before any answer.
 * The gateway retries on another attempt when it has one, and otherwise answers 502 upstream_error,
 * for a plain call and for a stream (which has not started, so the client gets an ordinary error).
 * (Connection refused is covered in routing.test.ts; slow headers from a client, item 13, in
 * slow-clients.test.ts.)
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { APIError } from 'openai';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway-harness.js';
import { StandInUpstream } from '../support/stand-in-upstream.js';

/** A TCP server that reads a request's first bytes and answers with a reset (RST), nothing else. */
class ResettingUpstream {
  resets = 0;
  private readonly server: Server = createServer((socket: Socket) => {
    socket.once('data', () => {
      this.resets++;
      socket.resetAndDestroy();
    });
    socket.on('error', () => undefined);
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    assert.ok(address !== null && typeof address === 'object');
    return `http://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const MESSAGES = [{ role: 'user' as const, content: 'Hi' }];

describe('an upstream that resets the connection before any answer (RELIABILITY.md item 5)', () => {
  const resetting = new ResettingUpstream();
  const healthy = new StandInUpstream();
  let running: RunningGateway;

  before(async () => {
    const resettingUrl = await resetting.start();
    await healthy.start();
    running = await startGateway(
      testConfig({
        backends: [
          { name: 'resetting', type: 'openai', url: `${resettingUrl}/v1` },
          { name: 'healthy', type: 'openai', url: `${healthy.url}/v1` },
        ],
        models: [
          { name: 'only-reset', targets: [{ backend: 'resetting', model: 'm' }] },
          {
            name: 'with-fallback',
            targets: [
              { backend: 'resetting', model: 'm' },
              { backend: 'healthy', model: 'stand-in' },
            ],
          },
        ],
        // Two attempts per request; a retry budget (20% + 3 by default) that these few requests never spend.
        extra: {
          routing: {
            max_attempts: 2,
            retry_budget: { min_retries: 100 },
            circuit_breaker: { enabled: false },
          },
        },
      }),
    );
  });
  after(async () => {
    await running.stop();
    await resetting.stop();
    await healthy.stop();
  });

  for (const stream of [false, true]) {
    const kind = stream ? 'a stream' : 'a call';
    it(`answers ${kind} with 502 upstream_error when every attempt is reset`, async () => {
      const before = resetting.resets;
      const error = await running
        .client()
        .chat.completions.create({ model: 'only-reset', messages: MESSAGES, stream })
        .then(
          () => null,
          (caught: unknown) => caught,
        );
      assert.ok(error instanceof APIError, `an API error, not ${String(error)}`);
      assert.equal(error.status, 502);
      assert.equal(error.code, 'upstream_error');
      assert.equal(resetting.resets, before + 2, 'retried once: max_attempts is 2');
    });

    it(`retries ${kind} on the next target when the first one resets`, async () => {
      const before = resetting.resets;
      const client = running.client();
      if (stream) {
        const chunks = await client.chat.completions.create({
          model: 'with-fallback',
          messages: MESSAGES,
          stream: true,
        });
        let text = '';
        for await (const chunk of chunks) text += chunk.choices[0]?.delta.content ?? '';
        assert.match(text, /stand-in/);
      } else {
        const answer = await client.chat.completions
          .create({ model: 'with-fallback', messages: MESSAGES })
          .withResponse();
        assert.equal(answer.response.status, 200);
        assert.equal(answer.response.headers.get('x-gateway-attempts'), '2');
      }
      assert.equal(resetting.resets, before + 1, 'the resetting target was tried first, once');
    });
  }
});
