import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { promptForLog, TextCollector } from './prompt-log.js';

const config = (maxBytes: number, redact: string[] = []) => ({
  enabled: true,
  maxBytes,
  redact: redact.map((pattern) => new RegExp(pattern, 'g')),
});

describe('promptForLog', () => {
  it('keeps a short text as it is', () => {
    assert.equal(promptForLog('hello', config(100)), 'hello');
  });

  it('replaces every match of every pattern', () => {
    assert.equal(
      promptForLog(
        'key sk-abc123 and sk-def456, card 4111-1111',
        config(200, ['sk-[a-z0-9]+', '\\d{4}-\\d{4}']),
      ),
      'key [REDACTED] and [REDACTED], card [REDACTED]',
    );
  });

  it('cuts to max_bytes of UTF-8 and says so, never splitting a character', () => {
    const out = promptForLog('é'.repeat(10), config(5));
    assert.equal(out, 'éé…[truncated]');
  });

  it('redacts a secret that straddles the cut', () => {
    const text = `${'x'.repeat(95)}SECRET-ABCDEFGH${'y'.repeat(50)}`;
    const out = promptForLog(text, config(100, ['SECRET-[A-Z]+']));
    assert.ok(!out.includes('SECRET-ABC'), out);
    assert.ok(out.endsWith('…[truncated]'));
  });

  it('marks a very long text as truncated even when redaction made it short enough', () => {
    const text = 'SECRET-AAAA'.repeat(500);
    const out = promptForLog(text, config(20, ['SECRET-A+']));
    assert.ok(out.endsWith('…[truncated]'), out);
    assert.ok(!out.includes('SECRET'));
  });
});

describe('TextCollector', () => {
  it('keeps at most its limit', () => {
    const collector = new TextCollector(5);
    collector.add('abc');
    collector.add('defgh');
    collector.add('ijk');
    assert.equal(collector.toString(), 'abcde');
  });
});
