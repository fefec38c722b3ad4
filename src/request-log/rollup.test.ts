import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUCKET_COUNT } from './latency-histogram.js';
import { partialsFromPackedRollups, partialsFromRollups, ROLLUP_COUNTER_COLUMNS } from './rollup.js';

describe('partialsFromPackedRollups', () => {
  it('reads the counters of a packed row as partialsFromRollups reads them as columns', () => {
    const counters = ROLLUP_COUNTER_COLUMNS.map((_, index) => (index * 7919) % 100_003);
    counters[3] = 0;
    counters[counters.length - 1] = 123_456_789_012;
    const columns = [[3_600_000, 'model-a', ...counters]];
    const packed = [[3_600_000, 'model-a', counters.join(',')]];
    const [fromPacked] = partialsFromPackedRollups(packed);
    assert.deepEqual(fromPacked, partialsFromRollups(columns)[0]);
    assert.equal(fromPacked?.duration.length, BUCKET_COUNT);
    assert.equal(fromPacked?.ttfb[BUCKET_COUNT - 1], 123_456_789_012);
  });

  it('reads negative counts and a row with no group', () => {
    const counters = ROLLUP_COUNTER_COLUMNS.map((_, index) => (index % 2 === 0 ? -(index + 1) : index));
    const [partial] = partialsFromPackedRollups([['7200000', null, counters.join(',')]]);
    assert.deepEqual(partial, partialsFromRollups([[7_200_000, null, ...counters]])[0]);
    assert.equal(partial?.group, null);
    assert.equal(partial?.errors, 1);
    assert.equal(partial?.prompt_tokens, -3);
  });
});
