/**
 * RELIABILITY.md item 20 (issue 17, item 8): a short soak in `npm test`. `npm run bench -- --soak
 * SECONDS` is the long one (bench/soak.ts); this runs the same stack (the fast upstream, a private
 * redis-server, the built gateway with every feature on and the cache off, so every request goes
 * upstream and through the Redis limiter) under steady load for 15 s, and checks that what survives a
 * full collection and the open handles stay flat between the end of the warm-up and the end of the run.
 * A leak of a few hundred bytes a request (thousands of requests) would show several MiB.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import autocannon from 'autocannon';
import {
  BENCH_KEY,
  heapAfterGc,
  metricValue,
  scrapeMetrics,
  startMeasuredStack,
  stopServices,
  type Service,
} from '../../bench/soak.js';
import { requireTool } from '../support/system-tool.js';

const WARM_UP_SECONDS = 5;
const MEASURED_SECONDS = 10;
/** What survives a full collection may grow this much over the measured seconds. */
const HEAP_BUDGET_BYTES = 4 * 1024 * 1024;
/** Open handles may grow this much (a connection opened late to the upstream or Redis). */
const HANDLE_BUDGET = 4;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe(
  'a short soak (RELIABILITY.md item 20)',
  { skip: requireTool('redis-server', 'redis-server') },
  () => {
    const workDir = mkdtempSync(join(tmpdir(), 'gw-short-soak-'));
    const heapFile = join(workDir, 'heap.json');
    const services: Service[] = [];

    after(async () => {
      await stopServices(services);
      rmSync(workDir, { recursive: true, force: true });
    });

    it(`keeps heap and handles flat over ${MEASURED_SECONDS} s of steady load`, async () => {
      const gateway = await startMeasuredStack({ workDir, heapFile, cache: false, pin: false, services });
      const handles = async (): Promise<number> =>
        metricValue(await scrapeMetrics(gateway.url), 'nodejs_active_handles_total');
      const load = autocannon(
        {
          url: `${gateway.url}/v1/chat/completions`,
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` },
          body: JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'Say hello' }] }),
          // Few connections: the machine is shared with other test files.
          connections: 4,
          duration: WARM_UP_SECONDS + MEASURED_SECONDS + 30,
        },
        // Its result is not needed: the gateway's own metrics say what was answered.
        () => undefined,
      );
      try {
        // A soak measures over time: the waits below are the run's length, not waits for a condition.
        await sleep(WARM_UP_SECONDS * 1000);
        const heapBefore = await heapAfterGc(gateway, heapFile);
        const handlesBefore = await handles();
        await sleep(MEASURED_SECONDS * 1000);
        const heapAfter = await heapAfterGc(gateway, heapFile);
        const handlesAfter = await handles();
        const text = await scrapeMetrics(gateway.url);
        const answered = metricValue(text, 'gateway_http_requests_total', 'status_class="2xx"');
        const failed = metricValue(text, 'gateway_http_requests_total', 'status_class="5xx"') || 0;
        assert.ok(answered > 1000, `${answered} requests answered: the load ran`);
        assert.equal(failed, 0);
        assert.ok(
          heapAfter - heapBefore <= HEAP_BUDGET_BYTES,
          `heap after a collection grew from ${heapBefore} to ${heapAfter} bytes`,
        );
        assert.ok(
          handlesAfter - handlesBefore <= HANDLE_BUDGET,
          `open handles grew from ${handlesBefore} to ${handlesAfter}`,
        );
      } finally {
        load.stop();
      }
    });
  },
);
