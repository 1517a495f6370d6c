import type { Update } from "grammy/types";

/**
 * What the runtime reports as it works. The host implements it (Prometheus metrics); the runtime knows no
 * metrics library and no HTTP. Implementations must be cheap and must not throw: they run on every update and
 * every Bot API call.
 */
export interface RuntimeObserver {
  /** An update was accepted for handling. */
  updateReceived(bot: string, type: string): void;
  /** An update's handling ended, `seconds` after it was accepted (waiting for its chat's turn included). */
  updateHandled(bot: string, type: string, outcome: "ok" | "error", seconds: number, updateId: number): void;
  /** A Bot API call attempt ended; `error` is Telegram's `error_code` or `network` when it failed. */
  apiCall(bot: string, method: string, error?: string): void;
  /** A call is retried after waiting `seconds`, because of `reason` (429, 5xx, network). */
  apiRetry(bot: string, method: string, reason: string, seconds: number): void;
  /** A call waited `seconds` for the outgoing rate limit before it was sent. */
  throttled(bot: string, method: string, seconds: number): void;
  /** An incoming update was dropped by the per-user flood limit. */
  floodLimited(bot: string): void;
  /**
   * A bot's lease changed hands here: `acquired`, `released` (handed over gracefully), `expired` (lost
   * without a release: this instance was paused or cut off), or `fenced` (a write refused after it was lost).
   */
  leaseEvent(bot: string, event: LeaseEventKind): void;
  /** An update was set aside as a dead letter, because it `crashed` too often or ran into the `timeout`. */
  deadLettered(bot: string, reason: string): void;
  /** A broadcast campaign's message to one recipient ended: `sent`, `blocked` (403) or `failed`. */
  broadcastSent(bot: string, campaign: string, outcome: string): void;
}

/** See {@link RuntimeObserver.leaseEvent}; `given_up`: handed over because this instance cannot reach the Bot API. */
export type LeaseEventKind = "acquired" | "released" | "expired" | "fenced" | "given_up";

/** An observer that ignores everything (tests, embedding without metrics). */
export const silentObserver: RuntimeObserver = {
  updateReceived() {},
  updateHandled() {},
  apiCall() {},
  apiRetry() {},
  throttled() {},
  floodLimited() {},
  leaseEvent() {},
  deadLettered() {},
  broadcastSent() {},
};

/** The type of an update: its one field besides `update_id` (`message`, `callback_query`, ...). */
export function updateTypeOf(update: Update): string {
  for (const key in update) if (key !== "update_id") return key;
  return "unknown";
}

/** An observer that tells `base` everything and `extra` what it listens to. */
export function observeBoth(base: RuntimeObserver, extra: Partial<RuntimeObserver>): RuntimeObserver {
  const both = { ...base } as Record<keyof RuntimeObserver, (...args: never[]) => void>;
  for (const name of Object.keys(silentObserver) as Array<keyof RuntimeObserver>) {
    const a = (base[name] as (...args: unknown[]) => void).bind(base);
    const b = extra[name] as ((...args: unknown[]) => void) | undefined;
    both[name] = b === undefined ? a : (...args: unknown[]) => (a(...args), b.call(extra, ...args));
  }
  return both as RuntimeObserver;
}
