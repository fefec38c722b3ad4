/**
 * npm run bench -- --budgets [--seconds S] [--processes N]: issue 20's comparison alone, in about a
 * minute instead of the full benchmark's eight: budgets and concurrency caps in Redis (never reached)
 * against Redis limits alone. Each of N gateway processes (default 2, all pinned to CPU 1 when
 * pinning, one running at a time) serves both requests: the control (key `unbudgeted`, model `priced`:
 * the same price as the budgeted one's, a backend without a cap; BENCH_PLAIN=1: the plain chat request,
 * key `bench` and model `bench`, instead) and the budgeted one (key `budgeted` with a budget in
 * dollars, one in tokens and a concurrency cap, model `capped` whose backend has a cap), alternating in
 * slices of 100 ms at 32 requests in flight, so the VM's swings fall on both alike. Prints requests/s
 * and CPU per request of each, per process and in all. The cache is off (every request identical: hits
 * would skip the budgets). BENCH_PROFILE=DIR writes each process's CPU profile there (node
 * --cpu-prof); BENCH_DEBUG=1 prints the first answers and
 * Redis's command statistics; BENCH_ONLY=0 (control) or 1 (budgeted) runs one of the two alone;
 * BENCH_PART=budgets, caps or none gives the budgeted request's key and backend only that part;
 * BENCH_GAP_MS=N stops the process for N ms after each slice, as the full run's other targets do;
 * BENCH_NODE_ARGS="…" adds Node options to the gateways (--perf-prof, --trace-gc); BENCH_TIMELINE=FILE
 * writes each measured slice (pid, variant, start and end in CLOCK_MONOTONIC ns, requests), to split a
 * `perf record -k CLOCK_MONOTONIC` of the gateways by slice; BENCH_GATEWAY_LOG=DIR keeps each
 * gateway's log lines (soak.ts); BENCH_THREADS=1 adds each thread's CPU per request, by thread name;
 * BENCH_IN_PROCESS=1 runs the gateways without Redis (the in-process ledger and slots, no rate limits);
 * BENCH_SPLIT_MS=N prints requests/s in each slice's first N ms apart from the rest (what a process pays
 * as it resumes); BENCH_HUGE_BUDGETS=1 gives the budgeted key the budgets used until 2026-12-04 (soak.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../src/auth/api-key.js';
import { addThreadTimes, cpuSeconds, describeThreads, SlicedTarget, threadTimes } from './sliced-load.js';
import {
  BENCH_BUDGETS,
  BENCH_KEY,
  BUDGETED_KEY,
  UNBUDGETED_KEY,
  UNREACHED_LIMITS,
  listeningLine,
  portLine,
  progress,
  startNode,
  startRedis,
  FOCUSED_CONNECTIONS,
  FOCUSED_SLICE_MS,
  focusedGatewayFlags,
  focusedRun,
  type FocusedTally,
  type FocusedOptions,
  type Service,
} from './soak.js';

const SLICE_MS = FOCUSED_SLICE_MS;
type Tally = FocusedTally & { byThread?: Map<string, number>; early?: number; earlySeconds?: number };

export async function runBudgetsBench(options: FocusedOptions): Promise<void> {
  const tag = 'bench --budgets';
  const run = focusedRun('gw-bench-budgets-', options.pin);
  const { pin, workDir, services } = run;
  /** BENCH_ONLY=0 or 1: that variant alone (with BENCH_PROFILE, a profile of one request kind). */
  const only = process.env['BENCH_ONLY'] === undefined ? null : Number(process.env['BENCH_ONLY']);
  /** BENCH_PART=budgets, caps or none: the budgeted request with only that part (to tell costs apart). */
  const partName = process.env['BENCH_PART'];
  /** BENCH_GAP_MS=N: the process is stopped N ms after each slice (the full run's pauses). */
  const gapMs = Number(process.env['BENCH_GAP_MS'] ?? 0);
  /** BENCH_SPLIT_MS=N: requests/s in each slice's first N ms and in the rest, apart. */
  const splitMs = Number(process.env['BENCH_SPLIT_MS'] ?? 0);
  /** BENCH_THREADS=1: CPU per request of each thread (by name) too. */
  const byThread = process.env['BENCH_THREADS'] === '1';
  /** BENCH_IN_PROCESS=1: the gateways without Redis (budgets and slots in process, no rate limits). */
  const inProcess = process.env['BENCH_IN_PROCESS'] === '1';
  const part = {
    budgets: partName !== 'caps' && partName !== 'none',
    caps: partName !== 'budgets' && partName !== 'none',
  };
  try {
    const redis = await startRedis(pin);
    services.push(redis);
    const upstream = await startNode(['bench/fast-upstream.mjs'], portLine, { pin });
    services.push(upstream);
    const gateways: Service[] = [];
    for (let index = 0; index < options.processes; index++) {
      const configPath = join(workDir, `gateway-${index}.yaml`);
      writeFileSync(
        configPath,
        JSON.stringify({
          server: { host: '127.0.0.1', port: 0, state_dir: join(workDir, `state-${index}`) },
          // BENCH_IN_PROCESS=1: no Redis (the in-process ledger and slots), no rate limits.
          ...(inProcess ? {} : { redis: { url: redis.url }, rate_limit: { default: UNREACHED_LIMITS } }),
          backends: [
            { name: 'upstream', type: 'openai', url: `${upstream.url}/v1` },
            {
              name: 'capped',
              type: 'openai',
              url: `${upstream.url}/v1`,
              ...(part.caps ? { max_concurrency: 100_000 } : {}),
            },
            { name: 'uncapped', type: 'openai', url: `${upstream.url}/v1` },
          ],
          models: [
            { name: 'capped', targets: [{ backend: 'capped', model: 'bench' }] },
            { name: 'priced', targets: [{ backend: 'uncapped', model: 'bench' }] },
            { name: '*', targets: [{ backend: 'upstream' }] },
          ],
          auth: {
            enabled: true,
            keys: [
              { id: 'bench', sha256: sha256Hex(BENCH_KEY) },
              {
                id: 'budgeted',
                sha256: sha256Hex(BUDGETED_KEY),
                ...(part.caps ? { max_concurrency: 100_000 } : {}),
                ...(part.budgets
                  ? {
                      budgets: BENCH_BUDGETS,
                    }
                  : {}),
              },
              { id: 'unbudgeted', sha256: sha256Hex(UNBUDGETED_KEY) },
            ],
          },
          cache: { enabled: false },
          usage: {
            prices: [
              { model: 'capped', prompt_per_million: 0.15, completion_per_million: 0.6 },
              { model: 'priced', prompt_per_million: 0.15, completion_per_million: 0.6 },
            ],
          },
        }),
      );
      const gateway = await startNode(
        [...focusedGatewayFlags(String(index)), 'dist/cli.js', 'serve', '--config', configPath],
        listeningLine,
        { pin, cpu: '1', env: { LOG_LEVEL: 'info' } },
      );
      services.push(gateway);
      gateways.push(gateway);
    }
    const body = (model: string): string =>
      JSON.stringify({ model, messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 16 });
    const variants = [
      // BENCH_PLAIN=1: the plain chat request instead (another key, an unpriced model), as before 2026-12-04.
      process.env['BENCH_PLAIN'] === '1'
        ? { name: inProcess ? 'plain' : 'Redis limits', key: BENCH_KEY, model: 'bench' }
        : {
            name: inProcess ? 'no budgets or caps' : 'Redis limits, no budgets or caps',
            key: UNBUDGETED_KEY,
            model: 'priced',
          },
      {
        name: inProcess ? 'budgets+caps (in process)' : 'Redis limits+budgets+caps',
        key: BUDGETED_KEY,
        model: 'capped',
      },
    ];
    const loads = gateways.map((gateway) =>
      variants.map(
        (variant) =>
          new SlicedTarget(gateway.url, FOCUSED_CONNECTIONS, {
            path: '/v1/chat/completions',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${variant.key}` },
            body: body(variant.model),
          }),
      ),
    );
    const activate = (active: Service): void => {
      run.activate(active, gateways);
    };
    for (const [index, gateway] of gateways.entries()) {
      activate(gateway);
      for (const variant of variants) {
        const response = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${variant.key}` },
          body: body(variant.model),
        });
        const text = await response.text();
        if (response.status !== 200) throw new Error(`${variant.name}: ${response.status} ${text}`);
        if (process.env['BENCH_DEBUG'] !== undefined) console.log(variant.name, [...response.headers], text);
      }
      for (const load of (loads[index] ?? []).filter((_, variant) => only === null || variant === only)) {
        const first = await load.slice(500);
        if (first.requests === 0) throw new Error(`gateway ${index} answered no request`);
      }
      progress(tag, `warming up gateway ${index} (pid ${gateway.child.pid}) for 4 s`);
      for (let slice = 0; slice < 20; slice++) {
        for (const [variant, load] of (loads[index] ?? []).entries())
          if (only === null || variant === only) await load.slice(SLICE_MS);
      }
    }
    const tallies = gateways.map(() =>
      variants.map((): Tally => ({ requests: 0, seconds: 0, cpuSeconds: 0 })),
    );
    const cycles = Math.max(2, Math.round((options.seconds * 1000) / SLICE_MS));
    /** BENCH_TIMELINE=FILE: each measured slice as `pid variant start end requests` (CLOCK_MONOTONIC ns). */
    const timeline = process.env['BENCH_TIMELINE'] === undefined ? null : ([] as string[]);
    progress(tag, `${cycles} cycles of ${SLICE_MS} ms per variant and process`);
    for (let cycle = 0; cycle < cycles; cycle++) {
      for (const [index, gateway] of gateways.entries()) {
        activate(gateway);
        const order = only !== null ? [only] : cycle % 2 === 0 ? [0, 1] : [1, 0];
        for (const variant of order) {
          const before = cpuSeconds(gateway.child.pid);
          const threadsBefore = byThread ? threadTimes(gateway.child.pid) : null;
          const startedAt = process.hrtime.bigint();
          const slice = await loads[index]![variant]!.slice(SLICE_MS);
          timeline?.push(
            `${gateway.child.pid} ${variant} ${startedAt} ${process.hrtime.bigint()} ${slice.requests}`,
          );
          const tally = tallies[index]![variant]!;
          tally.cpuSeconds += cpuSeconds(gateway.child.pid) - before;
          if (threadsBefore !== null)
            addThreadTimes((tally.byThread ??= new Map()), gateway.child.pid, threadsBefore);
          tally.requests += slice.requests;
          tally.seconds += slice.seconds;
          if (splitMs > 0) {
            const early = slice.ends.filter((end) => end < splitMs).length;
            tally.early = (tally.early ?? 0) + early;
            tally.earlySeconds = (tally.earlySeconds ?? 0) + Math.min(splitMs / 1000, slice.seconds);
          }
          if (gapMs > 0) {
            // As in the full run, where each process waits (stopped) while the other targets run.
            gateway.child.kill('SIGSTOP');
            await new Promise((resolve) => setTimeout(resolve, gapMs));
            gateway.child.kill('SIGCONT');
          }
        }
      }
    }
    for (const process of loads) for (const load of process) load.close();
    if (timeline !== null) writeFileSync(process.env['BENCH_TIMELINE'] ?? '', `${timeline.join('\n')}\n`);
    if (process.env['BENCH_DEBUG'] !== undefined) {
      const { Redis } = await import('ioredis');
      const client = new Redis(redis.url);
      console.log(await client.info('commandstats'));
      client.disconnect();
    }
    const line = (label: string, plain: Tally, budgeted: Tally): string => {
      const rate = (tally: Tally): number => tally.requests / tally.seconds;
      const cpu = (tally: Tally): number => (tally.cpuSeconds / tally.requests) * 1e6;
      const change = ((rate(budgeted) / rate(plain) - 1) * 100).toFixed(1);
      return `${label}: ${Math.round(rate(plain))} → ${Math.round(rate(budgeted))} req/s (${change}%), CPU ${Math.round(cpu(plain))} → ${Math.round(cpu(budgeted))} µs/request`;
    };
    const sum = (variant: number): Tally =>
      tallies.reduce(
        (total, process) => ({
          requests: total.requests + process[variant]!.requests,
          seconds: total.seconds + process[variant]!.seconds,
          cpuSeconds: total.cpuSeconds + process[variant]!.cpuSeconds,
        }),
        { requests: 0, seconds: 0, cpuSeconds: 0 },
      );
    for (const [index, process] of only === null ? tallies.entries() : []) {
      console.log(line(`process ${index}`, process[0]!, process[1]!));
    }
    if (only === null) console.log(line('all', sum(0), sum(1)));
    else
      console.log(
        `variant ${only}: ${Math.round(sum(only).requests / sum(only).seconds)} req/s, CPU ${Math.round((sum(only).cpuSeconds / sum(only).requests) * 1e6)} µs/request`,
      );
    if (splitMs > 0 && only === null) {
      const phases = (variant: number): [number, number] => {
        let early = 0;
        let earlySeconds = 0;
        for (const process of tallies) {
          early += process[variant]!.early ?? 0;
          earlySeconds += process[variant]!.earlySeconds ?? 0;
        }
        const all = sum(variant);
        return [early / earlySeconds, (all.requests - early) / (all.seconds - earlySeconds)];
      };
      const [controlEarly, controlLate] = phases(0);
      const [budgetedEarly, budgetedLate] = phases(1);
      const percent = (a: number, b: number): string => ((b / a - 1) * 100).toFixed(1);
      console.log(
        `first ${splitMs} ms of each slice: ${Math.round(controlEarly)} → ${Math.round(budgetedEarly)} req/s (${percent(controlEarly, budgetedEarly)}%); the rest: ${Math.round(controlLate)} → ${Math.round(budgetedLate)} req/s (${percent(controlLate, budgetedLate)}%)`,
      );
    }
    if (byThread)
      for (const [variant, name] of ['control', 'budgeted'].entries())
        if (only === null || only === variant)
          console.log(
            `threads, ${name} (CPU µs per request): ${describeThreads(tallies.map((process) => process[variant]!))}`,
          );
  } finally {
    await run.finish();
  }
}
