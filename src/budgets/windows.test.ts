import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKnownTimeZone, WindowCalendar, windowAt } from './windows.js';

const at = (iso: string): number => Date.parse(iso);
const span = (start: string, end: string): { start: number; end: number } => ({
  start: at(start),
  end: at(end),
});
const HOUR = 3_600_000;

describe('windowAt', () => {
  it('gives UTC calendar windows: hour, day, Monday week, month, and total from 0 to Infinity', () => {
    const now = at('2026-12-02T11:52:24.123Z'); // a Wednesday
    assert.deepEqual(windowAt('hour', 'UTC', now), span('2026-12-02T11:00:00Z', '2026-12-02T12:00:00Z'));
    assert.deepEqual(windowAt('day', 'UTC', now), span('2026-12-02T00:00:00Z', '2026-12-03T00:00:00Z'));
    assert.deepEqual(windowAt('week', 'UTC', now), span('2026-11-30T00:00:00Z', '2026-12-07T00:00:00Z'));
    assert.deepEqual(windowAt('month', 'UTC', now), span('2026-12-01T00:00:00Z', '2027-01-01T00:00:00Z'));
    assert.deepEqual(windowAt('total', 'UTC', now), { start: 0, end: Infinity });
  });

  it('starts a window at its first millisecond and ends it before the next window', () => {
    const start = at('2026-12-01T00:00:00Z');
    assert.equal(windowAt('month', 'UTC', start).start, start);
    assert.equal(windowAt('month', 'UTC', start - 1).end, start);
    assert.equal(windowAt('week', 'UTC', at('2026-12-06T23:59:59.999Z')).end, at('2026-12-07T00:00:00Z'));
    assert.equal(windowAt('week', 'UTC', at('2026-12-07T00:00:00Z')).start, at('2026-12-07T00:00:00Z'));
  });

  it('makes the Berlin day of the spring change 23 hours and of the autumn change 25', () => {
    const spring = windowAt('day', 'Europe/Berlin', at('2026-03-29T12:00:00Z'));
    assert.deepEqual(spring, span('2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z'));
    assert.equal(spring.end - spring.start, 23 * HOUR);
    const autumn = windowAt('day', 'Europe/Berlin', at('2026-10-25T12:00:00Z'));
    assert.deepEqual(autumn, span('2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z'));
    assert.equal(autumn.end - autumn.start, 25 * HOUR);
    // The hour before and after the clocks go forward at 02:00 local (01:00 UTC).
    assert.deepEqual(
      windowAt('hour', 'Europe/Berlin', at('2026-03-29T00:59:59Z')),
      span('2026-03-29T00:00:00Z', '2026-03-29T01:00:00Z'),
    );
    assert.deepEqual(
      windowAt('hour', 'Europe/Berlin', at('2026-03-29T01:00:00Z')),
      span('2026-03-29T01:00:00Z', '2026-03-29T02:00:00Z'),
    );
  });

  it('gives Berlin months and weeks that span a clock change their local midnights', () => {
    assert.deepEqual(
      windowAt('month', 'Europe/Berlin', at('2026-03-15T00:00:00Z')),
      span('2026-02-28T23:00:00Z', '2026-03-31T22:00:00Z'),
    );
    assert.deepEqual(
      windowAt('month', 'Europe/Berlin', at('2026-10-31T22:30:00Z')),
      span('2026-09-30T22:00:00Z', '2026-10-31T23:00:00Z'),
    );
    // Monday 26 October 00:00 CET; the week before began on Monday 19 October 00:00 CEST.
    assert.deepEqual(
      windowAt('week', 'Europe/Berlin', at('2026-10-25T22:59:59Z')),
      span('2026-10-18T22:00:00Z', '2026-10-25T23:00:00Z'),
    );
  });

  it('makes the New York days of the clock changes 23 and 25 hours, and tells the two 1 a.m. hours apart', () => {
    assert.deepEqual(
      windowAt('day', 'America/New_York', at('2026-03-08T15:00:00Z')),
      span('2026-03-08T05:00:00Z', '2026-03-09T04:00:00Z'),
    );
    assert.deepEqual(
      windowAt('day', 'America/New_York', at('2026-11-01T15:00:00Z')),
      span('2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z'),
    );
    // 01:30 EDT, then 01:30 EST an hour later: two different hours.
    assert.deepEqual(
      windowAt('hour', 'America/New_York', at('2026-11-01T05:30:00Z')),
      span('2026-11-01T05:00:00Z', '2026-11-01T06:00:00Z'),
    );
    assert.deepEqual(
      windowAt('hour', 'America/New_York', at('2026-11-01T06:30:00Z')),
      span('2026-11-01T06:00:00Z', '2026-11-01T07:00:00Z'),
    );
    // Sunday 8 March belongs to the week of Monday 2 March (EST) and ends Monday 9 March (EDT).
    assert.deepEqual(
      windowAt('week', 'America/New_York', at('2026-03-08T12:00:00Z')),
      span('2026-03-02T05:00:00Z', '2026-03-09T04:00:00Z'),
    );
  });

  it('starts a day whose midnight the clocks skip at the change (Santiago goes from 00:00 to 01:00)', () => {
    const day = windowAt('day', 'America/Santiago', at('2026-09-06T12:00:00Z'));
    // 00:00 -04 does not exist: the day starts at 04:00 UTC, which is 01:00 -03.
    assert.equal(day.start, at('2026-09-06T04:00:00Z'));
    assert.equal(windowAt('day', 'America/Santiago', day.start - 1).end, day.start);
  });

  it('starts hours at minute 0 of the local clock in a half-hour zone', () => {
    assert.deepEqual(
      windowAt('hour', 'Asia/Kolkata', at('2026-06-01T10:10:00Z')),
      span('2026-06-01T09:30:00Z', '2026-06-01T10:30:00Z'),
    );
  });

  it('tiles time: every window contains now, and the next begins where it ends, across a year of changes', () => {
    for (const zone of [
      'Europe/Berlin',
      'America/New_York',
      'Australia/Lord_Howe',
      'America/Santiago',
      'UTC',
    ]) {
      for (const window of ['hour', 'day', 'week', 'month'] as const) {
        for (
          let now = at('2026-01-01T00:00:00Z');
          now < at('2027-01-01T00:00:00Z');
          now += 7 * HOUR + 12_345
        ) {
          const current = windowAt(window, zone, now);
          assert.ok(
            current.start <= now && now < current.end,
            `${zone} ${window} ${new Date(now).toISOString()}`,
          );
          assert.equal(windowAt(window, zone, current.end).start, current.end, `${zone} ${window}`);
        }
      }
    }
  });
});

describe('WindowCalendar', () => {
  it('answers as windowAt, before and after a window ends, and follows a changed zone', () => {
    let zone = 'UTC';
    const calendar = new WindowCalendar(() => zone);
    const now = at('2026-03-28T23:30:00Z');
    assert.deepEqual(calendar.at('day', now), windowAt('day', 'UTC', now));
    assert.deepEqual(calendar.at('day', now + HOUR), windowAt('day', 'UTC', now + HOUR));
    zone = 'Europe/Berlin';
    assert.deepEqual(calendar.at('day', now), windowAt('day', 'Europe/Berlin', now));
  });
});

describe('isKnownTimeZone', () => {
  it('knows IANA zones and not made-up ones', () => {
    assert.equal(isKnownTimeZone('Europe/Berlin'), true);
    assert.equal(isKnownTimeZone('Mars/Olympus_Mons'), false);
  });
});
