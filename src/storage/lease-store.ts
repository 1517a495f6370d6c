import type { Redis } from "ioredis";
import type { KeyBuilder } from "./keys.js";
import { defineLeaseScripts, type LeaseRedis } from "./lease-scripts.js";
import { clientNames } from "./redis-client.js";

/**
 * Bot leases in Redis: at most one instance owns a bot at a time. A lease is a key holding `<instanceId>/<fence>`,
 * valid while its instance is registered: one heartbeat per instance (every third of the TTL) keeps all its leases,
 * however many. `fence` grows with every acquisition, so a write checked against the lease's value (see
 * `RedisJournal`) is refused once another instance took over. An instance whose registration ran out (dead, or
 * paused past the TTL) loses its leases to whoever takes them, and hears it on the channel. Releases and instances
 * joining or leaving are published on one channel, so waiting instances act at once instead of polling. The
 * scripts are in `lease-scripts.ts`.
 */
/** What {@link LeaseStore.acquire} found. */
export type Acquired = { readonly token: string } | { readonly token: undefined; /** The holder's token. */ readonly holder: string };

/** What one heartbeat found in the registry. */
export interface Registry {
  /** Instances sharing the bots (registered, not leaving). */
  readonly live: number;
  /** Of them, how many cannot reach the Bot API. */
  readonly cutOff: number;
  /** This instance's registration had run out (or is new): its leases may have been taken meanwhile. */
  readonly lapsed: boolean;
  /** Every registered instance, with the ms its registration has left. */
  readonly instances: ReadonlyMap<string, number>;
}

/** A lease event heard on the channel. */
export interface LeaseEvent {
  readonly kind: "released" | "joined" | "left" | "taken";
  /** The bot (`released`, `taken`) or the instance (`joined`, `left`). */
  readonly id: string;
  /** `taken`: the new holder's token. */
  readonly token?: string;
}

/** The instance id of a lease token (`<instanceId>/<fence>`). */
export function holderOf(token: string): string {
  return token.slice(0, token.lastIndexOf("/"));
}

/** The fence number of a lease token (`<instanceId>/<fence>`). */
export function fenceOf(token: string): number {
  return Number(token.slice(token.lastIndexOf("/") + 1));
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
      const [kind, id, token] = message.split(" ");
      if (id === undefined) return;
      if (kind === "released" || kind === "joined" || kind === "left") onEvent({ kind, id });
      else if (kind === "taken" && token !== undefined) onEvent({ kind, id, token });
    });
    await this.o.subscriber.subscribe(this.channel);
  }

  /**
   * Registers this instance as alive for one TTL (which keeps every lease it holds), and whether it can reach the
   * Bot API; `leaving`: it still holds leases while it drains, but takes no share of the bots.
   */
  async heartbeat(cutOff = false, leaving = false): Promise<Registry> {
    const { keys } = this.o;
    const [live, cut, lapsed, ...rest] = await this.redis.bhHeartbeat(
      keys.instances(),
      keys.instanceUrls(),
      keys.instancesCutOff(),
      keys.instancesLeaving(),
      this.o.instanceId,
      this.o.ttlMs,
      this.channel,
      this.o.url?.() ?? "",
      cutOff ? 1 : 0,
      leaving ? 1 : 0,
    );
    const instances = new Map<string, number>();
    for (let i = 0; i + 1 < rest.length; i += 2) instances.set(String(rest[i]), Number(rest[i + 1]));
    return { live: Number(live), cutOff: Number(cut), lapsed: Number(lapsed) === 1, instances };
  }

  /** The ms the registration of `instanceId` has left now, or -1 when it is not registered (dead or gone). */
  async registeredFor(instanceId: string): Promise<number> {
    return Number(await this.redis.bhInstanceLeft(this.o.keys.instances(), instanceId));
  }

  /** The HTTP base URL of the instance that owns `botId` now, if any. */
  async ownerUrl(botId: string): Promise<string | undefined> {
    // Two commands: the lease is in the bot's slot, the URLs in the registry's.
    const owner = await this.redis.get(this.o.keys.lease(botId));
    const instance = owner === null ? "" : holderOf(owner);
    if (instance === "") return undefined;
    return (await this.redis.hget(this.o.keys.instanceUrls(), instance)) ?? undefined;
  }

  /** Tells the others this instance is leaving: it takes no share from now on (its leases stay until released). */
  async leave(): Promise<void> {
    await this.heartbeat(false, true);
    await this.redis.publish(this.channel, `left ${this.o.instanceId}`);
  }

  /** Removes this instance from the registry, once it holds no lease. */
  async deregister(): Promise<void> {
    await this.forget(this.o.instanceId);
  }

  /** Takes the lease of `botId` if nobody holds it. */
  async acquire(botId: string): Promise<Acquired> {
    const [ok, value] = await this.redis.bhLeaseAcquire(this.o.keys.lease(botId), this.o.keys.fence(botId), this.o.instanceId);
    return ok === 1 ? { token: String(value) } : { token: undefined, holder: String(value) };
  }

  /**
   * After this instance's registration ran out: whether the lease is still ours (it holds our token, or nobody
   * acquired the bot since; then it is set again). `false` when another instance has it (or had it since).
   */
  async verify(botId: string, token: string): Promise<boolean> {
    return (await this.redis.bhLeaseVerify(this.o.keys.lease(botId), this.o.keys.fence(botId), token, fenceOf(token))) === 1;
  }

  /** Takes the lease, with a new fence, from `holder` (its token as read), known to be gone, if it still holds it. */
  async takeFrom(botId: string, holder: string): Promise<string | undefined> {
    const [ok, token] = await this.redis.bhLeaseTakeFrom(
      this.o.keys.lease(botId),
      this.o.keys.fence(botId),
      holder,
      this.o.instanceId,
      this.channel,
      botId,
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

  /** Removes an instance known to be gone from the registry, and tells the others. */
  async forget(instanceId: string): Promise<void> {
    const { keys } = this.o;
    await this.redis.zrem(keys.instances(), instanceId);
    await this.redis.hdel(keys.instanceUrls(), instanceId);
    await this.redis.hdel(keys.instancesCutOff(), instanceId);
    await this.redis.hdel(keys.instancesLeaving(), instanceId);
    await this.redis.publish(this.channel, `left ${instanceId}`);
  }

  /** Gives a lease up and announces it; `false` when it was no longer ours. */
  async release(botId: string, token: string): Promise<boolean> {
    return (await this.redis.bhLeaseRelease(this.o.keys.lease(botId), token, this.channel, `released ${botId}`)) === 1;
  }
}
