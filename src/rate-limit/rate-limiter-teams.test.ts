/** The team's rate limit as a third policy beside the key's and the route's (issue 20), in process and in Redis. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { startRedisServer, type PrivateRedis } from '../../test/support/redis-server.js';
import { requireTool } from '../../test/support/system-tool.js';
import type { KeyRecord } from '../auth/key-record.js';
import type { TeamRecord } from '../auth/team-record.js';
import type { RateLimitPolicyConfig } from '../config/schema.js';
import { RateLimitExceededError } from '../errors/errors.js';
import { createRedisClient } from '../state/redis/redis-client.js';
import { RateLimiter, teamLimits } from './rate-limiter.js';

const needsRedis = { skip: requireTool('redis-server', 'redis-server') };
const logger = pino({ level: 'silent' });

let count = 0;
function key(team: string | null, rateLimit: RateLimitPolicyConfig | null = null): KeyRecord {
  count++;
  return {
    id: `k${count}`,
    name: `k${count}`,
    sha256: '0'.repeat(64),
    createdAt: null,
    expiresAt: null,
    revokedAt: null,
    models: null,
    rateLimit,
    metadata: {},
    team,
    priority: 100,
    maxConcurrency: null,
    budgets: [],
    source: 'store',
  };
}

function team(rateLimit: RateLimitPolicyConfig | null): TeamRecord {
  count++;
  return {
    id: `team${count}`,
    name: `team ${count}`,
    models: null,
    rateLimit,
    budgets: [],
    maxConcurrency: null,
    metadata: {},
    createdAt: null,
    source: 'store',
  };
}

async function refused(promise: Promise<unknown>): Promise<RateLimitExceededError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RateLimitExceededError, String(error));
    return error;
  }
  assert.fail('expected a 429');
}

describe('teamLimits', () => {
  it('names the policies team-requests and team-tokens, with the unit when a kind has several rates', () => {
    const limits = teamLimits('research', { requests: '600/minute', tokens: ['1000/minute', '100000/day'] });
    assert.deepEqual(
      limits.map((limit) => [limit.name, limit.scope, limit.subject]),
      [
        ['team-requests', 'team:requests:600/minute', 'team research'],
        ['team-tokens-minute', 'team:tokens:1000/minute', 'team research'],
        ['team-tokens-day', 'team:tokens:100000/day', 'team research'],
      ],
    );
    assert.deepEqual(teamLimits('research', null), []);
  });
});

function cases(name: string, redisOf: () => Redis | null): void {
  describe(`RateLimiter with teams, ${name}`, () => {
    const limiter = (): RateLimiter =>
      new RateLimiter(
        { default: null, onStoreError: 'closed', storeTimeoutMs: 1000, defaultCompletionTokens: 16 },
        redisOf(),
        logger,
      );

    it("counts the team's limit for all its keys together, and names the team when it refuses", async () => {
      const research = team({ requests: '3/hour' });
      const rateLimiter = limiter();
      const a = key(research.id);
      const b = key(research.id);
      await rateLimiter.acquire({ key: a, team: research, route: null, tokens: null });
      await rateLimiter.acquire({ key: a, team: research, route: null, tokens: null });
      const third = await rateLimiter.acquire({ key: b, team: research, route: null, tokens: null });
      assert.equal(third.headers['x-ratelimit-remaining-requests'], '0');
      const error = await refused(rateLimiter.acquire({ key: b, team: research, route: null, tokens: null }));
      assert.match(error.message, /Rate limit of 3 requests per hour exceeded for team team\d+/);
      // A key outside the team is not concerned.
      await rateLimiter.acquire({ key: key(null), team: null, route: null, tokens: null });
    });

    it("applies the key's own limit inside the team, and shows the tightest of both in the headers", async () => {
      const research = team({ requests: '10/hour' });
      const rateLimiter = limiter();
      const tight = key(research.id, { requests: '2/hour' });
      const first = await rateLimiter.acquire({ key: tight, team: research, route: null, tokens: null });
      assert.equal(first.headers['ratelimit-policy'], '"requests";q=2;w=3600, "team-requests";q=10;w=3600');
      assert.equal(first.headers['x-ratelimit-limit-requests'], '2');
      assert.equal(first.headers['x-ratelimit-remaining-requests'], '1');
      assert.match(first.headers['ratelimit'] ?? '', /"team-requests";r=9;/);
      await rateLimiter.acquire({ key: tight, team: research, route: null, tokens: null });
      const error = await refused(
        rateLimiter.acquire({ key: tight, team: research, route: null, tokens: null }),
      );
      assert.match(error.message, /for key k\d+$/);
      // The refused request charged nothing: the team's count is 2 of 10.
      const other = await rateLimiter.acquire({
        key: key(research.id),
        team: research,
        route: null,
        tokens: null,
      });
      assert.equal(other.headers['x-ratelimit-remaining-requests'], '7');
    });

    it("settles the team's token limit with the tokens really used", async () => {
      const research = team({ tokens: '100/hour' });
      const rateLimiter = limiter();
      const member = key(research.id);
      const grant = await rateLimiter.acquire({ key: member, team: research, route: null, tokens: () => 80 });
      assert.equal(grant.countsTokens, true);
      await refused(rateLimiter.acquire({ key: member, team: research, route: null, tokens: () => 30 }));
      grant.settle(10);
      await rateLimiter.flush();
      const after = await rateLimiter.acquire({ key: member, team: research, route: null, tokens: () => 30 });
      assert.equal(after.headers['x-ratelimit-remaining-tokens'], '60');
    });

    it('a changed team record (a new rate limit) applies from the next request', async () => {
      const before = team({ requests: '1/hour' });
      const rateLimiter = limiter();
      const member = key(before.id);
      await rateLimiter.acquire({ key: member, team: before, route: null, tokens: null });
      await refused(rateLimiter.acquire({ key: member, team: before, route: null, tokens: null }));
      const raised: TeamRecord = { ...before, rateLimit: { requests: '5/hour' } };
      const grant = await rateLimiter.acquire({ key: member, team: raised, route: null, tokens: null });
      assert.equal(grant.headers['ratelimit-policy'], '"team-requests";q=5;w=3600');
    });

    it('a team without a rate limit adds no limit and no header', async () => {
      const rateLimiter = limiter();
      const grant = await rateLimiter.acquire({ key: key('x'), team: team(null), route: null, tokens: null });
      assert.deepEqual(grant.headers, {});
    });
  });
}

cases('in process', () => null);

describe('in Redis', needsRedis, () => {
  let server: PrivateRedis;
  let redis: Redis;
  before(async () => {
    server = await startRedisServer();
    redis = createRedisClient({ url: server.url, logger, commandTimeoutMs: 1000 });
    if (redis.status !== 'ready') await once(redis, 'ready');
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  cases('shared', () => redis);

  it("keeps the team's and its keys' counters under the team's hash tag (one Cluster slot per request)", async () => {
    const rateLimiter = new RateLimiter(
      { default: null, onStoreError: 'closed', storeTimeoutMs: 1000, defaultCompletionTokens: 16 },
      redis,
      logger,
    );
    const research = team({ requests: '5/minute' });
    const member = key(research.id, { requests: '5/minute' });
    await rateLimiter.acquire({ key: member, team: research, route: null, tokens: null });
    const names = (await redis.keys(`gw-rl:*${research.id}*`)).sort();
    assert.deepEqual(names, [
      `gw-rl:{team:${research.id}}:key:${member.id}:key:requests:5/minute`,
      `gw-rl:{team:${research.id}}:team:requests:5/minute`,
    ]);
    for (const name of names) assert.ok((await redis.pttl(name)) > 0, `${name} has a TTL`);
  });
});
