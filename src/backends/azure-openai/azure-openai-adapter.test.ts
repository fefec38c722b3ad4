/**
 * The adapter against the Azure stand-in (test/support/azure-openai-upstream.ts), for what the
 * gateway's e2e test cannot reach: Entra ID tokens from an injected provider (DefaultAzureCredential
 * needs a real tenant), the stream's annotation-only events, listModels and the probe.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ChatCompletionChunk, ChatCompletionRequest } from '../../api/schemas.js';
import type { BackendConfig } from '../../config/config.js';
import { validateConfig } from '../../config/load.js';
import { GatewayError } from '../../errors/errors.js';
import { AzureOpenAiUpstream, FILTERED_PARTIAL } from '../../../test/support/azure-openai-upstream.js';
import type { UpstreamCall } from '../adapter.js';
import { AzureOpenAiAdapter } from './azure-openai-adapter.js';

const fixture = (name: string): string => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');

/** Serves a recorded answer as Azure sent it, whatever the request. */
async function replaying(
  body: string,
  contentType: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': contentType }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra-token-for-tests';

function backendAt(url: string, fields: Record<string, unknown> = {}): BackendConfig {
  const config = validateConfig(
    { backends: [{ name: 'az', type: 'azure_openai', url, ...fields }], models: [] },
    {},
  );
  const backend = config.backends[0];
  assert.ok(backend !== undefined);
  return backend;
}

function call(): UpstreamCall {
  const controller = new AbortController();
  return {
    signal: controller.signal,
    requestId: 'req-test',
    abort: (reason) => {
      controller.abort(reason);
    },
  };
}

function chat(text: string, fields: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest {
  return { model: 'chat-deploy', messages: [{ role: 'user', content: text }], ...fields };
}

describe('AzureOpenAiAdapter', () => {
  let upstream: AzureOpenAiUpstream;
  before(async () => {
    upstream = await AzureOpenAiUpstream.start({
      apiKey: 'azure-key-0123456789',
      bearerToken: TOKEN,
      deployments: ['chat-deploy'],
    });
  });
  after(async () => {
    await upstream.close();
  });

  it('without an api_key, sends an Entra ID bearer token from the provider on each request, no api-key', async () => {
    let asked = 0;
    const adapter = new AzureOpenAiAdapter(backendAt(upstream.url), {
      tokenProvider: () => {
        asked += 1;
        return Promise.resolve(TOKEN);
      },
    });
    try {
      const answer = await adapter.chat(chat('Hi'), call());
      assert.equal(answer.choices[0]?.message.content, 'Hello from the scripted upstream.');
      await adapter.chat(chat('Hi again'), call());
      assert.equal(asked, 2, 'the provider (which caches) is asked per request');
      const sent = upstream.requests.at(-1);
      assert.equal(sent?.headers['authorization'], `Bearer ${TOKEN}`);
      assert.equal(sent?.headers['api-key'], undefined);
      assert.equal(sent?.path, '/openai/deployments/chat-deploy/chat/completions');
      assert.equal(sent?.query.get('api-version'), '2024-10-21');
    } finally {
      await adapter.close();
    }
  });

  it('a token that cannot be had is a retryable 502 saying why; a token never appears in errors', async () => {
    const failing = new AzureOpenAiAdapter(backendAt(upstream.url), {
      tokenProvider: () =>
        Promise.reject(
          new Error('EnvironmentCredential is unavailable. ManagedIdentityCredential: no endpoint'),
        ),
    });
    try {
      await assert.rejects(failing.chat(chat('Hi'), call()), (error: unknown) => {
        assert.ok(error instanceof GatewayError);
        assert.equal(error.code, 'upstream_error');
        assert.equal(error.retryable, true);
        assert.match(error.message, /could not get a Microsoft Entra ID token.*ManagedIdentityCredential/);
        return true;
      });
    } finally {
      await failing.close();
    }
    const echoing = new AzureOpenAiAdapter(backendAt(upstream.url), {
      tokenProvider: () => Promise.resolve(TOKEN),
    });
    try {
      await assert.rejects(echoing.chat(chat('scenario:echo_key'), call()), (error: unknown) => {
        assert.ok(error instanceof GatewayError);
        assert.ok(!error.message.includes('entra-token-for-tests'), error.message);
        return true;
      });
    } finally {
      await echoing.close();
    }
  });

  it("leaves out Azure's annotation-only stream events and keeps the content_filter finish", async () => {
    const adapter = new AzureOpenAiAdapter(backendAt(upstream.url, { api_key: 'azure-key-0123456789' }));
    try {
      const chunks: ChatCompletionChunk[] = [];
      for await (const chunk of await adapter.chatStream(
        chat('scenario:filtered_completion', { stream: true }),
        call(),
      ))
        chunks.push(chunk);
      assert.ok(
        chunks.every((chunk) => chunk.id === 'chatcmpl-AzureStandInStream'),
        "no chunk is the prompt's filter results (empty id)",
      );
      const text = chunks
        .flatMap((chunk) => chunk.choices.map((choice) => choice.delta.content ?? ''))
        .join('');
      assert.equal(text, FILTERED_PARTIAL);
      const finishes = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason));
      assert.equal(finishes.at(-1), 'content_filter');
      assert.deepEqual(chunks.at(-1)?.choices, [], 'the usage chunk ends the stream');
      assert.ok(chunks.at(-1)?.usage !== undefined);
      const sent = upstream.requests.at(-1);
      assert.equal(sent?.headers['api-key'], 'azure-key-0123456789');
      assert.equal(sent?.headers['authorization'], undefined);
      assert.deepEqual(sent?.body['stream_options'], { include_usage: true });
    } finally {
      await adapter.close();
    }
  });

  it('lists no models, and probes GET /openai/models with the api-version (no tokens spent)', async () => {
    const adapter = new AzureOpenAiAdapter(
      backendAt(upstream.url, { api_key: 'azure-key-0123456789', api_version: '2025-04-01-preview' }),
    );
    const wrong = new AzureOpenAiAdapter(backendAt(upstream.url, { api_key: 'not-the-key-000000' }));
    try {
      const before = upstream.requests.length;
      assert.deepEqual(await adapter.listModels(call()), []);
      assert.equal(upstream.requests.length, before, 'listing asks nothing of Azure');
      await adapter.probe('/openai/models', call());
      const sent = upstream.requests.at(-1);
      assert.equal(sent?.method, 'GET');
      assert.equal(sent?.path, '/openai/models');
      assert.equal(sent?.query.get('api-version'), '2025-04-01-preview');
      await assert.rejects(
        wrong.probe('/openai/models', call()),
        /refused the gateway's credentials \(401\)/,
      );
    } finally {
      await adapter.close();
      await wrong.close();
    }
  });

  it('recorded answers: a completion keeps its filter results; a cut stream ends content_filter, then usage', async () => {
    const whole = await replaying(fixture('chat-completion.json'), 'application/json');
    const adapter = new AzureOpenAiAdapter(backendAt(whole.url, { api_key: 'azure-key-0123456789' }));
    try {
      const answer = (await adapter.chat(chat('Hi'), call())) as unknown as Record<string, unknown>;
      assert.deepEqual(answer, JSON.parse(fixture('chat-completion.json')), 'passed on as Azure sent it');
    } finally {
      await adapter.close();
      await whole.close();
    }
    const streamed = await replaying(fixture('stream-content-filter.sse'), 'text/event-stream');
    const streaming = new AzureOpenAiAdapter(backendAt(streamed.url, { api_key: 'azure-key-0123456789' }));
    try {
      const chunks: ChatCompletionChunk[] = [];
      for await (const chunk of await streaming.chatStream(chat('Hi', { stream: true }), call()))
        chunks.push(chunk);
      assert.deepEqual(
        chunks.map((chunk) => [
          chunk.choices[0]?.delta.content ?? null,
          chunk.choices[0]?.finish_reason ?? null,
        ]),
        [
          ['', null],
          ['Once upon', null],
          [null, 'content_filter'],
          [null, null],
        ],
      );
      assert.equal(chunks.at(-1)?.usage?.total_tokens, 17);
      assert.ok(chunks.every((chunk) => chunk.id === 'chatcmpl-AzureFixture0002'));
    } finally {
      await streaming.close();
      await streamed.close();
    }
  });
});
