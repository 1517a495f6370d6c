import Bottleneck from "bottleneck";
import type { Transformer } from "grammy";

/** Telegram's outgoing limits for one bot. */
export interface ThrottleLimits {
  /** Messages per second, all chats of the bot together (Telegram: about 30). */
  perBotPerSecond: number;
  /** Messages per second in one private chat (Telegram: about 1). */
  perChatPerSecond: number;
  /** Messages per minute in one group (Telegram: about 20). */
  perGroupPerMinute: number;
}

/** Options of {@link createThrottle}. */
export interface ThrottleOptions extends ThrottleLimits {
  /** Keeps the per-bot limit in Redis so it holds across host processes (Bottleneck's clustering). */
  cluster?: { connection: Bottleneck.IORedisConnection; id: string };
  /** Told how long each call waited for its turn (ms), for metrics. */
  onWait?: (method: string, waitMs: number) => void;
}

/** A bot's outgoing throttle: the transformer and the limiters it owns. */
export interface Throttle {
  readonly transformer: Transformer;
  /** Stops the limiters (their timers and, when clustered, their Redis state). */
  stop(): Promise<void>;
}

/**
 * Throttles one bot's calls that target a chat (`chat_id`), the way grammY's transformer-throttler does, on
 * Bottleneck: one limiter per private chat, one per group, both chained to the bot's overall limiter. A burst
 * in one chat waits only for that chat's limiter (and its share of the bot's), never for other chats or other
 * bots. Calls without a chat (answerCallbackQuery, getMe, ...) are not throttled.
 */
export function createThrottle(o: ThrottleOptions): Throttle {
  // Limiters are made on the first throttled call: an idle bot carries none (thousands of bots per process).
  let limiters: ReturnType<typeof createLimiters> | undefined;
  const transformer: Transformer = (prev, method, payload, signal) => {
    const chat = (payload as { chat_id?: unknown } | undefined)?.chat_id;
    if (chat === undefined) return prev(method, payload, signal);
    limiters ??= createLimiters(o);
    const id = String(chat);
    // Channels and groups have negative ids or @usernames; private chats are positive user ids.
    const limiter = id.startsWith("-") || id.startsWith("@") ? limiters.groups.key(id) : limiters.privates.key(id);
    const queued = Date.now();
    return limiter.schedule(() => {
      o.onWait?.(method, Date.now() - queued);
      return prev(method, payload, signal);
    });
  };
  return {
    transformer,
    async stop() {
      if (limiters === undefined) return;
      const { groups, privates, perBot } = limiters;
      for (const l of [...groups.limiters(), ...privates.limiters()]) await l.limiter.stop({ dropWaitingJobs: true }).catch(() => undefined);
      await perBot.disconnect(false);
    },
  };
}

function createLimiters(o: ThrottleOptions) {
  // Spacing (minTime) rather than a refilled reservoir: a reservoir lets 2N calls through in a second that
  // straddles a refill. The 10% margin absorbs up to 100 ms of jitter between sending and arriving, so N+1
  // calls do not land in one second at Telegram either.
  const spacing = (perMs: number, n: number): number => Math.ceil((perMs * 1.1) / n);
  const perBot = new Bottleneck({
    minTime: spacing(1000, o.perBotPerSecond),
    ...(o.cluster === undefined ? {} : { datastore: "ioredis", connection: o.cluster.connection, id: o.cluster.id, clearDatastore: false, timeout: 60_000 }),
  });
  const groups = new Bottleneck.Group({ maxConcurrent: 1, minTime: spacing(60_000, o.perGroupPerMinute) });
  const privates = new Bottleneck.Group({ maxConcurrent: 1, minTime: spacing(1000, o.perChatPerSecond) });
  groups.on("created", (limiter) => limiter.chain(perBot));
  privates.on("created", (limiter) => limiter.chain(perBot));
  return { perBot, groups, privates };
}
