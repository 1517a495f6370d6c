import type { Redis } from "ioredis";
import type { KeyBuilder } from "./keys.js";

/**
 * Bot leases in Redis: at most one instance owns a bot at a time. A lease is a key holding
 * `<instanceId>/<fence>` with a TTL that its owner renews; `fence` grows with every acquisition, so a write
 * checked against the lease's value (see `RedisJournal`) is refused once another instance took over.
 * Releases and instances joining or leaving are published on one channel, so waiting instances act at once
 * instead of polling.
 */
const SCRIPTS = {
  // KEYS: lease, fence. ARGV: instance id, TTL (ms). Returns {1, token} or {0, remaining TTL of the owner (ms)}.
  bhLeaseAcquire: {
    keys: 2,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('PTTL', KEYS[1])} end
local token = ARGV[1] .. '/' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return {1, token}
`,
  },
  // KEYS: lease. ARGV: token, TTL (ms).
  bhLeaseRenew: {
    keys: 1,
    lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
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
  // KEYS: instances, instance URLs. ARGV: instance id, TTL (ms), channel, this instance's URL ('' = none).
  // Scores are Redis' clock, so instances need no common clock.
  bhHeartbeat: {
    keys: 2,
    lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('HDEL', KEYS[2], unpack(dead))
end
local new = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[4]) end
if new == 1 then redis.call('PUBLISH', ARGV[3], 'joined ' .. ARGV[1]) end
return redis.call('ZCARD', KEYS[1])
`,
  },
} as const;

type LeaseRedis = Redis & {
  bhLeaseAcquire(lease: string, fence: string, instance: string, ttlMs: number): Promise<[0 | 1, string | number]>;
  bhLeaseRenew(lease: string, token: string, ttlMs: number): Promise<number>;
  bhLeaseRelease(lease: string, token: string, channel: string, message: string): Promise<number>;
  bhHeartbeat(instances: string, urls: string, instance: string, ttlMs: number, channel: string, url: string): Promise<number>;
};

/** What {@link LeaseStore.acquire} found. */
export type Acquired = { readonly token: string } | { readonly token: undefined; readonly ownerTtlMs: number };

/** A lease event heard on the channel. */
export interface LeaseEvent {
  readonly kind: "released" | "joined" | "left";
  /** The bot (`released`) or the instance (`joined`, `left`). */
  readonly id: string;
}

/** Options of {@link LeaseStore}. */
export interface LeaseStoreOptions {
  /** A connection for lease commands (owned by the `RedisConnection`). */
  redis: Redis;
  /** A connection of its own for the subscription (owned by the `RedisConnection`). */
  subscriber: Redis;
  keys: KeyBuilder;
  instanceId: string;
  ttlMs: number;
  /** This instance's HTTP base URL as other instances reach it (for webhook forwarding), if it serves HTTP. */
  url?: () => string | undefined;
}

/** The lease commands of one instance; see the module comment. */
export class LeaseStore {
  private readonly redis: LeaseRedis;
  private readonly channel: string;

  constructor(private readonly o: LeaseStoreOptions) {
    this.redis = o.redis as LeaseRedis;
    for (const [name, { keys, lua }] of Object.entries(SCRIPTS)) {
      if (!(name in this.redis)) this.redis.defineCommand(name, { numberOfKeys: keys, lua });
    }
    this.channel = o.keys.leaseChannel();
  }

  /** Subscribes to lease events; `onEvent` is called for every one, own ones included. */
  async subscribe(onEvent: (event: LeaseEvent) => void): Promise<void> {
    this.o.subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const [kind, id] = message.split(" ");
      if ((kind === "released" || kind === "joined" || kind === "left") && id !== undefined) onEvent({ kind, id });
    });
    await this.o.subscriber.subscribe(this.channel);
  }

  /** Records this instance as alive for one TTL; returns how many instances are alive. */
  heartbeat(): Promise<number> {
    const { keys } = this.o;
    return this.redis.bhHeartbeat(
      keys.instances(),
      keys.instanceUrls(),
      this.o.instanceId,
      this.o.ttlMs,
      this.channel,
      this.o.url?.() ?? "",
    );
  }

  /** The HTTP base URL of the instance that owns `botId` now, if any. */
  async ownerUrl(botId: string): Promise<string | undefined> {
    // Two commands: the lease is in the bot's slot, the URLs in the registry's.
    const owner = await this.redis.get(this.o.keys.lease(botId));
    const instance = owner?.slice(0, owner.lastIndexOf("/"));
    if (instance === undefined || instance === "") return undefined;
    return (await this.redis.hget(this.o.keys.instanceUrls(), instance)) ?? undefined;
  }

  /** Removes this instance from the live ones (its leases stay until released) and tells the others. */
  async leave(): Promise<void> {
    await this.redis.zrem(this.o.keys.instances(), this.o.instanceId);
    await this.redis.hdel(this.o.keys.instanceUrls(), this.o.instanceId);
    await this.redis.publish(this.channel, `left ${this.o.instanceId}`);
  }

  /** Takes the lease of `botId` if nobody holds it. */
  async acquire(botId: string): Promise<Acquired> {
    const [ok, value] = await this.redis.bhLeaseAcquire(
      this.o.keys.lease(botId),
      this.o.keys.fence(botId),
      this.o.instanceId,
      this.o.ttlMs,
    );
    return ok === 1 ? { token: String(value) } : { token: undefined, ownerTtlMs: Number(value) };
  }

  /** Extends a lease this instance holds; `false` when it is no longer ours. */
  async renew(botId: string, token: string): Promise<boolean> {
    return (await this.redis.bhLeaseRenew(this.o.keys.lease(botId), token, this.o.ttlMs)) === 1;
  }

  /** Gives a lease up and announces it; `false` when it was no longer ours. */
  async release(botId: string, token: string): Promise<boolean> {
    return (await this.redis.bhLeaseRelease(this.o.keys.lease(botId), token, this.channel, `released ${botId}`)) === 1;
  }
}
