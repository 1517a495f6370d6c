import type { Update } from "grammy/types";

/** An update body without its `update_id` (the fake Bot API assigns it). */
export type UpdateBody = Omit<Update, "update_id">;

let nextMessageId = 1;

function chatOf(chatId: number, type?: "private" | "group" | "supergroup") {
  const t = type ?? (chatId > 0 ? "private" : "supergroup");
  return t === "private" ? { id: chatId, type: t, first_name: `User${chatId}` } : { id: chatId, type: t, title: `Group${chatId}` };
}

/** A text message in `chatId` (private for positive ids, a supergroup for negative ones). */
export function message(chatId: number, text: string, opts: { fromId?: number; chatType?: "private" | "group" | "supergroup" } = {}): UpdateBody {
  const fromId = opts.fromId ?? Math.abs(chatId);
  return {
    message: {
      message_id: nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat: chatOf(chatId, opts.chatType),
      from: { id: fromId, is_bot: false, first_name: `User${fromId}` },
      text,
    },
  } as UpdateBody;
}

/** A `/cmd args` message with the `bot_command` entity Telegram adds, so grammY's `command()` matches. */
export function command(chatId: number, cmd: string, args = "", opts: { fromId?: number } = {}): UpdateBody {
  const text = args === "" ? `/${cmd}` : `/${cmd} ${args}`;
  const u = message(chatId, text, opts) as unknown as { message: Record<string, unknown> };
  u.message.entities = [{ type: "bot_command", offset: 0, length: cmd.length + 1 }];
  return u as unknown as UpdateBody;
}

/** A press on an inline button with `data`, on a message the bot sent to `chatId`. */
export function callbackQuery(chatId: number, data: string, opts: { fromId?: number; messageId?: number; text?: string } = {}): UpdateBody {
  const fromId = opts.fromId ?? Math.abs(chatId);
  return {
    callback_query: {
      id: String(nextMessageId++),
      chat_instance: String(chatId),
      from: { id: fromId, is_bot: false, first_name: `User${fromId}` },
      data,
      message: {
        message_id: opts.messageId ?? 1,
        date: Math.floor(Date.now() / 1000),
        chat: chatOf(chatId),
        text: opts.text ?? "",
      },
    },
  } as UpdateBody;
}
