/**
 * The budget ledger and alert claims on a real three-master Redis Cluster (test/support/redis-cluster.ts):
 * every script's keys share one hash tag, so each runs on one slot, through the clients the gateway
 * uses (auto-pipelining on).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startRedisCluster, type PrivateRedisCluster } from '../../test/support/redis-cluster.js';
import { requireTool } from '../../test/support/system-tool.js';
import { createStateClient, type RedisClient } from '../state/redis/redis-client.js';
import { RedisAlertClaims } from './alerts.js';
import { describeLedgerContract } from './ledger-contract.js';
import { RedisBudgetLedger } from './redis-ledger.js';

const logger = pino({ level: 'silent' });
/** Needs redis-server and redis-cli: skipped without them, except under CI=true. */
const withoutRedis = requireTool('redis-server', 'redis-server') || requireTool('redis-cli', 'redis-tools');

let cluster: PrivateRedisCluster;
const clients: RedisClient[] = [];
let ledgers = 0;

function stateClient(): RedisClient {
  const made = createStateClient(
    {
      cluster: cluster.seeds.map((url) => ({ host: '127.0.0.1', port: Number(new URL(url).port) })),
      tls: false,
    },
    { logger, commandTimeoutMs: 2000, autoPipelining: true },
  );
  clients.push(made);
  return made;
}

before(async () => {
  if (withoutRedis !== false) return;
  cluster = await startRedisCluster();
  stateClient();
  stateClient();
  for (const client of clients) if (client.status !== 'ready') await once(client, 'ready');
});

after(async () => {
  if (withoutRedis !== false) return;
  for (const client of clients) client.disconnect();
  await cluster.stop();
});

describeLedgerContract('RedisBudgetLedger on a Redis Cluster', {
  skip: withoutRedis,
  ledgers: (options) => {
    const [one, two] = clients;
    assert.ok(one !== undefined && two !== undefined);
    const shared = { ...options, prefix: `gw-budget-${++ledgers}`, timeoutMs: () => 2000 };
    return Promise.resolve([new RedisBudgetLedger(one, shared), new RedisBudgetLedger(two, shared)]);
  },
});

describe('RedisAlertClaims on a Redis Cluster', { skip: withoutRedis }, () => {
  it('claims an alert once of two instances', async () => {
    const [one, two] = clients;
    assert.ok(one !== undefined && two !== undefined);
    const options = { prefix: 'gw-budget-alerts', logger, timeoutMs: () => 2000 };
    const claims = await Promise.all([
      new RedisAlertClaims(one, options).claim('key:a|usd:day:5|0|0.5', Date.now() + 60_000),
      new RedisAlertClaims(two, options).claim('key:a|usd:day:5|0|0.5', Date.now() + 60_000),
    ]);
    assert.deepEqual(claims.sort(), [false, true]);
  });
});
