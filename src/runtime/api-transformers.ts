import type { Api } from "grammy";
import type Bottleneck from "bottleneck";
import type { HostMetrics } from "../http/metrics.js";
import type { Logger } from "../logging/logger.js";
import { createRetryTransformer } from "../transport/retry.js";
import { createThrottle, type Throttle, type ThrottleLimits } from "../transport/throttle.js";

/** What {@link installApiTransformers} needs to know about the bot and the host's limits. */
export interface ApiTransformerOptions {
  botId: string;
  metrics: HostMetrics;
  log: Logger;
  retry: { maxAttempts: number; maxDelayMs: number };
  /** Telegram's outgoing limits, or undefined to send unthrottled. */
  outgoing: ThrottleLimits | undefined;
  /** When set, the bot's overall limit is kept in Redis, shared by every process. */
  cluster: { connection: Bottleneck.IORedisConnection; idPrefix: string } | undefined;
}

/**
 * Installs a bot's Bot API transformers, innermost first: metrics see every attempt, the flood-wait gate
 * holds each attempt at the wire, the throttle paces every attempt, and retries wrap them all. Returns the
 * throttle (to be stopped with the bot), if any.
 */
export function installApiTransformers(api: Api, o: ApiTransformerOptions): Throttle | undefined {
  const { botId: bot, metrics, log } = o;
  // Not async: no extra promise per call.
  api.config.use((prev, method, payload, signal) => {
    metrics.apiCalls.inc({ bot, method });
    return prev(method, payload, signal).then(
      (res) => {
        if (!res.ok) metrics.apiErrors.inc({ bot, method, code: String(res.error_code) });
        return res;
      },
      (err: unknown) => {
        metrics.apiErrors.inc({ bot, method, code: "network" });
        throw err;
      },
    );
  });
  const retrying =
    o.retry.maxAttempts > 0
      ? createRetryTransformer({
          ...o.retry,
          onRetry: ({ method, reason, waitMs, attempt }) => {
            metrics.apiRetries.inc({ bot, method, reason });
            metrics.apiRetryWait.inc({ bot, method }, waitMs / 1000);
            log.warn({ method, reason, wait_ms: waitMs, attempt }, `Bot API ${method} answered ${reason}; retrying`);
          },
          onGiveUp: ({ method, reason, attempts }) =>
            log.error({ method, reason, attempts }, `Bot API ${method} still failing (${reason}) after ${attempts} attempts; giving up on this call`),
        })
      : undefined;
  if (retrying !== undefined) api.config.use(retrying.gate);
  let throttle: Throttle | undefined;
  if (o.outgoing !== undefined) {
    throttle = createThrottle({
      ...o.outgoing,
      cluster: o.cluster && { connection: o.cluster.connection, id: `${o.cluster.idPrefix}${bot}` },
      onWait: (method, waitMs) => {
        if (waitMs <= 0) return;
        metrics.throttledCalls.inc({ bot, method });
        metrics.throttleWait.inc({ bot, method }, waitMs / 1000);
        log.debug({ method, wait_ms: waitMs }, "outgoing call waited for the rate limit");
      },
    });
    api.config.use(throttle.transformer);
  }
  if (retrying !== undefined) api.config.use(retrying.retry);
  return throttle;
}
