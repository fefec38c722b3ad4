import { afterEach, beforeEach } from 'node:test';
import { standInConfig, startGateway, type RunningGateway } from './gateway-harness.js';
import { StandInUpstream } from './stand-in-upstream.js';

/**
 * A fresh stand-in and gateway for each test (registered with beforeEach/afterEach), so that no abort
 * or log line of one test leaks into the next; the backends take `backendOptions`, the gateway `server`.
 */
export function freshServers(
  backendOptions: Record<string, unknown> = {},
  server: Record<string, unknown> = {},
): { upstream: StandInUpstream; running: RunningGateway } {
  const servers = {} as { upstream: StandInUpstream; running: RunningGateway };
  beforeEach(async () => {
    servers.upstream = new StandInUpstream();
    await servers.upstream.start();
    const config = standInConfig(servers.upstream.url, backendOptions);
    servers.running = await startGateway({
      ...config,
      server: { ...(config['server'] as object), ...server },
    });
  });
  afterEach(async () => {
    await servers.running.stop();
    await servers.upstream.stop();
  });
  return servers;
}
