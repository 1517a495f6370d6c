import type { Redis } from "ioredis";
import { sleep } from "./backoff.js";

/**
 * KEYS[1] the bot's sorted set of sends (member: a send, score: its answer time in Redis' clock, or the moment it
 * stops counting if it is never answered); ARGV count, window ms, ms a send may stay unanswered, member.
 * Returns 0 when the send may go (it is added), else how many ms to wait before asking again.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local count, ms, open = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ms)
local n = redis.call('ZCARD', KEYS[1])
if n < count then
  redis.call('ZADD', KEYS[1], now + open, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], open + ms)
  return 0
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], n - count, n - count, 'WITHSCORES')[2])
if oldest > now then return -1 end
return math.max(1, oldest + ms - now)
`;

/**
 * KEYS[1] as above; ARGV member. Anchors a send at the moment its answer came (Redis' clock, rounded up where
 * ACQUIRE rounds down, so the whole milliseconds never shorten the window).
 */
const SETTLE = `
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) * 1000 + math.ceil(tonumber(t[2]) / 1000), ARGV[1])
return 0
`;

/** How long to wait before asking again when every slot is held by a send still waiting for its answer (ms). */
const POLL_MS = 10;
/** A send that is never answered (its process died) stops counting after this long (ms). */
const OPEN_MS = 60_000;
/** Redis answers slower than this (or not at all, while it is away) do not hold sends up (ms)... */
const REDIS_TIMEOUT_MS = 1_000;
/** ...and then Redis is left alone this long (ms), so an outage does not add REDIS_TIMEOUT_MS to every send. */
const AWAY_MS = 5_000;

type WindowRedis = Redis & {
  throttleAcquire(key: string, count: number, ms: number, open: number, member: string): Promise<number>;
  throttleSettle(key: string, member: string): Promise<number>;
};

/**
 * The bot-wide "N per second" kept in Redis for every host process that runs the bot, by the same rule as
 * RateWindow: a send holds a slot from the moment it leaves until its answer comes, in Redis' clock. While Redis
 * is away, sends go on under each process' own window. Bottleneck's clustering is not used: it spaces sends by a
 * fixed time plus a margin and queues each behind its Redis bookkeeping (about 100 ms per call at 30/s in
 * bench/throttle.mjs).
 */
export class ClusterWindow {
  private seq = 0;
  private awayUntil = 0;
  private readonly tag = `${process.pid}:${Math.random().toString(36).slice(2, 10)}`;

  /** `key` is the bot's sorted set; `connection` is owned by the caller (storage). */
  constructor(
    private readonly connection: Redis,
    private readonly key: string,
    private readonly count: number,
    private readonly ms: number,
  ) {}

  /** Sends `send` once the bot's window across processes has room, and anchors it when its answer comes. */
  async run<T>(send: () => Promise<T>): Promise<T> {
    const member = `${this.tag}:${++this.seq}`;
    let redis: WindowRedis | undefined;
    try {
      if (performance.now() < this.awayUntil) throw new Error("Redis is away");
      redis = this.redis();
      for (;;) {
        const wait = await timeout(redis.throttleAcquire(this.key, this.count, this.ms, OPEN_MS, member));
        if (wait === 0) break;
        await sleep(wait < 0 ? POLL_MS : wait);
      }
    } catch {
      // Redis is away: this process' own window still holds; the limit across processes is back with Redis.
      if (performance.now() >= this.awayUntil) this.awayUntil = performance.now() + AWAY_MS;
    }
    try {
      return await send();
    } finally {
      // Not awaited: the answer is not held up by the bookkeeping. Commands run in order on the connection, so
      // this also settles an acquire that timed out and ran late; a lost one keeps its slot until OPEN_MS.
      redis?.throttleSettle(this.key, member).catch(() => undefined);
    }
  }

  private redis(): WindowRedis {
    const redis = this.connection as WindowRedis;
    if (typeof redis.throttleAcquire !== "function") {
      redis.defineCommand("throttleAcquire", { numberOfKeys: 1, lua: ACQUIRE });
      redis.defineCommand("throttleSettle", { numberOfKeys: 1, lua: SETTLE });
    }
    return redis;
  }
}

function timeout<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("Redis did not answer in time")), REDIS_TIMEOUT_MS);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
