/**
 * A closed-loop HTTP/1.1 load generator that can move its load from one server to another every few
 * milliseconds, for measurements that interleave their targets finely.
 *
 * Why not autocannon for this: on this VM a server's speed swings by 20–30% from one second to the
 * next, so targets measured one after the other in rounds of seconds (autocannon opens its connections
 * for each run) differ by that much for no reason of their own. Here every server keeps its own
 * keep-alive connections open, and the load (a fixed number of requests in flight, each sent again as
 * soon as its answer is complete) moves between servers in slices of about 100 ms: every target is
 * measured at the same moments as the others, and the swings cancel out of the comparison.
 *
 * Each connection sends one prepared request and reads its answer (status line, headers, a body of
 * `content-length` bytes or chunked) before sending the next; an answer other than 200 fails the
 * measurement.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

export interface SliceResult {
  /** Answers completed in the slice. */
  readonly requests: number;
  /** From the first request sent to the last answer read (the last requests are waited for), in s. */
  readonly seconds: number;
  /** Each answer's time from request to complete answer, in ms. */
  readonly latencies: readonly number[];
  /** When each answer was complete, in ms from the slice's start. */
  readonly ends: readonly number[];
}

/**
 * One keep-alive connection that sends a request once the previous answer is complete. A server may
 * close an idle connection (its keep-alive timeout, which for a stopped server runs out the moment it is
 * continued): the next request opens a new one, and a request whose connection closed before any byte of
 * its answer arrived is sent once more on a new connection, as HTTP clients do.
 */
class Connection {
  private socket: Socket | null = null;
  private buffered: Buffer | null = null;
  /** Where the body of the answer being read starts, once its head is complete. */
  private bodyStart = -1;
  /** Bytes of the answer (head and body) when it has a content-length. */
  private answerBytes = -1;
  private request: Buffer | null = null;
  private resent = false;
  private onAnswer: ((error: Error | null) => void) | null = null;
  private lastError: Error | null = null;

  constructor(
    private readonly port: number,
    private readonly host: string,
  ) {}

  send(request: Buffer, done: (error: Error | null) => void): void {
    this.onAnswer = done;
    this.request = request;
    this.resent = false;
    this.write();
  }

  close(): void {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
  }

  private write(): void {
    if (this.socket === null) {
      const socket = connect(this.port, this.host);
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => {
        this.read(chunk);
      });
      socket.on('error', (error) => {
        this.lastError = error;
      });
      socket.on('close', () => {
        this.closed(socket);
      });
      this.socket = socket;
    }
    this.socket.write(this.request!);
  }

  private closed(socket: Socket): void {
    if (socket !== this.socket) return;
    this.socket = null;
    const received = this.buffered !== null;
    this.buffered = null;
    this.bodyStart = -1;
    this.answerBytes = -1;
    if (this.onAnswer === null) return;
    if (!received && !this.resent) {
      this.resent = true;
      this.write();
      return;
    }
    this.fail(
      new Error(
        `the connection closed during an answer${this.lastError ? `: ${this.lastError.message}` : ''}`,
      ),
    );
  }

  private fail(error: Error): void {
    const done = this.onAnswer;
    this.onAnswer = null;
    this.close();
    done?.(error);
  }

  private read(chunk: Buffer): void {
    this.buffered = this.buffered === null ? chunk : Buffer.concat([this.buffered, chunk]);
    if (this.bodyStart < 0) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buffered.toString('latin1', 0, end);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
      if (head.slice(9, 12) !== '200' || (length === null && !chunked)) {
        this.fail(new Error(`unexpected answer: ${head.split('\r\n')[0] ?? ''}`));
        return;
      }
      this.bodyStart = end + 4;
      this.answerBytes = length === null ? -1 : this.bodyStart + Number(length[1]);
    }
    const complete = this.answerBytes >= 0 ? this.answerBytes : chunkedEnd(this.buffered, this.bodyStart);
    if (complete < 0 || this.buffered.length < complete) return;
    if (this.buffered.length > complete) {
      this.fail(new Error('bytes after the answer: the server answered a request that was not sent'));
      return;
    }
    this.buffered = null;
    this.bodyStart = -1;
    this.answerBytes = -1;
    const done = this.onAnswer;
    this.onAnswer = null;
    done?.(null);
  }
}

/** Where a chunked body that starts at `start` ends (no trailers), or -1 while it is incomplete. */
function chunkedEnd(buffer: Buffer, start: number): number {
  let position = start;
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', position);
    if (lineEnd < 0) return -1;
    const size = Number.parseInt(buffer.toString('latin1', position, lineEnd), 16);
    if (size === 0) return lineEnd + 4;
    position = lineEnd + 2 + size + 2;
    if (position > buffer.length) return -1;
  }
}

/** `connections` open connections to one server, and the request they send. */
export class SlicedTarget {
  private readonly connections: Connection[];
  private readonly request: Buffer;

  constructor(
    url: string,
    connections: number,
    request: { path: string; headers: Record<string, string>; body: string },
  ) {
    const { hostname, port } = new URL(url);
    this.connections = Array.from({ length: connections }, () => new Connection(Number(port), hostname));
    const headers = Object.entries({
      host: `${hostname}:${port}`,
      'content-length': String(Buffer.byteLength(request.body)),
      ...request.headers,
    })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    this.request = Buffer.from(`POST ${request.path} HTTP/1.1\r\n${headers}\r\n${request.body}`);
  }

  /**
   * Keeps every connection busy for `milliseconds` (each sends its next request as soon as its answer is
   * complete), then waits for the requests in flight. Rejects on the first failed answer.
   */
  slice(milliseconds: number): Promise<SliceResult> {
    const latencies: number[] = [];
    const ends: number[] = [];
    const started = performance.now();
    const until = started + milliseconds;
    return new Promise((resolve, reject) => {
      let inFlight = 0;
      let failed = false;
      const next = (connection: Connection): void => {
        inFlight++;
        const sent = performance.now();
        connection.send(this.request, (error) => {
          inFlight--;
          if (failed) return;
          if (error !== null) {
            failed = true;
            reject(error);
            return;
          }
          const now = performance.now();
          latencies.push(now - sent);
          ends.push(now - started);
          if (now < until) next(connection);
          else if (inFlight === 0)
            resolve({ requests: latencies.length, seconds: (now - started) / 1000, latencies, ends });
        });
      };
      for (const connection of this.connections) next(connection);
    });
  }

  close(): void {
    for (const connection of this.connections) connection.close();
  }
}

/**
 * User + system CPU seconds of a process so far (/proc/PID/stat, clock ticks of 1/100 s), or of one of
 * its threads (/proc/PID/task/TID/stat; the main thread's id is the process's).
 */
export function cpuSeconds(pid: number | undefined, thread?: number): number {
  if (pid === undefined) return NaN;
  const stat = readFileSync(
    thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`,
    'utf8',
  );
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds of each thread of a process, summed by thread name (the main thread as `main`). */
export function threadTimes(pid: number | undefined): Map<string, number> {
  const times = new Map<string, number>();
  if (pid === undefined) return times;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name =
        Number(tid) === pid ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      times.set(name, (times.get(name) ?? 0) + cpuSeconds(pid, Number(tid)));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return times;
}

/** Adds each thread's CPU seconds since `before` (threadTimes) to `into`. */
export function addThreadTimes(
  into: Map<string, number>,
  pid: number | undefined,
  before: Map<string, number>,
): void {
  for (const [name, seconds] of threadTimes(pid))
    into.set(name, (into.get(name) ?? 0) + seconds - (before.get(name) ?? 0));
}

/** "main 141.2, request-log 14.0, …": CPU µs per request of each thread name, largest first. */
export function describeThreads(
  tallies: readonly { requests: number; byThread?: Map<string, number> }[],
): string {
  const threads = new Map<string, number>();
  let requests = 0;
  for (const tally of tallies) {
    requests += tally.requests;
    for (const [name, seconds] of tally.byThread ?? []) threads.set(name, (threads.get(name) ?? 0) + seconds);
  }
  return [...threads]
    .sort((a, b) => b[1] - a[1])
    .map(([name, seconds]) => `${name} ${((seconds / requests) * 1e6).toFixed(1)}`)
    .join(', ');
}
