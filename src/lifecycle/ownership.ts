import type { BotSettings } from "../config/settings.js";
import { ErrorCodes } from "../errors.js";
import type { Logger } from "../logging/logger.js";
import { fenceOf, holderOf, type LeaseEvent, type LeaseStore, type Registry } from "../storage/lease-store.js";
import type { BotRegistry } from "../runtime/registry.js";
import type { RuntimeObserver } from "../runtime/observer.js";
import type { BotSet } from "./reload.js";
import { HeldLease, LeaseClock, keepLeases } from "./held-lease.js";
import { LeaseTaker } from "./lease-taker.js";
import type { BotApiReachability } from "./reachability.js";

/** Options of {@link Ownership}. */
export interface OwnershipOptions {
  leases: LeaseStore;
  registry: BotRegistry;
  /** The bots this instance may own (every enabled bot), as in the settings now in force. */
  wanted: () => readonly BotSettings[];
  ttlMs: number;
  /** Share the bots evenly between the live instances (else each takes what is free). */
  balance: boolean;
  drainTimeoutMs: number;
  logger: Logger;
  observer: RuntimeObserver;
  /** Whether Redis answers now: while it does not, a shutdown does not wait on lease commands (the registration runs out). */
  healthy: () => boolean;
  /** The part of the instance id that a restart of this process keeps (see `newInstanceId`). */
  name: string;
  /** Whether this instance reaches the Bot API (fed by its bots' calls). */
  reachability: BotApiReachability;
  /** One call to the Bot API through this instance's transport: `true` when Telegram answered. */
  probe: () => Promise<boolean>;
}

/** At most this many bots are handed over at once when the instances rebalance. */
const HANDOVERS_AT_ONCE = 2;

/**
 * This instance's share of the bots when several instances run the same bots.yaml on one Redis. Each bot is
 * run by the one instance holding its lease ({@link LeaseStore}); this component takes free leases up to its
 * fair share (`ceil(bots / live instances)`), keeps them all with one heartbeat every third of the TTL, hands
 * bots over gracefully (drain, confirm the offset, release) when it holds more than its share or stops, and drops
 * a bot at once when its lease was found taken. A lease whose heartbeat is overdue (a pause, a Redis outage) holds
 * its bot's new work until Redis answers: the fence decides. Every bot goes through the same `BotRunner` handle as
 * a shutdown or a reload.
 */
export class Ownership implements BotSet {
  private readonly owned = new Map<string, HeldLease>();
  private readonly clock: LeaseClock;
  /** Leases handed over whose release did not answer: released again each round (nobody else can take them). */
  private readonly unreleased = new Map<string, HeldLease>();
  /** This instance's share as of the last round (undefined until the first round decided it). */
  private share: number | undefined;
  private readonly taker: LeaseTaker;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  /** Leaving: no more taking or handing over, only the heartbeat until every lease is released. */
  private leaving = false;
  private closed = false;
  private failingSince: number | undefined;
  /** First start attempts of bots taken and not yet settled (the host's start waits for those of its first round). */
  private readonly starting = new Set<Promise<unknown>>();
  /** Whether "all bots are up" was logged since the share was last incomplete. */
  private complete = false;

  constructor(
    private readonly o: OwnershipOptions,
    readonly instanceId: string,
  ) {
    this.log = o.logger.child({ component: "leases", instance: instanceId });
    this.taker = new LeaseTaker({ leases: o.leases, instanceId, name: o.name, log: this.log });
    this.clock = new LeaseClock(this.validity());
  }

  /**
   * Subscribes to lease events, finds earlier processes of this instance (same name) that have ended, and takes
   * this instance's first share: the leases an ended predecessor held at once, the rest as usual.
   */
  async start(): Promise<void> {
    await this.o.leases.subscribe((e) => this.onEvent(e));
    await this.taker
      .findEnded()
      .catch((err: unknown) =>
        this.log.warn(
          { err },
          "could not look for earlier processes of this instance; their leases are taken when their registration runs out",
        ),
      );
    await this.tick();
    await Promise.all(this.starting);
    this.complete = this.runsAll();
  }

  /** Whether this instance runs every leased bot, all of them running. */
  private runsAll(): boolean {
    const wanted = this.o.wanted();
    return wanted.length > 0 && wanted.every((b) => this.owned.has(b.id) && this.o.registry.get(b.id)?.running === true);
  }

  /**
   * Whether this instance serves its part: it holds its share (as of the last round), or every bot it does not
   * hold is known to be held by another registered instance. False until the first round decided the share.
   */
  serving(): boolean {
    if (this.share === undefined) return false;
    if (this.owned.size >= this.share) return true;
    return this.o.wanted().every((b) => this.owned.has(b.id) || this.taker.heldElsewhere(b.id) !== undefined);
  }

  /** The bots this instance owns now (being handed over included). */
  ownedIds(): string[] {
    return [...this.owned.keys()];
  }

  /** The HTTP base URL of the instance owning `botId` now, if any (for webhook forwarding). */
  ownerUrl(botId: string): Promise<string | undefined> {
    return this.o.leases.ownerUrl(botId);
  }

  /** The leased bots owned by other instances (or by nobody, for a moment). */
  standbyIds(): string[] {
    return this.o
      .wanted()
      .map((b) => b.id)
      .filter((id) => !this.owned.has(id));
  }

  private onEvent(e: LeaseEvent): void {
    if (e.kind === "joined" && e.id === this.instanceId) return;
    if (e.kind === "released") {
      this.taker.released(e.id);
    }
    if (e.kind === "taken" && e.token !== undefined) {
      const b = this.owned.get(e.id);
      if (b !== undefined && fenceOf(e.token) > b.fence) this.lose(e.id, b, "taken over by another instance");
      if (holderOf(e.token) !== this.instanceId) this.taker.heldBy(e.id, holderOf(e.token));
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  /** One round: the heartbeat (which keeps every lease), drop what was lost, then take or hand over bots toward the fair share. */
  tick(): Promise<void> {
    if (this.ticking !== undefined) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = this.round()
      .catch((err: unknown) => this.onRedisError(err))
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.schedule(0);
        }
      });
    return this.ticking;
  }

  private async round(): Promise<void> {
    if (this.closed) return;
    const renewEvery = this.o.ttlMs / 3;
    if (this.leaving) {
      await this.keepAlive(true);
      await this.releaseUnreleased();
      this.schedule(renewEvery);
      return;
    }
    if (this.o.reachability.cutOff && (await this.o.probe())) this.o.reachability.reached();
    const registry = await this.keepAlive(false);
    await this.releaseUnreleased();
    if (this.failingSince !== undefined) {
      this.log.info("Redis answers the lease commands again");
      this.failingSince = undefined;
    }
    const { givingUp, sharers } = this.o.reachability.decide(registry, this.log, this.owned.size);
    const wanted = this.o.wanted();
    const target = givingUp ? 0 : this.o.balance ? Math.ceil(wanted.length / sharers) : wanted.length;
    const kept = [...this.owned.values()].filter((b) => b.handover === undefined).length;
    this.share = target;
    let next = renewEvery;
    if (kept < target) {
      const soonest = await this.take(wanted, target - kept);
      if (soonest !== undefined) next = Math.min(next, soonest + 20);
    } else if (kept > target) {
      this.handOverSome(kept - target, givingUp);
    }
    this.schedule(next);
  }

  /** One heartbeat for every lease held (see {@link keepLeases}); then drops the bots whose lease a write found lost. */
  private async keepAlive(leaving: boolean): Promise<Registry> {
    const registry = await keepLeases({
      leases: this.o.leases,
      clock: this.clock,
      owned: this.owned,
      cutOff: !leaving && this.o.reachability.cutOff,
      leaving,
      lose: (id, b) => this.lose(id, b, "taken over by another instance"),
      log: this.log,
    });
    this.taker.registry(registry.instances);
    for (const s of this.o.registry.statuses()) {
      const b = this.owned.get(s.id);
      if (b !== undefined && s.state === "failed" && s.problem?.code === ErrorCodes.LEASE_LOST) this.lose(s.id, b, "lost while running");
    }
    return registry;
  }

  /** How long after a heartbeat was sent the leases are surely still ours: the TTL less a margin for clock drift. */
  private validity(): number {
    return this.o.ttlMs - Math.min(1_000, this.o.ttlMs / 5);
  }

  /** Takes up to `room` leases of the bots wanted and not held here; returns when to try again at the latest (ms). */
  private take(wanted: readonly BotSettings[], room: number): Promise<number | undefined> {
    const candidates = wanted.filter((b) => !this.owned.has(b.id) && !this.unreleased.has(b.id));
    return this.taker.takeSome(candidates, room, {
      leaving: () => this.leaving,
      taken: (bot, token) => this.own(bot, token),
    });
  }

  private own(bot: BotSettings, token: string): void {
    const lease = new HeldLease(token, this.clock);
    this.owned.set(bot.id, lease);
    const runner = this.o.registry.add(bot, lease);
    this.o.observer.leaseEvent(bot.id, "acquired");
    this.log.info({ bot: bot.id, fence: fenceOf(token) }, "took the lease of this bot; starting it here");
    const started = runner.start().then(() => {
      this.starting.delete(started);
      if (!this.complete && this.starting.size === 0 && this.runsAll()) {
        this.complete = true;
        this.log.info({ owned: this.owned.size }, "all bots are up");
      }
    });
    this.starting.add(started);
  }

  private lose(id: string, b: HeldLease, why: string): void {
    if (b.lost) return;
    b.lose();
    this.complete = false;
    this.owned.delete(id);
    this.o.registry.drop(id);
    this.o.observer.leaseEvent(id, "expired");
    this.log.warn(
      { bot: id, code: ErrorCodes.LEASE_LOST, why },
      `lost the lease of this bot (${why}); stopped it here without confirming anything, its updates are the new owner's`,
    );
    this.schedule(0);
  }

  /** Whether this instance cannot reach the Bot API now, and the bots it handed over for that reason. */
  reachabilityView(): { cutOff: boolean; givenUp: string[] } {
    return this.o.reachability.view();
  }

  private handOverSome(n: number, givingUp = false): void {
    const busy = [...this.owned.values()].filter((b) => b.handover !== undefined).length;
    const ids = [...this.owned].filter(([, b]) => b.handover === undefined).map(([id]) => id);
    // Hand over the bots this instance ranks lowest: those another instance prefers.
    ids.sort((a, b) => this.taker.rank(a).localeCompare(this.taker.rank(b)));
    for (const id of ids.slice(0, Math.max(0, Math.min(n, HANDOVERS_AT_ONCE - busy)))) {
      if (givingUp) {
        this.o.reachability.givenUp.add(id);
        this.o.observer.leaseEvent(id, "given_up");
      }
      void this.handOver(id);
    }
  }

  /** Drains the bot, confirms its offset, releases its lease (the others are told at once). */
  private handOver(id: string): Promise<void> {
    const b = this.owned.get(id);
    if (b === undefined) return Promise.resolve();
    b.handover ??= (async () => {
      const t0 = performance.now();
      const cut = await this.o.registry.remove(id, this.o.drainTimeoutMs);
      if (!b.lost) {
        const released = await this.o.leases.release(id, b.token).catch((err: unknown) => {
          this.log.warn({ bot: id, err }, "could not release the lease; releasing it again next round");
          this.unreleased.set(id, b);
          return false;
        });
        this.owned.delete(id);
        this.o.observer.leaseEvent(id, "released");
        this.log.info(
          { bot: id, cut_updates: cut, released, ms: Math.round(performance.now() - t0) },
          "handed this bot over: drained, offset confirmed, lease released",
        );
      }
      this.schedule(0);
    })();
    return b.handover;
  }

  /** {@link BotSet}: a bot removed or changed by a reload is handed over (the new config decides who takes it). */
  async remove(id: string): Promise<number> {
    await this.handOver(id);
    return 0;
  }

  /** {@link BotSet}: new bots are taken by whichever instance has room. */
  async startAll(): Promise<string[]> {
    await this.tick();
    return [];
  }

  private onRedisError(err: unknown): void {
    if (this.failingSince === undefined) {
      this.failingSince = Date.now();
      this.log.error(
        { err },
        "cannot reach Redis for the leases; a bot whose lease is not renewed in time starts nothing new until Redis answers again",
      );
    }
    this.schedule(Math.min(1_000, this.o.ttlMs / 3));
  }

  /** Releases again the leases whose release did not answer (a bot handed over stays nobody's until then). */
  private async releaseUnreleased(): Promise<void> {
    await Promise.all(
      [...this.unreleased].map(async ([id, b]) => {
        await this.o.leases.release(id, b.token);
        this.unreleased.delete(id);
      }),
    );
  }

  /**
   * Stops taking and handing over bots and tells the others this instance is leaving, so they take its share as
   * soon as each bot is released. Called first in a shutdown; the heartbeat goes on (keeping the leases) while the
   * bots drain, until {@link releaseAll}.
   */
  async leave(): Promise<void> {
    this.leaving = true;
    if (!this.o.healthy()) return;
    await this.o.leases
      .leave()
      .catch((err: unknown) =>
        this.log.warn({ err }, "could not tell the others this instance is leaving; they see it gone after the TTL"),
      );
  }

  /**
   * After the bots were drained and their offsets confirmed: waits for handovers in progress, then releases
   * every lease still held (each release is announced, so a standby takes the bot at once) and leaves the
   * registry. Returns how many were released.
   */
  async releaseAll(): Promise<number> {
    await Promise.all([...this.owned.values()].map((b) => b.handover));
    this.closed = true;
    clearTimeout(this.timer);
    const held = [...this.owned, ...this.unreleased].filter(([, b]) => !b.lost);
    const release = (id: string, token: string): Promise<boolean> =>
      this.o.healthy() ? this.o.leases.release(id, token).catch(() => false) : Promise.resolve(false);
    const results = await Promise.all(held.map(([id, b]) => release(id, b.token)));
    for (const [id] of held) {
      this.owned.delete(id);
      this.o.observer.leaseEvent(id, "released");
    }
    this.unreleased.clear();
    if (this.o.healthy() && results.every(Boolean))
      await this.o.leases
        .deregister()
        .catch((err: unknown) => this.log.warn({ err }, "could not leave the registry; the others see this instance gone after the TTL"));
    return results.filter(Boolean).length;
  }
}
