import type { CallLog } from "./call-log.js";

/** Resolves once `predicate()` holds (checked every 10 ms); rejects after `timeoutMs`. See `LocalBotApi.waitFor`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() >= deadline) throw new Error(`LocalBotApi.waitFor: ${what} still false after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Resolves once a bot has `n` successful sendMessage / editMessageText calls; rejects after `timeoutMs` with what it
 * did send. See `LocalBotApi.waitForSent`.
 */
export async function waitForSent(log: CallLog, token: string, n: number, timeoutMs: number): Promise<void> {
  try {
    await waitFor(() => log.sentCount(token) >= n, timeoutMs, "condition");
  } catch {
    const texts = log.sent(token).slice(-5);
    const last = texts.length > 0 ? `; last: ${texts.map((s) => JSON.stringify(s.text)).join(", ")}` : "";
    throw new Error(
      `LocalBotApi.waitForSent: bot ${token.split(":")[0]} sent ${log.sentCount(token)} of ${n} messages within ${timeoutMs} ms${last}`,
    );
  }
}
