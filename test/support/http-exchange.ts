/** One HTTP exchange read whole (fetch), keeping everything the client saw: status, headers and body. */

export interface Exchange {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
}

export interface ExchangeOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** Sent as it is when a string, else as JSON (with Content-Type: application/json). */
  readonly body?: unknown;
  readonly timeoutMs?: number;
}

export async function exchange(url: string, options: ExchangeOptions = {}): Promise<Exchange> {
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
  }
  const response = await fetch(url, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
  });
  const text = await response.text();
  return { method, url, status: response.status, headers: Object.fromEntries(response.headers), text };
}

/** The exchange as one string (status line, headers, body), for grepping. */
export function exchangeText(item: Exchange): string {
  return `${item.method} ${item.url} -> ${item.status}\n${JSON.stringify(item.headers)}\n${item.text}`;
}
