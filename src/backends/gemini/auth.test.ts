import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { BackendConfig } from '../../config/config.js';
import { GatewayError, UpstreamError, UpstreamTimeoutError } from '../../errors/errors.js';
import type { UpstreamCall } from '../adapter.js';
import { oauthCredentials, ServiceAccountTokenSource, tokenUriOf } from './auth.js';

const dir = mkdtempSync(join(tmpdir(), 'gw-gemini-auth-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function backend(fields: Partial<BackendConfig> = {}): BackendConfig {
  return {
    name: 'vtx',
    type: 'vertex',
    url: 'https://us-central1-aiplatform.googleapis.com',
    apiKey: null,
    project: 'p',
    location: 'us-central1',
    credentialsFile: null,
    region: null,
    apiVersion: null,
    timeoutMs: 200,
    connectTimeoutMs: 1000,
    idleTimeoutMs: 1000,
    dropUnsupported: false,
    healthCheck: null,
    maxConcurrency: null,
    secrets: [],
    ...fields,
  };
}

function call(signal = new AbortController().signal): UpstreamCall {
  return { signal, requestId: 'r', abort: () => undefined };
}

describe('tokenUriOf', () => {
  it("takes Google's own as none, https anywhere, http on loopback only", () => {
    assert.equal(tokenUriOf(undefined, 'vtx'), null);
    assert.equal(tokenUriOf('https://oauth2.googleapis.com/token', 'vtx'), null);
    assert.equal(
      tokenUriOf('https://oauth2-private.p.googleapis.com/token', 'vtx')?.host,
      'oauth2-private.p.googleapis.com',
    );
    assert.equal(tokenUriOf('http://127.0.0.1:9/token', 'vtx')?.port, '9');
    assert.throws(() => tokenUriOf('http://token.example.com/token', 'vtx'), UpstreamError);
    assert.throws(() => tokenUriOf('not a url', 'vtx'), UpstreamError);
  });
});

describe('ServiceAccountTokenSource', () => {
  it('refuses a credentials file that is not a service account key, naming why', async () => {
    const file = join(dir, 'external.json');
    writeFileSync(file, JSON.stringify({ type: 'external_account', credential_source: { executable: {} } }));
    await assert.rejects(
      () => new ServiceAccountTokenSource(file, 'vtx').getAccessToken(),
      (error: unknown) => error instanceof UpstreamError && /not a service account key/.test(error.message),
    );
    await assert.rejects(
      () => new ServiceAccountTokenSource(join(dir, 'missing.json'), 'vtx').getAccessToken(),
      (error: unknown) => error instanceof UpstreamError && /cannot be read \(ENOENT\)/.test(error.message),
    );
  });
});

describe('oauthCredentials', () => {
  it('sends the token as a bearer header', async () => {
    const credentials = oauthCredentials(backend(), { getAccessToken: () => Promise.resolve('ya29.token') });
    assert.deepEqual(credentials.staticHeaders, {});
    assert.deepEqual(await credentials.requestHeaders(call()), { authorization: 'Bearer ya29.token' });
  });

  it('gives up waiting for a token after timeout_ms, retryably', async () => {
    const credentials = oauthCredentials(backend(), { getAccessToken: () => new Promise(() => undefined) });
    await assert.rejects(
      () => credentials.requestHeaders(call()),
      (error: unknown) => error instanceof UpstreamTimeoutError && error.retryable,
    );
  });

  it('ends with the call when it is aborted', async () => {
    const controller = new AbortController();
    const credentials = oauthCredentials(backend({ timeoutMs: 60_000 }), {
      getAccessToken: () => new Promise(() => undefined),
    });
    const pending = credentials.requestHeaders(call(controller.signal));
    const reason = new Error('client went away');
    controller.abort(reason);
    await assert.rejects(pending, (error: unknown) => error === reason);
  });

  it("a refusal by Google's token service: not retryable, says what to check, secrets removed", async () => {
    const refusal = Object.assign(new Error('invalid_grant: Invalid JWT Signature. s3cret-value'), {
      response: { status: 400 },
    });
    const credentials = oauthCredentials(backend({ credentialsFile: '/k.json', secrets: ['s3cret-value'] }), {
      getAccessToken: () => Promise.reject(refusal),
    });
    await assert.rejects(
      () => credentials.requestHeaders(call()),
      (error: unknown) =>
        error instanceof GatewayError &&
        !error.retryable &&
        /check its credentials_file/.test(error.message) &&
        !error.message.includes('s3cret-value'),
    );
    const down = oauthCredentials(backend(), {
      getAccessToken: () => Promise.reject(new Error('ECONNRESET')),
    });
    await assert.rejects(
      () => down.requestHeaders(call()),
      (error: unknown) => error instanceof UpstreamError && error.retryable,
    );
  });
});
