import type { LimitStatus } from './limiter-store.js';

/** "6m0s", "1.5s", "20ms": the duration format of OpenAI's x-ratelimit-reset-* headers. */
export function openAiDuration(milliseconds: number): string {
  if (milliseconds < 1000) return `${Math.max(0, Math.ceil(milliseconds))}ms`;
  const totalSeconds = milliseconds / 1000;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = Math.round((totalSeconds % 60) * 1000) / 1000;
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
