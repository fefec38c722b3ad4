import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlidingWindow } from './sliding-window.js';

/** A whole second, so that T0 + n × 1000 starts second n of the test. */
const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** A 10-second window with two fields, on a clock the test moves. */
function windowAt(start = T0): { window: SlidingWindow; clock: { now: number } } {
  const clock = { now: start };
  return { window: new SlidingWindow(10, 2, () => clock.now), clock };
}

describe('SlidingWindow', () => {
  it('starts empty', () => {
    const { window } = windowAt();
    assert.equal(window.sum(0), 0);
    assert.equal(window.sum(1), 0);
  });

  it('adds within one second, per field', () => {
    const { window, clock } = windowAt();
    window.add(0);
    window.add(0, 2.5);
    clock.now += 999;
    window.add(1, 4);
    assert.equal(window.sum(0), 3.5);
    assert.equal(window.sum(1), 4);
  });

  it('sums only the last windowSeconds seconds', () => {
    const { window, clock } = windowAt();
    for (let second = 0; second < 15; second++) {
      clock.now = T0 + second * 1000 + 500;
      window.add(0, second + 1);
    }
    // Seconds 5..14 carry 6..15.
    assert.equal(window.sum(0), 105);
    assert.equal(window.sum(1), 0);
  });

  it('keeps a second in the sum until windowSeconds seconds after it began, then drops it', () => {
    const { window, clock } = windowAt();
    window.add(0, 7);
    clock.now = T0 + 10_000 - 1;
    assert.equal(window.sum(0), 7);
    clock.now = T0 + 10_000;
    assert.equal(window.sum(0), 0);
  });

  it('reuses a ring slot after exactly one window, dropping what it held', () => {
    const { window, clock } = windowAt();
    window.add(0, 5);
    window.add(1, 3);
    clock.now = T0 + 10_000;
    window.add(0, 1);
    assert.equal(window.sum(0), 1);
    assert.equal(window.sum(1), 0, 'every field of a reused slot is reset');
  });

  it('handles a gap of several windows: stale slots count nothing, reused ones restart', () => {
    const { window, clock } = windowAt();
    for (let second = 0; second < 10; second++) {
      clock.now = T0 + second * 1000;
      window.add(0, 1);
    }
    assert.equal(window.sum(0), 10);
    clock.now = T0 + 37_000;
    assert.equal(window.sum(0), 0, 'nothing is left after a gap longer than the window');
    window.add(0, 2); // slot 7 again, for second 37
    clock.now = T0 + 41_000;
    window.add(0, 4); // slot 1, for second 41
    assert.equal(window.sum(0), 6);
    clock.now = T0 + 47_000;
    assert.equal(window.sum(0), 4, 'second 37 has left the window, second 41 has not');
  });

  it('forgets everything on clear', () => {
    const { window, clock } = windowAt();
    window.add(0, 3);
    clock.now += 1000;
    window.add(1, 2);
    window.clear();
    assert.equal(window.sum(0), 0);
    assert.equal(window.sum(1), 0);
    window.add(0);
    assert.equal(window.sum(0), 1);
  });

  it('works with a one-second window', () => {
    const clock = { now: T0 + 200 };
    const window = new SlidingWindow(1, 1, () => clock.now);
    window.add(0, 2);
    clock.now = T0 + 999;
    assert.equal(window.sum(0), 2);
    clock.now = T0 + 1000;
    assert.equal(window.sum(0), 0);
    window.add(0);
    assert.equal(window.sum(0), 1);
  });
});
