import type { Chat, Message, MessageEntity, User } from "grammy/types";
import type { UpdateBody } from "./bot-api/types.js";

export type { UpdateBody };

/** Options of {@link message} and {@link command}. */
export interface MessageOptions {
  /** Sender's user id (default: the chat id in private chats, else the chat id without its sign). */
  fromId?: number;
  /** Default: `private` for positive ids, `supergroup` for ids like -100xxxxxxxxxx, else `group`. */
  chatType?: "private" | "group" | "supergroup";
}

/** Options of {@link callbackQuery}. */
export interface CallbackQueryOptions {
  /** Who pressed the button (default: as for {@link message}). */
  fromId?: number;
  /** The bot message the button is on (default 1). */
  messageId?: number;
  /** Text of that message (default none). */
  messageText?: string;
}

/** Last message id per chat: ids increase per chat, like Telegram's. */
const lastMessageId = new Map<number, number>();
let lastCallbackQueryId = 4_000_000_000_000_000;

const now = (): number => Math.floor(Date.now() / 1000);

function nextMessageId(chatId: number): number {
  const id = (lastMessageId.get(chatId) ?? 0) + 1;
  lastMessageId.set(chatId, id);
  return id;
}

/** A chat object for an id (type from the id's shape unless given). */
export function chatOf(chatId: number, type?: MessageOptions["chatType"]): Chat {
  const t = type ?? (chatId > 0 ? "private" : chatId <= -1_000_000_000_000 ? "supergroup" : "group");
  if (t === "private") return { id: chatId, type: t, first_name: `User ${chatId}` };
  return { id: chatId, type: t, title: `${t === "group" ? "Group" : "Supergroup"} ${chatId}` };
}

/** A (human) user object. */
export function userOf(id: number): User {
  return { id, is_bot: false, first_name: `User ${id}`, language_code: "en" };
}

/** A text message from a user in `chatId`, with the chat's next message id. */
export function message(chatId: number, text: string, opts: MessageOptions = {}): UpdateBody {
  const msg = {
    message_id: nextMessageId(chatId),
    from: userOf(opts.fromId ?? Math.abs(chatId)),
    chat: chatOf(chatId, opts.chatType),
    date: now(),
    text,
  } as Message.TextMessage;
  return { message: msg } as UpdateBody;
}

/**
 * A `/cmd args` message with the `bot_command` entity Telegram adds (so grammY's `bot.command()` matches).
 * `cmd` may be given with or without the slash, and with an `@botname`.
 */
export function command(chatId: number, cmd: string, args = "", opts: MessageOptions = {}): UpdateBody {
  const name = cmd.startsWith("/") ? cmd : `/${cmd}`;
  const body = message(chatId, args === "" ? name : `${name} ${args}`, opts);
  const entities: MessageEntity[] = [{ type: "bot_command", offset: 0, length: name.length }];
  (body.message as Message.TextMessage).entities = entities;
  return body;
}

/** A press on an inline button with callback `data`, on a message of the bot in `chatId`. */
export function callbackQuery(chatId: number, data: string, opts: CallbackQueryOptions = {}): UpdateBody {
  // the message's `from` (the bot) is filled in by LocalBotApi.inject
  const msg: Record<string, unknown> = { message_id: opts.messageId ?? 1, chat: chatOf(chatId), date: now() };
  if (opts.messageText !== undefined) msg.text = opts.messageText;
  return {
    callback_query: {
      id: String(++lastCallbackQueryId),
      from: userOf(opts.fromId ?? Math.abs(chatId)),
      message: msg as unknown as Message,
      chat_instance: String(-7_000_000_000_000_000 - Math.abs(chatId)),
      data,
    },
  } as UpdateBody;
}
