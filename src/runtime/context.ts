import { Context, type SessionFlavor } from "grammy";
import type { Logger } from "../logging/logger.js";
import type { Lease } from "./lease.js";

/** A chat's session as the app sees it: a JSON object, `{}` at first. */
export type SessionData = Record<string, unknown>;

/**
 * The context every update of every bot gets. Besides grammY's `Context` (with `ctx.me` the bot's own
 * identity) the app sees:
 * - `ctx.session`: this chat's state, stored under `session:<botId>:<chatId>`;
 * - `ctx.botId`: the configured id of the bot that received the update;
 * - `ctx.appConfig`: the `app_config` mapping of bots.yaml;
 * - `ctx.log`: a logger whose lines carry the bot id and the update id.
 */
export class HostContext extends Context implements SessionFlavor<SessionData> {
  declare session: SessionData;
  /** Configured id of the bot (set by the host before the app runs). */
  botId = "";
  /** The `app_config` mapping of bots.yaml (read-only). */
  appConfig: Readonly<Record<string, unknown>> = {};

  /** A logger bound to this bot and update (created on first use, then kept on the context). */
  get log(): Logger {
    const logger = plumbing.get(this)?.logger;
    if (logger === undefined) throw new Error("ctx.log used before the host set up the context");
    const child = logger.child({ update_id: this.update.update_id });
    Object.defineProperty(this, "log", { value: child });
    return child;
  }
}

// What the host keeps on a context for itself, out of the app's sight.
/** A bot's per-user flood limit on incoming updates. */
export interface IncomingLimit {
  readonly perUser: number;
  readonly windowMs: number;
}

/** What a bot does with the private chats that write to it (the audience of its broadcasts). */
export interface AudienceHook {
  /** A chat joined the audience now. */
  joined(): void;
}

interface Plumbing {
  logger: Logger;
  remember: boolean;
  lease: Lease | undefined;
  incoming: IncomingLimit | undefined;
  audience: AudienceHook | undefined;
}

const plumbing = new WeakMap<HostContext, Plumbing>();

/**
 * Sets up a context before the app sees it: the bot's id and `app_config`, its logger (for `ctx.log`), and
 * whether the update's id is remembered when it finishes (webhook bots, to filter Telegram's redeliveries), and
 * the lease it was received under when the bot is leased (its writes carry the fence token).
 */
export function bindContext(
  ctx: HostContext,
  o: {
    botId: string;
    appConfig: Readonly<Record<string, unknown>>;
    logger: Logger;
    remember: boolean;
    lease?: Lease | undefined;
    incoming?: IncomingLimit | undefined;
    /** Set when the bot records its audience (`broadcast.audience`). */
    audience?: AudienceHook | undefined;
  },
): void {
  ctx.botId = o.botId;
  ctx.appConfig = o.appConfig;
  plumbing.set(ctx, { logger: o.logger, remember: o.remember, lease: o.lease, incoming: o.incoming, audience: o.audience });
}

/** The audience hook of the bot that received the update of `ctx`, when it records its audience. */
export function audienceOf(ctx: HostContext): AudienceHook | undefined {
  return plumbing.get(ctx)?.audience;
}

/** The lease the update of `ctx` was received under, if the bot is leased. */
export function leaseOf(ctx: HostContext): Lease | undefined {
  return plumbing.get(ctx)?.lease;
}

/** The flood limit of the bot that received the update of `ctx`, if it has one. */
export function incomingOf(ctx: HostContext): IncomingLimit | undefined {
  return plumbing.get(ctx)?.incoming;
}

/** Whether the finished update of `ctx` is remembered (see {@link bindContext}). */
export function remembersUpdate(ctx: HostContext): boolean {
  return plumbing.get(ctx)?.remember ?? false;
}

/**
 * The key that orders and stores a chat's updates: the chat id, or for updates without a chat (inline queries
 * and the like) the user id, which equals the user's private chat id. `undefined` when the update has neither.
 */
export function chatKeyOf(ctx: Context): string | undefined {
  const id = ctx.chatId ?? ctx.from?.id;
  return id === undefined ? undefined : String(id);
}
