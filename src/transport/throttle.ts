import type { Redis } from "ioredis";
import type { Transformer } from "grammy";
import { BotHostError, ErrorCodes } from "../errors.js";
import { ClusterWindow } from "./cluster-window.js";
import { Outbox } from "./outbox.js";
import { RateWindow } from "./rate-window.js";
import { chatOf, FloodWaits, type RetryPolicy } from "./retry.js";

/** Telegram's outgoing limits for one bot. */
export interface ThrottleLimits {
  /** Messages per second, all chats of the bot together (Telegram: about 30). */
  perBotPerSecond: number;
  /** Messages per second in one chat, private or group (Telegram: about 1). */
  perChatPerSecond: number;
  /** Messages per minute in one group or channel (Telegram: about 20). */
  perGroupPerMinute: number;
}

/** Options of {@link createThrottle}. */
export interface ThrottleOptions extends ThrottleLimits {
  /** Retries of the calls the throttle sends (they go back to the head of their chat); undefined for none. */
  policy?: RetryPolicy;
  /** A flood wait longer than this fails a chat's queued calls at once with Telegram's 429 (default 30 s). */
  maxDelayMs?: number;
  /** The bot's flood waits, shared with the retry transformer of calls without a chat (a new one if omitted). */
  waits?: FloodWaits;
  /** Keeps the per-bot limit in Redis too (a sorted set at `key`), so it holds across host processes. */
  cluster?: { redis: Redis; key: string };
  /** Told how long each call waited for its first send (ms), for metrics. */
  onWait?: (method: string, waitMs: number) => void;
  /** The pace of background calls (see {@link BACKGROUND}), and whether they are paid broadcasts. */
  background?: { perSecond: number; paid: boolean };
}

/**
 * Marks a call's payload as background (a broadcast's message): it is sent only with what the bot's limit leaves
 * after interactive calls, at the background pace, and a 429 pauses the background calls only. A symbol: never
 * serialized into the request.
 */
export const BACKGROUND = Symbol.for("bot-host.background");

function isBackground(payload: unknown): boolean {
  return typeof payload === "object" && payload !== null && (payload as { [BACKGROUND]?: unknown })[BACKGROUND] === true;
}

/** A bot's outgoing throttle: the transformer and what it owns. */
export interface Throttle {
  readonly transformer: Transformer;
  /** Fails the calls still queued and stops the timers. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Throttles one bot's calls that target a chat (`chat_id`) to Telegram's limits, measured on the wire (see
 * {@link Outbox}), and sends their retries itself: install it outermost, above the retry transformer (which
 * must then skip chat calls, see {@link isThrottled}) and the metrics. Calls without a chat (answerCallbackQuery,
 * getMe, ...) pass straight through.
 *
 * grammY's transformer-throttler (Bottleneck limiters per chat chained to one per bot) is not used, nor
 * Bottleneck for pacing: a chat's spacing is counted when a call leaves the chat's queue, before the bot's queue
 * and any flood-wait gate add their delays, so the gaps on the wire shrink below the limit (429s, and twice
 * the ideal time in bench/throttle.mjs).
 */
export function createThrottle(o: ThrottleOptions): Throttle {
  const waits = o.waits ?? new FloodWaits();
  // Made on the first throttled call: an idle bot carries none (thousands of bots per process).
  let outbox: Outbox | undefined;
  let stopped = false;
  const make = (): Outbox => {
    const bot = RateWindow.of(o.perBotPerSecond, 1000);
    const cluster = o.cluster && new ClusterWindow(o.cluster.redis, o.cluster.key, bot.count, bot.ms);
    return new Outbox({
      perBotPerSecond: o.perBotPerSecond,
      perChatPerSecond: o.perChatPerSecond,
      perGroupPerMinute: o.perGroupPerMinute,
      policy: o.policy,
      maxDelayMs: o.maxDelayMs ?? 30_000,
      waits,
      ...(cluster === undefined ? {} : { wrap: (send) => cluster.run(send) }),
      ...(o.onWait === undefined ? {} : { onWait: o.onWait }),
      ...(o.background === undefined ? {} : { background: o.background }),
    });
  };
  const transformer = ((prev, method, payload, signal) => {
    const chat = isThrottled(method, payload) ? chatOf(payload) : undefined;
    if (chat === undefined) return prev(method, payload, signal);
    if (stopped) return Promise.reject(stoppedError(method));
    outbox ??= make();
    if (isBackground(payload)) return outbox.sendBackground(chat, prev as never, method, payload);
    return outbox.send(chat, prev as never, method, payload, signal as AbortSignal | undefined);
  }) as Transformer;
  return {
    transformer,
    async stop() {
      if (stopped) return;
      stopped = true;
      outbox?.stop(stoppedError("queued"));
    },
  };
}

/** True for the calls {@link createThrottle} sends itself: every call with a `chat_id` but getUpdates. */
export function isThrottled(method: string, payload: unknown): boolean {
  return method !== "getUpdates" && chatOf(payload) !== undefined;
}

function stoppedError(method: string): BotHostError {
  // Calls are left in the queue at stop only when the drain ended before their handlers.
  return new BotHostError(
    ErrorCodes.CALL_NOT_SENT,
    `The bot stopped while a ${method} call waited for its turn under Telegram's rate limits; it was not sent. ` +
      "Give handlers more time to finish with shutdown.drain_timeout.",
  );
}
