/**
 * npm run bench: the gateway against a direct call and a bare Fastify + undici proxy, all in front of
 * the same fast local upstream, each in its own process.
 *
 * Measures, per target: requests/s at 32 connections in flight, latency at 1 connection over
 * sequential requests (microsecond timer, so sub-millisecond overhead is visible), streaming time to
 * first byte, and the gateway's RSS. Prints a table and writes bench/results/latest.json.
 * Throughput is measured interleaved (bench/sliced-load.ts): the load moves from target to target in
 * slices of 100 ms, every target once per cycle in alternating order, for --seconds SECONDS per target
 * (default 12, 6 with --quick); each gateway configuration runs as three processes, used in turn
 * from cycle to cycle; comparisons are ratios of the totals, with a 95% bootstrap interval over the cycles.
 * Flags: --quick (less time and fewer requests), --seconds SECONDS, --no-pin.
 * Other modes: --budgets [--seconds S] [--processes N] (issue 20's comparison alone, bench/budgets.ts),
 * --log-chat [--seconds S] [--processes N] (issue 21's chat-path comparison alone, bench/log-chat.ts),
 * --soak SECONDS (memory under steady load, bench/soak.ts), --streams N (memory with N open
 * streams, bench/streams.ts), --request-log [--rows N] [--repeat N] [--store sqlite|postgres] (the
 * request log's queries at 10 million records, bench/request-log.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import pino from 'pino';
import { sha256Hex } from '../src/auth/api-key.js';
import { Authenticator } from '../src/auth/authenticator.js';
import { createKey } from '../src/auth/key-factory.js';
import { validateConfig } from '../src/config/load.js';
import { EmbeddedStore } from '../src/state/embedded/embedded-store.js';
import { PrometheusMetrics } from '../src/observability/metrics.js';
import { UsageRecorder } from '../src/usage/usage-recorder.js';
import { cpuSeconds, SlicedTarget } from './sliced-load.js';
import {
  BENCH_BUDGETS,
  BENCH_KEY,
  BUDGETED_KEY,
  PAUSED_GATEWAY_FLAGS,
  UNBUDGETED_KEY,
  listeningLine,
  pinThread,
  portLine,
  startNode,
  startRedis,
  stopServices,
  type Service,
} from './soak.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    seconds: { type: 'string' },
    'no-pin': { type: 'boolean' },
    soak: { type: 'string' },
    budgets: { type: 'boolean' },
    'log-chat': { type: 'boolean' },
    processes: { type: 'string' },
    streams: { type: 'string' },
    'request-log': { type: 'boolean' },
    rows: { type: 'string' },
    repeat: { type: 'string' },
    store: { type: 'string' },
    against: { type: 'string' },
    'against-node': { type: 'string' },
    'against-flags': { type: 'string' },
  },
});
/**
 * --against DIR: another build of the gateway (a checkout with its dist/ built, e.g. a git worktree of
 * main) measured on the miss path, interleaved with this one: "before and after" in one run, the VM's
 * swings cancelled out, instead of two runs minutes apart.
 */
const againstDir = values.against === undefined ? null : resolve(values.against);
/** --against-node PATH: the Node binary that runs the --against build (another Node version). */
const againstNode = values['against-node'];
/**
 * --against-flags "FLAGS": the Node options of the --against build instead of the start script's
 * (e.g. "" to price --max-semi-space-size: --against . --against-flags ""); --no-memory-reducer is
 * added, as to every paused gateway (PAUSED_GATEWAY_FLAGS).
 */
const againstFlags =
  values['against-flags'] === undefined
    ? null
    : values['against-flags'].split(' ').filter((flag) => flag !== '');
/**
 * With two or more CPUs and taskset, the server under test (the bare proxy, each gateway) runs alone on
 * CPU 1, and everything else (this load generator, the upstream, Redis) on CPU 0: each target then gets
 * the same machine, instead of whatever the scheduler gave it, and Redis and the upstream stand for the
 * other machines they are in production. --no-pin lets the scheduler place everything.
 */
const pin = values['no-pin'] !== true && cpus().length >= 2 && existsSync('/usr/bin/taskset');
const quick = values.quick === true;
/** Each target's share of the interleaved throughput measurement, in seconds. */
const throughputSeconds = Number(values.seconds ?? (quick ? 6 : 12));
const SLICE_MS = 100;
const throughputCycles = Math.max(2, Math.round((throughputSeconds * 1000) / SLICE_MS));
const CONNECTIONS = 32;
/** Processes per gateway configuration: two processes of one configuration can differ by 10-15%. */
const PROCESSES = 3;
const sequentialRequests = quick ? 500 : 2000;
const streamRequests = quick ? 200 : 500;
const warmup = quick ? 100 : 500;
const warmupSeconds = quick ? 2 : 4;

/** What the request log is compared with: the same configuration, the log off. */
const REQUEST_LOG_OFF = 'gateway, request log off (its twin)';
/** The target --against adds: the other build, on the miss path. */
const BASELINE = 'baseline (miss), --against';
const body = JSON.stringify({
  model: 'bench',
  messages: [{ role: 'user', content: 'Say hello' }],
  max_tokens: 16,
});
const streamBody = JSON.stringify({
  model: 'bench',
  messages: [{ role: 'user', content: 'Say hello' }],
  stream: true,
});

interface BenchRequest {
  readonly path: string;
  readonly body: string;
  readonly streamBody: string;
  /** The API key it is sent with (BENCH_KEY by default). */
  readonly key?: string;
}

const CHAT: BenchRequest = { path: '/v1/chat/completions', body, streamBody };
/** The chat request to another model, sent with another key. */
function chatWith(model: string, key: string): BenchRequest {
  return {
    ...CHAT,
    body: body.replace('"model":"bench"', `"model":"${model}"`),
    streamBody: streamBody.replace('"model":"bench"', `"model":"${model}"`),
    key,
  };
}
/**
 * Issue 20: a key with budgets (one in dollars, one in tokens) and a concurrency cap, to a model whose
 * backend has a concurrency cap, all never reached: reserve, settle, a key slot and a backend slot per
 * request. Sent to the same processes as the plain chat request (alternating in the interleaved slices):
 * two processes of one configuration differ by up to 10-15% on this VM, more than the 10% the budgets
 * may cost, while one process serving both requests in turn compares them alone.
 */
const BUDGETED = chatWith('capped', BUDGETED_KEY);
/**
 * The BUDGETED request without the budgets and the caps, its control: a key with neither
 * (UNBUDGETED_KEY), to a model with the same price and a route of the same shape whose backend has no
 * cap (`priced`). The plain chat request differs from BUDGETED in more than budgets and caps (another
 * key, an unpriced model on the catch-all route): about 2% of requests/s by itself (`--budgets` with
 * BENCH_PART=none against the plain request, 2026-12-04), which is not what the bound is about.
 */
const UNBUDGETED = chatWith('priced', UNBUDGETED_KEY);
/**
 * The same request in other protocols, on the miss path of the same gateway processes: what the
 * translation to and from the conversation model costs (issue 18).
 */
const PROTOCOL_REQUESTS: Readonly<Record<string, BenchRequest>> = {
  'gateway, Anthropic Messages (miss)': {
    path: '/v1/messages',
    body: JSON.stringify({
      model: 'bench',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'Say hello' }],
    }),
    streamBody: JSON.stringify({
      model: 'bench',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'Say hello' }],
      stream: true,
    }),
  },
  'gateway, OpenAI Responses (miss)': {
    path: '/v1/responses',
    body: JSON.stringify({ model: 'bench', input: 'Say hello', max_output_tokens: 16, store: false }),
    streamBody: JSON.stringify({ model: 'bench', input: 'Say hello', store: false, stream: true }),
  },
};

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface SequentialResult {
  p50: number;
  p99: number;
  mean: number;
}

/** Sequential requests on one keep-alive connection; returns latency in milliseconds. */
async function sequential(
  url: string,
  path: string,
  payload: string,
  count: number,
  firstByte: boolean,
  key: string = BENCH_KEY,
): Promise<SequentialResult> {
  const pool = new Pool(url, { connections: 1, pipelining: 1 });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  const samples: number[] = [];
  try {
    for (let index = 0; index < warmup + count; index++) {
      const started = process.hrtime.bigint();
      const response = await pool.request({ path, method: 'POST', headers, body: payload });
      let elapsed = 0n;
      if (firstByte) {
        for await (const _chunk of response.body) {
          if (elapsed === 0n) elapsed = process.hrtime.bigint() - started;
        }
      } else {
        await response.body.text();
        elapsed = process.hrtime.bigint() - started;
      }
      if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}`);
      if (index >= warmup) samples.push(Number(elapsed) / 1e6);
    }
  } finally {
    await pool.close();
  }
  samples.sort((a, b) => a - b);
  return {
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

interface ThroughputResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** CPU time of the serving process (user + system) per request, in µs; NaN when not measured. */
  cpuMicrosPerRequest: number;
}

/** A target's interleaved slices, summed. */
interface Tally {
  requests: number;
  seconds: number;
  cpuSeconds: number;
  latencies: number[];
}

function throughputOf(tally: Tally): ThroughputResult {
  const latencies = [...tally.latencies].sort((a, b) => a - b);
  return {
    requestsPerSecond: tally.requests / tally.seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuMicrosPerRequest: (tally.cpuSeconds * 1e6) / Math.max(1, tally.requests),
  };
}

/** Requests and seconds of each target in one cycle of the interleaved measurement. */
type Cycle = Record<string, { requests: number; seconds: number }>;

/** requests/s of `name` over those of `base`, summed over `cycles`. */
function ratioOver(cycles: readonly Cycle[], name: string, base: string): number {
  let a = 0;
  let aSeconds = 0;
  let b = 0;
  let bSeconds = 0;
  for (const cycle of cycles) {
    a += cycle[name]!.requests;
    aSeconds += cycle[name]!.seconds;
    b += cycle[base]!.requests;
    bSeconds += cycle[base]!.seconds;
  }
  return a / aSeconds / (b / bSeconds);
}

interface Comparison {
  readonly ratio: number;
  /** 95% bootstrap interval over the cycles. */
  readonly low: number;
  readonly high: number;
  /** The ratio over the cycles of each set of processes (the first of each configuration, ...). */
  readonly byProcess: readonly number[];
}

function compare(cycles: readonly Cycle[], name: string, base: string): Comparison {
  const resampled: number[] = [];
  for (let draw = 0; draw < 2000; draw++) {
    const sample = cycles.map(() => cycles[Math.floor(Math.random() * cycles.length)]!);
    resampled.push(ratioOver(sample, name, base));
  }
  resampled.sort((x, y) => x - y);
  return {
    ratio: ratioOver(cycles, name, base),
    low: percentile(resampled, 2.5),
    high: percentile(resampled, 97.5),
    byProcess: Array.from({ length: PROCESSES }, (_, turn) =>
      ratioOver(
        cycles.filter((_, index) => index % PROCESSES === turn),
        name,
        base,
      ),
    ),
  };
}

const percent = (ratio: number): string =>
  `${ratio >= 1 ? '+' : '−'}${Math.abs((ratio - 1) * 100).toFixed(1)}%`;

function describe(comparison: Comparison): string {
  return `${percent(comparison.ratio)} requests/s (95% interval ${percent(comparison.low)} to ${percent(comparison.high)}; by process: ${comparison.byProcess.map(percent).join(', ')})`;
}

/** The member-wise mean of several results of the same shape. */
function meanOf<T extends object>(items: T[]): T {
  const out: Record<string, number> = {};
  for (const item of items) {
    for (const [key, value] of Object.entries(item))
      out[key] = (out[key] ?? 0) + (value as number) / items.length;
  }
  return out as T;
}

function rssMegabytes(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match === null ? NaN : Math.round(Number(match[1]) / 1024);
}

/**
 * The CPU cost of authentication alone, in process: a static key, and a dynamic key served from the
 * in-process cache (the path every request of a dynamic key takes after its first).
 */
async function authenticationCost(): Promise<{ staticKeyMicros: number; cachedDynamicKeyMicros: number }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'gw-bench-auth-'));
  const store = new EmbeddedStore(stateDir);
  try {
    const { key, record } = createKey({ name: 'bench-dynamic' });
    await store.create(record);
    const config = validateConfig({ auth: { keys: [{ id: 'bench', sha256: sha256Hex(BENCH_KEY) }] } }, {});
    const authenticator = new Authenticator(config.auth.keys, store, pino({ level: 'silent' }));
    const time = async (headers: Record<string, string>): Promise<number> => {
      const iterations = 200_000;
      for (let index = 0; index < 10_000; index++) await authenticator.authenticate(headers, '127.0.0.1');
      const started = process.hrtime.bigint();
      for (let index = 0; index < iterations; index++) await authenticator.authenticate(headers, '127.0.0.1');
      return Number(process.hrtime.bigint() - started) / 1000 / iterations;
    };
    return {
      staticKeyMicros: await time({ authorization: `Bearer ${BENCH_KEY}` }),
      cachedDynamicKeyMicros: await time({ authorization: `Bearer ${key}` }),
    };
  } finally {
    await store.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/**
 * What metrics and usage accounting add to one request, in process: the calls a chat completion makes
 * (request, attempt, cache and token metrics, the in-flight gauge, one usage record).
 */
function observabilityCost(): number {
  const metrics = new PrometheusMetrics({ circuits: () => [], backends: () => [], streamsInFlight: () => 0 });
  const store = { add: () => Promise.resolve(), query: () => Promise.resolve([]) };
  const usage = new UsageRecorder(store, pino({ level: 'silent' }));
  const once = (): void => {
    metrics.requestStarted();
    metrics.cache('miss');
    metrics.attemptFinished('upstream', '*', 'ok', 0.002);
    metrics.requestEnded();
    metrics.requestFinished('/v1/chat/completions', 'POST', 200, 0.004);
    metrics.tokens('prompt', '*', 'bench', 11);
    metrics.tokens('completion', '*', 'bench', 6);
    usage.record({
      keyId: 'bench',
      model: 'fast',
      at: Date.now(),
      error: false,
      cached: false,
      promptTokens: 11,
      completionTokens: 6,
      costMicros: null,
    });
  };
  for (let index = 0; index < 50_000; index++) once();
  const iterations = 300_000;
  const started = process.hrtime.bigint();
  for (let index = 0; index < iterations; index++) once();
  const micros = Number(process.hrtime.bigint() - started) / 1000 / iterations;
  void usage.close();
  return micros;
}

async function main(): Promise<void> {
  const started = Date.now();
  if (pin) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  const workDir = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  const services: Service[] = [];
  try {
    progress('starting the fast upstream, the bare proxy and the gateway');
    const upstream = await startNode(['bench/fast-upstream.mjs'], portLine, { pin });
    services.push(upstream);
    const bare = await startNode(['bench/bare-proxy.mjs', upstream.url], portLine, { pin, cpu: '1' });
    services.push(bare);
    progress('starting a private redis-server');
    const redis = await startRedis(pin);
    services.push(redis);
    const startGateway = async (
      name: string,
      options: {
        authEnabled: boolean;
        redisLimits: boolean;
        cache: boolean;
        observability?: boolean;
        redisCache?: boolean;
        /** The gateway's CLI to run; this checkout's dist/cli.js by default. */
        cli?: string;
        /** The Node binary to run it with; this process's by default. */
        node?: string;
        /** Node's options; the start script's with the memory reducer off by default (PAUSED_GATEWAY_FLAGS). */
        flags?: readonly string[];
        /**
         * Issue 20: a second key (BUDGETED_KEY) with a budget in dollars, one in tokens and a concurrency
         * cap, and a model `capped` whose backend has a cap and a price, all never reached: reserve,
         * settle, two slots for the BUDGETED request; and its control without them (UNBUDGETED_KEY, model
         * `priced`). The plain request's key and model are unchanged.
         */
        budgetsAndCaps?: boolean;
        /** Issue 21: true turns the request log on (SQLite in state_dir; off by default for now). */
        requestLog?: boolean;
        /**
         * With requestLog and pinning: the log's store thread (`request-log`, where SQLite writes) moves to
         * CPU 0, beside Redis and the upstream: the database a request thread hands its records to, as on
         * any machine with a second core. Without it every thread of the process shares CPU 1.
         */
        storeThreadApart?: boolean;
      },
    ): Promise<Service[]> => {
      // PROCESSES processes of each configuration, used in turn: two processes of the same
      // configuration can differ by 10-15% for minutes on this VM.
      const processes: Service[] = [];
      for (const copy of ['a', 'b', 'c'].slice(0, PROCESSES)) {
        const configPath = join(workDir, `${name}-${copy}.yaml`);
        writeFileSync(
          configPath,
          JSON.stringify({
            server: { host: '127.0.0.1', port: 0, state_dir: join(workDir, `${name}-${copy}`) },
            ...(options.redisLimits
              ? {
                  redis: { url: redis.url },
                  // Limits that are checked on every request and never reached.
                  rate_limit: { default: { requests: '100000000/minute', tokens: '1000000000000/minute' } },
                }
              : options.redisCache === true
                ? { redis: { url: redis.url } }
                : {}),
            backends: [
              { name: 'upstream', type: 'openai', url: `${upstream.url}/v1` },
              ...(options.budgetsAndCaps === true
                ? [
                    { name: 'capped', type: 'openai', url: `${upstream.url}/v1`, max_concurrency: 100_000 },
                    { name: 'uncapped', type: 'openai', url: `${upstream.url}/v1` },
                  ]
                : []),
            ],
            models: [
              ...(options.budgetsAndCaps === true
                ? [
                    { name: 'capped', targets: [{ backend: 'capped', model: 'bench' }] },
                    { name: 'priced', targets: [{ backend: 'uncapped', model: 'bench' }] },
                  ]
                : []),
              { name: '*', targets: [{ backend: 'upstream' }] },
            ],
            auth: {
              enabled: options.authEnabled,
              keys: [
                { id: 'bench', sha256: sha256Hex(BENCH_KEY) },
                ...(options.budgetsAndCaps === true
                  ? [
                      {
                        id: 'budgeted',
                        sha256: sha256Hex(BUDGETED_KEY),
                        max_concurrency: 100_000,
                        budgets: BENCH_BUDGETS,
                      },
                      { id: 'unbudgeted', sha256: sha256Hex(UNBUDGETED_KEY) },
                    ]
                  : []),
              ],
            },
            ...(options.budgetsAndCaps === true
              ? {
                  usage: {
                    prices: [
                      { model: 'capped', prompt_per_million: 0.15, completion_per_million: 0.6 },
                      { model: 'priced', prompt_per_million: 0.15, completion_per_million: 0.6 },
                    ],
                  },
                }
              : {}),
            // Every request of the benchmark is the same: with the cache on, all but the first are hits.
            cache: { enabled: options.cache },
            // Metrics and usage accounting are on by default; one target turns them off to price them.
            ...(options.observability === false
              ? { metrics: { enabled: false }, usage: { enabled: false } }
              : {}),
            ...(options.requestLog === true ? { request_log: { enabled: true } } : {}),
          }),
        );
        const service = await startNode(
          [
            ...(options.flags ?? PAUSED_GATEWAY_FLAGS),
            options.cli ?? 'dist/cli.js',
            'serve',
            '--config',
            configPath,
          ],
          listeningLine,
          {
            pin,
            cpu: '1',
            env: { LOG_LEVEL: 'info' },
            ...(options.node === undefined ? {} : { node: options.node }),
          },
        );
        services.push(service);
        processes.push(service);
        if (pin && options.storeThreadApart === true) await pinThread(service, 'request-log', '0');
      }
      return processes;
    };
    const gateway = await startGateway('gateway', {
      authEnabled: true,
      redisLimits: false,
      cache: false,
      budgetsAndCaps: true,
    });
    // The other protocols on processes of their own, configured as `gateway`: shared processes would get
    // those targets' warm-up and load too, and a warmer JIT than the configurations they are compared with.
    const protocolGateways: Record<string, readonly Service[]> = {};
    for (const [index, name] of Object.keys(PROTOCOL_REQUESTS).entries()) {
      protocolGateways[name] = await startGateway(`gateway-protocol-${index}`, {
        authEnabled: true,
        redisLimits: false,
        cache: false,
      });
    }
    const gatewayNoAuth = await startGateway('gateway-no-auth', {
      authEnabled: false,
      redisLimits: false,
      cache: false,
    });
    const gatewayQuiet = await startGateway('gateway-quiet', {
      authEnabled: true,
      redisLimits: false,
      cache: false,
      observability: false,
    });
    const gatewayRequestLog = await startGateway('gateway-request-log', {
      authEnabled: true,
      redisLimits: false,
      cache: false,
      requestLog: true,
      storeThreadApart: true,
    });
    // The request log's own baseline: the same configuration with the log off, sent the same plain
    // requests only (gateway (miss)'s processes also serve the budgeted request, and warm other code).
    const gatewayRequestLogOff = await startGateway('gateway-request-log-off', {
      authEnabled: true,
      redisLimits: false,
      cache: false,
    });
    const gatewayRequestLogOneCpu = await startGateway('gateway-request-log-one-cpu', {
      authEnabled: true,
      redisLimits: false,
      cache: false,
      requestLog: true,
    });
    const gatewayLimits = await startGateway('gateway-limits', {
      authEnabled: true,
      redisLimits: true,
      cache: false,
      budgetsAndCaps: true,
    });
    const gatewayHits = await startGateway('gateway-hits', {
      authEnabled: true,
      redisLimits: false,
      cache: true,
    });
    const gatewayRedisHits = await startGateway('gateway-redis-hits', {
      authEnabled: true,
      redisLimits: false,
      cache: true,
      redisCache: true,
    });

    const baseline =
      againstDir === null
        ? null
        : await startGateway('baseline', {
            authEnabled: true,
            redisLimits: false,
            cache: false,
            cli: join(againstDir, 'dist/cli.js'),
            ...(againstNode === undefined ? {} : { node: againstNode }),
            ...(againstFlags === null ? {} : { flags: [...againstFlags, '--no-memory-reducer'] }),
          });

    /** The processes that serve each target (whose CPU time is measured), used in turn. */
    const targets: Readonly<Record<string, readonly Service[]>> = {
      ...(baseline === null ? {} : { [BASELINE]: baseline }),
      direct: [upstream],
      'bare proxy': [bare],
      'gateway (miss)': gateway,
      'gateway, auth off': gatewayNoAuth,
      'gateway, metrics+usage off': gatewayQuiet,
      'gateway, request log off (its twin)': gatewayRequestLogOff,
      'gateway, request log on': gatewayRequestLog,
      'gateway, request log on, one CPU': gatewayRequestLogOneCpu,
      'gateway, Redis limits': gatewayLimits,
      // The same processes as the plain request's, sent the BUDGETED request and its control.
      'gateway, budgets+caps (in process)': gateway,
      'gateway, priced, no budgets or caps (in process)': gateway,
      'gateway, Redis limits+budgets+caps': gatewayLimits,
      'gateway, Redis limits, priced, no budgets or caps': gatewayLimits,
      'gateway, cache hits': gatewayHits,
      'gateway, cache hits (Redis)': gatewayRedisHits,
      ...protocolGateways,
    };
    const budgetRequests: Record<string, BenchRequest> = {
      'gateway, budgets+caps (in process)': BUDGETED,
      'gateway, Redis limits+budgets+caps': BUDGETED,
      'gateway, priced, no budgets or caps (in process)': UNBUDGETED,
      'gateway, Redis limits, priced, no budgets or caps': UNBUDGETED,
    };
    const requestOf = (name: string): BenchRequest => PROTOCOL_REQUESTS[name] ?? budgetRequests[name] ?? CHAT;
    const serverFor = (name: string, turn: number): Service => {
      const processes = targets[name] ?? [];
      return processes[turn % processes.length]!;
    };
    /**
     * Only the server under test runs on CPU 1: the others are stopped (SIGSTOP) meanwhile. An idle
     * gateway still wakes up about 50 times a second (timers: event-loop monitoring, log and usage
     * flushes), and fourteen of them took several percent of CPU 1 from the one being measured.
     */
    const names = Object.keys(targets);
    const cpuOne = [
      ...new Set([bare, ...names.flatMap((name) => (name === 'direct' ? [] : (targets[name] ?? [])))]),
    ];
    const activate = (server: Service): void => {
      for (const service of cpuOne) service.child.kill(service === server ? 'SIGCONT' : 'SIGSTOP');
    };
    const results: Record<string, { c1: SequentialResult; c32: ThroughputResult; stream: SequentialResult }> =
      {};
    // Every target keeps its own connections to each server; the load moves between them
    // (bench/sliced-load.ts).
    const loads = new Map<string, SlicedTarget>();
    const loadOf = (name: string, server: Service): SlicedTarget =>
      loads.get(`${name}\u0000${server.child.pid ?? 0}`)!;
    for (const name of names) {
      const { path, body: payload, key } = requestOf(name);
      for (const service of targets[name] ?? []) {
        loads.set(
          `${name}\u0000${service.child.pid ?? 0}`,
          new SlicedTarget(service.url, CONNECTIONS, {
            path,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key ?? BENCH_KEY}` },
            body: payload,
          }),
        );
      }
    }
    // Node needs tens of seconds of load before its JIT and heap settle; measured runs start after.
    for (const name of names) {
      for (const service of targets[name] ?? []) {
        progress(`warming up ${name} (pid ${service.child.pid}) for ${warmupSeconds} s`);
        activate(service);
        await loadOf(name, service).slice(warmupSeconds * 1000);
      }
    }
    // Throughput interleaved: the load moves from target to target every SLICE_MS, every target once
    // per cycle in alternating order, a configuration's processes in turn from cycle to cycle. This VM's
    // speed swings by 20-30% from one second to the next; every target is measured at the same moments,
    // so the swings cancel out of the comparisons (ratios of the totals).
    const tallies = Object.fromEntries(
      names.map((name): [string, Tally] => [name, { requests: 0, seconds: 0, cpuSeconds: 0, latencies: [] }]),
    );
    const cycles: Cycle[] = [];
    progress(
      `throughput: ${throughputCycles} cycles of ${SLICE_MS} ms per target at ${CONNECTIONS} requests in flight (about ${Math.round((throughputCycles * names.length * (SLICE_MS + 10)) / 1000)} s)`,
    );
    for (let index = 0; index < throughputCycles; index++) {
      const cycle: Cycle = {};
      for (const name of index % 2 === 0 ? names : [...names].reverse()) {
        const server = serverFor(name, index);
        activate(server);
        const cpuBefore = cpuSeconds(server.child.pid);
        const slice = await loadOf(name, server).slice(SLICE_MS);
        const tally = tallies[name]!;
        tally.cpuSeconds += cpuSeconds(server.child.pid) - cpuBefore;
        tally.requests += slice.requests;
        tally.seconds += slice.seconds;
        for (const latency of slice.latencies) tally.latencies.push(latency);
        cycle[name] = { requests: slice.requests, seconds: slice.seconds };
      }
      cycles.push(cycle);
    }
    for (const load of loads.values()) load.close();
    // Latency on one connection, and streaming time to first byte: two passes in alternating order.
    const samples: Record<string, { c1: SequentialResult[]; stream: SequentialResult[] }> = {};
    for (const [passIndex, pass] of [names, [...names].reverse()].entries()) {
      for (const name of pass) {
        const entry = (samples[name] ??= { c1: [], stream: [] });
        progress(
          `pass ${passIndex + 1}/2, ${name}: ${sequentialRequests} sequential requests (1 connection), ${streamRequests} streams`,
        );
        const server = serverFor(name, passIndex);
        activate(server);
        const request = requestOf(name);
        entry.c1.push(
          await sequential(server.url, request.path, request.body, sequentialRequests, false, request.key),
        );
        entry.stream.push(
          await sequential(server.url, request.path, request.streamBody, streamRequests, true, request.key),
        );
      }
    }
    for (const name of names) {
      const entry = samples[name]!;
      results[name] = {
        c1: meanOf(entry.c1),
        c32: throughputOf(tallies[name]!),
        stream: meanOf(entry.stream),
      };
    }
    const limitsComparison = compare(cycles, 'gateway, Redis limits', 'gateway (miss)');
    // Issue 20's bound: the budgeted request against the same request without budgets and caps; and, as
    // before 2026-12-04, against the plain chat request (another key and an unpriced model as well).
    const budgetsComparison = compare(
      cycles,
      'gateway, Redis limits+budgets+caps',
      'gateway, Redis limits, priced, no budgets or caps',
    );
    const localBudgetsComparison = compare(
      cycles,
      'gateway, budgets+caps (in process)',
      'gateway, priced, no budgets or caps (in process)',
    );
    const budgetsOverPlainComparison = compare(
      cycles,
      'gateway, Redis limits+budgets+caps',
      'gateway, Redis limits',
    );
    const localBudgetsOverPlainComparison = compare(
      cycles,
      'gateway, budgets+caps (in process)',
      'gateway (miss)',
    );
    const hitsComparison = compare(cycles, 'gateway, cache hits', 'gateway (miss)');
    const redisHitsComparison = compare(cycles, 'gateway, cache hits (Redis)', 'gateway (miss)');
    const observabilityComparison = compare(cycles, 'gateway (miss)', 'gateway, metrics+usage off');
    const requestLogComparison = compare(cycles, 'gateway, request log on', REQUEST_LOG_OFF);
    const requestLogOneCpuComparison = compare(cycles, 'gateway, request log on, one CPU', REQUEST_LOG_OFF);
    const againstComparison = baseline === null ? null : compare(cycles, 'gateway (miss)', BASELINE);
    const protocolComparisons = Object.fromEntries(
      Object.keys(PROTOCOL_REQUESTS).map((name) => [name, compare(cycles, name, 'gateway (miss)')]),
    );
    const gatewayRss = rssMegabytes(gateway[0]?.child.pid);
    progress('authentication alone, in process');
    const auth = await authenticationCost();
    progress('metrics and usage accounting alone, in process');
    const observabilityMicros = observabilityCost();

    const direct = results['direct']!;
    const rows = Object.entries(results).map(([name, result]) => ({
      target: name,
      'req/s @32': Math.round(result.c32.requestsPerSecond),
      'p50 ms @32': Math.round(result.c32.p50 * 10) / 10,
      'p99 ms @32': Math.round(result.c32.p99 * 10) / 10,
      'p50 ms @1': result.c1.p50.toFixed(3),
      'p99 ms @1': result.c1.p99.toFixed(3),
      'added p50 ms @1': (result.c1.p50 - direct.c1.p50).toFixed(3),
      'added p99 ms @1': (result.c1.p99 - direct.c1.p99).toFixed(3),
      'stream TTFB p50 ms': result.stream.p50.toFixed(3),
      'CPU µs/req': Math.round(result.c32.cpuMicrosPerRequest),
    }));
    console.table(rows);
    console.log(`gateway RSS after the run: ${gatewayRss} MB`);
    const observed = results['gateway (miss)']!.c32;
    const quiet = results['gateway, metrics+usage off']!.c32;
    console.log(
      `metrics and usage accounting, in process: ${observabilityMicros.toFixed(2)} µs CPU per request = ${((observabilityMicros / observed.cpuMicrosPerRequest) * 100).toFixed(1)}% of the gateway's ${Math.round(observed.cpuMicrosPerRequest)} µs per request`,
    );
    console.log(
      `metrics and usage accounting, interleaved: on ${Math.round(observed.requestsPerSecond)} req/s (${Math.round(observed.cpuMicrosPerRequest)} µs CPU/req), off ${Math.round(quiet.requestsPerSecond)} req/s (${Math.round(quiet.cpuMicrosPerRequest)} µs CPU/req); on against off ${describe(observabilityComparison)}`,
    );
    const logged = results['gateway, request log on']!.c32;
    const loggedOneCpu = results['gateway, request log on, one CPU']!.c32;
    const unlogged = results[REQUEST_LOG_OFF]!.c32;
    console.log(
      `request log on (SQLite, its store thread on CPU 0) against off, interleaved: ${describe(requestLogComparison)} (target: within 5%); CPU ${Math.round(logged.cpuMicrosPerRequest)} (both threads) against ${Math.round(unlogged.cpuMicrosPerRequest)} µs per request`,
    );
    console.log(
      `request log on (SQLite, its store thread on the request thread's CPU) against off, interleaved: ${describe(requestLogOneCpuComparison)}; CPU ${Math.round(loggedOneCpu.cpuMicrosPerRequest)} against ${Math.round(unlogged.cpuMicrosPerRequest)} µs per request`,
    );
    const limited = results['gateway, Redis limits']!.c32;
    const hits = results['gateway, cache hits']!.c32;
    console.log(
      `Redis rate limits (never reached) against none, interleaved: ${describe(limitsComparison)} (target: within 10%); CPU ${Math.round(limited.cpuMicrosPerRequest)} against ${Math.round(observed.cpuMicrosPerRequest)} µs per request`,
    );
    const budgeted = results['gateway, Redis limits+budgets+caps']!.c32;
    const localBudgeted = results['gateway, budgets+caps (in process)']!.c32;
    const unbudgeted = results['gateway, Redis limits, priced, no budgets or caps']!.c32;
    const localUnbudgeted = results['gateway, priced, no budgets or caps (in process)']!.c32;
    console.log(
      `budgets and concurrency caps in process (no Redis, never reached) against the same request without them, interleaved: ${describe(localBudgetsComparison)} (target: within 10%); CPU ${Math.round(localBudgeted.cpuMicrosPerRequest)} against ${Math.round(localUnbudgeted.cpuMicrosPerRequest)} µs per request; against the plain chat request (another key, an unpriced model): ${describe(localBudgetsOverPlainComparison)}`,
    );
    console.log(
      `budgets and concurrency caps (Redis, never reached) against the same request with Redis limits alone, interleaved: ${describe(budgetsComparison)} (target: within 10%); CPU ${Math.round(budgeted.cpuMicrosPerRequest)} against ${Math.round(unbudgeted.cpuMicrosPerRequest)} µs per request; against the plain chat request with Redis limits: ${describe(budgetsOverPlainComparison)}`,
    );
    console.log(
      `cache hits against misses, interleaved: ${hitsComparison.ratio.toFixed(2)}× requests/s (95% interval ${hitsComparison.low.toFixed(2)}× to ${hitsComparison.high.toFixed(2)}×) (target: at least 2×); CPU ${Math.round(hits.cpuMicrosPerRequest)} against ${Math.round(observed.cpuMicrosPerRequest)} µs per request`,
    );
    const redisHits = results['gateway, cache hits (Redis)']!.c32;
    console.log(
      `cache hits from Redis against misses, interleaved: ${redisHitsComparison.ratio.toFixed(2)}× requests/s (95% interval ${redisHitsComparison.low.toFixed(2)}× to ${redisHitsComparison.high.toFixed(2)}×); CPU ${Math.round(redisHits.cpuMicrosPerRequest)} µs per request`,
    );
    console.log(
      `authentication CPU per request: ${auth.staticKeyMicros.toFixed(2)} µs (static key), ${auth.cachedDynamicKeyMicros.toFixed(2)} µs (dynamic key, cached)`,
    );
    for (const [name, comparison] of Object.entries(protocolComparisons)) {
      console.log(
        `${name} against chat completions (miss), interleaved: ${describe(comparison)}; CPU ${Math.round(results[name]!.c32.cpuMicrosPerRequest)} against ${Math.round(observed.cpuMicrosPerRequest)} µs per request`,
      );
    }
    if (againstComparison !== null) {
      const other = results[BASELINE]!.c32;
      console.log(
        `this build against ${againstDir ?? ''}${againstNode === undefined ? '' : ` (run by ${againstNode})`}${againstFlags === null ? '' : ` (Node options: "${againstFlags.join(' ')}")`} on the miss path, interleaved: ${describe(againstComparison)}; CPU ${Math.round(observed.cpuMicrosPerRequest)} against ${Math.round(other.cpuMicrosPerRequest)} µs per request`,
      );
    }
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}${pin ? '; server under test pinned to CPU 1, load generator, upstream and Redis to CPU 0' : '; no CPU pinning'}`;
    console.log(
      `machine: ${machine}; ${new Date().toISOString()}; ${Math.round((Date.now() - started) / 1000)} s`,
    );

    mkdirSync('bench/results', { recursive: true });
    const report = {
      date: new Date().toISOString(),
      machine,
      quick,
      throughputSeconds,
      results,
      gatewayRssMb: gatewayRss,
      authenticationMicros: auth,
      observabilityMicros,
      sliceMs: SLICE_MS,
      comparisons: {
        limitsOverMiss: limitsComparison,
        budgetsOverUnbudgeted: budgetsComparison,
        localBudgetsOverUnbudgeted: localBudgetsComparison,
        budgetsOverLimits: budgetsOverPlainComparison,
        localBudgetsOverMiss: localBudgetsOverPlainComparison,
        hitsOverMiss: hitsComparison,
        redisHitsOverMiss: redisHitsComparison,
        missOverQuiet: observabilityComparison,
        missOverNoRequestLog: requestLogComparison,
        missOverNoRequestLogOneCpu: requestLogOneCpuComparison,
        protocolsOverChat: protocolComparisons,
        ...(againstComparison === null ? {} : { missOverAgainst: againstComparison, against: againstDir }),
      },
      cycles,
      rows,
    };
    writeFileSync('bench/results/latest.json', `${JSON.stringify(report, null, 2)}\n`);
    progress('results written to bench/results/latest.json');
  } finally {
    await stopServices(services);
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (values['log-chat'] === true) {
  const { runLogChatBench } = await import('./log-chat.js');
  await runLogChatBench({
    seconds: Number(values.seconds ?? 10),
    processes: Number(values.processes ?? 2),
    pin: values['no-pin'] !== true,
  });
} else if (values.budgets === true) {
  const { runBudgetsBench } = await import('./budgets.js');
  await runBudgetsBench({
    seconds: Number(values.seconds ?? 10),
    processes: Number(values.processes ?? 2),
    pin: values['no-pin'] !== true,
  });
} else if (values.soak !== undefined) {
  const { runSoak } = await import('./soak.js');
  process.exitCode = await runSoak({ seconds: Number(values.soak), pin });
} else if (values['request-log'] === true) {
  const { runRequestLogBench } = await import('./request-log.js');
  process.exitCode = await runRequestLogBench({
    rows: values.rows === undefined ? 10_000_000 : Number(values.rows),
    repeat: values.repeat === undefined ? 20 : Number(values.repeat),
    stores: values.store === undefined ? ['sqlite', 'postgres'] : [values.store],
  });
} else if (values.streams !== undefined) {
  const { runStreams } = await import('./streams.js');
  process.exitCode = await runStreams({ streams: Number(values.streams), pin });
} else {
  await main();
}
