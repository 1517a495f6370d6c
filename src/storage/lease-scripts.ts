import type { Redis } from "ioredis";

/**
 * The Lua scripts of the bot leases (see `LeaseStore`). A lease is a key holding `<instanceId>/<fence>` with a TTL;
 * `fence:{<bot>}` grows with every acquisition by anyone, so an unchanged fence proves nobody held the bot since.
 */
export const LEASE_SCRIPTS = {
  // KEYS: lease, fence. ARGV: instance id, TTL (ms). Returns {1, token} or {0, remaining TTL of the owner (ms), owner}.
  bhLeaseAcquire: {
    keys: 2,
    lua: `
local owner = redis.call('GET', KEYS[1])
if owner then return {0, redis.call('PTTL', KEYS[1]), owner} end
local token = ARGV[1] .. '/' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return {1, token}
`,
  },
  // KEYS: lease, fence. ARGV: token, TTL (ms), the token's fence number. Extends the lease; if it expired (Redis was
  // away or this process paused past the TTL) and nobody acquired the bot since (the fence did not move), takes it
  // back under the same token, so the work done under it commits. Returns 1, or 0 when another instance has it.
  bhLeaseRenew: {
    keys: 2,
    lua: `
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if owner == false and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`,
  },
  // KEYS: lease, fence. ARGV: the instance id of a holder known to be gone, this instance's id, TTL (ms). Takes the
  // lease over at once with a new fence if that holder still has it. Returns {1, token} or {0}.
  bhLeaseTakeOver: {
    keys: 2,
    lua: `
local owner = redis.call('GET', KEYS[1])
if not owner or string.sub(owner, 1, #ARGV[1] + 1) ~= ARGV[1] .. '/' then return {0} end
local token = ARGV[2] .. '/' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[3])
return {1, token}
`,
  },
  // KEYS: lease. ARGV: token, channel, message.
  bhLeaseRelease: {
    keys: 1,
    lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`,
  },
  // KEYS: instances, instance URLs, instances cut off from the Bot API. ARGV: instance id, TTL (ms), channel, this
  // instance's URL ('' = none), '1' when this instance cannot reach the Bot API. Scores are Redis' clock, so
  // instances need no common clock. Returns {live instances, of them cut off}.
  bhHeartbeat: {
    keys: 3,
    lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('HDEL', KEYS[2], unpack(dead))
  redis.call('HDEL', KEYS[3], unpack(dead))
end
local new = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[4]) end
if ARGV[5] == '1' then redis.call('HSET', KEYS[3], ARGV[1], now) else redis.call('HDEL', KEYS[3], ARGV[1]) end
if new == 1 then redis.call('PUBLISH', ARGV[3], 'joined ' .. ARGV[1]) end
return {redis.call('ZCARD', KEYS[1]), redis.call('HLEN', KEYS[3])}
`,
  },
} as const;

/** The client with the {@link LEASE_SCRIPTS} defined as commands. */
export type LeaseRedis = Redis & {
  bhLeaseAcquire(lease: string, fence: string, instance: string, ttlMs: number): Promise<[0 | 1, string | number, string?]>;
  bhLeaseRenew(lease: string, fence: string, token: string, ttlMs: number, fenceNumber: number): Promise<number>;
  bhLeaseTakeOver(lease: string, fence: string, gone: string, instance: string, ttlMs: number): Promise<[0] | [1, string]>;
  bhLeaseRelease(lease: string, token: string, channel: string, message: string): Promise<number>;
  bhHeartbeat(
    instances: string,
    urls: string,
    cutOff: string,
    instance: string,
    ttlMs: number,
    channel: string,
    url: string,
    isCutOff: 0 | 1,
  ): Promise<[number, number]>;
};

/** Defines the {@link LEASE_SCRIPTS} on `redis` (once per client). */
export function defineLeaseScripts(redis: Redis): LeaseRedis {
  for (const [name, { keys, lua }] of Object.entries(LEASE_SCRIPTS)) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: keys, lua });
  }
  return redis as LeaseRedis;
}
