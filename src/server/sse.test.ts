import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { KEEP_ALIVE_MS, SseWriter } from './sse.js';

const INTERVAL_MS = 100;

describe('SseWriter keep-alive comments', () => {
  let server: Server;
  let url: string;

  before(async () => {
    // Five events 40 ms apart (never quiet for an interval), 550 ms of silence, a last event.
    server = createServer((_request, response) => {
      void (async () => {
        const writer = new SseWriter(response, INTERVAL_MS);
        writer.open({});
        for (let index = 0; index < 5; index++) {
          await writer.data(`busy-${index}`);
          await sleep(40);
        }
        await sleep(550);
        await writer.data('last');
        writer.end();
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends `: keep-alive` only while the stream is quiet, every interval', async () => {
    const response = await fetch(url);
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.ok(response.body !== null);
    const text = await response.text();
    const blocks = text.split('\n\n').filter((block) => block !== '');
    const busy = blocks.slice(0, 5);
    assert.deepEqual(
      busy,
      [0, 1, 2, 3, 4].map((index) => `data: busy-${index}`),
      'no comment while events flow',
    );
    assert.equal(blocks.at(-1), 'data: last');
    const quiet = blocks.slice(5, -1);
    for (const block of quiet) assert.equal(block, ': keep-alive');
    // 550 ms of silence at one comment per 100 ms: about 5 (generous bounds for a busy machine).
    assert.ok(quiet.length >= 2 && quiet.length <= 6, `${quiet.length} comments in 550 ms of silence`);
  });

  it('keeps the gateway default at 15 s, well inside the common 60 s proxy idle timeout', () => {
    assert.equal(KEEP_ALIVE_MS, 15_000);
  });
});
