import type { RateWindow } from "./rate-window.js";

/** One chat of an `Outbox`: its queued calls, its windows (its own limit, and a group's), its hold. */
export class OutboxChat<J = unknown> {
  readonly queue: J[] = [];
  /** A flood wait of this chat, or the backoff before its head's retry. */
  holdUntil = 0;
  inReady = false;
  /** Invalidates the chat's older entries in the timer heap. */
  version = 0;

  constructor(
    readonly key: string,
    readonly windows: RateWindow[],
  ) {}

  readyAt(now: number): number {
    let at = this.holdUntil;
    for (const w of this.windows) at = Math.max(at, w.readyAt(now));
    return at;
  }

  clearAt(now: number): number {
    let at = this.holdUntil;
    for (const w of this.windows) at = Math.max(at, w.clearAt(now));
    return at;
  }
}
