import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-client.js';

/**
 * A Lua script sent as EVALSHA, and as EVAL (which also loads it) only when the server does not know it
 * yet: a new server, a restarted one, a replica just promoted by a failover.
 *
 * Not ioredis' defineCommand: with auto-pipelining, a Cluster client files a defined command under the
 * slot of its first argument (the number of keys, not a key), so that scripts of different slots end up
 * in one pipeline, which ioredis then refuses ("All keys in the pipeline should belong to the same
 * slots allocation group"). EVALSHA is a command ioredis knows the keys of: it is routed, and
 * pipelined, by the slot of its keys.
 */
export class LuaScript {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}
