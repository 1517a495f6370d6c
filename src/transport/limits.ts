import type { Redis } from "ioredis";
import type { Config } from "../config/index.js";
import type { ThrottleLimits } from "./throttle.js";

/** The Bot API limits every bot runner shares. */
export interface ApiLimits {
  retry: { maxAttempts: number; maxDelayMs: number };
  /** Telegram's outgoing limits, or undefined to send unthrottled. */
  outgoing: ThrottleLimits | undefined;
  /** When set, each bot's overall limit is also kept in Redis (at `key(botId)`), shared by all processes. */
  cluster: { redis: Redis; key: (botId: string) => string } | undefined;
}

/**
 * The Bot API limits of `limits.retry` and `limits.outgoing`. With `cluster` (a Redis connection owned by
 * storage, and the key of each bot's window), each bot's overall limit also holds across processes.
 */
export function createApiLimits(config: Config, cluster: ApiLimits["cluster"]): ApiLimits {
  const { retry, outgoing } = config.limits;
  return {
    retry: { maxAttempts: retry.max_attempts, maxDelayMs: retry.max_delay * 1000 },
    outgoing: outgoing.enabled
      ? { perBotPerSecond: outgoing.per_bot, perChatPerSecond: outgoing.per_chat, perGroupPerMinute: outgoing.per_group }
      : undefined,
    cluster: outgoing.enabled ? cluster : undefined,
  };
}
