import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../config/load.js';
import { openMetricsWarning } from './metrics-exposure.js';

const TOKEN = 'metrics-token-of-at-least-16';

describe('openMetricsWarning', () => {
  it('warns when /metrics is open on the main port of a non-loopback address', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'gateway.internal']) {
      const warning = openMetricsWarning(validateConfig({ server: { host } }, {}));
      assert.match(warning ?? '', /without a token.*set metrics\.token/, host);
    }
  });

  it('is quiet on loopback, with a token (file or METRICS_TOKEN), on its own port, or with metrics off', () => {
    for (const [document, env] of [
      [{ server: { host: '127.0.0.1' } }, {}],
      [{ server: { host: '::1' } }, {}],
      [{ server: { host: 'localhost' } }, {}],
      [{ server: { host: '0.0.0.0' }, metrics: { token: TOKEN } }, {}],
      [{ server: { host: '0.0.0.0' } }, { METRICS_TOKEN: TOKEN }],
      [{ server: { host: '0.0.0.0' }, metrics: { port: 9464 } }, {}],
      [{ server: { host: '0.0.0.0' }, metrics: { enabled: false } }, {}],
    ] as const) {
      assert.equal(openMetricsWarning(validateConfig(document, env)), null, JSON.stringify(document));
    }
  });
});
