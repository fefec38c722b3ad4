import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { fetch } from 'undici';

export interface WebhookSenderOptions {
  /** alerts.webhook_url, read for each delivery; null: nothing is sent. */
  readonly url: () => string | null;
  /** alerts.secret, read for each delivery; null: sent unsigned. Never logged. */
  readonly secret: () => string | null;
  readonly logger: Logger;
  /** Deliveries waiting at most; beyond it a new one is dropped (logged). Default 1000. */
  readonly maxQueue?: number;
  /** Tries per delivery, the first included. Default 5. */
  readonly attempts?: number;
  /** Wait before the second try, doubled for each next one (with jitter), up to maxDelayMs. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Longest wait for one try's answer. Default 5 s. */
  readonly timeoutMs?: number;
}

/** X-Gateway-Signature's value for a raw body: `sha256=` and the hex HMAC-SHA256 with the secret. */
export function signatureOf(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Answers worth another try: the receiver was busy or failing, not refusing this body. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Posts JSON bodies to the alert webhook, signed, in the background: a bounded queue, one delivery at a
 * time, each tried up to `attempts` times with exponential backoff. Nothing here ever throws to, or
 * waits in, a request's path. Logs name the receiver's origin only (a webhook URL's path often holds a
 * token), and never the secret.
 */
export class WebhookSender {
  private readonly queue: string[] = [];
  private running: Promise<void> | null = null;
  private closed = false;
  private readonly idle = new Set<() => void>();

  constructor(private readonly options: WebhookSenderOptions) {}

  /** Queues a body for delivery; false when there is no webhook, the queue is full or it is closed. */
  send(body: unknown): boolean {
    if (this.closed || this.options.url() === null) return false;
    if (this.queue.length >= (this.options.maxQueue ?? 1000)) {
      this.options.logger.warn(
        { event: 'budget_webhook_dropped' },
        'alert webhook queue full: alert dropped',
      );
      return false;
    }
    this.queue.push(JSON.stringify(body));
    this.running ??= this.work();
    return true;
  }

  /** Resolves once every queued delivery has been made or given up on. */
  drained(): Promise<void> {
    if (this.running === null) return Promise.resolve();
    return new Promise((resolve) => this.idle.add(resolve));
  }

  /** Stops taking deliveries; the one under way finishes its current try. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private async work(): Promise<void> {
    for (let body = this.queue.shift(); body !== undefined; body = this.queue.shift()) {
      await this.deliver(body);
    }
    this.running = null;
    for (const resolve of this.idle) resolve();
    this.idle.clear();
  }

  private async deliver(body: string): Promise<void> {
    const attempts = this.options.attempts ?? 5;
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt++) {
      const url = this.options.url();
      if (url === null) return;
      const origin = originOf(url);
      let outcome: string;
      let again: boolean;
      try {
        const secret = this.options.secret();
        const response = await fetch(url, {
          method: 'POST',
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
          headers: {
            'content-type': 'application/json',
            'x-gateway-timestamp': String(Math.floor(Date.now() / 1000)),
            ...(secret === null ? {} : { 'x-gateway-signature': signatureOf(body, secret) }),
          },
        });
        await response.body?.cancel();
        if (response.status >= 200 && response.status < 300) return;
        outcome = `status ${response.status}`;
        again = retryable(response.status);
      } catch (error) {
        outcome = error instanceof Error ? error.message : String(error);
        again = true;
      }
      const last = !again || attempt === attempts;
      this.options.logger.warn(
        { event: 'budget_webhook_failed', origin, attempt, outcome, final: last },
        last ? 'alert webhook failed: alert not delivered' : 'alert webhook failed: retrying',
      );
      if (last) return;
      await sleep(this.delay(attempt));
    }
  }

  /** Exponential backoff with full jitter over the upper half, so retries of many instances spread. */
  private delay(attempt: number): number {
    const ceiling = Math.min(
      this.options.maxDelayMs ?? 30_000,
      (this.options.baseDelayMs ?? 500) * 2 ** (attempt - 1),
    );
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
