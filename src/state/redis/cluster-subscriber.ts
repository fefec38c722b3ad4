import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisNodeAddress } from '../../config/config.js';

/**
 * What the key store needs of a pub/sub connection: 'ready' when it can subscribe (again), 'close'
 * when it lost its connection (messages may be missed from then on), 'message' for each message. An
 * ioredis Redis is one; ClusterChangeSubscriber is one for a cluster.
 */
export interface ChangeSubscriber {
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready' | 'close', listener: () => void): unknown;
  subscribe(channel: string): Promise<unknown>;
  disconnect(): void;
}

/**
 * A subscriber for a Redis Cluster. Classic PUBLISH is broadcast over the cluster bus to every node,
 * so one connection to any node hears every message. When that node goes away (killed, failed over,
 * partitioned from us) the connection is not retried: the next node of the list is tried after a
 * short delay, and the same 'close' … 'ready' events as a reconnecting Redis tell the key store to
 * subscribe again and to forget what it may have missed. (ioredis' own cluster subscriber moves to
 * another node too, but silently: a key revoked meanwhile would stay cached.)
 */
export class ClusterChangeSubscriber extends EventEmitter implements ChangeSubscriber {
  private connection: Redis | null = null;
  private attempts = 0;
  private next: number;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** The nodes to choose from, asked again at every (re)connection: the cluster client's view. */
    private readonly nodes: () => readonly RedisNodeAddress[],
    private readonly options: RedisOptions,
  ) {
    super();
    // Instances start on different nodes, so that they do not all move at once.
    this.next = Math.floor(Math.random() * 1024);
    this.connect();
  }

  /** The node it listens on now (for tests and logs); null between two connections. */
  get node(): RedisNodeAddress | null {
    const connection = this.connection;
    if (connection === null) return null;
    return { host: connection.options.host ?? '', port: connection.options.port ?? 0 };
  }

  subscribe(channel: string): Promise<unknown> {
    if (this.connection === null) return Promise.reject(new Error('not connected to any cluster node'));
    return this.connection.subscribe(channel);
  }

  disconnect(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const connection = this.connection;
    this.connection = null;
    connection?.disconnect();
  }

  private connect(): void {
    const nodes = this.nodes();
    const node = nodes[this.next++ % Math.max(1, nodes.length)];
    if (node === undefined) {
      this.retryLater();
      return;
    }
    const connection = new Redis({
      ...this.options,
      host: node.host,
      port: node.port,
      // Not retried: another node is chosen instead.
      retryStrategy: () => null,
      autoResubscribe: false,
    });
    this.connection = connection;
    connection.on('error', (error: Error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
    connection.on('message', (channel: string, message: string) => {
      this.emit('message', channel, message);
    });
    connection.on('ready', () => {
      this.attempts = 0;
      this.emit('ready');
    });
    connection.on('close', () => {
      if (this.connection === connection) this.emit('close');
    });
    connection.once('end', () => {
      if (this.connection !== connection) return;
      this.connection = null;
      this.retryLater();
    });
  }

  private retryLater(): void {
    if (this.stopped) return;
    const delay = Math.min(this.attempts++ * 100, 2000);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }
}
