import { Composer, session, type Middleware, type StorageAdapter } from "grammy";
import { sequentialize } from "@grammyjs/runner";
import { limit } from "@grammyjs/ratelimiter";
import type { KeyBuilder } from "../storage/keys.js";
import type { Journal, StateWrite } from "../storage/journal.js";
import type { StateStore } from "../storage/state-store.js";
import { BotHostError, ErrorCodes } from "../errors.js";
import { chatKeyOf, leaseOf, remembersUpdate, type HostContext, type SessionData } from "./context.js";
import { openScope, runInScope } from "./update-scope.js";

/**
 * grammY session storage that reads from the store but only stages writes: the staged write is committed
 * by the pipeline together with the update's journal entry, in one transaction. Staging by key is safe
 * because the pipeline runs one update at a time per `botId:chatId`, the same key the session uses.
 */
class StagingStorage implements StorageAdapter<SessionData> {
  private readonly staged = new Map<string, string | null>();

  constructor(private readonly store: StateStore) {}

  async read(key: string): Promise<SessionData | undefined> {
    const raw = await this.store.read(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as SessionData);
  }

  write(key: string, value: SessionData): void {
    this.staged.set(key, JSON.stringify(value));
  }

  delete(key: string): void {
    this.staged.set(key, null);
  }

  /** Removes and returns the write staged for `key`, if any. */
  take(key: string | undefined): StateWrite[] {
    if (key === undefined) return [];
    const value = this.staged.get(key);
    if (value === undefined) return [];
    this.staged.delete(key);
    return [{ key, value }];
  }
}

/** The two Redis commands the flood limiter uses (an ioredis client has them). */
export interface FloodCounterStore {
  incr(key: string): Promise<number>;
  pexpire(key: string, milliseconds: number): Promise<number>;
}

/** The optional per-user flood limit on incoming updates (@grammyjs/ratelimiter). */
export interface FloodLimit {
  perUser: number;
  windowMs: number;
  /** Redis client for counters shared by every process; in memory when absent. */
  redis?: FloodCounterStore;
  /** Told about each update dropped by the limit. */
  onLimited: (botId: string) => void;
}

/** What {@link createPipeline} builds on. */
export interface PipelineOptions {
  /** The app: the bots.yaml `app` module's default export. */
  app: Middleware<HostContext>;
  /** Where sessions are read from. */
  state: StateStore;
  /** Where each update's writes are committed, with its journal entry. */
  journal: Journal;
  keys: KeyBuilder;
  flood?: FloodLimit | undefined;
}

/**
 * Builds the one middleware stack shared by every bot:
 * 1. `sequentialize` on `botId:chatId`: one update at a time per chat of a bot, all other chats concurrent;
 * 2. commit: the update runs in its own scope (for plugin state, see `plugin-state.ts`); after it (handled or
 *    failed), its session write, its plugin state writes and its journal removal go to the store atomically;
 * 3. optionally the flood limit per user and bot (an update over the limit ends here, still committed);
 * 4. grammY `session` keyed `session:<botId>:<chatId>`, initially `{}`;
 * 5. the app.
 * The app's errors still propagate to the caller, after the commit.
 */
export function createPipeline(o: PipelineOptions): Composer<HostContext> {
  const { app, state, journal, keys, flood } = o;
  const storage = new StagingStorage(state);
  const sessionKey = (ctx: Omit<HostContext, "session">): string | undefined => {
    const chat = chatKeyOf(ctx);
    return chat === undefined ? undefined : keys.session(ctx.botId, chat);
  };
  const pipeline = new Composer<HostContext>();
  pipeline.use(sequentialize((ctx: HostContext) => sessionKey(ctx) ?? []));
  pipeline.use(async (ctx, next) => {
    const scope = openScope(ctx, state, keys);
    try {
      await runInScope(scope, next);
    } finally {
      const writes = [...storage.take(sessionKey(ctx)), ...scope.close()];
      const lease = leaseOf(ctx);
      // Lost while the update ran: its calls were refused, so it stays journaled for the bot's next owner.
      if (lease !== undefined && !lease.valid()) {
        throw new BotHostError(
          ErrorCodes.LEASE_LOST,
          `bot "${ctx.botId}": the lease was lost while update ${ctx.update.update_id} ran; it is left to the next owner`,
        );
      }
      await journal.complete(ctx.botId, ctx.update.update_id, writes, { remember: remembersUpdate(ctx), fence: lease?.token });
    }
  });
  if (flood !== undefined) {
    pipeline.use(
      limit<HostContext, FloodCounterStore>({
        limit: flood.perUser,
        timeFrame: flood.windowMs,
        storageClient: flood.redis ?? "MEMORY_STORE",
        keyPrefix: keys.floodPrefix(),
        keyGenerator: (ctx) => (ctx.from === undefined ? undefined : keys.floodKey(ctx.botId, ctx.from.id)),
        // Called for every update over the limit (not only the first), so the metric counts each drop.
        alwaysReply: true,
        onLimitExceeded: (ctx) => flood.onLimited(ctx.botId),
      }),
    );
  }
  pipeline.use(session({ getSessionKey: sessionKey, storage, initial: (): SessionData => ({}) }));
  pipeline.use(app);
  return pipeline;
}
