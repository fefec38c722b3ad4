import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { validateConfig } from '../config/load.js';
import { droppedLogLines, LogBufferWatch, type LogBufferNotice } from './log-buffer.js';

function watched(): { destination: EventEmitter; watch: LogBufferWatch; notices: LogBufferNotice[] } {
  const notices: LogBufferNotice[] = [];
  const watch = new LogBufferWatch({ maxBytes: 1024, notify: (notice) => notices.push(notice) });
  const destination = new EventEmitter();
  watch.watch(destination);
  return { destination, watch, notices };
}

describe('the log buffer bound (issue 17, item 7)', () => {
  it('holds 16 MiB by default', () => {
    assert.equal(validateConfig({}, {}).logMaxBufferBytes, 16 * 1024 * 1024);
    assert.equal(validateConfig({ logging: { max_buffer_bytes: 65_536 } }, {}).logMaxBufferBytes, 65_536);
    assert.throws(() => validateConfig({ logging: { max_buffer_bytes: 100 } }, {}), /max_buffer_bytes/);
  });

  it('says once that lines are dropped, and counts every one', () => {
    const { destination, watch, notices } = watched();
    const before = droppedLogLines();
    for (let line = 0; line < 5; line++) destination.emit('drop', 'a line\n');
    watch.tick();
    destination.emit('drop', 'a line\n');
    assert.equal(droppedLogLines() - before, 6);
    assert.equal(notices.length, 1);
    assert.equal(notices[0]?.['max_buffer_bytes'], 1024);
  });

  it('says once more, with the count, when stdout takes lines again and a tick passes without a drop', () => {
    const { destination, watch, notices } = watched();
    destination.emit('drop', 'a line\n');
    destination.emit('drop', 'a line\n');
    watch.tick();
    assert.equal(notices.length, 1, 'no write yet: still dropping');
    destination.emit('write', 4096);
    destination.emit('drop', 'a line\n');
    watch.tick();
    assert.equal(notices.length, 1, 'a line was dropped after the write: still dropping');
    destination.emit('write', 4096);
    watch.tick();
    assert.equal(notices.length, 2);
    assert.equal(notices[1]?.['dropped_lines'], 3);
    destination.emit('drop', 'a line\n');
    assert.equal(notices.length, 3, 'dropping again is said again');
  });

  it('counts stdout as stalled after four ticks without a completed write', () => {
    const { destination, watch } = watched();
    for (let tick = 0; tick < 3; tick++) watch.tick();
    assert.equal(watch.stalled, false);
    watch.tick();
    assert.equal(watch.stalled, true);
    destination.emit('write', 0);
    assert.equal(watch.stalled, false);
  });
});
