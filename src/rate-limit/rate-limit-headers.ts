import type { LimitStatus } from './limiter-store.js';
import type { AppliedLimit } from './policy.js';

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

/** RateLimit-Policy for a set of limits (it depends on the limits only, not on their state). */
export function rateLimitPolicy(limits: readonly AppliedLimit[]): string {
  return limits
    .map((limit) => `"${limit.name}";q=${limit.rate.limit};w=${limit.rate.windowSeconds}`)
    .join(', ');
}

/**
 * RateLimit-Policy and RateLimit as in draft-ietf-httpapi-ratelimit-headers-10 (one item per limit),
 * and OpenAI's x-ratelimit-* for the tightest requests and tokens limits. `policy` is the
 * RateLimit-Policy of the statuses' limits when the caller has it already.
 */
export function rateLimitHeaders(
  statuses: readonly LimitStatus[],
  policy = rateLimitPolicy(statuses.map((status) => status.limit)),
): Record<string, string> {
  if (statuses.length === 0) return {};
  let ratelimit = '';
  let requests: LimitStatus | null = null;
  let tokens: LimitStatus | null = null;
  for (const status of statuses) {
    if (ratelimit !== '') ratelimit += ', ';
    ratelimit += `"${status.limit.name}";r=${status.remaining};t=${Math.ceil(status.resetMs / 1000)}`;
    // The tightest of each kind: the fewest remaining, the first of equals.
    if (status.limit.kind === 'requests') {
      if (requests === null || status.remaining < requests.remaining) requests = status;
    } else if (tokens === null || status.remaining < tokens.remaining) {
      tokens = status;
    }
  }
  const headers: Record<string, string> = { 'ratelimit-policy': policy, ratelimit };
  if (requests !== null) {
    headers['x-ratelimit-limit-requests'] = String(requests.limit.rate.limit);
    headers['x-ratelimit-remaining-requests'] = String(requests.remaining);
    headers['x-ratelimit-reset-requests'] = openAiDuration(requests.resetMs);
  }
  if (tokens !== null) {
    headers['x-ratelimit-limit-tokens'] = String(tokens.limit.rate.limit);
    headers['x-ratelimit-remaining-tokens'] = String(tokens.remaining);
    headers['x-ratelimit-reset-tokens'] = openAiDuration(tokens.resetMs);
  }
  return headers;
}
