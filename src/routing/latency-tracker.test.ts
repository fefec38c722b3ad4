import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALPHA, FAILURE_PENALTY_MS, LatencyTracker, STALE_MS, failurePenalty } from './latency-tracker.js';

function tracker(): { latency: LatencyTracker<object>; clock: { now: number }; target: object } {
  const clock = { now: 1_000_000 };
  return { latency: new LatencyTracker(() => clock.now), clock, target: {} };
}

describe('LatencyTracker', () => {
  it('scores an unmeasured target 0 (best), then by the EWMA of its samples', () => {
    const { latency, target } = tracker();
    assert.equal(latency.score(target), 0);
    latency.answered(target, 100);
    assert.equal(latency.score(target), 100);
    latency.answered(target, 200);
    assert.equal(latency.score(target), 100 + ALPHA * 100);
  });

  it('re-measures a stale estimate with one attempt, whose sample replaces it', () => {
    const { latency, clock, target } = tracker();
    latency.answered(target, 1_000);
    clock.now += STALE_MS - 1;
    assert.equal(latency.score(target), 1_000, 'still fresh');
    clock.now += 1;
    assert.equal(latency.score(target), 0, 'stale: due a re-measurement');
    latency.sent(target);
    assert.equal(latency.score(target), 1_000, 'one probe is out: the others keep to the old average');
    clock.now += 50;
    latency.answered(target, 50);
    assert.equal(latency.score(target), 50, 'the probe starts the average afresh');
  });

  it('sends another probe when one has not reported within the staleness period', () => {
    const { latency, clock, target } = tracker();
    latency.answered(target, 1_000);
    clock.now += STALE_MS;
    latency.sent(target);
    clock.now += STALE_MS - 1;
    assert.equal(latency.score(target), 1_000);
    clock.now += 1;
    assert.equal(latency.score(target), 0);
  });

  it('counts a failure as at least FAILURE_PENALTY_MS and twice the average', () => {
    assert.equal(failurePenalty(5, null), FAILURE_PENALTY_MS);
    assert.equal(failurePenalty(5, 8_000), 16_000);
    assert.equal(failurePenalty(30_000, 8_000), 30_000);
    const { latency, target } = tracker();
    latency.answered(target, 200);
    latency.failed(target, 5);
    assert.equal(latency.average(target), 200 + ALPHA * (FAILURE_PENALTY_MS - 200));
  });
});
