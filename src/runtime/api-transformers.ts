import type { Api } from "grammy";
import type { Redis } from "ioredis";
import type { Logger } from "../logging/logger.js";
import { chatOf, createRetryPolicy, createRetryTransformer, FloodWaits } from "../transport/retry.js";
import { createThrottle, isThrottled, type Throttle, type ThrottleLimits } from "../transport/throttle.js";
import type { RuntimeObserver } from "./observer.js";

/** What {@link installApiTransformers} needs to know about the bot and the host's limits. */
export interface ApiTransformerOptions {
  botId: string;
  observer: RuntimeObserver;
  log: Logger;
  retry: { readonly maxAttempts: number; readonly maxDelayMs: number };
  /** Telegram's outgoing limits, or undefined to send unthrottled. */
  outgoing: ThrottleLimits | undefined;
  /** When set, the bot's overall limit is kept in Redis, shared by every process. */
  cluster: { redis: Redis; key: (botId: string) => string } | undefined;
  /** The pace of broadcast messages (background calls), and whether they are paid broadcasts. */
  background?: { perSecond: number; paid: boolean };
  /** Told of a chat that answered 403 (the user blocked the bot, or is gone): it is no broadcast target any more. */
  onForbidden?: (chatKey: string) => void;
}

/**
 * Installs a bot's Bot API transformers, innermost first: metrics see every attempt; the retry transformer
 * retries calls without a chat (and, without a throttle, every call) and holds each call while a flood wait of
 * its chat or of the bot runs; the throttle, outermost, queues each chat's calls, sends them at Telegram's pace
 * on the wire, and puts their retries back at the head of their chat. A 429 holds the chat it concerns, or the
 * whole bot for a call without a chat. Returns the throttle (to be stopped with the bot), if any.
 */
export function installApiTransformers(api: Api, o: ApiTransformerOptions): Throttle | undefined {
  const { botId: bot, observer, log } = o;
  // Not async: no extra promise per call.
  api.config.use((prev, method, payload, signal) =>
    prev(method, payload, signal).then(
      (res) => {
        observer.apiCall(bot, method, res.ok ? undefined : String(res.error_code));
        if (!res.ok && res.error_code === 403 && o.onForbidden !== undefined) {
          const chat = chatOf(payload);
          if (chat !== undefined) o.onForbidden(chat);
        }
        return res;
      },
      (err: unknown) => {
        observer.apiCall(bot, method, "network");
        throw err;
      },
    ),
  );
  const policy =
    o.retry.maxAttempts > 0
      ? createRetryPolicy({
          ...o.retry,
          onRetry: ({ method, reason, waitMs, attempt }) => {
            observer.apiRetry(bot, method, reason, waitMs / 1000);
            log.warn({ method, reason, wait_ms: waitMs, attempt }, `Bot API ${method} answered ${reason}; retrying`);
          },
          onGiveUp: ({ method, reason, attempts }) =>
            log.error(
              { method, reason, attempts },
              `Bot API ${method} still failing (${reason}) after ${attempts} attempts; giving up on this call`,
            ),
        })
      : undefined;
  const waits = new FloodWaits();
  const throttled = o.outgoing !== undefined;
  api.config.use(createRetryTransformer({ policy, maxDelayMs: o.retry.maxDelayMs, waits, ...(throttled ? { skip: isThrottled } : {}) }));
  if (o.outgoing === undefined) return undefined;
  const throttle = createThrottle({
    ...o.outgoing,
    ...(policy === undefined ? {} : { policy }),
    maxDelayMs: o.retry.maxDelayMs,
    waits,
    ...(o.cluster === undefined ? {} : { cluster: { redis: o.cluster.redis, key: o.cluster.key(bot) } }),
    ...(o.background === undefined ? {} : { background: o.background }),
    onWait: (method, waitMs) => {
      if (waitMs <= 0) return;
      observer.throttled(bot, method, waitMs / 1000);
      log.debug({ method, wait_ms: waitMs }, "outgoing call waited for the rate limit");
    },
  });
  api.config.use(throttle.transformer);
  return throttle;
}
