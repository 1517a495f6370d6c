import Bottleneck from "bottleneck";
import { Redis } from "ioredis";
import type { Config } from "../config/index.js";
import type { FloodLimit } from "../bots/pipeline.js";
import type { HostMetrics } from "../http/metrics.js";
import type { BotRunnerShared } from "../runtime/bot-runner.js";

/**
 * The Bot API limits of `limits.retry` and `limits.outgoing`. With Redis, each bot's overall pace is kept in
 * Redis through Bottleneck's clustering, which needs connections of its own (it subscribes): the caller owns
 * the returned `connection` and disconnects it after the last bot stopped.
 */
export function createApiLimits(config: Config, prefix: string): { limits: BotRunnerShared["limits"]; connection?: Bottleneck.IORedisConnection } {
  const { retry, outgoing } = config.limits;
  const connection =
    outgoing.enabled && config.redis !== undefined
      ? new Bottleneck.IORedisConnection({ client: new Redis(config.redis.url, { maxRetriesPerRequest: null }) })
      : undefined;
  return {
    limits: {
      retry: { maxAttempts: retry.max_attempts, maxDelayMs: retry.max_delay * 1000 },
      outgoing: outgoing.enabled
        ? { perBotPerSecond: outgoing.per_bot, perChatPerSecond: outgoing.per_chat, perGroupPerMinute: outgoing.per_group }
        : undefined,
      cluster: connection && { connection, idPrefix: `${prefix}throttle:` },
    },
    ...(connection === undefined ? {} : { connection }),
  };
}

/** The incoming flood limit of `limits.incoming`, or undefined when it is off. */
export function createFloodLimit(config: Config, prefix: string, redis: FloodLimit["redis"], metrics: HostMetrics): FloodLimit | undefined {
  const { incoming } = config.limits;
  if (!incoming.enabled) return undefined;
  return {
    perUser: incoming.per_user,
    windowMs: incoming.window * 1000,
    ...(redis === undefined ? {} : { redis }),
    keyPrefix: prefix,
    onLimited: (botId) => metrics.floodLimited.inc({ bot: botId }),
  };
}
