/**
 * npm run bench -- --soak SECONDS: one gateway with every feature on (authentication, Redis rate limits
 * checked on every request and never reached, metrics, usage accounting; the cache off, so every request
 * is a miss that goes upstream) under steady load (autocannon, 16 connections) for SECONDS, its memory
 * watched. Every second it reads the gateway's RSS (/proc/PID/status) and heap used (its own /metrics,
 * nodejs_heap_size_used_bytes); every 10 s it prints one sample: the mean RSS of those readings, and the
 * heap after a full garbage collection, with the mean and maximum of the heap readings beside it.
 *
 * Why a forced collection: under load the heap saws between about 50 and 190 MB as garbage piles up
 * between collections, and how high it climbs depends on the collector's heuristics and the request rate,
 * not on what is kept, so readings at random moments differ by 50% from one 10 s window to the next.
 * The gateway runs with `--expose-gc` and a one-line hook (`--import data:...`) that, on SIGUSR2, runs a
 * full collection and writes the heap used right after it to a file: that number is exactly what
 * survives, which is what a leak grows. (One forced collection every 10 s costs a few milliseconds.)
 *
 * Judgement: the first third of the samples is warm-up (JIT, pools, caches filling); the mean of the
 * last third is compared with the mean of the second. More than 10% growth of the heap after collection
 * or more than 15% of RSS, or any failed request, fails the run (exit 1). Results go to
 * bench/results/soak.json.
 *
 * Also the process helpers shared with bench/streams.ts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { sha256Hex } from '../src/auth/api-key.js';
import { startFlags } from '../scripts/start-flags.mjs';

export const BENCH_KEY = 'sk-gw-benchAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
/** Issue 20's budgeted request's key (two budgets and a concurrency cap, never reached). */
export const BUDGETED_KEY = 'sk-gw-budgetedBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
/** Its control's key: no budgets, no cap. */
export const UNBUDGETED_KEY = 'sk-gw-unbudgetedUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUU';
/**
 * The budgeted key's budgets: a day's dollars and a month's tokens, never reached (a full run's budgeted
 * requests spend a few dollars and tens of millions of tokens at most) and of a size a user sets for a
 * busy key. BENCH_HUGE_BUDGETS=1: a million times larger (1e9 USD, 1e12 tokens, as until 2026-12-04),
 * whose amounts are past V8's small integers (2^30) and so are heap numbers wherever they are stored.
 */
export const BENCH_BUDGETS: readonly Record<string, unknown>[] =
  process.env['BENCH_HUGE_BUDGETS'] === '1'
    ? [
        { usd: 1_000_000_000, window: 'day' },
        { tokens: 1_000_000_000_000, window: 'month' },
      ]
    : [
        { usd: 1000, window: 'day' },
        { tokens: 1_000_000_000, window: 'month' },
      ];
/** Rate limits checked on every request and never reached (requests and tokens, so prompts are counted). */
export const UNREACHED_LIMITS = { requests: '100000000/minute', tokens: '1000000000000/minute' };

/** The Node options `npm start` runs the gateway with: every benchmark measures it as it is started. */
export const GATEWAY_NODE_FLAGS: readonly string[] = startFlags('.');
/**
 * The same for a gateway the benchmark stops (SIGSTOP) while it measures other targets, with V8's memory
 * reducer off. A stopped process allocates nothing for seconds, which the reducer takes for an idle
 * one: at SIGCONT it starts a full GC to shrink the heap (a 60-170 MB heap to about 60 MB, some 70 ms
 * on the request thread and as much again on V8's helper threads), and that GC lands on whatever slice
 * comes next. Measured 2026-12-04 with `BENCH_GAP_MS=1400 npm run bench -- --budgets --processes 3`
 * and `perf record` split by slice: the budgeted slices carried the reducer's GCs (helper threads 126
 * against 36 µs per request; 19-36% slower in all), and with the reducer off the two kinds of slice
 * had the same GC work and differed by 12.6% instead. A gateway under load is never idle for seconds;
 * one that is has no requests for the GC to slow down.
 */
export const PAUSED_GATEWAY_FLAGS: readonly string[] = [...GATEWAY_NODE_FLAGS, '--no-memory-reducer'];

/**
 * A focused bench's gateway's Node options: PAUSED_GATEWAY_FLAGS, then with BENCH_PROFILE=DIR a CPU
 * profile in DIR/<name>, then BENCH_NODE_ARGS (more options, space-separated: --perf-prof, --trace-gc).
 */
export function focusedGatewayFlags(name: string): string[] {
  const profileDir = process.env['BENCH_PROFILE'];
  return [
    ...PAUSED_GATEWAY_FLAGS,
    ...(profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`]),
    ...(process.env['BENCH_NODE_ARGS']?.split(' ').filter((arg) => arg !== '') ?? []),
  ];
}

/** Heap used may grow this much (last third against second third) before the soak fails. */
const MAX_HEAP_GROWTH = 0.1;
/** RSS may grow this much before the soak fails. */
const MAX_RSS_GROWTH = 0.15;
const SAMPLE_SECONDS = 10;

export function progress(tag: string, message: string): void {
  process.stderr.write(`[${tag}] ${message}\n`);
}

export interface Service {
  readonly url: string;
  readonly child: ChildProcess;
}

/**
 * Starts `node ...args` (under `taskset -c CPU` when pinning) and waits for the first stdout line that
 * `parse` turns into a URL; stdout is discarded after that (the gateway's log lines cost this process
 * nothing then).
 */
export async function startNode(
  args: string[],
  parse: (line: string) => string | null,
  options: { pin: boolean; cpu?: '0' | '1'; env?: NodeJS.ProcessEnv; node?: string },
): Promise<Service> {
  const node = options.node ?? process.execPath;
  const command = options.pin
    ? (['taskset', ['-c', options.cpu ?? '0', node, ...args]] as const)
    : ([node, args] as const);
  const child = spawn(command[0], command[1], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...options.env },
  });
  const stdout = child.stdout;
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      reject(new Error(`${args.join(' ')} did not start`));
    }, 15_000);
    const onData = (text: string): void => {
      buffered += text;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const found = parse(line);
        if (found !== null) {
          clearTimeout(timer);
          stdout.off('data', onData);
          // BENCH_GATEWAY_LOG=DIR: each process's output kept in DIR/<pid>.log (to see its warnings).
          const logDir = process.env['BENCH_GATEWAY_LOG'];
          if (logDir === undefined) stdout.resume();
          else {
            mkdirSync(logDir, { recursive: true });
            stdout.pipe(createWriteStream(join(logDir, `${child.pid}.log`)));
          }
          resolve(found);
          return;
        }
      }
    };
    stdout.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}`));
    });
  });
  return { url, child };
}

/**
 * Moves the thread of `service` named `name` (/proc/PID/task/TID/comm) to `cpu`, waiting up to 10 s for
 * it to exist (a worker thread starts with the gateway, shortly after it listens).
 */
export async function pinThread(service: Service, name: string, cpu: string): Promise<void> {
  const pid = service.child.pid;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const tids = readdirSync(`/proc/${pid}/task`).filter(
      (tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === name,
    );
    if (tids.length > 0) {
      for (const tid of tids) execFileSync('taskset', ['-p', '-c', cpu, tid], { stdio: 'ignore' });
      return;
    }
    if (Date.now() > deadline) throw new Error(`no thread named ${name} in process ${pid}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A focused comparison's frame (bench --budgets, --log-chat): whether to pin, a work directory, the
 * services started (the caller pushes them), `activate` (the one given runs, the other gateways are
 * stopped) and `finish` (every service stopped for good, the directory removed).
 */
/** A focused comparison's slices (the load moves between processes every SLICE_MS) and load. */
export const FOCUSED_SLICE_MS = 100;
export const FOCUSED_CONNECTIONS = 32;

/** What a focused comparison adds up per variant and process. */
export interface FocusedTally {
  requests: number;
  seconds: number;
  cpuSeconds: number;
}

/** What a focused comparison is run with: seconds measured, processes per variant, pinning. */
export interface FocusedOptions {
  readonly seconds: number;
  readonly processes: number;
  readonly pin: boolean;
}

export function focusedRun(prefix: string, pinWanted: boolean) {
  const pin = pinWanted && cpus().length >= 2 && existsSync('/usr/bin/taskset');
  const workDir = mkdtempSync(join(tmpdir(), prefix));
  const services: Service[] = [];
  return {
    pin,
    workDir,
    services,
    activate(active: Service, gateways: readonly Service[]): void {
      for (const gateway of gateways) gateway.child.kill(gateway === active ? 'SIGCONT' : 'SIGSTOP');
    },
    async finish(): Promise<void> {
      for (const service of services) service.child.kill('SIGCONT');
      await stopServices(services);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** A private redis-server on a free port, nothing kept on disk (on CPU 0 when pinning). */
export async function startRedis(pin: boolean): Promise<Service> {
  const port = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as AddressInfo;
      server.close(() => {
        resolve(address.port);
      });
    });
  });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = pin
    ? spawn('taskset', ['-c', '0', 'redis-server', ...args], { stdio: 'ignore' })
    : spawn('redis-server', args, { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      break;
    } catch (error) {
      client.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server did not start: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { url, child };
}

/** The fast upstream's first line: `{"port": N}`. */
export function portLine(line: string): string | null {
  try {
    const parsed = JSON.parse(line) as { port?: number };
    return parsed.port === undefined ? null : `http://127.0.0.1:${parsed.port}`;
  } catch {
    return null;
  }
}

/** The gateway's 'listening' log line. */
export function listeningLine(line: string): string | null {
  try {
    const parsed = JSON.parse(line) as { msg?: string; url?: string };
    return parsed.msg === 'listening' && parsed.url !== undefined ? parsed.url : null;
  } catch {
    return null;
  }
}

/**
 * Writes a config for a gateway with every feature on in front of `upstreamUrl` (authentication with
 * BENCH_KEY, Redis rate limits never reached, metrics and usage accounting, `cache` as given) and
 * starts it, alone on CPU 1 when pinning, logging at info to a pipe that is drained.
 */
export async function startGateway(options: {
  workDir: string;
  upstreamUrl: string;
  redisUrl: string;
  cache: boolean;
  pin: boolean;
  /** Node options before the CLI's path (e.g. --expose-gc). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
}): Promise<Service> {
  const configPath = join(options.workDir, 'gateway.yaml');
  writeFileSync(
    configPath,
    JSON.stringify({
      server: { host: '127.0.0.1', port: 0, state_dir: join(options.workDir, 'state') },
      redis: { url: options.redisUrl },
      rate_limit: { default: UNREACHED_LIMITS },
      backends: [{ name: 'upstream', type: 'openai', url: `${options.upstreamUrl}/v1` }],
      models: [{ name: '*', targets: [{ backend: 'upstream' }] }],
      auth: { enabled: true, keys: [{ id: 'bench', sha256: sha256Hex(BENCH_KEY) }] },
      cache: { enabled: options.cache },
      metrics: { enabled: true },
      usage: { enabled: true },
    }),
  );
  return startNode(
    [...GATEWAY_NODE_FLAGS, ...(options.nodeArgs ?? []), 'dist/cli.js', 'serve', '--config', configPath],
    listeningLine,
    {
      pin: options.pin,
      cpu: '1',
      env: { ...options.env, LOG_LEVEL: 'info' },
    },
  );
}

/**
 * Asks each service to stop (SIGTERM, after SIGCONT in case it was stopped) and waits until it has
 * exited, killing it after `graceMs`: a gateway drains and logs as it shuts down, and must not lose the
 * pipe it logs to before it is done (nor outlive the benchmark).
 */
export async function stopServices(services: readonly Service[], graceMs = 10_000): Promise<void> {
  await Promise.all(
    services.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/** Pins this process (the load generator) to CPU 0, next to the upstream and Redis. */
export function pinSelf(pin: boolean): void {
  if (pin) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
}

export function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match === null ? NaN : Number(match[1]) * 1024;
}

/** The sum of every series of metric `name` whose labels contain `labels` (e.g. `route="/x"`). */
export function metricValue(text: string, name: string, labels = ''): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels !== '' && !rest.includes(labels)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) {
      sum += value;
      found = true;
    }
  }
  return found ? sum : NaN;
}

export async function scrapeMetrics(gatewayUrl: string): Promise<string> {
  const response = await fetch(`${gatewayUrl}/metrics`);
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}

export function machineLine(pin: boolean): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}${pin ? '; gateway pinned to CPU 1, load generator, upstream and Redis to CPU 0' : '; no CPU pinning'}`;
}

export const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;
const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
const sleepUntil = (at: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

interface Sample {
  /** Seconds since the load started, at the end of the sample's window. */
  t: number;
  requestsPerSecond: number;
  /** The mean of the window's RSS readings. */
  rssMb: number;
  /** Heap used right after a full collection at the end of the window: what survives. */
  heapAfterGcMb: number;
  heapUsedMeanMb: number;
  heapUsedMaxMb: number;
}

/**
 * Loaded into the gateway with --import (it needs --expose-gc): on SIGUSR2, a full collection, then
 * the heap used right after it, written to $SOAK_HEAP_FILE.
 */
export const GC_HOOK =
  'data:text/javascript,import{writeFileSync}from"node:fs";process.on("SIGUSR2",()=>{globalThis.gc();' +
  'writeFileSync(process.env.SOAK_HEAP_FILE,JSON.stringify({heapUsed:process.memoryUsage().heapUsed,at:Date.now()}))})';

/** Asks the gateway for a full collection; resolves with the heap used right after it, in bytes. */
export async function heapAfterGc(gateway: Service, file: string): Promise<number> {
  const asked = Date.now();
  gateway.child.kill('SIGUSR2');
  for (;;) {
    let report: { heapUsed: number; at: number } | undefined;
    try {
      report = JSON.parse(readFileSync(file, 'utf8')) as { heapUsed: number; at: number };
    } catch {
      // not written yet, or being written
    }
    if (report !== undefined && report.at >= asked) return report.heapUsed;
    if (Date.now() - asked > 5000) throw new Error('the gateway did not report its heap after a collection');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The fast upstream, a private redis-server and one gateway with every feature on, started with the
 * forced-collection hook (heapAfterGc); each is pushed on `services` as it starts, for the caller to stop.
 */
export async function startMeasuredStack(options: {
  workDir: string;
  heapFile: string;
  cache: boolean;
  pin: boolean;
  services: Service[];
}): Promise<Service> {
  const upstream = await startNode(['bench/fast-upstream.mjs'], portLine, { pin: options.pin });
  options.services.push(upstream);
  const redis = await startRedis(options.pin);
  options.services.push(redis);
  const gateway = await startGateway({
    workDir: options.workDir,
    upstreamUrl: upstream.url,
    redisUrl: redis.url,
    cache: options.cache,
    pin: options.pin,
    nodeArgs: ['--expose-gc', '--import', GC_HOOK],
    env: { SOAK_HEAP_FILE: options.heapFile },
  });
  options.services.push(gateway);
  return gateway;
}

export async function runSoak(options: { seconds: number; pin: boolean }): Promise<number> {
  const tag = 'soak';
  const sampleCount = Math.floor(options.seconds / SAMPLE_SECONDS);
  if (!Number.isFinite(options.seconds) || sampleCount < 3) {
    console.error(`--soak takes the run's length in seconds, at least ${3 * SAMPLE_SECONDS} (three samples)`);
    return 2;
  }
  const connections = 16;
  const started = Date.now();
  pinSelf(options.pin);
  const workDir = mkdtempSync(join(tmpdir(), 'gw-soak-'));
  const heapFile = join(workDir, 'heap.json');
  const services: Service[] = [];
  let stopLoad = (): void => undefined;
  try {
    progress(tag, 'starting the fast upstream, a private redis-server and the gateway');
    const gateway = await startMeasuredStack({ workDir, heapFile, cache: false, pin: options.pin, services });
    const pid = gateway.child.pid;
    const completions = (text: string): number =>
      metricValue(text, 'gateway_http_requests_total', 'route="/v1/chat/completions"') || 0;

    const idleText = await scrapeMetrics(gateway.url);
    const idle = {
      rssMb: mb(rssBytes(pid)),
      heapUsedMb: mb(metricValue(idleText, 'nodejs_heap_size_used_bytes')),
      heapAfterGcMb: mb(await heapAfterGc(gateway, heapFile)),
    };
    progress(
      tag,
      `idle: RSS ${idle.rssMb} MB, heap used ${idle.heapUsedMb} MB (${idle.heapAfterGcMb} MB after a collection)`,
    );
    progress(
      tag,
      `${options.seconds} s at ${connections} connections, a sample every ${SAMPLE_SECONDS} s (the first third is warm-up)`,
    );

    const body = JSON.stringify({
      model: 'bench',
      messages: [{ role: 'user', content: 'Say hello' }],
      max_tokens: 16,
    });
    let settle: (error: unknown, result: autocannon.Result) => void = () => undefined;
    const finished = new Promise<autocannon.Result>((resolve, reject) => {
      settle = (error, result) => {
        if (error) reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }));
        else resolve(result);
      };
    });
    const load = autocannon(
      {
        url: `${gateway.url}/v1/chat/completions`,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` },
        body,
        connections,
        // Runs past the last sample; stopped right after it.
        duration: options.seconds + 30,
      },
      (error: unknown, result) => {
        settle(error, result);
      },
    );
    stopLoad = () => {
      load.stop();
    };
    const loadStarted = Date.now();
    let lastCount = completions(idleText);
    const samples: Sample[] = [];
    for (let index = 1; index <= sampleCount; index++) {
      const rss: number[] = [];
      const heap: number[] = [];
      let text = '';
      for (let second = 1; second <= SAMPLE_SECONDS; second++) {
        await sleepUntil(loadStarted + ((index - 1) * SAMPLE_SECONDS + second) * 1000);
        text = await scrapeMetrics(gateway.url);
        rss.push(rssBytes(pid));
        heap.push(metricValue(text, 'nodejs_heap_size_used_bytes'));
      }
      const count = completions(text);
      const sample: Sample = {
        t: index * SAMPLE_SECONDS,
        requestsPerSecond: Math.round((count - lastCount) / SAMPLE_SECONDS),
        rssMb: mb(mean(rss)),
        heapAfterGcMb: mb(await heapAfterGc(gateway, heapFile)),
        heapUsedMeanMb: mb(mean(heap)),
        heapUsedMaxMb: mb(Math.max(...heap)),
      };
      lastCount = count;
      samples.push(sample);
      console.log(
        `t=${String(sample.t).padStart(4)} s  ${String(sample.requestsPerSecond).padStart(6)} req/s  RSS ${sample.rssMb.toFixed(1).padStart(6)} MB  heap after GC ${sample.heapAfterGcMb.toFixed(1).padStart(5)} MB (readings: mean ${sample.heapUsedMeanMb.toFixed(1)}, max ${sample.heapUsedMaxMb.toFixed(1)})`,
      );
    }
    stopLoad();
    const result = await finished;
    const failed = result.errors + result.timeouts + result.non2xx;

    // Thirds: warm-up (the first, plus any remainder), then the second and the last, equal in size.
    const third = Math.floor(samples.length / 3);
    const second = samples.slice(samples.length - 2 * third, samples.length - third);
    const last = samples.slice(samples.length - third);
    const growth = (pick: (sample: Sample) => number): number =>
      mean(last.map(pick)) / mean(second.map(pick)) - 1;
    const heapGrowth = growth((sample) => sample.heapAfterGcMb);
    const rssGrowth = growth((sample) => sample.rssMb);
    const problems: string[] = [];
    if (heapGrowth > MAX_HEAP_GROWTH)
      problems.push(
        `the heap after collection grew ${(heapGrowth * 100).toFixed(1)}% (more than ${MAX_HEAP_GROWTH * 100}%)`,
      );
    if (rssGrowth > MAX_RSS_GROWTH)
      problems.push(`RSS grew ${(rssGrowth * 100).toFixed(1)}% (more than ${MAX_RSS_GROWTH * 100}%)`);
    if (failed > 0)
      problems.push(
        `${failed} requests failed (${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx)`,
      );

    const range = (part: Sample[]): string => `t=${part[0]!.t - SAMPLE_SECONDS}–${part.at(-1)!.t} s`;
    const machine = machineLine(options.pin);
    console.log(
      `soak: ${result.requests.total} requests in ${options.seconds} s (${Math.round(result.requests.total / ((Date.now() - loadStarted) / 1000))} req/s), ${failed} failed`,
    );
    console.log(
      `soak: heap after GC ${mean(second.map((s) => s.heapAfterGcMb)).toFixed(1)} MB (${range(second)}) → ${mean(last.map((s) => s.heapAfterGcMb)).toFixed(1)} MB (${range(last)}): ${(heapGrowth * 100).toFixed(1)}%; RSS ${mean(second.map((s) => s.rssMb)).toFixed(1)} → ${mean(last.map((s) => s.rssMb)).toFixed(1)} MB: ${(rssGrowth * 100).toFixed(1)}%`,
    );
    console.log(
      `machine: ${machine}; ${new Date().toISOString()}; ${Math.round((Date.now() - started) / 1000)} s`,
    );
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(
      'bench/results/soak.json',
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          machine,
          seconds: options.seconds,
          connections,
          gateway: 'auth, Redis rate limits (never reached), metrics, usage; cache off',
          idle,
          samples,
          requests: result.requests.total,
          failed,
          heapGrowth,
          rssGrowth,
          limits: { heapGrowth: MAX_HEAP_GROWTH, rssGrowth: MAX_RSS_GROWTH },
          passed: problems.length === 0,
          problems,
        },
        null,
        2,
      )}\n`,
    );
    progress(tag, 'results written to bench/results/soak.json');
    if (problems.length > 0) {
      console.error(`soak FAILED: ${problems.join('; ')}`);
      return 1;
    }
    console.log(
      `soak passed: heap after GC ${(heapGrowth * 100).toFixed(1)}% (limit ${MAX_HEAP_GROWTH * 100}%), RSS ${(rssGrowth * 100).toFixed(1)}% (limit ${MAX_RSS_GROWTH * 100}%)`,
    );
    return 0;
  } finally {
    stopLoad();
    await stopServices(services);
    rmSync(workDir, { recursive: true, force: true });
  }
}
