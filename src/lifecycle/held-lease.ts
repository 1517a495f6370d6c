import type { Logger } from "../logging/logger.js";
import type { Lease } from "../runtime/lease.js";
import { fenceOf, type LeaseStore, type Registry } from "../storage/lease-store.js";

/**
 * How long this instance's leases are surely valid: until its last heartbeat (counted from when it was sent) plus
 * the validity. One clock for every lease the instance holds, so a held lease costs a few bytes and renewing them
 * all is one heartbeat. Past it every lease is in doubt, and whoever asks waits for the next heartbeat's answer.
 */
export class LeaseClock {
  private validUntil = -Infinity;
  /** Leases with someone waiting for the next answer. */
  private readonly waiting = new Set<HeldLease>();

  constructor(private readonly validityMs: number) {}

  valid(): boolean {
    return performance.now() < this.validUntil;
  }

  /** A heartbeat sent at `sentAt` (`performance.now()`) kept the registration: every lease held is valid again. */
  renewed(sentAt: number): void {
    this.validUntil = Math.max(this.validUntil, sentAt + this.validityMs);
    if (!this.valid()) return;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const lease of waiting) lease.wake(true);
  }

  /** `lease` waits for the next renewal. */
  watch(lease: HeldLease): void {
    this.waiting.add(lease);
  }

  unwatch(lease: HeldLease): void {
    this.waiting.delete(lease);
  }
}

/**
 * One lease this instance holds, as the {@link Ownership} tracks it and the bot's runner sees it: valid while the
 * instance's {@link LeaseClock} is and the lease is not known lost. In doubt past the clock, until the next
 * heartbeat answers: renewed (valid again, with the same token) or lost.
 */
export class HeldLease implements Lease {
  /** Set while the bot is being handed over (drained, then released). */
  handover: Promise<void> | undefined;
  private isLost = false;
  private waiters: Array<(valid: boolean) => void> | undefined;

  constructor(
    readonly token: string,
    private readonly clock: LeaseClock,
  ) {}

  /** The fence number of the token (`<instance>/<fence>`). */
  get fence(): number {
    return fenceOf(this.token);
  }

  get lost(): boolean {
    return this.isLost;
  }

  valid(): boolean {
    return !this.isLost && this.clock.valid();
  }

  settled(): Promise<boolean> {
    if (this.isLost) return Promise.resolve(false);
    if (this.clock.valid()) return Promise.resolve(true);
    return new Promise((resolve) => {
      (this.waiters ??= []).push(resolve);
      this.clock.watch(this);
    });
  }

  /** The lease is another instance's now (or gone for good): whatever waits is told, nothing more is sent. */
  lose(): void {
    this.isLost = true;
    this.clock.unwatch(this);
    this.wake(false);
  }

  /** Tells whoever waits (called by the clock on a renewal, or on {@link lose}). */
  wake(valid: boolean): void {
    const waiters = this.waiters;
    this.waiters = undefined;
    for (const w of waiters ?? []) w(valid && !this.isLost);
  }
}

/**
 * One heartbeat keeps every lease held. If this instance's registration had run out meanwhile (a pause, a Redis
 * outage), each lease is checked first: one still ours (or free, with the fence unmoved) is kept with the same
 * token, so what finished meanwhile commits; one taken is lost (`lose`), and its writes are refused by the fence.
 * Until the answer the leases are in doubt and their bots start nothing new (see `Lease`).
 */
export async function keepLeases(o: {
  leases: LeaseStore;
  clock: LeaseClock;
  owned: ReadonlyMap<string, HeldLease>;
  cutOff: boolean;
  leaving: boolean;
  lose: (botId: string, lease: HeldLease) => void;
  log: Logger;
}): Promise<Registry> {
  const { owned } = o;
  const sent = performance.now();
  const wasInDoubt = !o.clock.valid() && owned.size > 0;
  const registry = await o.leases.heartbeat(o.cutOff, o.leaving);
  if (registry.lapsed && owned.size > 0) {
    await Promise.all(
      [...owned].map(async ([id, b]) => {
        if (!(await o.leases.verify(id, b.token))) o.lose(id, b);
      }),
    );
  }
  if (wasInDoubt && owned.size <= 100)
    for (const id of owned.keys()) o.log.info({ bot: id }, "kept the lease of this bot through the outage; the bot goes on");
  else if (wasInDoubt) o.log.info({ bots: owned.size }, "kept the leases of these bots through the outage; the bots go on");
  o.clock.renewed(sent);
  return registry;
}
