import type { Redis } from "ioredis";
import type { Logger } from "../logging/logger.js";
import type { StoreHealth } from "./state-store.js";

/** Options of {@link RedisHealthMonitor}. */
export interface RedisHealthOptions {
  redis: Redis;
  logger: Logger;
  /** How often a PING is sent, in ms (default 1000). */
  intervalMs?: number;
  /** A PING unanswered this long marks Redis as hung, in ms (default 2000). */
  timeoutMs?: number;
}

/**
 * Tells whether Redis takes writes: the connection must be `ready` and the last PING answered in time.
 *
 * A Redis that hangs (paused, swapping, a half-open TCP connection) keeps the socket open, so the connection
 * state alone says nothing. Commands cannot get a timeout instead: a journal write that timed out on the client
 * may still have run on the server, so it would be ambiguous. A PING can time out safely. Only one PING is
 * outstanding at a time; the hang is logged once when it starts and once when Redis answers again.
 */
export class RedisHealthMonitor {
  private timer: NodeJS.Timeout | undefined;
  private pingSince: number | undefined;
  private lastPing: number | undefined;
  private hung = false;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly o: RedisHealthOptions) {
    this.intervalMs = o.intervalMs ?? 1_000;
    this.timeoutMs = o.timeoutMs ?? 2_000;
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), Math.min(this.intervalMs, this.timeoutMs / 2));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The health right now. */
  get health(): StoreHealth {
    const status = this.o.redis.status;
    if (status !== "ready") return { ok: false, reason: `Redis connection is ${status}` };
    if (this.hung)
      return {
        ok: false,
        reason: `Redis has not answered a PING for ${Math.round((Date.now() - (this.pingSince ?? Date.now())) / 1000)} s`,
      };
    return { ok: true };
  }

  private tick(): void {
    const now = Date.now();
    if (this.pingSince !== undefined) {
      if (!this.hung && now - this.pingSince >= this.timeoutMs && this.o.redis.status === "ready") {
        this.hung = true;
        this.o.logger.error(
          { timeout_ms: this.timeoutMs },
          "Redis is not answering (no reply to PING in time): not ready; writes wait for it",
        );
      }
      return;
    }
    if (now - (this.lastPing ?? 0) < this.intervalMs) return;
    this.lastPing = now;
    this.pingSince = now;
    this.o.redis.ping().then(
      () => this.answered(true),
      () => this.answered(false),
    );
  }

  private answered(ok: boolean): void {
    this.pingSince = undefined;
    if (!this.hung) return;
    this.hung = false;
    // A PING that failed ended in a lost connection, which the store logs itself.
    if (ok) this.o.logger.info("Redis answers again: ready");
  }
}
