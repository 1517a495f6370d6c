/**
 * Counts the updates a bot has accepted and not yet finished (running or waiting on their chat's turn), and
 * lets the shutdown wait for zero. The runner's own `stop()` does not wait for handlers; this does.
 */
export class InFlightTracker {
  private readonly ids = new Set<number>();
  private waiters: Array<() => void> = [];

  get size(): number {
    return this.ids.size;
  }

  /** Update ids in flight, oldest first: what a cut-off drain names. */
  snapshot(): number[] {
    return [...this.ids];
  }

  add(updateId: number): void {
    this.ids.add(updateId);
  }

  delete(updateId: number): void {
    if (!this.ids.delete(updateId) || this.ids.size > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when nothing is in flight. */
  idle(): Promise<void> {
    if (this.ids.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
