import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactSecrets } from './redact.js';

describe('redactSecrets', () => {
  it('removes every configured secret wherever it appears', () => {
    const secrets = ['sk-other-backend-key-1234', 'redis-password-5678'];
    assert.equal(
      redactSecrets(
        'keys: sk-other-backend-key-1234 and redis-password-5678, again sk-other-backend-key-1234',
        secrets,
      ),
      'keys: [redacted] and [redacted], again [redacted]',
    );
  });

  it('removes a secret that contains another whole, given longest first', () => {
    assert.equal(
      redactSecrets('token=abcdefgh-12345678', ['abcdefgh-12345678', 'abcdefgh']),
      'token=[redacted]',
    );
  });

  it('removes any Bearer or Basic credential, configured or not', () => {
    assert.equal(
      redactSecrets('got "Authorization: Bearer sk-unknown-1" and basic dXNlcjpwYXNz;', []),
      'got "Authorization: Bearer [redacted]" and basic [redacted];',
    );
  });

  it('leaves text without secrets as it is', () => {
    assert.equal(redactSecrets('model not found: llama3', ['sk-backend-key']), 'model not found: llama3');
  });
});
