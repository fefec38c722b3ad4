/**
 * A local OTLP/HTTP trace receiver: POST /v1/traces with a JSON ExportTraceServiceRequest (optionally
 * gzip-compressed) is recorded and answered 200 `{}`. Listens on 127.0.0.1, port 0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One span as the OTLP JSON encoding carries it, its attributes flattened to a record. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** '' (or absent on the wire) for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message?: string };
  readonly serviceName: string | null;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
  status?: { code?: number; message?: string };
}
interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

function valueOf(value: OtlpValue): string | number | boolean {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  return JSON.stringify(value);
}

function attributesOf(list: OtlpAttribute[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const attribute of list ?? []) out[attribute.key] = valueOf(attribute.value);
  return out;
}

export class OtlpReceiver {
  /** Every request received, whatever its path (a tracing-off test expects none). */
  readonly requests: { method: string; path: string; contentType: string }[] = [];
  /** The decoded bodies of POST /v1/traces, as text (for grepping). */
  readonly bodies: string[] = [];
  readonly spans: ReceivedSpan[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
        this.requests.push({
          method: request.method ?? '',
          path,
          contentType: request.headers['content-type'] ?? '',
        });
        let raw = Buffer.concat(chunks);
        if (request.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
        if (request.method !== 'POST' || path !== '/v1/traces') {
          response.writeHead(404).end();
          return;
        }
        const text = raw.toString('utf8');
        this.bodies.push(text);
        try {
          this.record(JSON.parse(text) as OtlpRequest);
        } catch {
          response.writeHead(400, { 'content-type': 'application/json' }).end('{}');
          return;
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  private record(body: OtlpRequest): void {
    for (const resourceSpans of body.resourceSpans ?? []) {
      const resource = attributesOf(resourceSpans.resource?.attributes);
      const serviceName = typeof resource['service.name'] === 'string' ? resource['service.name'] : null;
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ?? '',
            name: span.name,
            kind: span.kind,
            attributes: attributesOf(span.attributes),
            status: {
              code: span.status?.code ?? 0,
              ...(span.status?.message === undefined ? {} : { message: span.status.message }),
            },
            serviceName,
          });
        }
      }
    }
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.url;
  }

  /** The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT wants it (the exporter appends /v1/traces). */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Polls (every 20 ms, at most timeoutMs) until `select` returns spans satisfying `done`. */
  async waitForSpans(
    description: string,
    select: (spans: readonly ReceivedSpan[]) => ReceivedSpan[],
    done: (spans: ReceivedSpan[]) => boolean,
    timeoutMs = 5000,
  ): Promise<ReceivedSpan[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const selected = select(this.spans);
      if (done(selected)) return selected;
      if (Date.now() > deadline) {
        throw new Error(
          `OTLP receiver: timed out waiting for ${description}; have ${JSON.stringify(selected.map((span) => span.name))}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
