import type { Redis } from "ioredis";

/**
 * The Lua scripts of the bot leases (see `LeaseStore`). A lease is a key holding `<instanceId>/<fence>`, without a
 * TTL: it is valid while its instance is registered (`instances:{registry}`, renewed by one heartbeat per instance).
 * `fence:{<bot>}` grows with every acquisition by anyone, so an unchanged fence proves nobody held the bot since.
 * The lease and its fence share the bot's slot, the registry has its own: no script spans both (Redis Cluster).
 */
export const LEASE_SCRIPTS = {
  // KEYS: lease, fence. ARGV: instance id. Takes a free lease. Returns {1, token} or {0, the holder's token}.
  bhLeaseAcquire: {
    keys: 2,
    lua: `
local owner = redis.call('GET', KEYS[1])
if owner then return {0, owner} end
local token = ARGV[1] .. '/' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token)
return {1, token}
`,
  },
  // KEYS: lease, fence. ARGV: the holder's token as read, this instance's id, channel, bot id. Takes the lease from a
  // holder known to be gone (unregistered, or an ended earlier process) if it still holds it, with a new fence, and
  // announces it (the old holder, should it come back, drops the bot at once). Returns {1, token} or {0, holder}.
  bhLeaseTakeFrom: {
    keys: 2,
    lua: `
local owner = redis.call('GET', KEYS[1])
if owner ~= ARGV[1] then return {0, owner or ''} end
local token = ARGV[2] .. '/' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token)
redis.call('PUBLISH', ARGV[3], 'taken ' .. ARGV[4] .. ' ' .. token)
return {1, token}
`,
  },
  // KEYS: lease, fence. ARGV: token, the token's fence number. After this instance's registration lapsed (a pause,
  // Redis away): the lease is still ours if it holds our token, or if it is gone and nobody acquired the bot since
  // (the fence did not move; then it is set again). Returns 1, or 0 when another instance has it (or had it since).
  bhLeaseVerify: {
    keys: 2,
    lua: `
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then return 1 end
if owner == false and redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
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
  // KEYS: instances, instance URLs, instances cut off from the Bot API, instances leaving. ARGV: instance id, TTL
  // (ms), channel, this instance's URL ('' = none), '1' when it cannot reach the Bot API, '1' when it is leaving
  // (its leases stay valid while it drains, but it takes no share). Scores are Redis' clock, so instances need no
  // common clock. Returns {instances sharing the bots, of them cut off, 1 when this instance's registration had
  // lapsed (or is new), then each registered instance and the ms its registration has left}.
  bhHeartbeat: {
    keys: 4,
    lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])
local lapsed = (not prev or tonumber(prev) <= now) and 1 or 0
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('HDEL', KEYS[2], unpack(dead))
  redis.call('HDEL', KEYS[3], unpack(dead))
  redis.call('HDEL', KEYS[4], unpack(dead))
end
local new = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[4]) end
if ARGV[5] == '1' and ARGV[6] ~= '1' then redis.call('HSET', KEYS[3], ARGV[1], now) else redis.call('HDEL', KEYS[3], ARGV[1]) end
if ARGV[6] == '1' then redis.call('HSET', KEYS[4], ARGV[1], now) end
if new == 1 and ARGV[6] ~= '1' then redis.call('PUBLISH', ARGV[3], 'joined ' .. ARGV[1]) end
local out = {redis.call('ZCARD', KEYS[1]) - redis.call('HLEN', KEYS[4]), redis.call('HLEN', KEYS[3]), lapsed}
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = tonumber(live[i + 1]) - now
end
return out
`,
  },
  // KEYS: instances. ARGV: instance id. Returns the ms its registration has left, or -1 when it is not registered.
  bhInstanceLeft: {
    keys: 1,
    lua: `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return -1 end
local t = redis.call('TIME')
local left = tonumber(score) - (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
if left <= 0 then return -1 end
return left
`,
  },
} as const;

/** The client with the {@link LEASE_SCRIPTS} defined as commands. */
export type LeaseRedis = Redis & {
  bhLeaseAcquire(lease: string, fence: string, instance: string): Promise<[0 | 1, string]>;
  bhLeaseTakeFrom(lease: string, fence: string, holder: string, instance: string, channel: string, botId: string): Promise<[0 | 1, string]>;
  bhLeaseVerify(lease: string, fence: string, token: string, fenceNumber: number): Promise<number>;
  bhLeaseRelease(lease: string, token: string, channel: string, message: string): Promise<number>;
  bhHeartbeat(
    instances: string,
    urls: string,
    cutOff: string,
    leaving: string,
    instance: string,
    ttlMs: number,
    channel: string,
    url: string,
    isCutOff: 0 | 1,
    isLeaving: 0 | 1,
  ): Promise<Array<number | string>>;
  bhInstanceLeft(instances: string, instance: string): Promise<number>;
};

/** Defines the {@link LEASE_SCRIPTS} on `redis` (once per client). */
export function defineLeaseScripts(redis: Redis): LeaseRedis {
  for (const [name, { keys, lua }] of Object.entries(LEASE_SCRIPTS)) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: keys, lua });
  }
  return redis as LeaseRedis;
}
