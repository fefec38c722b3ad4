import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../config/load.js';
import { MASK, maskedConfig, maskUrl, snakeCase } from './masked-config.js';

describe('maskedConfig', () => {
  it('masks keys, tokens, hashes, passwords, header values and URL credentials, in snake_case', () => {
    const config = validateConfig(
      {
        backends: [
          {
            name: 'up',
            type: 'openai',
            url: 'https://example.com/v1?key=abc',
            api_key: 'sk-upstream-secret',
          },
        ],
        models: [{ name: '*', targets: [{ backend: 'up' }] }],
        auth: {
          admin_token_sha256: 'a'.repeat(64),
          keys: [{ id: 'k', sha256: 'b'.repeat(64), metadata: { ownerName: 'x' } }],
        },
        redis: { url: 'redis://:redis-password@127.0.0.1:6379' },
        alerts: { webhook_url: 'https://hooks.example/x', secret: 'hook-secret' },
        logging: { prompts: { redact: ['sk-[a-z]+'] } },
      },
      {},
    );
    const shown = maskedConfig(config) as Record<string, Record<string, unknown>>;
    const text = JSON.stringify(shown);
    for (const secret of [
      'sk-upstream-secret',
      'a'.repeat(64),
      'b'.repeat(64),
      'redis-password',
      'hook-secret',
      'pw@',
      'key=abc',
    ])
      assert.ok(!text.includes(secret), secret);
    assert.equal(shown['auth']?.['admin_token_sha256'], MASK);
    assert.ok(text.includes('"prompt_logging"'));
    assert.ok(text.includes('"ownerName"'), 'metadata keys as written');
    assert.ok(text.includes('sk-[a-z]+'), 'a redaction pattern is shown as its source');
    assert.ok(text.includes('https://hooks.example/x'));
  });

  it('leaves a URL without credentials or query as written', () => {
    assert.equal(maskUrl('http://127.0.0.1:11434'), 'http://127.0.0.1:11434');
    assert.equal(maskUrl('not a url'), 'not a url');
    assert.equal(maskUrl('postgres://u:p@db/x'), `postgres://${MASK}:${MASK}@db/x`);
    assert.equal(snakeCase('adminTokenSha256'), 'admin_token_sha256');
  });
});
