/**
 * Private Redis topologies for one test file, on loopback, started and torn down by the test:
 *
 * - a Redis Cluster: six redis-server processes (`--cluster-enabled yes`, a nodes file each in a
 *   temporary directory, no persistence, `--cluster-node-timeout 2000`) joined by `redis-cli --cluster
 *   create … --cluster-replicas 1` into three masters with one replica each; resolves once every node
 *   reports `cluster_state:ok` and every replica's link to its master is up;
 * - Redis Sentinel: a master, a replica and one sentinel (`redis-server <generated config> --sentinel`),
 *   quorum 1.
 *
 * Each node can be killed (SIGKILL) to provoke a failover; `stop()` kills them all and removes the
 * directory.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';

const run = promisify(execFile);

/** One redis-server process of a topology. */
export interface RedisNode {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** SIGKILL; resolves once the process has exited. Safe to call twice. */
  kill(): Promise<void>;
  readonly alive: boolean;
}

interface Spawned extends RedisNode {
  readonly exited: Promise<void>;
  stderr(): string;
}

function spawnRedis(args: string[], port: number): Spawned {
  const child: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  let alive = true;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      alive = false;
      resolve();
    });
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    exited,
    get alive() {
      return alive;
    },
    stderr: () => stderr,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Distinct free loopback ports. */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** A short-lived connection that fails fast; the caller disconnects it. */
function connect(port: number): Redis {
  const redis = new Redis({
    port,
    host: '127.0.0.1',
    retryStrategy: () => 50,
    maxRetriesPerRequest: null,
    connectTimeout: 1000,
    lazyConnect: false,
  });
  redis.on('error', () => {
    // refused while the server starts; retried
  });
  return redis;
}

/** Runs `command` on the server at `port`, with a timeout; the reply as text. */
export async function redisCommand(port: number, ...command: (string | number)[]): Promise<unknown> {
  const redis = connect(port);
  try {
    return await withTimeout(redis.call(String(command[0]), ...command.slice(1)), 5000, `${command[0]}`);
  } finally {
    redis.disconnect();
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`${what}: no answer within ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every 100 ms until it returns true; throws with `what` after `timeoutMs`. */
export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = null;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error instanceof Error ? error.message : JSON.stringify(error);
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what} within ${timeoutMs} ms${last === null ? '' : ` (last error: ${last})`}`);
    }
    await delay(100);
  }
}

async function waitForPing(node: Spawned, timeoutMs: number): Promise<void> {
  const redis = connect(node.port);
  try {
    await Promise.race([
      withTimeout(redis.ping(), timeoutMs, `redis-server on ${node.port} PING`),
      node.exited.then(() => {
        throw new Error(`redis-server on ${node.port} exited at start; stderr: ${node.stderr()}`);
      }),
    ]);
  } finally {
    redis.disconnect();
  }
}

/** One line of CLUSTER NODES. */
export interface ClusterNodeLine {
  readonly id: string;
  readonly port: number;
  readonly flags: readonly string[];
  readonly masterId: string | null;
  /** Slot ranges [first, last] it serves (masters). */
  readonly slots: readonly (readonly [number, number])[];
}

export function parseClusterNodes(text: string): ClusterNodeLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', address = '', flags = '', master = '-', , , , , ...slots] = line.trim().split(' ');
      const port = Number(/:(\d+)/.exec(address)?.[1] ?? 0);
      return {
        id,
        port,
        flags: flags.split(','),
        masterId: master === '-' ? null : master,
        slots: slots
          .filter((range) => !range.startsWith('['))
          .map((range) => {
            const [first = '0', last] = range.split('-');
            return [Number(first), Number(last ?? first)] as const;
          }),
      };
    });
}

export interface PrivateRedisCluster {
  readonly nodes: readonly RedisNode[];
  /** The seed URLs for `redis.cluster`. */
  readonly seeds: string[];
  /** CLUSTER KEYSLOT of a key (asked of a live node). */
  slotOf(key: string): Promise<number>;
  /** The live node that serves `slot` as a master, in the view of a live node. */
  masterOf(slot: number): Promise<RedisNode>;
  /** The masters of the cluster, in the view of a live node. */
  masters(): Promise<RedisNode[]>;
  /** CLUSTER NODES of a live node, parsed. */
  clusterNodes(): Promise<ClusterNodeLine[]>;
  /** Waits until every live node reports cluster_state:ok and `slot` is served by a live master. */
  waitHealthy(timeoutMs: number, slot?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts 3 masters and 3 replicas on free loopback ports, each with a cluster bus port of its own
 * (`--cluster-port`, Redis 7), and joins them with `redis-cli --cluster create`.
 */
export async function startRedisCluster(
  options: { nodeTimeoutMs?: number } = {},
): Promise<PrivateRedisCluster> {
  const directory = mkdtempSync(join(tmpdir(), 'gw-redis-cluster-'));
  const ports = await freePorts(12);
  const nodes: Spawned[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.kill()));
    rmSync(directory, { recursive: true, force: true });
  };
  try {
    for (let index = 0; index < 6; index++) {
      const port = ports[index] ?? 0;
      const busPort = ports[index + 6] ?? 0;
      nodes.push(
        spawnRedis(
          [
            '--port',
            String(port),
            '--cluster-port',
            String(busPort),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(directory, `nodes-${port}.conf`),
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 2000),
            // A replica fails over however long it was cut off from its master.
            '--cluster-replica-validity-factor',
            '0',
            '--cluster-allow-replica-migration',
            'no',
            '--dir',
            directory,
            '--save',
            '',
            '--appendonly',
            'no',
          ],
          port,
        ),
      );
    }
    await Promise.all(nodes.map((node) => waitForPing(node, 10_000)));
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const live = (): Spawned[] => nodes.filter((node) => node.alive);
  const ask = async (...command: (string | number)[]): Promise<unknown> => {
    let last: unknown = new Error('no live node');
    for (const node of live()) {
      try {
        return await redisCommand(node.port, ...command);
      } catch (error) {
        last = error;
      }
    }
    throw last;
  };
  const clusterNodes = async (): Promise<ClusterNodeLine[]> =>
    parseClusterNodes(String(await ask('CLUSTER', 'NODES')));
  const byPort = (port: number): RedisNode => {
    const node = nodes.find((candidate) => candidate.port === port);
    if (node === undefined) throw new Error(`no node on port ${port}`);
    return node;
  };
  const masterLines = async (): Promise<ClusterNodeLine[]> =>
    (await clusterNodes()).filter(
      (line) => line.flags.includes('master') && !line.flags.includes('fail') && line.slots.length > 0,
    );
  const masterOf = async (slot: number): Promise<RedisNode> => {
    const line = (await masterLines()).find((candidate) =>
      candidate.slots.some(([first, last]) => slot >= first && slot <= last),
    );
    if (line === undefined) throw new Error(`no master serves slot ${slot}`);
    return byPort(line.port);
  };
  const waitHealthy = async (timeoutMs: number, slot?: number): Promise<void> => {
    await waitUntil(
      async () => {
        for (const node of live()) {
          const info = String(await redisCommand(node.port, 'CLUSTER', 'INFO'));
          if (!info.includes('cluster_state:ok')) return false;
          const replication = String(await redisCommand(node.port, 'INFO', 'replication'));
          if (replication.includes('role:slave') && !replication.includes('master_link_status:up'))
            return false;
        }
        if (slot !== undefined) return (await masterOf(slot)).alive;
        return true;
      },
      timeoutMs,
      'the cluster did not become healthy',
    );
  };
  try {
    await waitHealthy(20_000);
    // Every node knows all six, as masters and replicas.
    await waitUntil(
      async () => {
        for (const node of live()) {
          const lines = parseClusterNodes(String(await redisCommand(node.port, 'CLUSTER', 'NODES')));
          if (lines.length !== 6 || lines.filter((line) => line.flags.includes('master')).length !== 3)
            return false;
        }
        return true;
      },
      10_000,
      'the cluster nodes did not agree on 3 masters and 3 replicas',
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes,
    seeds: nodes.slice(0, 3).map((node) => node.url),
    slotOf: async (key) => Number(await ask('CLUSTER', 'KEYSLOT', key)),
    masterOf,
    masters: async () => (await masterLines()).map((line) => byPort(line.port)),
    clusterNodes,
    waitHealthy,
    stop,
  };
}

export interface PrivateSentinel {
  /** The sentinel's address for `redis.sentinel.sentinels`: `127.0.0.1:<port>`. */
  readonly sentinel: string;
  readonly name: string;
  readonly nodes: readonly RedisNode[];
  /** The master's port as the sentinel reports it. */
  masterPort(): Promise<number>;
  /** SENTINEL FAILOVER, then waits until the sentinel names the other node and it is a master. */
  failover(timeoutMs: number): Promise<{ from: number; to: number }>;
  stop(): Promise<void>;
}

/** A master, its replica and one sentinel watching them (quorum 1). */
export async function startRedisSentinel(name = 'gwmaster'): Promise<PrivateSentinel> {
  const directory = mkdtempSync(join(tmpdir(), 'gw-redis-sentinel-'));
  const [masterPort = 0, replicaPort = 0, sentinelPort = 0] = await freePorts(3);
  const processes: Spawned[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((node) => node.kill()));
    rmSync(directory, { recursive: true, force: true });
  };
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', directory];
  try {
    const master = spawnRedis(['--port', String(masterPort), ...common], masterPort);
    processes.push(master);
    const replica = spawnRedis(
      ['--port', String(replicaPort), ...common, '--replicaof', '127.0.0.1', String(masterPort)],
      replicaPort,
    );
    processes.push(replica);
    await Promise.all([waitForPing(master, 10_000), waitForPing(replica, 10_000)]);
    await waitUntil(
      async () =>
        String(await redisCommand(replicaPort, 'INFO', 'replication')).includes('master_link_status:up'),
      10_000,
      'the replica did not sync',
    );
    const configFile = join(directory, 'sentinel.conf');
    writeFileSync(
      configFile,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${directory}`,
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
        `sentinel down-after-milliseconds ${name} 2000`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    const sentinel = spawnRedis([configFile, '--sentinel'], sentinelPort);
    processes.push(sentinel);
    await waitForPing(sentinel, 10_000);
    // The sentinel learns of the replica from the master's INFO.
    await waitUntil(
      async () => {
        const replicas = (await redisCommand(sentinelPort, 'SENTINEL', 'REPLICAS', name)) as unknown[];
        return replicas.length === 1;
      },
      15_000,
      'the sentinel did not discover the replica',
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const masterPortNow = async (): Promise<number> => {
    const address = (await redisCommand(sentinelPort, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [
      string,
      string,
    ];
    return Number(address[1]);
  };
  return {
    sentinel: `127.0.0.1:${sentinelPort}`,
    name,
    nodes: processes.slice(0, 2),
    masterPort: masterPortNow,
    async failover(timeoutMs) {
      const from = await masterPortNow();
      const to = from === masterPort ? replicaPort : masterPort;
      // The sentinel refuses while it still waits for the replica's INFO ("NOGOODSLAVE"): retried.
      await waitUntil(
        async () => {
          await redisCommand(sentinelPort, 'SENTINEL', 'FAILOVER', name);
          return true;
        },
        timeoutMs,
        'SENTINEL FAILOVER was refused',
      );
      await waitUntil(
        async () =>
          (await masterPortNow()) === to &&
          String(await redisCommand(to, 'INFO', 'replication')).includes('role:master'),
        timeoutMs,
        'the sentinel did not fail over',
      );
      return { from, to };
    },
    stop,
  };
}
