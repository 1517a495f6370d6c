/**
 * "At most `count` calls in any `ms`", kept from the client's side so that it also holds where the server
 * counts. A call takes a slot when it is sent and the slot is anchored when its answer arrives: the server saw
 * the call at some moment between the two, so anchoring on the answer can only overstate, never understate,
 * how recently the server counted it. A new call may go once fewer than `count` anchored calls lie within the
 * last `ms`, and a call still waiting for its answer counts as if it had just arrived. The margin this costs is
 * one round trip per window, whatever the jitter between sending and arriving; a margin in time (spacing of
 * `ms / count` plus a percentage) is a guess at that jitter and fails on a busy machine.
 */
export class RateWindow {
  /** Answer times of settled calls, ascending (answers are settled in the order they arrive). */
  private readonly anchors: number[] = [];
  private head = 0;
  /** Calls sent and not yet answered. */
  private pending = 0;

  constructor(
    readonly count: number,
    readonly ms: number,
  ) {}

  /**
   * A window for "`rate` calls per `periodMs`": `max(1, floor(rate))` calls per the matching share of the period
   * (1/s is one call per 1000 ms; 0.5/s one per 2000 ms; 20/min twenty per 60 000 ms).
   */
  static of(rate: number, periodMs: number): RateWindow {
    const count = Math.max(1, Math.floor(rate));
    return new RateWindow(count, (periodMs * count) / rate);
  }

  /** The earliest time (performance.now() ms) a new call may be sent; Infinity until an answer comes. */
  readyAt(now: number): number {
    this.expire(now);
    const settled = this.anchors.length - this.head;
    const over = settled + this.pending - this.count + 1;
    if (over <= 0) return now;
    if (over > settled) return Infinity;
    return this.anchors[this.head + over - 1]! + this.ms;
  }

  /** When the window will hold nothing that could delay a call (it may then be forgotten); Infinity while a call is out. */
  clearAt(now: number): number {
    this.expire(now);
    if (this.pending > 0) return Infinity;
    return this.anchors.length === this.head ? now : this.anchors[this.anchors.length - 1]! + this.ms;
  }

  /** How many calls could be sent now without waiting (calls out and answered within the window both count). */
  room(now: number): number {
    this.expire(now);
    return Math.max(0, this.count - (this.anchors.length - this.head) - this.pending);
  }

  /** A call is sent. */
  take(): void {
    this.pending++;
  }

  /** The answer of a call sent earlier arrived at `at` (calls are settled in the order their answers arrive). */
  settle(at: number): void {
    this.pending--;
    this.anchors.push(at);
  }

  private expire(now: number): void {
    while (this.head < this.anchors.length && this.anchors[this.head]! <= now - this.ms) this.head++;
    if (this.head > 64 && this.head * 2 > this.anchors.length) {
      this.anchors.splice(0, this.head);
      this.head = 0;
    }
  }
}
