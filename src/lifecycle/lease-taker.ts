import { createHash } from "node:crypto";
import type { BotSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import type { Acquired, LeaseStore } from "../storage/lease-store.js";

/**
 * How one instance takes leases: in its own rendezvous order (every instance prefers a different part of the
 * bots, so they rarely race for one), and at once from an earlier process of this instance that has ended,
 * instead of waiting out its leases.
 */
export class LeaseTaker {
  /** Earlier processes of this instance, known to have ended. */
  private readonly gone = new Set<string>();

  constructor(private readonly o: { leases: LeaseStore; instanceId: string; name: string; log: Logger }) {}

  /**
   * An earlier process of this instance (same name) that has no connection to Redis any more has ended: nobody
   * renews its leases. It is forgotten, and its leases are taken over at once. A paused or merely slow one still
   * has its connections, and is waited for as any other instance.
   */
  async findEnded(): Promise<void> {
    for (const id of await this.o.leases.earlier(this.o.name)) {
      if ((await this.o.leases.connected(id)) !== false) continue;
      this.gone.add(id);
      await this.o.leases.forget(id);
      this.o.log.info({ earlier: id }, "an earlier process of this instance has ended: taking its leases over at once");
    }
  }

  /** This instance's preference for a bot: the higher, the sooner it tries to take it and the later it hands it over. */
  rank(botId: string): string {
    return createHash("sha1").update(`${this.o.instanceId}\n${botId}`).digest("hex");
  }

  /** `bots` in the order this instance tries to take them. */
  order(bots: readonly BotSettings[]): BotSettings[] {
    return [...bots].sort((a, b) => this.rank(b.id).localeCompare(this.rank(a.id)));
  }

  /** Takes the lease of `botId` if it is free, or held by an ended earlier process of this instance. */
  async acquire(botId: string): Promise<Acquired> {
    const got = await this.o.leases.acquire(botId);
    if (got.token !== undefined || !this.gone.has(got.owner)) return got;
    const token = await this.o.leases.takeOver(botId, got.owner);
    if (token === undefined) return got;
    this.o.log.info({ bot: botId, earlier: got.owner }, "took this bot's lease over from an earlier process of this instance");
    return { token };
  }
}
