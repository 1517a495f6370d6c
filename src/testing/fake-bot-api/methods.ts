import type { Chat, Message, User } from "grammy/types";
import type { BotState } from "./bot-state.js";
import { chatIdArg, intArg, jsonArg, strArg } from "./params.js";
import { ApiError, type Params } from "./types.js";

/** A built-in method: returns the result (or a promise of it), or throws an {@link ApiError}. */
export type BuiltinHandler = (bot: BotState, params: Params, signal: AbortSignal | undefined) => unknown;

const MAX_TEXT = 4096;
const PARSE_MODES = new Set(["html", "markdown", "markdownv2"]);
const NOT_MODIFIED =
  "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a " +
  "current content and reply markup of the message";

/** What the fake keeps of a message the bot sent, to check edits. */
interface SentMessage {
  text: string | undefined;
  /** JSON of the inline keyboard, "" without one. */
  markup: string;
}

const sentMessages = new WeakMap<BotState, Map<number | string, Map<number, SentMessage>>>();

function messagesOf(bot: BotState, chatId: number | string): Map<number, SentMessage> {
  let chats = sentMessages.get(bot);
  if (chats === undefined) sentMessages.set(bot, (chats = new Map()));
  let msgs = chats.get(chatId);
  if (msgs === undefined) chats.set(chatId, (msgs = new Map()));
  return msgs;
}

const now = (): number => Math.floor(Date.now() / 1000);

function requireChat(params: Params): number | string {
  const id = chatIdArg(params.chat_id);
  if (id === undefined) throw new ApiError(400, "Bad Request: chat_id is empty");
  return id;
}

/** The chat object for a chat id: as seen in injected updates, else made up from the id's shape. */
function chatFor(bot: BotState, id: number | string): Chat {
  if (typeof id === "number") {
    const seen = bot.chats.get(id);
    if (seen !== undefined) return seen;
    if (id > 0) return { id, type: "private", first_name: `User ${id}` };
    if (id <= -1_000_000_000_000) return { id, type: "supergroup", title: `Supergroup ${id}` };
    return { id, type: "group", title: `Group ${id}` };
  }
  const username = id.replace(/^@/, "");
  for (const chat of bot.chats.values()) if ("username" in chat && chat.username === username) return chat;
  let h = 0;
  for (const ch of username) h = (h * 31 + ch.charCodeAt(0)) % 1_000_000_000;
  return { id: -1_000_000_000_000 - h, type: "channel", title: username, username };
}

function botAsUser(bot: BotState): User {
  return { id: bot.user.id, is_bot: true, first_name: bot.user.first_name, username: bot.user.username };
}

/** reply_markup of a call; only inline keyboards show on the Message, like Telegram. */
function markupArg(params: Params): { raw: unknown; inline: unknown } {
  const raw = jsonArg(params.reply_markup, "reply keyboard markup");
  if (raw === undefined) return { raw, inline: undefined };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object");
  }
  return { raw, inline: "inline_keyboard" in raw ? raw : undefined };
}

function checkText(text: string | undefined, params: Params): string {
  if (text === undefined || text.trim() === "") throw new ApiError(400, "Bad Request: message text is empty");
  if (text.length > MAX_TEXT) throw new ApiError(400, "Bad Request: message is too long");
  const mode = strArg(params.parse_mode);
  if (mode !== undefined && mode !== "" && !PARSE_MODES.has(mode.toLowerCase())) {
    throw new ApiError(400, `Bad Request: unsupported parse_mode`);
  }
  return text;
}

/** A new message of the bot in a chat: the chat's next message id. */
function newMessage(bot: BotState, chatId: number | string, extra: Record<string, unknown>): Message {
  const chat = chatFor(bot, chatId);
  const messageId = (bot.lastMessageId.get(chat.id) ?? 0) + 1;
  bot.lastMessageId.set(chat.id, messageId);
  const msg = { message_id: messageId, from: botAsUser(bot), chat, date: now(), ...extra } as Message;
  if (bot.keepMessages) {
    const text = typeof extra.text === "string" ? extra.text : undefined;
    messagesOf(bot, chat.id).set(messageId, { text, markup: extra.reply_markup ? JSON.stringify(extra.reply_markup) : "" });
  }
  return msg;
}

function sendMessage(bot: BotState, params: Params): Message {
  const chatId = requireChat(params);
  const text = checkText(strArg(params.text), params);
  const { inline } = markupArg(params);
  const extra: Record<string, unknown> = { text };
  if (inline !== undefined) extra.reply_markup = inline;
  return newMessage(bot, chatId, extra);
}

function editMessageText(bot: BotState, params: Params): Message | true {
  const inlineId = strArg(params.inline_message_id);
  const text = checkText(strArg(params.text), params);
  const { inline } = markupArg(params);
  if (inlineId !== undefined && inlineId !== "") return true;
  const chat = chatFor(bot, requireChat(params));
  const messageId = intArg(params.message_id, 0);
  if (messageId <= 0) throw new ApiError(400, "Bad Request: message identifier is not specified");
  const last = bot.lastMessageId.get(chat.id) ?? 0;
  if (!bot.keepMessages && messageId <= last) return edited(bot, chat, messageId, text, inline);
  const stored = messagesOf(bot, chat.id).get(messageId);
  if (stored === undefined) {
    throw new ApiError(400, messageId <= last ? "Bad Request: message can't be edited" : "Bad Request: message to edit not found");
  }
  const markup = inline === undefined ? "" : JSON.stringify(inline);
  if (stored.text === text && stored.markup === markup) throw new ApiError(400, NOT_MODIFIED);
  stored.text = text;
  stored.markup = markup;
  return edited(bot, chat, messageId, text, inline);
}

function edited(bot: BotState, chat: Chat, messageId: number, text: string, inline: unknown): Message {
  const msg: Record<string, unknown> = {
    message_id: messageId,
    from: botAsUser(bot),
    chat,
    date: now(),
    edit_date: now(),
    text,
  };
  if (inline !== undefined) msg.reply_markup = inline;
  return msg as unknown as Message;
}

function deleteMessage(bot: BotState, params: Params): true {
  const chat = chatFor(bot, requireChat(params));
  const messageId = intArg(params.message_id, 0);
  if (messageId <= 0 || messageId > (bot.lastMessageId.get(chat.id) ?? 0)) {
    throw new ApiError(400, "Bad Request: message to delete not found");
  }
  if (bot.keepMessages) messagesOf(bot, chat.id).delete(messageId);
  return true;
}

/** Other send* methods: a message of the bot with the caption, if any. */
function sendOther(bot: BotState, params: Params): Message {
  const extra: Record<string, unknown> = {};
  const caption = strArg(params.caption);
  if (caption !== undefined) extra.caption = caption;
  const { inline } = markupArg(params);
  if (inline !== undefined) extra.reply_markup = inline;
  return newMessage(bot, requireChat(params), extra);
}

const HANDLERS: Record<string, BuiltinHandler> = {
  getMe: (bot) => bot.user,
  getUpdates: (bot, params, signal) => bot.getUpdates(params, signal),
  setWebhook: (bot, params) => bot.setWebhook(params),
  deleteWebhook: (bot, params) => bot.deleteWebhook(params),
  getWebhookInfo: (bot) => bot.webhookInfo(),
  sendMessage,
  editMessageText,
  deleteMessage,
  answerCallbackQuery: (_bot, params) => {
    if (strArg(params.callback_query_id) === undefined) {
      throw new ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid");
    }
    return true;
  },
  sendChatAction: (_bot, params) => (requireChat(params), true),
  sendMediaGroup: (bot, params) => [sendOther(bot, params)],
  forwardMessage: sendOther,
  copyMessage: (bot, params) => ({ message_id: sendOther(bot, params).message_id }),
  getChat: (bot, params) => ({ ...chatFor(bot, requireChat(params)), accent_color_id: 0, max_reaction_count: 11 }),
  getMyCommands: () => [],
};

/** The built-in handler of a (canonical) method: a specific one, a generic one for send*, else `true`. */
export function builtinHandler(method: string): BuiltinHandler {
  const h = HANDLERS[method];
  if (h !== undefined) return h;
  if (/^send[A-Z]/.test(method) && !method.endsWith("Draft") && method !== "sendGift") return sendOther;
  return () => true;
}
