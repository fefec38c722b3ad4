/**
 * A TCP proxy on 127.0.0.1, port 0, in front of a server (PostgreSQL in the request-log tests) that can
 * be told to stall: while stalled it accepts connections and reads what clients send but forwards
 * nothing either way, as a database that hangs does (the client sees no error, only silence). resume()
 * forwards what waited, in order.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class StallingProxy {
  private server: Server | null = null;
  private stalled = false;
  private readonly sockets = new Set<Socket>();
  private readonly resumers = new Set<() => void>();
  port = 0;
  /** Connections accepted so far. */
  accepted = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<number> {
    const server = createServer((client) => {
      this.accepted++;
      const upstream = connect(this.targetPort, this.targetHost);
      this.sockets.add(client).add(upstream);
      const pipe = (from: Socket, to: Socket): void => {
        const held: Buffer[] = [];
        const flush = (): void => {
          for (const chunk of held.splice(0)) to.write(chunk);
        };
        this.resumers.add(flush);
        from.on('data', (chunk: Buffer) => {
          if (this.stalled) held.push(chunk);
          else to.write(chunk);
        });
        from.on('close', () => {
          this.resumers.delete(flush);
          to.destroy();
        });
        from.on('error', () => undefined);
      };
      pipe(client, upstream);
      pipe(upstream, client);
      for (const socket of [client, upstream])
        socket.on('close', () => {
          this.sockets.delete(socket);
        });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  stall(): void {
    this.stalled = true;
  }

  resume(): void {
    this.stalled = false;
    for (const flush of this.resumers) flush();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      if (this.server === null) resolve();
      else this.server.close(() => resolve());
    });
  }
}
