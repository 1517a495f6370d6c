import { Composer, HttpError, type Middleware } from "grammy";
import { sequentialize } from "@grammyjs/runner";
import { limit } from "@grammyjs/ratelimiter";
import type { DeadLetter } from "../storage/dead-letters.js";
import type { KeyBuilder } from "../storage/keys.js";
import type { Begun, Journal } from "../storage/journal.js";
import type { StateStore } from "../storage/state-store.js";
import { BotHostError, ErrorCodes } from "../errors.js";
import { attachSession } from "./chat-session.js";
import { audienceOf, chatKeyOf, incomingOf, leaseOf, remembersUpdate, type HostContext } from "./context.js";
import { takeHandOff } from "./lone-update.js";
import { openScope, runInScope } from "./update-scope.js";

/** The two Redis commands the flood limiter uses (an ioredis client has them). */
export interface FloodCounterStore {
  incr(key: string): Promise<number>;
  pexpire(key: string, milliseconds: number): Promise<number>;
}

/**
 * The per-user flood limit on incoming updates (@grammyjs/ratelimiter), for the bots whose settings turn it on
 * (each bot with its own limit and window).
 */
export interface FloodLimit {
  /** The Redis client of the counters, shared by every process (made on first use); in memory when undefined. */
  redis: () => FloodCounterStore | undefined;
  /** Told about each update dropped by the limit. */
  onLimited: (botId: string) => void;
}

/** What {@link createPipeline} builds on. */
export interface PipelineOptions {
  /** The app: the bots.yaml `app` module's default export. */
  app: Middleware<HostContext>;
  /** Where plugin state is read from. */
  state: StateStore;
  /** Where each update starts (its session read with it) and where its writes are committed. */
  journal: Journal;
  keys: KeyBuilder;
  /** Starts of an update before it is set aside; a handler's time before it is set aside (ms, 0: none). */
  updates: { readonly maxAttempts: number; readonly handlerTimeoutMs: number };
  /** Whether state expires (a session that was only read is then written back, to start its expiry again). */
  stateExpires: boolean;
  flood: FloodLimit;
}

/** The error an update set aside ends with (after it was logged and counted): the letter says why. */
export class SetAsideError extends BotHostError {
  constructor(readonly letter: DeadLetter) {
    super(ErrorCodes.UPDATE_SET_ASIDE, `update ${letter.update.update_id} of bot "${letter.botId}" was set aside (${letter.reason})`);
  }
}

/** The error a webhook redelivery ends with when its claim rode on its begin (see `lone-update.ts`): nothing ran. */
export class RedeliveryError extends BotHostError {
  constructor(botId: string, updateId: number) {
    super(
      ErrorCodes.UPDATE_REDELIVERED,
      `update ${updateId} of bot "${botId}" was delivered again while it runs or after it finished; it is acknowledged and not run again`,
    );
  }
}

/** Settles `true` when `run` is still going after `ms`, `false` when it resolved first; rejects if it rejects first. */
async function outlives(run: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([run.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Builds the one middleware stack shared by every bot:
 * 1. `sequentialize` on `botId:chatId`: one update at a time per chat of a bot, all other chats concurrent;
 * 2. the update's start and commit: the journal counts the start and reads the chat's session in the same round
 *    trip (an update started `maxAttempts` times without finishing is set aside instead of run); the update runs
 *    in its own scope (for plugin state, see `plugin-state.ts`) with `ctx.session` keyed `session:{<botId>}:<chatId>`
 *    (`{}` at first); after it (handled or failed), its session write, its plugin state writes and its journal
 *    removal go to the store atomically. A handler still running after `handlerTimeoutMs` frees its chat: its
 *    update is set aside, and nothing it does later is sent or committed;
 * 3. the flood limit per user, for bots whose settings turn it on (an update over it ends here, still committed);
 * 4. the app.
 * The app's errors still propagate to the caller, after the commit.
 */
export function createPipeline(o: PipelineOptions): Composer<HostContext> {
  const { app, state, journal, keys, flood } = o;
  const { maxAttempts, handlerTimeoutMs } = o.updates;
  const sessionKey = (ctx: HostContext): string | undefined => {
    const chat = chatKeyOf(ctx);
    return chat === undefined ? undefined : keys.session(ctx.botId, chat);
  };
  const pipeline = new Composer<HostContext>();
  pipeline.use(sequentialize((ctx: HostContext) => sessionKey(ctx) ?? []));
  pipeline.use(async (ctx, next) => {
    const { botId } = ctx;
    const updateId = ctx.update.update_id;
    const lease = leaseOf(ctx);
    const key = sessionKey(ctx);
    const audience = audienceOf(ctx);
    // The audience of a broadcast: private chats only (a group is no broadcast target).
    const member = audience !== undefined && ctx.chat?.type === "private" ? String(ctx.chat.id) : undefined;
    const handed = takeHandOff(ctx.update);
    const record = handed === undefined ? undefined : { update: ctx.update, as: handed.as };
    let begun: Begun;
    try {
      begun = await journal.begin(botId, updateId, { maxAttempts, read: key, fence: lease?.token, audience: member, record });
    } catch (err) {
      handed?.settle(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    handed?.settle(begun.run || begun.duplicate !== true);
    if (!begun.run) {
      if (begun.duplicate === true) throw new RedeliveryError(botId, updateId);
      throw new SetAsideError(begun.letter);
    }
    if (begun.joined) audience?.joined();
    const sessionWrites = attachSession(ctx, key, begun.value, o.stateExpires);
    const scope = openScope(ctx, state, keys);
    const run = runInScope(scope, next);
    let timedOut = false;
    let failed: { err: unknown } | undefined;
    try {
      if (handlerTimeoutMs > 0) timedOut = await outlives(run, handlerTimeoutMs);
      else await run;
    } catch (err) {
      failed = { err };
    }
    if (!timedOut) {
      const writes = scope.close();
      // A Bot API call that could not reach Telegram (after its retries) means the update did not do what it was
      // for: it stays journaled, uncommitted, and runs again (see `BotRunner`), or the bot's next owner runs it.
      if (failed?.err instanceof HttpError) throw failed.err;
      // As with grammY's session(): a handler that throws leaves the session as it was; plugin state it wrote
      // before the throw is still committed. Under a lease, the fence decides: the commit lands if this instance
      // still holds the lease it ran under (kept through a pause or an outage), and is refused (LEASE_LOST: the
      // next owner replays it) otherwise.
      const all = failed === undefined ? [...sessionWrites(), ...writes] : writes;
      await journal.complete(botId, updateId, all, { remember: remembersUpdate(ctx), fence: lease?.token });
      if (failed !== undefined) throw failed.err;
      return;
    }
    const seconds = handlerTimeoutMs / 1000;
    const refused = new BotHostError(
      ErrorCodes.HANDLER_TIMED_OUT,
      `update ${updateId} of bot "${botId}" ran past updates.handler_timeout (${seconds} s) and was set aside; this call was not made`,
    );
    scope.expire(refused);
    ctx.api.config.use((prev, method, payload, signal) =>
      scope.expired === undefined ? prev(method, payload, signal) : Promise.reject(scope.expired),
    );
    run.catch((err: unknown) => ctx.log.warn({ err }, "a handler set aside after its timeout failed later"));
    const letter = await journal.park(
      botId,
      updateId,
      "timeout",
      `the handler did not finish within updates.handler_timeout (${seconds} s)`,
      lease?.token,
    );
    // Not journaled any more: set aside or finished elsewhere (a lease handover); either way nothing is left to do.
    if (letter !== undefined) throw new SetAsideError(letter);
  });
  // One limiter per distinct limit and window (bots may differ), made when a bot with that limit first needs it.
  const limiters = new Map<string, Middleware<HostContext>>();
  const limiterFor = (perUser: number, windowMs: number): Middleware<HostContext> => {
    const id = `${perUser}/${windowMs}`;
    let limiter = limiters.get(id);
    if (limiter === undefined) {
      limiter = limit<HostContext, FloodCounterStore>({
        limit: perUser,
        timeFrame: windowMs,
        storageClient: flood.redis() ?? "MEMORY_STORE",
        keyPrefix: keys.floodPrefix(),
        keyGenerator: (ctx) => (ctx.from === undefined ? undefined : keys.floodKey(ctx.botId, ctx.from.id)),
        // Called for every update over the limit (not only the first), so the metric counts each drop.
        alwaysReply: true,
        onLimitExceeded: (ctx) => flood.onLimited(ctx.botId),
      });
      limiters.set(id, limiter);
    }
    return limiter;
  };
  pipeline.use((ctx, next) => {
    const rule = incomingOf(ctx);
    if (rule === undefined) return next();
    const limiter = limiterFor(rule.perUser, rule.windowMs);
    return typeof limiter === "function" ? limiter(ctx, next) : limiter.middleware()(ctx, next);
  });
  pipeline.use(app);
  return pipeline;
}
