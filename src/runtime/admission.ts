/**
 * The global cap on updates in flight across all bots. A bot fetches at most what is free now
 * ({@link Admission.free} is its hint for getUpdates' `limit`) and then admits what it fetched with
 * {@link Admission.acquire}, which waits while other bots hold the slots. Each slot is given back when its
 * update finished. Waiters are served first come, first served, so one busy bot cannot starve the others.
 */
export class Admission {
  private used = 0;
  /** Waiters in arrival order (a Set: taking the head and dropping an aborted one cost O(1), with 100,000 waiting). */
  private readonly queue = new Set<{ n: number; resolve: () => void }>();

  constructor(readonly capacity: number) {}

  /** Slots currently taken. */
  get inFlight(): number {
    return this.used;
  }

  /** Slots free right now (never negative). */
  get free(): number {
    return Math.max(0, this.capacity - this.used);
  }

  /**
   * Takes `n` slots (at most the capacity), waiting until they are free. Rejects with the signal's reason when
   * `signal` aborts first; nothing is taken then.
   */
  acquire(n: number, signal?: AbortSignal): Promise<void> {
    const want = Math.min(n, this.capacity);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.queue.size === 0 && this.free >= want) {
      this.used += want;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const entry = {
        n: want,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.queue.delete(entry);
        reject(signal?.reason);
        this.wake();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.add(entry);
    });
  }

  /** Gives `n` slots back and admits waiters that now fit. */
  release(n = 1): void {
    this.used = Math.max(0, this.used - n);
    this.wake();
  }

  private wake(): void {
    for (const head of this.queue) {
      if (this.free < head.n) return;
      this.queue.delete(head);
      this.used += head.n;
      head.resolve();
    }
  }
}
