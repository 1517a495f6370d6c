import type { BotSettings, HostSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import type { KeyBuilder } from "../storage/keys.js";
import { LeaseStore } from "../storage/lease-store.js";
import type { RedisConnection } from "../storage/redis-connection.js";
import type { RuntimeObserver } from "../runtime/observer.js";
import type { BotRegistry } from "../runtime/registry.js";
import { Ownership } from "./ownership.js";
import type { BotApiReachability } from "./reachability.js";
import type { BotSet } from "./reload.js";

/** What {@link createOwnership} wires together. */
export interface LeasedBotsOptions {
  /** The lease settings and the drain deadline of a handover. */
  settings: Pick<HostSettings, "leases" | "shutdown">;
  /** The Redis connection owner: the leases get their own connections from it. */
  redis: RedisConnection;
  keys: KeyBuilder;
  registry: BotRegistry;
  /** The bots this instance may own: every enabled bot of the settings in force (reloads change them). */
  wanted: () => readonly BotSettings[];
  logger: Logger;
  observer: RuntimeObserver;
  /** This instance's HTTP base URL as the others reach it, once the HTTP server runs. */
  url: () => string | undefined;
  /** This process's id (`<name>#<pid>-<random>`, see `newInstanceId`) and the name a restart keeps. */
  instance: { id: string; name: string };
  /** Whether this instance reaches the Bot API, and a call to find out again. */
  reachability: BotApiReachability;
  probe: () => Promise<boolean>;
}

/**
 * This instance's {@link Ownership} of the bots when leases are on: every enabled bot, polling or webhook, is
 * run by the one instance holding its lease. A webhook bot's requests reach whichever instance the load
 * balancer picks; one that does not own the bot passes the request to the owner (`http/webhook-router.ts`).
 */
export function createOwnership(o: LeasedBotsOptions): Ownership {
  const instanceId = o.instance.id;
  const { ttlMs, balance } = o.settings.leases;
  const leases = new LeaseStore({
    redis: o.redis.dedicated("leases"),
    subscriber: o.redis.dedicated("events"),
    keys: o.keys,
    instanceId,
    ttlMs,
    url: o.url,
  });
  return new Ownership(
    {
      leases,
      registry: o.registry,
      wanted: o.wanted,
      ttlMs,
      balance,
      drainTimeoutMs: o.settings.shutdown.drainTimeoutMs,
      logger: o.logger,
      observer: o.observer,
      healthy: () => o.redis.health().ok,
      name: o.instance.name,
      reachability: o.reachability,
      probe: o.probe,
    },
    instanceId,
  );
}

/** What a reload changes: leased bots through the ownership (handed over, then taken by whoever has room). */
export function leasedBotSet(registry: BotRegistry, ownership: Ownership): BotSet {
  return {
    remove: async (id, drainMs) => (ownership.ownedIds().includes(id) ? ownership.remove(id) : registry.remove(id, drainMs)),
    // Every enabled bot is leased: new ones are taken by whichever instance has room.
    startAll: () => ownership.startAll(),
  };
}
