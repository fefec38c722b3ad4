/*
 * Every budget script starts alike: Redis's time (for the caller's RedisClock), then the deadline check.
 * Past its deadline a script changes nothing and returns { 'late', now }: the caller has given up and
 * decided without Redis, and a stalled server runs what was written to it when it resumes (issue 17).
 *
 * A counter is a hash { spent, reserved, allowed, recall, r:<reservation id> = amount held,
 * l:<reservation id> = 1 for a reservation that lapsed unsettled } and a sorted set of its reservation
 * ids by expiry (the caller's clock, as windows are). Expired reservations are released at the start of
 * each script that reads the counter (at most 1000 per call; more go at the next call), and marked
 * lapsed, so that a late settlement still counts, once. A settled reservation leaves nothing behind.
 *
 * An instance's allowance (src/budgets/allowances.ts) is a reservation like the others, with the id
 * `a:<instance>`; `allowed` sums the allowances held, `inuse` what the instances' requests hold of
 * them (as of each one's last sync; `q:a:<instance>` each one's part), and `recall` is when (Redis's
 * time, ms) a reservation was last refused that would have fitted without them. An allowance that
 * lapses (its instance died) is released as any reservation, without a lapsed mark: nothing settles it
 * later. What requests hold, for a status: reserved − allowed + inuse (shown()).
 */
export const PRELUDE = `
local time = redis.call('TIME')
local rnow = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local deadline = tonumber(ARGV[1])
if deadline > 0 and rnow > deadline then return { 'late', rnow } end
local function purge(hash, held, now)
  local expired = redis.call('ZRANGEBYSCORE', held, '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(expired) do
    local amount = tonumber(redis.call('HGET', hash, 'r:' .. id) or '0')
    if amount ~= 0 then redis.call('HINCRBY', hash, 'reserved', -amount) end
    redis.call('HDEL', hash, 'r:' .. id)
    if string.sub(id, 1, 2) == 'a:' then
      if amount ~= 0 then redis.call('HINCRBY', hash, 'allowed', -amount) end
      local using = tonumber(redis.call('HGET', hash, 'q:' .. id) or '0')
      if using ~= 0 then
        redis.call('HINCRBY', hash, 'inuse', -using)
        redis.call('HDEL', hash, 'q:' .. id)
      end
    else
      redis.call('HSET', hash, 'l:' .. id, 1)
    end
    redis.call('ZREM', held, id)
  end
end
local function read(hash)
  local values = redis.call('HMGET', hash, 'spent', 'reserved', 'allowed')
  return tonumber(values[1] or '0'), tonumber(values[2] or '0'), tonumber(values[3] or '0')
end
local function shown(hash)
  local values = redis.call('HMGET', hash, 'spent', 'reserved', 'allowed', 'inuse')
  local reserved = tonumber(values[2] or '0') - tonumber(values[3] or '0') + tonumber(values[4] or '0')
  return tonumber(values[1] or '0'), reserved
end
`;
