import { HttpError, type Transformer } from "grammy";
import { backoffDelay, sleep } from "../runtime/backoff.js";

/** What a retry waits for. */
export type RetryReason = "429" | "5xx" | "network";

/** Options of {@link createRetryTransformer}. */
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

/**
 * Two grammY API transformers for one bot. `retry` retries 429 after `retry_after`, and 5xx answers and
 * network errors (among them a keep-alive socket the server closed before answering) with capped exponential
 * backoff and jitter. A 429 pauses every call of the bot until its `retry_after` passed, because Telegram's
 * flood wait applies to the bot, not just to the call that hit it: `gate` holds each call at the wire while
 * the bot is paused, so install it innermost (below any throttle queue) and `retry` outermost. `getUpdates`
 * is left to the poller, which has its own retry loop.
 *
 * @grammyjs/auto-retry was not used: it retries network errors forever regardless of `maxRetryAttempts`,
 * has no jitter, and offers no hook for metrics.
 */
export function createRetryTransformer(o: RetryOptions): { retry: Transformer; gate: Transformer } {
  let pausedUntil = 0;
  const base = o.baseDelayMs ?? 500;
  const waitForPause = async (signal: AbortSignal | undefined): Promise<void> => {
    // A later 429 may extend the pause while this call sleeps: check again after every wake.
    for (let wait = pausedUntil - Date.now(); wait > 0; wait = pausedUntil - Date.now()) await sleep(wait, signal);
  };
  // Not async: a call that need not wait (nearly every call) costs no extra promise.
  const gate: Transformer = (prev, method, payload, signal) => {
    if (method === "getUpdates" || pausedUntil <= Date.now()) return prev(method, payload, signal);
    return waitForPause(signal as unknown as AbortSignal | undefined).then(() => prev(method, payload, signal));
  };
  const retry: Transformer = async (prev, method, payload, signal) => {
    if (method === "getUpdates") return prev(method, payload, signal);
    const abortSignal = signal as unknown as AbortSignal | undefined;
    for (let attempt = 0; ; attempt++) {
      let reason: RetryReason;
      let delay: number;
      try {
        const res = await prev(method, payload, signal);
        if (res.ok) return res;
        if (res.error_code === 429) {
          reason = "429";
          delay = 1000 * (res.parameters?.retry_after ?? 1);
          if (delay > o.maxDelayMs || attempt >= o.maxAttempts) {
            o.onGiveUp?.({ method, reason, attempts: attempt + 1 });
            return res;
          }
          pausedUntil = Math.max(pausedUntil, Date.now() + delay);
        } else if (res.error_code >= 500 && attempt < o.maxAttempts) {
          reason = "5xx";
          delay = backoffDelay(attempt, base, o.maxDelayMs);
        } else {
          if (res.error_code >= 500) o.onGiveUp?.({ method, reason: "5xx", attempts: attempt + 1 });
          return res;
        }
      } catch (err) {
        if (abortSignal?.aborted || !(err instanceof HttpError)) throw err;
        if (attempt >= o.maxAttempts) {
          o.onGiveUp?.({ method, reason: "network", attempts: attempt + 1 });
          throw err;
        }
        reason = "network";
        // The first retry of a network error is immediate: it is most often a reused keep-alive socket that
        // the server had just closed, and the request never reached it.
        delay = attempt === 0 ? 0 : backoffDelay(attempt - 1, base, o.maxDelayMs);
      }
      o.onRetry?.({ method, reason, waitMs: delay, attempt: attempt + 1 });
      if (reason === "429") await waitForPause(abortSignal);
      else await sleep(delay, abortSignal);
    }
  };
  return { retry, gate };
}
