/**
 * npm run bench -- --log-chat [--seconds S] [--processes N]: issue 21's chat-path comparison alone, in
 * about a minute: the request log on (SQLite, its store thread moved to CPU 0 when pinning, as in the
 * full run) against off. N processes of each (default 2), all on CPU 1, one running at a time (the
 * others stopped), in slices of 100 ms at 32 requests in flight, so the VM's swings fall on all alike.
 * Prints requests/s, the process's CPU and the request thread's own CPU per request, per process and in
 * all. BENCH_AGAINST_CLI=path/to/dist/cli.js adds processes of another build with the log on (a
 * before-and-after of a change in one run); BENCH_PROFILE=DIR writes each process's CPU profiles there
 * (node --cpu-prof: one per thread); BENCH_NODE_ARGS="…" adds Node options (focusedGatewayFlags);
 * BENCH_THREADS=1 adds each thread's CPU per request (by thread name: main, request-log, V8Worker, …).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../src/auth/api-key.js';
import { addThreadTimes, cpuSeconds, describeThreads, SlicedTarget, threadTimes } from './sliced-load.js';
import {
  BENCH_KEY,
  listeningLine,
  pinThread,
  portLine,
  progress,
  startNode,
  FOCUSED_CONNECTIONS,
  FOCUSED_SLICE_MS,
  focusedGatewayFlags,
  focusedRun,
  type FocusedTally,
  type FocusedOptions,
  type Service,
} from './soak.js';

const SLICE_MS = FOCUSED_SLICE_MS;

interface Tally extends FocusedTally {
  threadSeconds: number;
  /** With BENCH_THREADS=1: CPU seconds by thread name (comm), the request thread as `main`. */
  byThread?: Map<string, number>;
}

export async function runLogChatBench(options: FocusedOptions): Promise<void> {
  const tag = 'bench --log-chat';
  const run = focusedRun('gw-bench-log-chat-', options.pin);
  const { pin, workDir, services } = run;
  const against = process.env['BENCH_AGAINST_CLI'];
  /** BENCH_THREADS=1: CPU per request of each thread (by name) too. */
  const byThread = process.env['BENCH_THREADS'] === '1';
  const variants = [
    { name: 'log off', log: false, cli: 'dist/cli.js' },
    { name: 'log on', log: true, cli: 'dist/cli.js' },
    ...(against === undefined ? [] : [{ name: `log on (${against})`, log: true, cli: against }]),
  ];
  try {
    const upstream = await startNode(['bench/fast-upstream.mjs'], portLine, { pin });
    services.push(upstream);
    // gateways[process][variant]
    const gateways: Service[][] = [];
    for (let index = 0; index < options.processes; index++) {
      const row: Service[] = [];
      for (const [number, variant] of variants.entries()) {
        const configPath = join(workDir, `gateway-${index}-${number}.yaml`);
        writeFileSync(
          configPath,
          JSON.stringify({
            server: { host: '127.0.0.1', port: 0, state_dir: join(workDir, `state-${index}-${number}`) },
            backends: [{ name: 'upstream', type: 'openai', url: `${upstream.url}/v1` }],
            models: [{ name: '*', targets: [{ backend: 'upstream' }] }],
            auth: { enabled: true, keys: [{ id: 'bench', sha256: sha256Hex(BENCH_KEY) }] },
            cache: { enabled: false },
            ...(variant.log ? { request_log: { enabled: true } } : {}),
          }),
        );
        const gateway = await startNode(
          [...focusedGatewayFlags(`${index}-${number}`), variant.cli, 'serve', '--config', configPath],
          listeningLine,
          { pin, cpu: '1', env: { LOG_LEVEL: 'info' } },
        );
        services.push(gateway);
        if (pin && variant.log) await pinThread(gateway, 'request-log', '0');
        row.push(gateway);
      }
      gateways.push(row);
    }
    const body = JSON.stringify({
      model: 'bench',
      messages: [{ role: 'user', content: 'Say hello' }],
      max_tokens: 16,
    });
    const loads = gateways.map((row) =>
      row.map(
        (gateway) =>
          new SlicedTarget(gateway.url, FOCUSED_CONNECTIONS, {
            path: '/v1/chat/completions',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` },
            body,
          }),
      ),
    );
    const all = gateways.flat();
    const activate = (active: Service): void => {
      run.activate(active, all);
    };
    for (const [index, row] of gateways.entries()) {
      for (const [number, gateway] of row.entries()) {
        activate(gateway);
        progress(
          tag,
          `warming up process ${index}, ${variants[number]?.name} (pid ${gateway.child.pid}) for 3 s`,
        );
        for (let slice = 0; slice < 30; slice++) await loads[index]![number]!.slice(SLICE_MS);
      }
    }
    const tallies = gateways.map((row) =>
      row.map((): Tally => ({ requests: 0, seconds: 0, cpuSeconds: 0, threadSeconds: 0 })),
    );
    const cycles = Math.max(2, Math.round((options.seconds * 1000) / SLICE_MS));
    progress(tag, `${cycles} cycles of ${SLICE_MS} ms per variant and process`);
    for (let cycle = 0; cycle < cycles; cycle++) {
      const order = variants.map((_, number) => number);
      if (cycle % 2 === 1) order.reverse();
      for (const [index, row] of gateways.entries()) {
        for (const number of order) {
          const gateway = row[number]!;
          activate(gateway);
          const pid = gateway.child.pid;
          const cpuBefore = cpuSeconds(pid);
          const threadBefore = cpuSeconds(pid, pid);
          const threadsBefore = byThread ? threadTimes(pid) : null;
          const slice = await loads[index]![number]!.slice(SLICE_MS);
          const tally = tallies[index]![number]!;
          tally.cpuSeconds += cpuSeconds(pid) - cpuBefore;
          tally.threadSeconds += cpuSeconds(pid, pid) - threadBefore;
          if (threadsBefore !== null) addThreadTimes((tally.byThread ??= new Map()), pid, threadsBefore);
          tally.requests += slice.requests;
          tally.seconds += slice.seconds;
        }
      }
    }
    for (const row of loads) for (const load of row) load.close();
    const describe = (tally: Tally): string =>
      `${Math.round(tally.requests / tally.seconds)} req/s, CPU ${Math.round((tally.cpuSeconds / tally.requests) * 1e6)} µs/request (request thread ${Math.round((tally.threadSeconds / tally.requests) * 1e6)})`;
    const change = (tally: Tally, base: Tally): string =>
      `${((tally.requests / tally.seconds / (base.requests / base.seconds) - 1) * 100).toFixed(1)}%`;
    const sum = (number: number): Tally =>
      tallies.reduce(
        (total, row) => ({
          requests: total.requests + row[number]!.requests,
          seconds: total.seconds + row[number]!.seconds,
          cpuSeconds: total.cpuSeconds + row[number]!.cpuSeconds,
          threadSeconds: total.threadSeconds + row[number]!.threadSeconds,
        }),
        { requests: 0, seconds: 0, cpuSeconds: 0, threadSeconds: 0 },
      );
    for (const [index, row] of tallies.entries())
      for (const [number, tally] of row.entries())
        console.log(
          `process ${index}, ${variants[number]?.name}: ${describe(tally)}${number === 0 ? '' : ` (${change(tally, row[0]!)})`}`,
        );
    for (const [number, variant] of variants.entries())
      console.log(
        `all, ${variant.name}: ${describe(sum(number))}${number === 0 ? '' : ` (${change(sum(number), sum(0))} against off)`}`,
      );
    if (byThread)
      for (const [number, variant] of variants.entries())
        console.log(
          `threads, ${variant.name} (CPU µs per request): ${describeThreads(tallies.map((row) => row[number]!))}`,
        );
  } finally {
    await run.finish();
  }
}
