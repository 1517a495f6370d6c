import type { Update } from "grammy/types";

/**
 * Why an update was set aside: `crashed` (started `updates.max_attempts` times without finishing: the process
 * ended or was stopped while it ran, each time) or `timeout` (its handler ran past `updates.handler_timeout`).
 */
export type DeadLetterReason = "crashed" | "timeout";

/** An update set aside: it is no longer in the journal, its offset can be confirmed, its chat goes on. */
export interface DeadLetter {
  readonly botId: string;
  readonly update: Update;
  /** How often it was started. */
  readonly attempts: number;
  readonly reason: DeadLetterReason;
  /** The last error known (an uncaught exception while it ran, or the timeout), or a note that none is known. */
  readonly error: string;
  /** When it was set aside (ms since the epoch). */
  readonly at: number;
}

/** What a dead letter records besides its update (stored as JSON). */
export interface DeadLetterRecord {
  readonly attempts: number;
  readonly reason: DeadLetterReason;
  readonly error: string;
  readonly at: number;
}

/** The error of a dead letter whose process ended without saying why (a SIGKILL, the OOM killer, a power cut). */
export const UNKNOWN_ERROR = "none known: the process ended while the update ran";

/**
 * Each bot's dead letters, for operators (`bot-host dead-letters`) and the host (readiness counts): list them,
 * hand one back to run once more, or drop them.
 */
export interface DeadLetters {
  /** The bot's dead letters, oldest update first. */
  list(botId: string): Promise<DeadLetter[]>;
  /** How many the bot has. */
  count(botId: string): Promise<number>;
  /**
   * Puts a dead letter back into the bot's journal with one attempt left (`maxAttempts - 1` made), so the bot's
   * owner runs it once more: at once when a running host is told (see the channel in `keys.ts`), else at the
   * bot's next start. If it fails again, it is set aside again. Returns false when there is no such letter.
   */
  retry(botId: string, updateId: number, maxAttempts: number): Promise<boolean>;
  /** Drops one dead letter, or all of the bot's; returns how many were dropped. */
  drop(botId: string, updateId: number | "all"): Promise<number>;
}

/** Builds a dead letter from its stored parts. */
export function deadLetterOf(botId: string, update: Update, record: DeadLetterRecord): DeadLetter {
  return { botId, update, attempts: record.attempts, reason: record.reason, error: record.error, at: record.at };
}
