import type { Redis } from "ioredis";
import type { KeyBuilder } from "./keys.js";
import { defineLeaseScripts, type LeaseRedis } from "./lease-scripts.js";
import { clientNames } from "./redis-client.js";

/**
 * Bot leases in Redis: at most one instance owns a bot at a time. A lease is a key holding
 * `<instanceId>/<fence>` with a TTL that its owner renews; `fence` grows with every acquisition, so a write
 * checked against the lease's value (see `RedisJournal`) is refused once another instance took over.
 * Releases and instances joining or leaving are published on one channel, so waiting instances act at once
 * instead of polling. The scripts are in `lease-scripts.ts`.
 */
/** What {@link LeaseStore.acquire} found. */
export type Acquired =
  | { readonly token: string }
  | { readonly token: undefined; readonly ownerTtlMs: number; /** The holder's instance id. */ readonly owner: string };

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
    this.redis = defineLeaseScripts(o.redis);
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

  /**
   * Records this instance as alive for one TTL, and whether it can reach the Bot API; returns how many instances
   * are alive and how many of those cannot reach the Bot API.
   */
  async heartbeat(cutOff = false): Promise<{ live: number; cutOff: number }> {
    const { keys } = this.o;
    const [live, cut] = await this.redis.bhHeartbeat(
      keys.instances(),
      keys.instanceUrls(),
      keys.instancesCutOff(),
      this.o.instanceId,
      this.o.ttlMs,
      this.channel,
      this.o.url?.() ?? "",
      cutOff ? 1 : 0,
    );
    return { live: Number(live), cutOff: Number(cut) };
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
    await this.redis.hdel(this.o.keys.instancesCutOff(), this.o.instanceId);
    await this.redis.publish(this.channel, `left ${this.o.instanceId}`);
  }

  /** Takes the lease of `botId` if nobody holds it. */
  async acquire(botId: string): Promise<Acquired> {
    const [ok, value, owner] = await this.redis.bhLeaseAcquire(
      this.o.keys.lease(botId),
      this.o.keys.fence(botId),
      this.o.instanceId,
      this.o.ttlMs,
    );
    if (ok === 1) return { token: String(value) };
    return { token: undefined, ownerTtlMs: Number(value), owner: (owner ?? "").slice(0, (owner ?? "").lastIndexOf("/")) };
  }

  /**
   * Extends a lease this instance holds, or takes it back under the same token if it expired and nobody acquired
   * the bot since; `false` when another instance has it (or had it since).
   */
  async renew(botId: string, token: string): Promise<boolean> {
    const fence = Number(token.slice(token.lastIndexOf("/") + 1));
    return (await this.redis.bhLeaseRenew(this.o.keys.lease(botId), this.o.keys.fence(botId), token, this.o.ttlMs, fence)) === 1;
  }

  /** Takes over at once, with a new fence, a lease still held by `gone` (an instance known to have ended). */
  async takeOver(botId: string, gone: string): Promise<string | undefined> {
    const [ok, token] = await this.redis.bhLeaseTakeOver(
      this.o.keys.lease(botId),
      this.o.keys.fence(botId),
      gone,
      this.o.instanceId,
      this.o.ttlMs,
    );
    return ok === 1 ? token : undefined;
  }

  /** The other live-looking instances of the registry whose id starts with `name#`: earlier processes of this one. */
  async earlier(name: string): Promise<string[]> {
    const ids = await this.redis.zrange(this.o.keys.instances(), 0, -1);
    return ids.filter((id) => id.startsWith(`${name}#`) && id !== this.o.instanceId);
  }

  /**
   * Whether `instanceId` still has a connection to Redis (every connection is named `bot-host/<instanceId>/...`):
   * the OS closes a process's sockets when it ends, even on SIGKILL, so a process with none is gone, while a paused
   * or busy one still has them. Undefined when Redis does not tell (CLIENT LIST not allowed).
   */
  async connected(instanceId: string): Promise<boolean | undefined> {
    try {
      return (await clientNames(this.redis)).some((n) => n.startsWith(`bot-host/${instanceId}/`));
    } catch {
      return undefined;
    }
  }

  /** Removes an instance known to be gone from the live ones, and tells the others. */
  async forget(instanceId: string): Promise<void> {
    await this.redis.zrem(this.o.keys.instances(), instanceId);
    await this.redis.hdel(this.o.keys.instanceUrls(), instanceId);
    await this.redis.hdel(this.o.keys.instancesCutOff(), instanceId);
    await this.redis.publish(this.channel, `left ${instanceId}`);
  }

  /** Gives a lease up and announces it; `false` when it was no longer ours. */
  async release(botId: string, token: string): Promise<boolean> {
    return (await this.redis.bhLeaseRelease(this.o.keys.lease(botId), token, this.channel, `released ${botId}`)) === 1;
  }
}
