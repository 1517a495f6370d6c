import { createHash } from "node:crypto";
import type { BotSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import { holderOf, type LeaseStore } from "../storage/lease-store.js";

/** What {@link LeaseTaker.acquire} found: the lease, or who holds it and for how long (ms) at least. */
export type Taken = { readonly token: string } | { readonly token: undefined; readonly holder: string; readonly heldForMs: number };

/**
 * How one instance takes leases: in its own rendezvous order (every instance prefers a different part of the
 * bots, so they rarely race for one); from a holder whose registration ran out; and at once from an earlier
 * process of this instance that has ended, instead of waiting out its registration.
 */
/** Leases tried at once while taking a share (each try is one round trip; a cold start takes thousands). */
const TAKES_AT_ONCE = 256;

export class LeaseTaker {
  /** Earlier processes of this instance, known to have ended. */
  private readonly gone = new Set<string>();
  /** Who holds the bots this instance could not take (instance ids), so a round does not ask again while it lives. */
  private readonly holders = new Map<string, string>();
  /** The registered instances and the ms their registration had left, as of the last heartbeat (and when). */
  private registered: { instances: ReadonlyMap<string, number>; at: number } = { instances: new Map(), at: 0 };
  /** Counts the releases heard, so a take that overlapped one does not remember a holder that just let go. */
  private releasesHeard = 0;

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

  /** `bots` in the order this instance tries to take them (each rank computed once: a cold start sorts thousands). */
  order(bots: readonly BotSettings[]): BotSettings[] {
    const ranked = bots.map((bot) => ({ bot, rank: this.rank(bot.id) }));
    ranked.sort((a, b) => (a.rank < b.rank ? 1 : a.rank > b.rank ? -1 : 0));
    return ranked.map((r) => r.bot);
  }

  /**
   * Takes the lease of `botId` if it is free, held by an instance that is no longer registered, by an ended earlier
   * process of this instance, or by this very instance (a lease it no longer tracks, say after a failed release).
   */
  async acquire(botId: string): Promise<Taken> {
    const got = await this.o.leases.acquire(botId);
    if (got.token !== undefined) return got;
    const holder = holderOf(got.holder);
    const earlier = this.gone.has(holder);
    const heldForMs = earlier || holder === this.o.instanceId ? -1 : await this.o.leases.registeredFor(holder);
    if (heldForMs >= 0) return { token: undefined, holder, heldForMs };
    const token = await this.o.leases.takeFrom(botId, got.holder);
    if (token === undefined) return { token: undefined, holder, heldForMs: 0 };
    this.o.log.info(
      { bot: botId, from: holder },
      earlier
        ? "took this bot's lease over from an earlier process of this instance"
        : holder === this.o.instanceId
          ? "took back a lease of this instance it no longer tracked"
          : "took over the lease of an instance that is gone",
    );
    return { token };
  }

  /** The registry as the last heartbeat found it. */
  registry(instances: ReadonlyMap<string, number>): void {
    this.registered = { instances, at: performance.now() };
  }

  /** A release was heard: the bot is free. */
  released(botId: string): void {
    this.holders.delete(botId);
    this.releasesHeard++;
  }

  /** Another instance took `botId`. */
  heldBy(botId: string, instanceId: string): void {
    this.holders.set(botId, instanceId);
  }

  /** The ms the registration of the instance holding `botId` has left, if another registered instance holds it. */
  heldElsewhere(botId: string): number | undefined {
    const holder = this.holders.get(botId);
    const left = holder === undefined ? undefined : this.registered.instances.get(holder);
    if (left === undefined) return undefined;
    const now = left - (performance.now() - this.registered.at);
    return now > 0 ? now : undefined;
  }

  /**
   * Tries to take up to `room` of `candidates` (free, or held by an instance that is gone), a batch at a time, in
   * this instance's order, skipping those known to be held by a registered instance; returns the soonest (ms) a
   * registration of an instance holding one of them runs out.
   */
  async takeSome(
    candidates: readonly BotSettings[],
    room: number,
    on: { leaving: () => boolean; taken: (bot: BotSettings, token: string) => void },
  ): Promise<number | undefined> {
    let soonest: number | undefined;
    const free: BotSettings[] = [];
    for (const bot of candidates) {
      const held = this.heldElsewhere(bot.id);
      if (held === undefined) free.push(bot);
      else soonest = Math.min(soonest ?? Infinity, held);
    }
    const ordered = this.order(free);
    for (let i = 0; i < ordered.length && room > 0 && !on.leaving();) {
      const batch = ordered.slice(i, i + Math.min(room, TAKES_AT_ONCE));
      i += batch.length;
      const releases = this.releasesHeard;
      const results = await Promise.all(batch.map(async (bot) => ({ bot, got: await this.acquire(bot.id) })));
      for (const { bot, got } of results) {
        if (got.token === undefined) {
          if (this.releasesHeard === releases) this.holders.set(bot.id, got.holder);
          if (got.heldForMs >= 0) soonest = Math.min(soonest ?? Infinity, got.heldForMs);
        } else if (on.leaving()) {
          // The shutdown began while this lease was being taken: give it straight back.
          await this.o.leases.release(bot.id, got.token).catch(() => false);
        } else {
          room--;
          this.holders.delete(bot.id);
          on.taken(bot, got.token);
        }
      }
    }
    return soonest;
  }
}
