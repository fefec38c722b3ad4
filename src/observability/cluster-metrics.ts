import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const REQUEST = 'gw:metrics-request';
const RESULT = 'gw:metrics-result';
const TIMEOUT_MS = 5_000;

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}

interface MetricsResult {
  type: typeof RESULT;
  id: number;
  text?: string;
  error?: string;
}

/**
 * With server.workers > 1, each worker answers /metrics with the sum over every worker: it asks the
 * primary, which gathers each worker's registry through prom-client's AggregatorRegistry (counters and
 * histograms summed; gauges by their own aggregator) and sends the text back.
 */
export function servePrimaryMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    const request = message as Partial<MetricsRequest> | null;
    if (request?.type !== REQUEST || typeof request.id !== 'number') return;
    const id = request.id;
    aggregator.clusterMetrics().then(
      (text) => {
        worker.send({ type: RESULT, id, text } satisfies MetricsResult);
      },
      (error: unknown) => {
        worker.send({ type: RESULT, id, error: (error as Error).message } satisfies MetricsResult);
      },
    );
  });
}

/** In a worker: answers the primary's collection requests, and returns how to ask for the cluster's text. */
export function workerMetrics(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's listener that answers the primary's requests.
  new AggregatorRegistry();
  let next = 0;
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  process.on('message', (message: unknown) => {
    const result = message as Partial<MetricsResult> | null;
    if (result?.type !== RESULT || typeof result.id !== 'number') return;
    const waiter = pending.get(result.id);
    if (waiter === undefined) return;
    pending.delete(result.id);
    if (typeof result.text === 'string') waiter.resolve(result.text);
    else waiter.reject(new Error(result.error ?? 'no metrics from the primary'));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('the primary did not answer for metrics'));
      }, TIMEOUT_MS);
      pending.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      process.send?.({ type: REQUEST, id } satisfies MetricsRequest);
    });
}
