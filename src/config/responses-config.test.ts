/** responses.store_ttl_seconds: 30 days unless set; a value out of range names the field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, validateConfig } from './load.js';

describe('responses config', () => {
  it('stored responses are kept 30 days by default, or as long as configured', () => {
    assert.equal(validateConfig({}, {}).responses.storeTtlSeconds, 2_592_000);
    assert.equal(
      validateConfig({ responses: { store_ttl_seconds: 600 } }, {}).responses.storeTtlSeconds,
      600,
    );
  });

  for (const [value, what] of [
    [0, 'zero'],
    [1.5, 'a fraction'],
    ['1d', 'a string'],
  ] as const) {
    it(`refuses ${what}, naming responses.store_ttl_seconds`, () => {
      assert.throws(
        () => validateConfig({ responses: { store_ttl_seconds: value } }, {}),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.problems.length === 1 &&
          error.problems[0]?.startsWith('responses.store_ttl_seconds: ') === true,
      );
    });
  }

  it('refuses an unknown field of the section', () => {
    assert.throws(
      () => validateConfig({ responses: { ttl: 5 } }, {}),
      (error: unknown) =>
        error instanceof ConfigError && error.problems.some((problem) => problem.startsWith('responses')),
    );
  });
});
