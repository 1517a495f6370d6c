import type { Update } from "grammy/types";

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
   * Marks an update finished: removes its journal entry and applies all its state writes (session and plugin
   * state, any number of keys) atomically.
   */
  complete(botId: string, updateId: number, writes: readonly StateWrite[], options?: CompleteOptions): Promise<void>;
}
