import { isIPv4 } from 'node:net';
import type { GatewayConfig } from '../config/config.js';

/**
 * The warning for a /metrics anyone can read (issue 16, finding 13): served on the main port, without
 * a token, on an address other machines reach. Its series name every API key id and model in use.
 * Null when there is nothing to warn about.
 */
export function openMetricsWarning(config: GatewayConfig): string | null {
  const metrics = config.metrics;
  if (!metrics.enabled || metrics.tokenSha256 !== null || metrics.port !== null) return null;
  if (isLoopback(config.server.host)) return null;
  return `/metrics is served on ${config.server.host} without a token and lists every API key id: set metrics.token (e.g. \${METRICS_TOKEN}), metrics.port, or metrics.enabled: false`;
}

function isLoopback(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (name === 'localhost' || name === '::1' || name === '0:0:0:0:0:0:0:1') return true;
  return isIPv4(name) && name.startsWith('127.');
}
