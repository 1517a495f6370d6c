import type { Update, UserFromGetMe } from "grammy/types";

/** Bot API call parameters as the local Bot API received them (JSON values, or strings from forms and query strings). */
export type Params = Record<string, unknown>;

/** An update body without its `update_id` (the local Bot API assigns it); an `update_id` given anyway is replaced. */
export type UpdateBody = Omit<Update, "update_id"> & { update_id?: number };

/** The bot user `getMe` answers with. */
export type BotUser = UserFromGetMe;

/** Options of `LocalBotApi.start`. */
export interface LocalBotApiOptions {
  /** Port on 127.0.0.1 (default 0: any free port). */
  port?: number;
  /**
   * Sets `server.keepAliveTimeout` (Node's default 5000): idle keep-alive sockets are closed by the server. Node 20
   * advertises `Keep-Alive: timeout=<whole seconds>` and closes the socket about 1 s after this many ms.
   */
  keepAliveTimeoutMs?: number;
  /** A failed webhook delivery is retried after this many ms (default 1000). */
  webhookRetryDelayMs?: number;
  /** A webhook that has not answered within this many ms has failed (default 10 000). */
  webhookTimeoutMs?: number;
  /**
   * Keep every call's params, every sent message (also to check edits) and every webhook delivery (default true).
   * With false only the counters are kept (`callCount`, `sentCount`): for benchmarks.
   */
  record?: boolean;
  /**
   * Enforce Telegram's outgoing limits ({@link TelegramLimits}; `true` for the defaults). A call that breaks one is
   * answered 429 and starts an enforced wait in the limit's scope (the chat, or the bot for the per-bot limit).
   */
  limits?: TelegramLimits | boolean;
}

/** What `LocalBotApi.addBot` accepts. */
export interface BotOptions {
  /** `first_name` of the bot user (default `Bot <id>`). */
  first_name?: string;
  /** `username` of the bot user (default `bot<id>_bot`). */
  username?: string;
  /** `update_id` of the first injected update (default 1). */
  firstUpdateId?: number;
}

/** One recorded Bot API call. */
export interface CallRecord {
  token: string;
  /** Canonical method name (`getMe`, whatever case the client used), or the path segment as sent if unknown. */
  method: string;
  params: Params;
  /** `Date.now()` when the request arrived. */
  at: number;
  /** HTTP status of the answer; 0 while the call is still pending, 499 when the client went away first. */
  status: number;
}

/** One successful `sendMessage` / `editMessageText` (chat messages only). */
export interface SentRecord {
  method: "sendMessage" | "editMessageText";
  chat_id: number | string;
  /** The id of the message sent or edited. */
  message_id: number;
  text: string;
  reply_markup?: unknown;
  /** `Date.now()` when the call arrived. */
  at: number;
}

/** One webhook delivery attempt. */
export interface DeliveryRecord {
  update_id: number;
  /** HTTP status the webhook answered, 0 when there was no answer (network error, timeout). */
  status: number;
  /** `Date.now()` when the attempt ended. */
  at: number;
  /** Why a failed attempt failed. */
  error?: string;
}

/** The webhook settings stored by `setWebhook`. */
export interface WebhookSettings {
  url: string;
  secret_token?: string;
  max_connections: number;
  /** The bot's allowed_updates when the webhook was set; undefined = the default set. */
  allowed_updates?: string[];
}

/** A flood-wait rule of `LocalBotApi.rateLimit`. */
export interface RateLimitRule {
  /** Methods it applies to (any case); all methods when omitted. */
  methods?: string[];
  /** Answer 429 to the next `count` matching calls (with `every`: at most `count` times). */
  count?: number;
  /** Answer 429 to every `every`-th matching call (the `every`-th, `2*every`-th, ...). */
  every?: number;
  /** The `retry_after` to answer with, in seconds. */
  retryAfter: number;
  /**
   * Like Telegram, also answer 429 (with the seconds left) to any call arriving in the wait's scope before the wait
   * is over. The scope is the call's chat for a call with a `chat_id`, else the whole bot (getUpdates: polling).
   */
  enforce?: boolean;
}

/**
 * Telegram's published outgoing limits, enforced per bot on every call with a `chat_id` (but getUpdates); see
 * `LocalBotApiOptions.limits`. Defaults: 1 message/s per chat, 20/min per group or channel, 30/s per bot.
 */
export interface TelegramLimits {
  /** Messages per second in one chat, private or group (default 1). */
  perChatPerSecond?: number;
  /** Messages per minute in one group or channel (negative or @username chat_id; default 20). */
  perGroupPerMinute?: number;
  /** Messages per second of the bot, all chats together (default 30). */
  perBotPerSecond?: number;
  /** The `retry_after` (s) of every 429 for a broken limit; by default the whole seconds until the call would fit. */
  retryAfter?: number;
}

/** `parameters` of a failed answer. */
export interface ResponseParameters {
  retry_after?: number;
  migrate_to_chat_id?: number;
}

/** A Bot API error; thrown by method handlers, answered as `{ ok: false, error_code, description, parameters? }`. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: ResponseParameters,
  ) {
    super(description);
    this.name = "ApiError";
  }
}

/** A handler installed with `LocalBotApi.setHandler`: returns the `result`, or throws an {@link ApiError}. */
export type MethodHandler = (call: { token: string; bot: BotUser; params: Params }) => unknown;

/** Telegram's update types, in the order of the Update object. */
export const UPDATE_TYPES: readonly string[] = [
  "message",
  "edited_message",
  "channel_post",
  "edited_channel_post",
  "business_connection",
  "business_message",
  "edited_business_message",
  "deleted_business_messages",
  "guest_message",
  "stopped_message_generation",
  "message_reaction",
  "message_reaction_count",
  "inline_query",
  "chosen_inline_result",
  "callback_query",
  "shipping_query",
  "pre_checkout_query",
  "purchased_paid_media",
  "poll",
  "poll_answer",
  "my_chat_member",
  "chat_member",
  "chat_join_request",
  "chat_boost",
  "removed_chat_boost",
  "managed_bot",
  "subscription",
];

/** Types Telegram does not send unless asked for explicitly in allowed_updates. */
export const NOT_BY_DEFAULT: ReadonlySet<string> = new Set(["chat_member", "message_reaction", "message_reaction_count"]);
