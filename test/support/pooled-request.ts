/**
 * Requests through one keep-alive pool per test file, read whole: many concurrent requests reuse the
 * connections earlier ones opened, so that a round measures the gateway, not TCP handshakes.
 */
import { Agent, request } from 'undici';

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The body parsed as JSON, or null when it is not JSON. */
  json: unknown;
  /** performance.now() just before the request was sent. */
  sent: number;
  /** performance.now() when the whole answer had arrived. */
  at: number;
  /** Milliseconds from sending to the whole answer. */
  ms: number;
}

export interface SendOptions {
  token?: string;
  body?: unknown;
}

export interface PooledSender {
  readonly send: (
    base: string,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    options?: SendOptions,
  ) => Promise<Answer>;
  /** The pool itself, for a request the caller reads as it arrives (a stream). */
  readonly agent: Agent;
  readonly close: () => Promise<void>;
}

/** A sender whose requests fail after `timeoutMs` (a request that hangs fails the test). */
export function pooledSender(timeoutMs: number): PooledSender {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 300 });
  return {
    agent,
    async send(base, method, path, options = {}) {
      const headers: Record<string, string> = {};
      if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] = 'application/json';
      }
      const sent = performance.now();
      const response = await request(`${base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        dispatcher: agent,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.body.text();
      const at = performance.now();
      const flat: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
      return { status: response.statusCode, headers: flat, text, json, sent, at, ms: at - sent };
    },
    close: () => agent.close(),
  };
}
