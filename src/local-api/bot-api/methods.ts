import type { Chat, Message, User } from "grammy/types";
import type { BotState } from "./bot-state.js";
import { applyParseMode, type Formatted } from "./formatting.js";
import { chatIdArg, intArg, jsonArg, strArg } from "./params.js";
import { ApiError, type Params } from "./types.js";

/** A built-in method: returns the result (or a promise of it), or throws an {@link ApiError}. */
export type BuiltinHandler = (bot: BotState, params: Params, signal: AbortSignal | undefined) => unknown;

const MAX_TEXT = 4096;
const MAX_CAPTION = 1024;
const MAX_ALERT = 200;
const CHAT_ACTIONS = new Set([
  "typing",
  "upload_photo",
  "record_video",
  "upload_video",
  "record_voice",
  "upload_voice",
  "upload_document",
  "choose_sticker",
  "find_location",
  "record_video_note",
  "upload_video_note",
]);
const PARSE_MODES = new Set(["html", "markdown", "markdownv2"]);
const NOT_MODIFIED =
  "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a " +
  "current content and reply markup of the message";

/** What the local Bot API keeps of a message the bot sent, to check edits. */
interface SentMessage {
  /** The text (of a text message) or caption (of a media message), after its parse_mode was applied. */
  text: string | undefined;
  /** JSON of the text's entities. */
  entities: string;
  /** JSON of the inline keyboard, "" without one. */
  markup: string;
  /** Whether it is a media message (photo, document, ...): those have a caption, not a text. */
  media: boolean;
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

function checkMode(params: Params): string | undefined {
  const mode = strArg(params.parse_mode);
  if (mode !== undefined && mode !== "" && !PARSE_MODES.has(mode.toLowerCase())) {
    throw new ApiError(400, `Bad Request: unsupported parse_mode`);
  }
  return mode === "" ? undefined : mode;
}

/** The message text of a call, checked and formatted (its parse_mode applied) like Telegram. */
function textArg(params: Params): Formatted {
  const raw = strArg(params.text);
  if (raw === undefined || raw.trim() === "") throw new ApiError(400, "Bad Request: message text is empty");
  if (raw.length > MAX_TEXT) throw new ApiError(400, "Bad Request: message is too long");
  const f = applyParseMode(raw, checkMode(params), jsonArg(params.entities, "entities"));
  if (f.text.trim() === "") throw new ApiError(400, "Bad Request: message text is empty");
  return f;
}

/** The caption of a media call, formatted; undefined without one. */
function captionArg(params: Params): Formatted | undefined {
  const raw = strArg(params.caption);
  if (raw === undefined || raw === "") return undefined;
  if (raw.length > MAX_CAPTION) throw new ApiError(400, "Bad Request: message caption is too long");
  return applyParseMode(raw, checkMode(params), jsonArg(params.caption_entities, "caption entities"));
}

/** Sets `text` (or `caption`) and its entities on a message being built. */
function putText(extra: Record<string, unknown>, f: Formatted | undefined, field: "text" | "caption"): void {
  if (f === undefined) return;
  extra[field] = f.text;
  if (f.entities.length > 0) extra[field === "text" ? "entities" : "caption_entities"] = f.entities;
}

/** A new message of the bot in a chat: the chat's next message id. */
function newMessage(bot: BotState, chatId: number | string, extra: Record<string, unknown>, params: Params): Message {
  const chat = chatFor(bot, chatId);
  const messageId = bot.nextMessageId(chat.id);
  const msg: Record<string, unknown> = { message_id: messageId, from: botAsUser(bot), chat, date: now(), ...extra };
  const replyTo = replyToArg(params);
  if (replyTo !== undefined) msg.reply_to_message = { message_id: replyTo, chat, date: now() };
  if (bot.keepMessages) {
    const media = typeof extra.text !== "string";
    const text = (media ? extra.caption : extra.text) as string | undefined;
    const entities = JSON.stringify((media ? extra.caption_entities : extra.entities) ?? []);
    messagesOf(bot, chat.id).set(messageId, {
      text,
      entities,
      markup: extra.reply_markup ? JSON.stringify(extra.reply_markup) : "",
      media,
    });
  }
  return msg as unknown as Message;
}

/** The message a send call replies to (`reply_parameters.message_id` or the older `reply_to_message_id`). */
function replyToArg(params: Params): number | undefined {
  const rp = jsonArg(params.reply_parameters, "reply parameters") as { message_id?: unknown } | undefined;
  const id = intArg(rp?.message_id ?? params.reply_to_message_id, 0);
  return id > 0 ? id : undefined;
}

function sendMessage(bot: BotState, params: Params): Message {
  const chatId = requireChat(params);
  const extra: Record<string, unknown> = {};
  putText(extra, textArg(params), "text");
  const { inline } = markupArg(params);
  if (inline !== undefined) extra.reply_markup = inline;
  return newMessage(bot, chatId, extra, params);
}

/** The message an edit call is about; throws like Telegram when it is not the bot's or does not exist. */
function editTarget(bot: BotState, params: Params): { chat: Chat; messageId: number; stored: SentMessage | undefined } {
  const chat = chatFor(bot, requireChat(params));
  const messageId = intArg(params.message_id, 0);
  if (messageId <= 0) throw new ApiError(400, "Bad Request: message identifier is not specified");
  const last = bot.lastMessageIdOf(chat.id);
  if (!bot.keepMessages && messageId <= last) return { chat, messageId, stored: undefined };
  const stored = messagesOf(bot, chat.id).get(messageId);
  if (stored === undefined) {
    throw new ApiError(400, messageId <= last ? "Bad Request: message can't be edited" : "Bad Request: message to edit not found");
  }
  return { chat, messageId, stored };
}

function editMessageText(bot: BotState, params: Params): Message | true {
  const inlineId = strArg(params.inline_message_id);
  const f = textArg(params);
  const { inline } = markupArg(params);
  if (inlineId !== undefined && inlineId !== "") return true;
  const { chat, messageId, stored } = editTarget(bot, params);
  const extra: Record<string, unknown> = {};
  putText(extra, f, "text");
  if (stored !== undefined) {
    if (stored.media) throw new ApiError(400, "Bad Request: there is no text in the message to edit");
    const markup = inline === undefined ? "" : JSON.stringify(inline);
    const entities = JSON.stringify(f.entities);
    if (stored.text === f.text && stored.entities === entities && stored.markup === markup) throw new ApiError(400, NOT_MODIFIED);
    Object.assign(stored, { text: f.text, entities, markup });
  }
  return edited(bot, chat, messageId, extra, inline);
}

function editMessageCaption(bot: BotState, params: Params): Message | true {
  const f = captionArg(params);
  const { inline } = markupArg(params);
  if ((strArg(params.inline_message_id) ?? "") !== "") return true;
  const { chat, messageId, stored } = editTarget(bot, params);
  const extra: Record<string, unknown> = {};
  putText(extra, f, "caption");
  if (stored !== undefined) {
    if (!stored.media) throw new ApiError(400, "Bad Request: there is no caption in the message to edit");
    const markup = inline === undefined ? "" : JSON.stringify(inline);
    const entities = JSON.stringify(f?.entities ?? []);
    if (stored.text === f?.text && stored.entities === entities && stored.markup === markup) throw new ApiError(400, NOT_MODIFIED);
    Object.assign(stored, { text: f?.text, entities, markup });
  }
  return edited(bot, chat, messageId, extra, inline);
}

function editMessageReplyMarkup(bot: BotState, params: Params): Message | true {
  const { inline } = markupArg(params);
  if ((strArg(params.inline_message_id) ?? "") !== "") return true;
  const { chat, messageId, stored } = editTarget(bot, params);
  const extra: Record<string, unknown> = {};
  if (stored !== undefined) {
    const markup = inline === undefined ? "" : JSON.stringify(inline);
    if (stored.markup === markup) throw new ApiError(400, NOT_MODIFIED);
    stored.markup = markup;
    const field = stored.media ? "caption" : "text";
    if (stored.text !== undefined) extra[field] = stored.text;
    const entities = JSON.parse(stored.entities) as unknown[];
    if (entities.length > 0) extra[stored.media ? "caption_entities" : "entities"] = entities;
  }
  return edited(bot, chat, messageId, extra, inline);
}

function edited(bot: BotState, chat: Chat, messageId: number, extra: Record<string, unknown>, inline: unknown): Message {
  const msg: Record<string, unknown> = { message_id: messageId, from: botAsUser(bot), chat, date: now(), edit_date: now(), ...extra };
  if (inline !== undefined) msg.reply_markup = inline;
  return msg as unknown as Message;
}

function deleteMessage(bot: BotState, params: Params): true {
  const chat = chatFor(bot, requireChat(params));
  const messageId = intArg(params.message_id, 0);
  if (messageId <= 0 || messageId > bot.lastMessageIdOf(chat.id)) {
    throw new ApiError(400, "Bad Request: message to delete not found");
  }
  if (bot.keepMessages) messagesOf(bot, chat.id).delete(messageId);
  return true;
}

function answerCallbackQuery(_bot: BotState, params: Params): true {
  if (strArg(params.callback_query_id) === undefined) {
    throw new ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid");
  }
  if ((strArg(params.text) ?? "").length > MAX_ALERT) throw new ApiError(400, "Bad Request: MESSAGE_TOO_LONG");
  return true;
}

function sendChatAction(_bot: BotState, params: Params): true {
  requireChat(params);
  if (!CHAT_ACTIONS.has(strArg(params.action) ?? "")) throw new ApiError(400, "Bad Request: wrong parameter action in request");
  return true;
}

/** The name of a file argument: an uploaded file's name, a URL's last segment, else the file_id as given. */
function fileName(value: unknown, fallback: string): string {
  if (typeof value === "object" && value !== null && typeof (value as { filename?: unknown }).filename === "string") {
    return (value as { filename: string }).filename;
  }
  const s = strArg(value);
  if (s === undefined || s === "") return fallback;
  return /^https?:\/\//.test(s) ? s.split("/").pop() || fallback : s;
}

let fileSeq = 0;
const fileIds = (): { file_id: string; file_unique_id: string } => {
  const n = (++fileSeq).toString(36);
  return { file_id: `FAKEFILE${n.padStart(8, "0")}`, file_unique_id: `U${n}` };
};

/** Other send* methods: a message of the bot with the caption, if any, and a placeholder of its photo or document. */
function sendOther(bot: BotState, params: Params): Message {
  const extra: Record<string, unknown> = {};
  putText(extra, captionArg(params), "caption");
  if (params.photo !== undefined) extra.photo = [{ ...fileIds(), width: 320, height: 240, file_size: 1024 }];
  if (params.document !== undefined) {
    extra.document = { ...fileIds(), file_name: fileName(params.document, "document"), file_size: 1024 };
  }
  const { inline } = markupArg(params);
  if (inline !== undefined) extra.reply_markup = inline;
  return newMessage(bot, requireChat(params), extra, params);
}

const HANDLERS: Record<string, BuiltinHandler> = {
  getMe: (bot) => bot.user,
  getUpdates: (bot, params, signal) => bot.getUpdates(params, signal),
  setWebhook: (bot, params) => bot.setWebhook(params),
  deleteWebhook: (bot, params) => bot.deleteWebhook(params),
  getWebhookInfo: (bot) => bot.webhookInfo(),
  sendMessage,
  editMessageText,
  editMessageCaption,
  editMessageReplyMarkup,
  deleteMessage,
  answerCallbackQuery,
  sendChatAction,
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
