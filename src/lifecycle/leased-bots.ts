import type { BotConfig, Config } from "../config/index.js";
import type { Logger } from "../logging/logger.js";
import type { KeyBuilder } from "../storage/keys.js";
import { LeaseStore } from "../storage/lease-store.js";
import type { RedisStateStore } from "../storage/redis-state-store.js";
import type { RuntimeObserver } from "../runtime/observer.js";
import type { BotRegistry } from "../runtime/registry.js";
import { Ownership, newInstanceId } from "./ownership.js";
import type { BotSet } from "./reload.js";

/**
 * Whether `bot` is shared between instances by lease: with leases on, every enabled bot. A webhook bot's
 * requests reach whichever instance the load balancer picks; one that does not own the bot passes the request
 * to the owner (`http/webhook-forward.ts`).
 */
export function isLeased(config: Config, bot: BotConfig): boolean {
  return config.leases.enabled && bot.enabled;
}

/** What {@link createOwnership} wires together. */
export interface LeasedBotsOptions {
  config: Config;
  store: RedisStateStore;
  keys: KeyBuilder;
  registry: BotRegistry;
  /** The config in force (reloads change it). */
  current: () => Config;
  logger: Logger;
  observer: RuntimeObserver;
  /** This instance's HTTP base URL as the others reach it, once the HTTP server runs. */
  url: () => string | undefined;
}

/** This instance's {@link Ownership} of the leased bots, on the state store's own lease connections. */
export function createOwnership(o: LeasedBotsOptions): Ownership {
  const instanceId = newInstanceId();
  const ttlMs = o.config.leases.ttl * 1000;
  const leases = new LeaseStore({ redis: o.store.connection("leases"), subscriber: o.store.connection("lease-events"), keys: o.keys, instanceId, ttlMs, url: o.url });
  return new Ownership(
    {
      leases,
      registry: o.registry,
      wanted: () => {
        const config = o.current();
        return config.bots.filter((b) => isLeased(config, b));
      },
      ttlMs,
      balance: o.config.leases.balance,
      drainTimeoutMs: o.config.shutdown.drain_timeout * 1000,
      logger: o.logger,
      observer: o.observer,
      healthy: () => o.store.health().ok,
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
