import type { Update, UserFromGetMe } from "grammy/types";
import type { Redis } from "ioredis";

/** Whether the state store can take writes now, and why not. */
export interface StoreHealth {
  readonly ok: boolean;
  /** Why writes cannot be taken, for `/readyz` and the log. */
  readonly reason?: string;
}

/**
 * A state write staged by an update (its session, or a plugin's state), committed together with that
 * update's journal entry.
 */
export interface StateWrite {
  /** Full Redis key (built by {@link KeyBuilder.session} or {@link KeyBuilder.plugin}). */
  readonly key: string;
  /** Serialized value, or `null` to delete the key. */
  readonly value: string | null;
}

/** What a bot resumes from: unfinished updates, oldest first, and the highest update id ever journaled. */
export interface JournalState {
  readonly pending: Update[];
  readonly watermark: number | undefined;
}

/** A cached `getMe` answer and the hash of the token it belongs to. */
export interface CachedBotInfo {
  readonly tokenHash: string;
  readonly info: UserFromGetMe;
  /** How the bot received updates when last started (a switch to polling must delete the webhook). */
  readonly mode?: "polling" | "webhook";
}

/**
 * Where all state lives: chat sessions, plugin state, the per-bot update journal and the botInfo cache. Implemented on
 * Redis ({@link RedisStateStore}) and, when no Redis is configured, in process memory ({@link MemoryStateStore}).
 */
export interface StateStore {
  /** `true` when state survives a restart of the process. */
  readonly durable: boolean;
  readonly name: string;
  start(): Promise<void>;
  /** Whether the store can take writes now (for readiness and metrics). */
  health(): StoreHealth;
  /**
   * A Redis connection of its own for work kept beside the state (`flood`: the incoming flood limit;
   * `throttle`: the per-bot send window shared by processes; `leases` and `lease-events`: the bot leases and
   * their subscription), owned and closed by the store; undefined without Redis.
   */
  connection(purpose: "flood" | "throttle" | "leases" | "lease-events"): Redis | undefined;
  /** Closes the store; called after the last writer finished. Idempotent. */
  stop(): Promise<void>;
  /** Reads a raw state value (a session or a plugin's state) by its full key. */
  read(key: string): Promise<string | undefined>;
  /** Loads a bot's unfinished updates and its cursor. */
  loadJournal(botId: string): Promise<JournalState>;
  /**
   * Records a fetched batch (and moves the cursor past it) in one write. Must finish before the batch's offset
   * is confirmed.
   *
   * Writes of a leased bot pass the `fence` token of the instance's lease (here and in {@link claim} and
   * {@link complete}): the write is refused whole, with `BOT_HOST_LEASE_LOST`, unless the lease still holds it.
   */
  appendJournal(botId: string, updates: readonly Update[], fence?: string): Promise<void>;
  /**
   * Records one update that arrived by webhook, unless it is in flight (journaled) or was finished recently.
   * Returns `true` when the caller should handle it, `false` for a redelivery.
   */
  claim(botId: string, update: Update, fence?: string): Promise<boolean>;
  /**
   * Marks an update finished: removes its journal entry and applies all its state writes (session and plugin
   * state, any number of keys) atomically. With `remember`, the update id is also kept in the bot's
   * recently-finished set, which {@link claim} consults.
   */
  complete(botId: string, updateId: number, writes: readonly StateWrite[], remember?: boolean, fence?: string): Promise<void>;
  getBotInfo(telegramBotId: string): Promise<CachedBotInfo | undefined>;
  setBotInfo(telegramBotId: string, value: CachedBotInfo): Promise<void>;
}
