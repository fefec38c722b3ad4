/**
 * OpenTelemetry traces, off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is
 * set. Off, nothing of the SDK is even loaded and a request costs one header check: a valid incoming
 * W3C `traceparent` (and `tracestate`) is passed on upstream unchanged, so the gateway does not break
 * the caller's trace. On, each request gets a server span (a child of the caller's span when it sent
 * `traceparent`) with children for authentication, the rate limit, the cache look-up and each upstream
 * attempt; the attempt's own context goes upstream in `traceparent`. Spans leave in batches over
 * OTLP/HTTP (JSON). Contexts are passed explicitly: no async hooks, no global state.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type * as OtelApi from '@opentelemetry/api';
import type { Attributes, Context, Span, SpanKind, TextMapPropagator } from '@opentelemetry/api';
import type { Logger } from 'pino';

const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;

/** One span of a request; ended once. */
export interface TraceSpan {
  setAttributes(attributes: Attributes): void;
  /** Marks the span failed (status ERROR, error.type). */
  fail(errorType: string, message?: string): void;
  end(): void;
  /** traceparent/tracestate to send upstream so that the upstream's spans are children of this one. */
  propagationHeaders(): Record<string, string>;
}

/** The trace of one request: its server span and a way to start children. */
export interface RequestTrace {
  readonly root: TraceSpan;
  child(name: string, attributes?: Attributes, kind?: 'client' | 'internal'): TraceSpan;
}

export interface Tracing {
  readonly enabled: boolean;
  /** The request's trace (null when tracing is off). */
  startRequest(headers: IncomingHttpHeaders, name: string, attributes: Attributes): RequestTrace | null;
  /** With tracing off: the caller's own traceparent/tracestate to pass on, or null. */
  passThrough(headers: IncomingHttpHeaders): Record<string, string> | null;
  shutdown(): Promise<void>;
}

/** W3C Trace Context §3.2: the shape, and neither version ff nor an all-zero trace id or parent id. */
function validTraceparent(value: string): boolean {
  return (
    TRACEPARENT.test(value) &&
    !value.startsWith('ff-') &&
    value.slice(3, 35) !== '0'.repeat(32) &&
    value.slice(36, 52) !== '0'.repeat(16)
  );
}

function passThrough(headers: IncomingHttpHeaders): Record<string, string> | null {
  const traceparent = headers['traceparent'];
  if (typeof traceparent !== 'string' || !validTraceparent(traceparent)) return null;
  const tracestate = headers['tracestate'];
  return typeof tracestate === 'string' && tracestate.length <= 512
    ? { traceparent, tracestate }
    : { traceparent };
}

export const NO_TRACING: Tracing = {
  enabled: false,
  startRequest: () => null,
  passThrough,
  shutdown: () => Promise.resolve(),
};

/** The OTLP/HTTP traces URL from the standard variables, or null when tracing is off. */
export function tracesEndpoint(env: NodeJS.ProcessEnv): string | null {
  const traces = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  if (traces !== undefined && traces !== '') return traces;
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  if (base === undefined || base === '') return null;
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/** Loads the SDK and starts exporting when the environment asks for it; NO_TRACING otherwise. */
export async function createTracing(env: NodeJS.ProcessEnv, logger: Logger): Promise<Tracing> {
  const url = tracesEndpoint(env);
  if (url === null || env['OTEL_SDK_DISABLED'] === 'true') return NO_TRACING;
  const [api, core, resources, sdk, exporter] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const delay = Number(env['OTEL_BSP_SCHEDULE_DELAY'] ?? '');
  const provider = new sdk.TracerProvider({
    resource: resources.resourceFromAttributes({
      'service.name': env['OTEL_SERVICE_NAME'] || 'ai-gateway',
    }),
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter: new exporter.OTLPTraceExporter({ url }),
        scheduledDelayMillis: Number.isFinite(delay) && delay > 0 ? delay : 1000,
      }),
    ],
  });
  const tracer = provider.getTracer('ai-gateway');
  const propagator = new core.W3CTraceContextPropagator();
  logger.info({ endpoint: url }, 'exporting traces over OTLP/HTTP');
  return {
    enabled: true,
    startRequest(headers, name, attributes) {
      const parent = propagator.extract(api.ROOT_CONTEXT, headers, api.defaultTextMapGetter);
      const root = tracer.startSpan(name, { kind: api.SpanKind.SERVER, attributes }, parent);
      const rootContext = api.trace.setSpan(api.ROOT_CONTEXT, root);
      return {
        root: wrap(api, propagator, root),
        child(childName, childAttributes, kind = 'internal') {
          const spanKind: SpanKind = kind === 'client' ? api.SpanKind.CLIENT : api.SpanKind.INTERNAL;
          const span = tracer.startSpan(
            childName,
            { kind: spanKind, ...(childAttributes === undefined ? {} : { attributes: childAttributes }) },
            rootContext,
          );
          return wrap(api, propagator, span);
        },
      };
    },
    passThrough,
    async shutdown() {
      await provider.shutdown();
    },
  };
}

function wrap(api: typeof OtelApi, propagator: TextMapPropagator, span: Span): TraceSpan {
  let ended = false;
  return {
    setAttributes(attributes) {
      span.setAttributes(attributes);
    },
    fail(errorType, message) {
      span.setAttribute('error.type', errorType);
      span.setStatus({ code: api.SpanStatusCode.ERROR, ...(message === undefined ? {} : { message }) });
    },
    end() {
      if (ended) return;
      ended = true;
      span.end();
    },
    propagationHeaders() {
      const carrier: Record<string, string> = {};
      const context: Context = api.trace.setSpan(api.ROOT_CONTEXT, span);
      propagator.inject(context, carrier, api.defaultTextMapSetter);
      return carrier;
    },
  };
}

/** Runs `operation` inside a child span (when tracing), ending it and marking failures. */
export async function inSpan<T>(
  trace: RequestTrace | null,
  name: string,
  operation: (span: TraceSpan | null) => Promise<T>,
): Promise<T> {
  if (trace === null) return operation(null);
  const span = trace.child(name);
  try {
    return await operation(span);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    span.fail(typeof code === 'string' ? code : 'error');
    throw error;
  } finally {
    span.end();
  }
}
