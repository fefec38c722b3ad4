import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCacheControl } from './cache-control.js';

describe('parseCacheControl', () => {
  it('allows reading and writing without a header, or with an empty one', () => {
    const open = { read: true, write: true, maxAgeSeconds: null };
    assert.deepEqual(parseCacheControl(undefined), open);
    assert.deepEqual(parseCacheControl(''), open);
    assert.deepEqual(parseCacheControl([]), open);
  });

  it('no-cache skips the read but still stores', () => {
    assert.deepEqual(parseCacheControl('no-cache'), { read: false, write: true, maxAgeSeconds: null });
  });

  it('no-store neither reads nor stores', () => {
    assert.deepEqual(parseCacheControl('no-store'), { read: false, write: false, maxAgeSeconds: null });
  });

  it('max-age=N limits the age of what may be read', () => {
    assert.deepEqual(parseCacheControl('max-age=30'), { read: true, write: true, maxAgeSeconds: 30 });
    assert.equal(parseCacheControl('max-age=0').maxAgeSeconds, 0);
    assert.equal(parseCacheControl('max-age="15"').maxAgeSeconds, 15);
  });

  it('is case-insensitive and tolerates spaces around directives', () => {
    assert.deepEqual(parseCacheControl('  No-Cache , MAX-AGE = 5 '), {
      read: false,
      write: true,
      maxAgeSeconds: 5,
    });
    assert.equal(parseCacheControl('NO-STORE').write, false);
  });

  it('combines several directives, and several header lines; the smallest max-age wins', () => {
    assert.deepEqual(parseCacheControl('max-age=60, no-cache'), {
      read: false,
      write: true,
      maxAgeSeconds: 60,
    });
    assert.deepEqual(parseCacheControl(['max-age=60', 'max-age=10']), {
      read: true,
      write: true,
      maxAgeSeconds: 10,
    });
    assert.deepEqual(parseCacheControl(['no-cache', 'no-store']), {
      read: false,
      write: false,
      maxAgeSeconds: null,
    });
  });

  it('ignores a max-age that is not a whole number of seconds, and unknown directives', () => {
    for (const header of [
      'max-age',
      'max-age=',
      'max-age= ',
      'max-age=-1',
      'max-age=1.5',
      'max-age=abc',
      'max-age=1e3',
      'max-age=0x10',
    ]) {
      assert.deepEqual(parseCacheControl(header), { read: true, write: true, maxAgeSeconds: null }, header);
    }
    assert.deepEqual(parseCacheControl('private, must-revalidate, max-stale=10'), {
      read: true,
      write: true,
      maxAgeSeconds: null,
    });
  });
});
