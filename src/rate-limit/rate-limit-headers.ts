import type { LimitStatus } from './limiter-store.js';

/** "6m0s", "1.5s", "20ms": the duration format of OpenAI's x-ratelimit-reset-* headers. */
export function openAiDuration(milliseconds: number): string {
  // Whole milliseconds first, so that rounding carries into the next unit (never "1000ms" or "1m60s").
  const whole = Math.max(0, milliseconds < 1000 ? Math.ceil(milliseconds) : Math.round(milliseconds));
  if (whole < 1000) return `${whole}ms`;
  const hours = Math.floor(whole / 3_600_000);
  const minutes = Math.floor((whole % 3_600_000) / 60_000);
  const seconds = (whole % 60_000) / 1000;
  return `${hours > 0 ? `${hours}h` : ''}${hours > 0 || minutes > 0 ? `${minutes}m` : ''}${seconds}s`;
}

/**
 * RateLimit-Policy and RateLimit as in draft-ietf-httpapi-ratelimit-headers-10 (one item per limit),
 * and OpenAI's x-ratelimit-* for the tightest requests and tokens limits.
 */
export function rateLimitHeaders(statuses: readonly LimitStatus[]): Record<string, string> {
  if (statuses.length === 0) return {};
  const headers: Record<string, string> = {
    'ratelimit-policy': statuses
      .map(
        (status) =>
          `"${status.limit.name}";q=${status.limit.rate.limit};w=${status.limit.rate.windowSeconds}`,
      )
      .join(', '),
    ratelimit: statuses
      .map((status) => `"${status.limit.name}";r=${status.remaining};t=${Math.ceil(status.resetMs / 1000)}`)
      .join(', '),
  };
  for (const kind of ['requests', 'tokens'] as const) {
    const tightest = statuses
      .filter((status) => status.limit.kind === kind)
      .sort((a, b) => a.remaining - b.remaining)[0];
    if (tightest === undefined) continue;
    headers[`x-ratelimit-limit-${kind}`] = String(tightest.limit.rate.limit);
    headers[`x-ratelimit-remaining-${kind}`] = String(tightest.remaining);
    headers[`x-ratelimit-reset-${kind}`] = openAiDuration(tightest.resetMs);
  }
  return headers;
}
