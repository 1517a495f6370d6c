import type { Redis } from "ioredis";

/**
 * The Lua scripts of the update journal (see `RedisJournal`): each touches the keys of one bot only,
 * all under the bot's hash tag, so it runs on one slot of a cluster.
 */
// The journal's writes are Lua scripts rather than MULTI blocks: a script is one command, so ioredis'
// auto-pipelining sends the commits of every update finishing in the same tick in one socket write, and it
// is just as atomic. A script stops at its first failing command, so each writes the state first and drops
// the journal entry last: a failure leaves the update journaled, to be handled again, never lost.
// With a fence token (this instance holds the bot's lease), a write is refused whole unless the lease still
// holds that token, or the lease expired and nobody acquired the bot since (the fence counter still ends the
// token): a commit queued through a Redis outage lands before the instance has renewed the lapsed lease, and is
// refused once another instance took the bot.
const fence = (token: string, lease: string, counter: string): string =>
  `if ${token} ~= '' then local o = redis.call('GET', ${lease}) if o ~= ${token} and not (o == false and redis.call('GET', ${counter}) == string.match(${token}, '/(%d+)$')) then return redis.error_reply('BOTHOST_FENCED the lease is held by another instance') end end`;

export const SCRIPTS = {
  // KEYS: done set, journal, lease, fence counter. ARGV: update id, update JSON, fence token. Handle an update
  // only if it was not finished recently (done set) and is not in flight (journal hash).
  bhClaim: {
    keys: 4,
    lua: `
${fence("ARGV[3]", "KEYS[3]", "KEYS[4]")}
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
return redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
`,
  },
  // KEYS: journal, watermark, lease, fence counter. ARGV: watermark TTL (s), last update id, fence token, then
  // id/JSON pairs.
  bhAppend: {
    keys: 4,
    lua: `
${fence("ARGV[3]", "KEYS[3]", "KEYS[4]")}
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[1])
return 1
`,
  },
  // KEYS: journal, done set, lease, fence counter, attempts, then the state keys to write. ARGV: update id, state
  // TTL (ms, 0 = none), '1' to remember the id in the done set, how many ids the done set keeps, fence token, then
  // one value per state key (the serialized value, or '' to delete the key; a stored value is never '', it is JSON).
  bhComplete: {
    lua: `
${fence("ARGV[5]", "KEYS[3]", "KEYS[4]")}
local ttl = ARGV[2]
for i = 6, #KEYS do
  local v = ARGV[i]
  if v == '' then redis.call('DEL', KEYS[i])
  elseif ttl == '0' then redis.call('SET', KEYS[i], v)
  else redis.call('SET', KEYS[i], v, 'PX', ttl) end
end
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[4]) - 1)
end
redis.call('HDEL', KEYS[5], ARGV[1], 'e:' .. ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`,
  },
  // KEYS: journal, attempts, dead letters, lease, fence counter, audience, then (when ARGV[7] records the update)
  // the watermark ('a') or the done set ('c'), then optionally a state key to read. ARGV: update id, max attempts,
  // fence token, now (ms), the error to record when none is known, a private chat to record in the audience
  // ('' = none), how to record the update first ('' = it is journaled already; 'a' as bhAppend does for a batch
  // of one; 'c' as bhClaim does), its JSON, the watermark TTL (s). Counts a start (and records the chat), or
  // (after max attempts) moves the update to the dead letters. Returns {1, attempt, value of the state key or
  // false, 1 if the chat joined the audience}, {0, record JSON, update JSON}, or {2} for a claimed redelivery.
  bhBegin: {
    lua: `
${fence("ARGV[3]", "KEYS[4]", "KEYS[5]")}
local read = 7
if ARGV[7] == 'a' then
  read = 8
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[8])
  redis.call('SET', KEYS[7], ARGV[1], 'EX', ARGV[9])
elseif ARGV[7] == 'c' then
  read = 8
  if redis.call('ZSCORE', KEYS[7], ARGV[1]) or redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[8]) == 0 then return {2} end
end
local n = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if n >= tonumber(ARGV[2]) then
  local update = redis.call('HGET', KEYS[1], ARGV[1])
  if update then
    local err = redis.call('HGET', KEYS[2], 'e:' .. ARGV[1]) or ARGV[5]
    local record = cjson.encode({ attempts = n, reason = 'crashed', error = err, at = tonumber(ARGV[4]) })
    redis.call('HSET', KEYS[3], ARGV[1], record, 'u:' .. ARGV[1], update)
    redis.call('HDEL', KEYS[2], ARGV[1], 'e:' .. ARGV[1])
    redis.call('HDEL', KEYS[1], ARGV[1])
    return {0, record, update}
  end
end
redis.call('HSET', KEYS[2], ARGV[1], n + 1)
local joined = 0
if ARGV[6] ~= '' then joined = redis.call('ZADD', KEYS[6], ARGV[4], ARGV[6]) end
if #KEYS >= read then return {1, n + 1, redis.call('GET', KEYS[read]), joined} end
return {1, n + 1, false, joined}
`,
  },
  // KEYS: journal, attempts, dead letters, lease, fence counter. ARGV: update id, reason, error, now (ms), fence
  // token. Moves an unfinished update to the dead letters; returns {record JSON, update JSON}, or false when it is
  // not journaled.
  bhPark: {
    keys: 5,
    lua: `
${fence("ARGV[5]", "KEYS[4]", "KEYS[5]")}
local update = redis.call('HGET', KEYS[1], ARGV[1])
if not update then return false end
local n = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local record = cjson.encode({ attempts = n, reason = ARGV[2], error = ARGV[3], at = tonumber(ARGV[4]) })
redis.call('HSET', KEYS[3], ARGV[1], record, 'u:' .. ARGV[1], update)
redis.call('HDEL', KEYS[2], ARGV[1], 'e:' .. ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return {record, update}
`,
  },
  // KEYS: dead letters, journal, attempts. ARGV: update id, attempts to record. Puts a dead letter back into the
  // journal with that many attempts made; returns 0 when there is no such letter.
  bhRetry: {
    keys: 3,
    lua: `
local update = redis.call('HGET', KEYS[1], 'u:' .. ARGV[1])
if not update then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], update)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[1], 'u:' .. ARGV[1])
return 1
`,
  },
} as const;

export type ScriptArg = string | number;
/** The client with the {@link SCRIPTS} defined as commands (EVALSHA, falling back to EVAL once). */
export type ScriptedRedis = Redis & { [name in keyof typeof SCRIPTS]: (...args: ScriptArg[]) => Promise<unknown> };

/** Defines the {@link SCRIPTS} as commands of `redis` (once per client) and returns it typed with them. */
export function defineScripts(redis: Redis): ScriptedRedis {
  // A script without a fixed key count takes the count as its first argument.
  for (const [name, script] of Object.entries(SCRIPTS)) {
    if (name in redis) continue;
    redis.defineCommand(name, "keys" in script ? { numberOfKeys: script.keys, lua: script.lua } : { lua: script.lua });
  }
  return redis as ScriptedRedis;
}
