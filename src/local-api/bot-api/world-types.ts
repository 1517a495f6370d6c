import type { InlineKeyboardMarkup, MessageEntity } from "grammy/types";

/** A simulated (human) Telegram user of a {@link ChatWorld}. */
export interface WorldUser {
  id: number;
  first_name: string;
  username?: string;
}

/** A bot as the world shows it (never its token). */
export interface WorldBot {
  /** The bot's Telegram user id (the numeric part of its token). */
  id: number;
  first_name: string;
  username: string;
}

/**
 * A chat of the world: a private chat of one user with one bot (the bot sees chat id = the user's id), or a group
 * (a supergroup id like -100xxxxxxxxxx) with several users and several bots.
 */
export interface WorldChat {
  /** Unique key: `private:<userId>:<botId>` or `group:<chatId>`. */
  key: string;
  type: "private" | "group";
  /** The chat id the bots see. */
  id: number;
  title: string;
  /** User ids (one for a private chat). */
  users: number[];
  /** Bot ids (one for a private chat). */
  bots: number[];
}

/** Who sent a message of the world. */
export type WorldSender = { kind: "user"; id: number } | { kind: "bot"; id: number };

/** A message as the chat shows it to its members. */
export interface WorldMessage {
  chat: string;
  /** The message id (per chat in groups; per bot and user in a private chat, like Telegram). */
  id: number;
  from: WorldSender;
  /** Unix seconds. */
  date: number;
  /** Text or caption, without markup (formatting is in `entities`). */
  text?: string;
  entities?: MessageEntity[];
  reply_markup?: InlineKeyboardMarkup;
  /** The id of the message this one replies to. */
  reply_to?: number;
  /** A photo or document placeholder: the local Bot API keeps no file contents. */
  media?: { kind: "photo" | "document" | "other"; name?: string };
  edited?: boolean;
}

/** Something that happened in the world; `seq` grows by one per event. */
export type WorldEvent = { seq: number; at: number } & (
  | { type: "user"; user: WorldUser }
  | { type: "chat"; chat: WorldChat }
  | { type: "message"; message: WorldMessage }
  | { type: "edit"; message: WorldMessage }
  | { type: "delete"; chat: string; id: number; bot: number }
  | { type: "action"; chat: string; bot: number; action: string }
  | { type: "answer"; chat: string; bot: number; message: number; text?: string; show_alert: boolean }
);

/** The parts of a {@link WorldEvent} its sender gives; `seq` and `at` are added by the world. */
export type WorldEventBody = WorldEvent extends infer E ? (E extends WorldEvent ? Omit<E, "seq" | "at"> : never) : never;
