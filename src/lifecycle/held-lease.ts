import type { Lease } from "../runtime/lease.js";

/**
 * One lease this instance holds, as the {@link Ownership} tracks it and the bot's runner sees it. It is surely
 * valid until its last renewal (counted from when the renewal was sent) plus the validity; past that it is in
 * doubt, and whoever asks {@link settled} waits for the next renewal's answer: renewed (valid again, with the same
 * token) or lost.
 */
export class HeldLease implements Lease {
  /** Set while the bot is being handed over (drained, then released). */
  handover: Promise<void> | undefined;
  private validUntil: number;
  private isLost = false;
  private waiters: Array<(valid: boolean) => void> = [];

  constructor(
    readonly token: string,
    acquiredAt: number,
    private readonly validityMs: number,
  ) {
    this.validUntil = acquiredAt + validityMs;
  }

  /** The fence number of the token (`<instance>/<fence>`). */
  get fence(): number {
    return Number(this.token.slice(this.token.lastIndexOf("/") + 1));
  }

  get lost(): boolean {
    return this.isLost;
  }

  /** Whether a renewal is overdue (and the lease not known lost). */
  get inDoubt(): boolean {
    return !this.isLost && performance.now() >= this.validUntil;
  }

  valid(): boolean {
    return !this.isLost && performance.now() < this.validUntil;
  }

  settled(): Promise<boolean> {
    if (this.isLost) return Promise.resolve(false);
    if (this.valid()) return Promise.resolve(true);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** A renewal sent at `sentAt` (`performance.now()`) succeeded. */
  renewed(sentAt: number): void {
    this.validUntil = Math.max(this.validUntil, sentAt + this.validityMs);
    if (this.valid()) this.wake(true);
  }

  /** The lease is another instance's now (or gone for good): whatever waits is told, nothing more is sent. */
  lose(): void {
    this.isLost = true;
    this.wake(false);
  }

  private wake(valid: boolean): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(valid);
  }
}
