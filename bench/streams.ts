/**
 * npm run bench -- --streams N: the gateway's memory with N streams open at once.
 *
 * One gateway with every feature on (authentication, Redis rate limits never reached, the cache on with
 * a distinct prompt per stream so each is a miss that is also being assembled for the cache, metrics,
 * usage accounting) in front of the fast upstream in its slow-stream mode (the model 'slow': a first
 * chunk at once, then one every 5 s). After a 3 s warm-up it opens N concurrent streaming requests (an
 * undici Pool with N connections), waits until every one has its first chunk, reads the gateway's RSS
 * (/proc) and heap used and streams in flight (its /metrics), again 6 s later (every stream has had one
 * more chunk), then aborts them all and checks that gateway_streams_in_flight returns to 0.
 * Prints the RSS with N open streams against the 150 MB target; writes bench/results/streams.json.
 * Exit 1 when a stream did not open, or the gauge did not reach N or come back to 0.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import {
  BENCH_KEY,
  heapAfterGc,
  machineLine,
  mb,
  metricValue,
  pinSelf,
  progress,
  rssBytes,
  scrapeMetrics,
  startMeasuredStack,
  stopServices,
  type Service,
} from './soak.js';

const TARGET_RSS_MB = 150;
const tag = 'streams';

interface Snapshot {
  rssMb: number;
  heapUsedMb: number;
  /** Heap used right after a full collection (what is really held), when asked for. */
  heapAfterGcMb?: number;
  streamsInFlight: number;
  requestsInFlight: number;
}

/** RSS and the metrics first, then (with `heapFile`) a forced collection and the heap after it. */
async function snapshot(gateway: Service, heapFile?: string): Promise<Snapshot> {
  const text = await scrapeMetrics(gateway.url);
  const taken: Snapshot = {
    rssMb: mb(rssBytes(gateway.child.pid)),
    heapUsedMb: mb(metricValue(text, 'nodejs_heap_size_used_bytes')),
    streamsInFlight: metricValue(text, 'gateway_streams_in_flight'),
    requestsInFlight: metricValue(text, 'gateway_requests_in_flight'),
  };
  if (heapFile !== undefined) taken.heapAfterGcMb = mb(await heapAfterGc(gateway, heapFile));
  return taken;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runStreams(options: { streams: number; pin: boolean }): Promise<number> {
  const count = options.streams;
  if (!Number.isInteger(count) || count < 1) {
    console.error('--streams takes the number of streams to open, a whole number of at least 1');
    return 2;
  }
  const started = Date.now();
  pinSelf(options.pin);
  const workDir = mkdtempSync(join(tmpdir(), 'gw-streams-'));
  const heapFile = join(workDir, 'heap.json');
  const services: Service[] = [];
  const controllers: AbortController[] = [];
  let pool: Pool | undefined;
  try {
    progress(tag, 'starting the fast upstream (slow streams), a private redis-server and the gateway');
    const gateway = await startMeasuredStack({ workDir, heapFile, cache: true, pin: options.pin, services });

    progress(tag, 'warming up: 3 s of streaming requests at 16 connections (each prompt distinct)');
    const warm = await autocannon({
      url: `${gateway.url}/v1/chat/completions`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` },
      body: JSON.stringify({
        model: 'bench',
        messages: [{ role: 'user', content: 'warm-up [<id>]' }],
        stream: true,
      }),
      idReplacement: true,
      connections: 16,
      duration: 3,
    });
    if (warm.non2xx + warm.errors > 0)
      throw new Error(`warm-up: ${warm.non2xx + warm.errors} failed requests`);
    await sleep(1000);
    // No forced collection before the streams' RSS is read: it would shrink the heap the streams join.
    const idle = await snapshot(gateway);
    progress(tag, `before: RSS ${idle.rssMb} MB, heap used ${idle.heapUsedMb} MB`);

    progress(tag, `opening ${count} streams`);
    pool = new Pool(gateway.url, { connections: count, pipelining: 1 });
    const client = pool;
    let endedEarly = 0;
    const openStarted = Date.now();
    const opened = await Promise.allSettled(
      Array.from({ length: count }, async (_, index) => {
        const controller = new AbortController();
        controllers.push(controller);
        const response = await client.request({
          path: '/v1/chat/completions',
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` },
          body: JSON.stringify({
            model: 'slow',
            messages: [{ role: 'user', content: `Keep talking, stream ${index}` }],
            stream: true,
          }),
          signal: controller.signal,
        });
        if (response.statusCode !== 200) {
          throw new Error(`status ${response.statusCode}: ${await response.body.text()}`);
        }
        const chunks = response.body[Symbol.asyncIterator]();
        const first = await chunks.next();
        if (first.done === true) throw new Error('the stream ended before its first chunk');
        // Keep reading, as a client would, until the abort.
        void (async () => {
          try {
            while ((await chunks.next()).done !== true);
            if (!controller.signal.aborted) endedEarly++;
          } catch {
            // aborted
          }
        })();
      }),
    );
    const openSeconds = (Date.now() - openStarted) / 1000;
    const failures = opened.filter((result) => result.status === 'rejected');
    progress(tag, `${count - failures.length} of ${count} streams open after ${openSeconds.toFixed(1)} s`);
    for (const failure of failures.slice(0, 3)) progress(tag, `failed: ${String(failure.reason)}`);

    const open = [await snapshot(gateway)];
    progress(
      tag,
      `open: RSS ${open[0]!.rssMb} MB, heap used ${open[0]!.heapUsedMb} MB, streams in flight ${open[0]!.streamsInFlight}`,
    );
    await sleep(6000);
    open.push(await snapshot(gateway));
    progress(
      tag,
      `6 s later: RSS ${open[1]!.rssMb} MB, heap used ${open[1]!.heapUsedMb} MB, streams in flight ${open[1]!.streamsInFlight}`,
    );
    const peakRss = Math.max(...open.map((s) => s.rssMb));
    const peakHeap = Math.max(...open.map((s) => s.heapUsedMb));
    // Then what the open streams really hold: the heap after a forced full collection.
    const held = await snapshot(gateway, heapFile);
    open.push(held);
    const heldHeap = held.heapAfterGcMb ?? NaN;
    progress(tag, `with the streams still open, heap after a collection ${heldHeap} MB`);
    const perStream = (withStreams: number, before: number): number =>
      Math.round(((withStreams - before) * 1024) / count);

    progress(tag, `aborting the ${count} streams`);
    const abortStarted = Date.now();
    for (const controller of controllers) controller.abort();
    let after = await snapshot(gateway);
    while (after.streamsInFlight !== 0 && Date.now() - abortStarted < 10_000) {
      await sleep(100);
      after = await snapshot(gateway);
    }
    const drainSeconds = (Date.now() - abortStarted) / 1000;
    await pool.close().catch(() => undefined);
    pool = undefined;
    await sleep(1000);
    after = await snapshot(gateway, heapFile);

    const problems: string[] = [];
    if (failures.length > 0) problems.push(`${failures.length} of ${count} streams did not open`);
    if (endedEarly > 0) problems.push(`${endedEarly} streams ended before they were aborted`);
    if (Math.min(...open.map((s) => s.streamsInFlight)) !== count - failures.length)
      problems.push(
        `gateway_streams_in_flight was ${open.map((s) => s.streamsInFlight).join(', ')} with ${count - failures.length} streams open`,
      );
    if (after.streamsInFlight !== 0)
      problems.push(`gateway_streams_in_flight is ${after.streamsInFlight} after every stream was aborted`);

    const machine = machineLine(options.pin);
    console.log(
      `streams: RSS with ${count} open streams ${peakRss} MB (before ${idle.rssMb} MB: +${perStream(peakRss, idle.rssMb)} KiB per stream); target under ${TARGET_RSS_MB} MB: ${peakRss < TARGET_RSS_MB ? 'met' : 'NOT met'}`,
    );
    console.log(
      `streams: heap after a collection ${heldHeap} MB with ${count} open streams (after they ended ${after.heapAfterGcMb} MB: +${perStream(heldHeap, after.heapAfterGcMb ?? NaN)} KiB per stream); heap used up to ${peakHeap} MB (before ${idle.heapUsedMb} MB)`,
    );
    console.log(
      `streams: all open in ${openSeconds.toFixed(1)} s; streams in flight back to ${after.streamsInFlight} ${drainSeconds.toFixed(1)} s after the abort; RSS after ${after.rssMb} MB, heap after a collection ${after.heapAfterGcMb} MB`,
    );
    console.log(
      `machine: ${machine}; ${new Date().toISOString()}; ${Math.round((Date.now() - started) / 1000)} s`,
    );
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(
      'bench/results/streams.json',
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          machine,
          streams: count,
          gateway: 'auth, Redis rate limits (never reached), cache on (every stream a miss), metrics, usage',
          before: idle,
          open,
          after,
          peakRssMb: peakRss,
          peakHeapUsedMb: peakHeap,
          heapAfterGcMb: heldHeap,
          openSeconds,
          drainSeconds,
          targetRssMb: TARGET_RSS_MB,
          targetMet: peakRss < TARGET_RSS_MB,
          passed: problems.length === 0,
          problems,
        },
        null,
        2,
      )}\n`,
    );
    progress(tag, 'results written to bench/results/streams.json');
    if (problems.length > 0) {
      console.error(`streams FAILED: ${problems.join('; ')}`);
      return 1;
    }
    return 0;
  } finally {
    for (const controller of controllers) controller.abort();
    await pool?.destroy().catch(() => undefined);
    await stopServices(services);
    rmSync(workDir, { recursive: true, force: true });
  }
}
