import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prefersCsv } from './usage-routes.js';

describe('prefersCsv', () => {
  it('chooses CSV when the client asks for it at least as much as for JSON', () => {
    for (const accept of [
      'text/csv',
      'TEXT/CSV',
      'text/csv; charset=utf-8',
      'text/csv, */*',
      'text/csv, */*;q=0.1',
      'text/csv, application/json;q=0.5',
      'application/json;q=0.5, text/csv',
      'text/*',
      'text/*;q=0.9, application/*;q=0.8',
    ]) {
      assert.equal(prefersCsv(accept), true, accept);
    }
  });

  it('answers JSON otherwise', () => {
    for (const accept of [
      undefined,
      '',
      '*/*',
      'application/json',
      'application/json, text/csv',
      'text/csv;q=0.5, application/json',
      'text/csv;q=0',
      'text/html',
      'application/problem+json',
      'text/csv;q=abc',
    ]) {
      assert.equal(prefersCsv(accept), false, String(accept));
    }
  });
});
