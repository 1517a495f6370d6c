import { HttpError, type Transformer } from "grammy";
import type { ApiResponse } from "grammy/types";
import { backoffDelay, sleep } from "./backoff.js";

/** What a retry waits for. */
export type RetryReason = "429" | "5xx" | "network";

/** Options of {@link createRetryPolicy}. */
export interface RetryOptions {
  /** Retries per call after the first attempt; 0 turns retrying off. */
  maxAttempts: number;
  /** Longest single wait (ms); a longer `retry_after` fails the call at once with Telegram's 429. */
  maxDelayMs: number;
  /** First backoff (ms) for 5xx and network errors; doubles per attempt, with jitter. */
  baseDelayMs?: number;
  /** Told about every retry before its wait (for metrics and logs). */
  onRetry?: (info: { method: string; reason: RetryReason; waitMs: number; attempt: number }) => void;
  /** Told when a call fails after its last attempt. */
  onGiveUp?: (info: { method: string; reason: RetryReason; attempts: number }) => void;
}

/** How one attempt ended: Telegram's answer, or a thrown error. */
export type AttemptOutcome = { res: ApiResponse<unknown> } | { err: unknown };

/** Whether and when to try a call again; shared by the retry transformer and the throttle's queue. */
export interface RetryPolicy {
  readonly maxDelayMs: number;
  /**
   * The retry after attempt number `attempt` (0 for the first) ended with `outcome`, or undefined when the
   * outcome is final. Tells `onRetry` / `onGiveUp`.
   */
  next(method: string, outcome: AttemptOutcome, attempt: number, aborted: boolean): { reason: RetryReason; delayMs: number } | undefined;
}

/**
 * Retries 429 after `retry_after`, and 5xx answers and network errors (among them a keep-alive socket the
 * server closed before answering) with capped exponential backoff and jitter; the first retry of a network
 * error is immediate. @grammyjs/auto-retry was not used: it retries network errors forever regardless of
 * `maxRetryAttempts`, has no jitter, offers no hook for metrics, and cannot hand a retry back to a queue.
 */
export function createRetryPolicy(o: RetryOptions): RetryPolicy {
  const base = o.baseDelayMs ?? 500;
  const giveUp = (method: string, reason: RetryReason, attempt: number): undefined => {
    o.onGiveUp?.({ method, reason, attempts: attempt + 1 });
    return undefined;
  };
  const next: RetryPolicy["next"] = (method, outcome, attempt, aborted) => {
    let step: { reason: RetryReason; delayMs: number };
    if ("res" in outcome) {
      const res = outcome.res;
      if (res.ok) return undefined;
      if (res.error_code === 429) {
        const delayMs = retryAfterMs(res);
        if (delayMs > o.maxDelayMs || attempt >= o.maxAttempts) return giveUp(method, "429", attempt);
        step = { reason: "429", delayMs };
      } else if (res.error_code >= 500) {
        if (attempt >= o.maxAttempts) return giveUp(method, "5xx", attempt);
        step = { reason: "5xx", delayMs: backoffDelay(attempt, base, o.maxDelayMs) };
      } else return undefined;
    } else {
      if (aborted || !(outcome.err instanceof HttpError)) return undefined;
      if (attempt >= o.maxAttempts) return giveUp(method, "network", attempt);
      // Most often a reused keep-alive socket the server had just closed: the request never reached it.
      step = { reason: "network", delayMs: attempt === 0 ? 0 : backoffDelay(attempt - 1, base, o.maxDelayMs) };
    }
    o.onRetry?.({ method, reason: step.reason, waitMs: step.delayMs, attempt: attempt + 1 });
    return step;
  };
  return { maxDelayMs: o.maxDelayMs, next };
}

/** The `retry_after` of a 429 answer in ms (1 s when Telegram gave none). */
export function retryAfterMs(res: ApiResponse<unknown>): number {
  return res.ok ? 0 : 1000 * (res.parameters?.retry_after ?? 1);
}

/** Telegram's answer to a call sent while a flood wait of `ms` more is running (never sent: it would extend it). */
export function tooManyRequests(ms: number): ApiResponse<never> {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return { ok: false, error_code: 429, description: `Too Many Requests: retry after ${seconds}`, parameters: { retry_after: seconds } };
}

/** The chat a Bot API call targets (its `chat_id`), as a string key, or undefined. */
export function chatOf(payload: unknown): string | undefined {
  const chat = (payload as { chat_id?: unknown } | undefined)?.chat_id;
  return chat === undefined || chat === null ? undefined : String(chat);
}

/**
 * A bot's flood waits (Telegram's 429 with `retry_after`). A 429 to a call in a chat holds that chat only, as
 * Telegram's limits are per chat (1 message/s, 20/min in groups) and `retry_after` is "the number of seconds
 * left to wait before the request can be repeated"; a 429 to a call without a chat holds the whole bot.
 * Telegram's answer does not say which limit it enforces: 429s in two chats within one wait point at the
 * bot-wide message limit (30/s), and then every chat waits.
 */
export class FloodWaits {
  private bot = 0;
  private allChats = 0;
  private readonly chats = new Map<string, number>();
  private last: { chat: string; until: number } | undefined;

  /** Notes a 429 of a call in `chat` (undefined: a call without a chat) that asked to wait `ms`. */
  note(chat: string | undefined, ms: number, now = performance.now()): void {
    if (chat === undefined) {
      this.bot = Math.max(this.bot, now + ms);
      return;
    }
    if (this.chats.size >= 1024) for (const [c, until] of this.chats) if (until <= now) this.chats.delete(c);
    this.chats.set(chat, Math.max(this.chats.get(chat) ?? 0, now + ms));
    if (this.last !== undefined && this.last.chat !== chat && this.last.until > now) this.allChats = Math.max(this.allChats, now + ms);
    this.last = { chat, until: now + ms };
  }

  /** Until when (performance.now() ms) calls in `chat` must wait; calls without a chat when undefined. */
  until(chat: string | undefined): number {
    if (chat === undefined) return this.bot;
    return Math.max(this.chats.get(chat) ?? 0, this.chatsUntil);
  }

  /** Until when every call in a chat must wait (the bot's and the chats' waits). */
  get chatsUntil(): number {
    return Math.max(this.bot, this.allChats);
  }
}

/** Options of {@link createRetryTransformer}. */
export interface RetryTransformerOptions {
  /** Retries, or undefined for none (429s are then still honoured by later calls). */
  policy: RetryPolicy | undefined;
  /** Longest flood wait a call waits out before it is sent; longer ones fail it at once with a 429. */
  maxDelayMs: number;
  waits: FloodWaits;
  /** Calls to leave alone (those the throttle's queue sends and retries itself). */
  skip?: (method: string, payload: unknown) => boolean;
}

/**
 * A grammY API transformer that retries a bot's calls per {@link createRetryPolicy} and holds each call while a
 * flood wait of its chat (or of the bot) runs, so no call is sent inside a `retry_after` the bot was told.
 * (The poller's getUpdates does not come through here: it goes straight to the transport, with its own retries.)
 */
export function createRetryTransformer(o: RetryTransformerOptions): Transformer {
  const { policy, waits } = o;
  const run = async (
    prev: Parameters<Transformer>[0],
    method: string,
    payload: unknown,
    signal: AbortSignal | undefined,
    chat: string | undefined,
  ) => {
    for (let attempt = 0; ; attempt++) {
      const wait = waits.until(chat) - performance.now();
      if (wait > o.maxDelayMs) return tooManyRequests(wait);
      // A later 429 may extend the wait while this call sleeps: check again after every wake.
      for (let w = wait; w > 0; w = waits.until(chat) - performance.now()) await sleep(w, signal);
      let outcome: AttemptOutcome;
      try {
        outcome = { res: await prev(method as never, payload as never, signal as never) };
      } catch (err) {
        outcome = { err };
      }
      if ("res" in outcome && !outcome.res.ok && outcome.res.error_code === 429) waits.note(chat, retryAfterMs(outcome.res));
      const step = policy?.next(method, outcome, attempt, signal?.aborted === true);
      if (step === undefined) {
        if ("res" in outcome) return outcome.res;
        throw outcome.err;
      }
      if (step.reason !== "429") await sleep(step.delayMs, signal);
    }
  };
  return ((prev, method, payload, signal) => {
    if (o.skip?.(method, payload) === true) return prev(method, payload, signal);
    const chat = chatOf(payload);
    // Without retries, a call that need not wait (nearly every call) costs no extra promise.
    if (policy === undefined && waits.until(chat) <= performance.now()) {
      return prev(method, payload, signal).then((res) => {
        if (!res.ok && res.error_code === 429) waits.note(chat, retryAfterMs(res));
        return res;
      });
    }
    return run(prev, method, payload, signal as AbortSignal | undefined, chat);
  }) as Transformer;
}
