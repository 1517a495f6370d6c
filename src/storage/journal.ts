import type { Update } from "grammy/types";
import type { DeadLetter, DeadLetterReason } from "./dead-letters.js";

/**
 * A state write staged by an update (its session, or a plugin's state), committed together with that update's
 * journal entry.
 */
export interface StateWrite {
  /** Full key (built by `KeyBuilder.session` or `KeyBuilder.plugin`). */
  readonly key: string;
  /** Serialized value, or `null` to delete the key. */
  readonly value: string | null;
}

/** What a bot resumes from: unfinished updates, oldest first, and the highest update id ever journaled. */
export interface JournalState {
  readonly pending: Update[];
  readonly watermark: number | undefined;
}

/** How {@link Journal.complete} finishes an update. */
export interface CompleteOptions {
  /** Keep the update id in the bot's recently-finished set, which {@link Journal.claim} consults (webhook bots). */
  readonly remember?: boolean;
  /** The fence token of the lease the update ran under (see {@link Journal.append}). */
  readonly fence?: string | undefined;
}

/** What {@link Journal.begin} decided. */
export type Begun =
  /**
   * Run it: this is its `attempt`-th start; `value` is the state key asked for (its raw value), if any; `joined`:
   * the chat joined the bot's audience now.
   */
  | { readonly run: true; readonly attempt: number; readonly value: string | undefined; readonly joined: boolean }
  /** It was started `maxAttempts` times without finishing: it was set aside instead. */
  | { readonly run: false; readonly letter: DeadLetter; readonly duplicate?: false }
  /** A webhook update recorded by this begin (`record.as` "claim") is a redelivery: it is not run here. */
  | { readonly run: false; readonly duplicate: true };

/** Options of {@link Journal.begin}. */
export interface BeginOptions {
  /** Starts allowed before an update is set aside. */
  readonly maxAttempts: number;
  /** A state key to read in the same round trip (the chat's session). */
  readonly read?: string | undefined;
  readonly fence?: string | undefined;
  /** A private chat to record in the bot's audience (the broadcast recipients) in the same round trip. */
  readonly audience?: string | undefined;
  /**
   * The update itself, when it is not journaled yet: the begin records it first, in the same round trip, as
   * {@link Journal.append} (a polled update; the cursor moves past it) or {@link Journal.claim} (a webhook update;
   * a redelivery begins nothing and answers `duplicate`) would. Only when {@link Journal.recordsOnBegin}.
   */
  readonly record?: { readonly update: Update; readonly as: "append" | "claim" } | undefined;
}

/**
 * Each bot's update journal: what was fetched and not yet finished, and the cursor past it. It is what makes
 * handling exactly-once across restarts: a batch is journaled before its offset is confirmed, and an update
 * leaves the journal in the same atomic step that commits its state. On Redis (`RedisJournal`) and, without
 * Redis, in process memory (`MemoryStorage`).
 *
 * Writes of a leased bot pass the `fence` token of the instance's lease: such a write is refused whole, with
 * `BOT_HOST_LEASE_LOST`, unless the lease still holds that token.
 */
export interface Journal {
  /** `true` when the journal survives a restart of the process. */
  readonly durable: boolean;
  /**
   * `true` when {@link BeginOptions.record} is as safe as a separate append or claim (not so when every journal
   * write waits for replicas: a begin does not).
   */
  readonly recordsOnBegin: boolean;
  /** Loads a bot's unfinished updates and its cursor. */
  load(botId: string): Promise<JournalState>;
  /** Records a fetched batch and moves the cursor past it, in one write. Must finish before the batch's offset is confirmed. */
  append(botId: string, updates: readonly Update[], fence?: string): Promise<void>;
  /**
   * Records one update that arrived by webhook, unless it is in flight (journaled) or was finished recently.
   * Returns `true` when the caller should handle it, `false` for a redelivery.
   */
  claim(botId: string, update: Update, fence?: string): Promise<boolean>;
  /**
   * Records that an update starts (one more attempt) before the app runs it, unless it was started
   * `maxAttempts` times already without finishing: then it is set aside as a `crashed` dead letter (out of the
   * journal, so its offset can be confirmed and its chat goes on) and not run again.
   */
  begin(botId: string, updateId: number, options: BeginOptions): Promise<Begun>;
  /**
   * Marks an update finished: removes its journal entry (and its attempts) and applies all its state writes
   * (session and plugin state, any number of keys) atomically.
   */
  complete(botId: string, updateId: number, writes: readonly StateWrite[], options?: CompleteOptions): Promise<void>;
  /** Sets an unfinished update aside now (its handler timed out); undefined when it is no longer journaled. */
  park(botId: string, updateId: number, reason: DeadLetterReason, error: string, fence?: string): Promise<DeadLetter | undefined>;
  /** Records `error` as the last error known of updates that are running (an uncaught exception ends the process). */
  noteError(botId: string, updateIds: readonly number[], error: string): Promise<void>;
  /** One journaled update (a dead letter handed back to run once more), if it is there. */
  entry(botId: string, updateId: number): Promise<Update | undefined>;
}
