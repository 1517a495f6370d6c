import type { Chat, InlineKeyboardMarkup, Message, MessageEntity, User } from "grammy/types";
import { commandEntities } from "./formatting.js";
import { chatIdArg, intArg, jsonArg, strArg } from "./params.js";
import type { BotUser, Params, UpdateBody } from "./types.js";
import type { WorldBot, WorldChat, WorldEvent, WorldEventBody, WorldMessage, WorldUser } from "./world-types.js";

/** What the world needs of the local Bot API. */
export interface WorldLink {
  /** The bot with this Telegram id (undefined when unknown or revoked). */
  bot(id: number): { token: string; user: BotUser } | undefined;
  inject(token: string, update: UpdateBody): number;
  nextMessageId(token: string, chatId: number): number;
}

/** Messages kept per chat, and events kept for late subscribers. */
const KEEP_MESSAGES = 500;
const KEEP_EVENTS = 2000;
const KEEP_QUERIES = 1000;
const FIRST_USER_ID = 5_000_001;
const FIRST_GROUP_ID = -1_009_000_000_001;

const now = (): number => Math.floor(Date.now() / 1000);

/**
 * Simulated users and chats on top of the local Bot API, the way a Telegram client sees them: users write in
 * private chats with one bot or in groups with several users and bots (a group message reaches every bot of the
 * group), press inline buttons, and see what the bots send, edit, delete, answer (alerts) and do ("typing").
 * Everything that happens is an event ({@link events}, {@link subscribe}), so a page can follow it live.
 */
export class ChatWorld {
  private readonly userMap = new Map<number, WorldUser>();
  private readonly chatMap = new Map<string, WorldChat>();
  private readonly transcripts = new Map<string, WorldMessage[]>();
  private readonly queries = new Map<string, { chat: string; bot: number; message: number }>();
  private readonly listeners = new Set<(e: WorldEvent) => void>();
  private readonly log: WorldEvent[] = [];
  private seq = 0;
  private nextUserId = FIRST_USER_ID;
  private nextGroupId = FIRST_GROUP_ID;
  private querySeq = 0;

  constructor(private readonly link: WorldLink) {}

  /** Adds a user (an id of your choice, else the next free one) and returns it. */
  addUser(firstName: string, id?: number): WorldUser {
    const uid = id ?? this.nextUserId++;
    if (!Number.isSafeInteger(uid) || uid <= 0) throw new Error("ChatWorld.addUser: a user id is a positive integer");
    if (this.userMap.has(uid)) throw new Error(`ChatWorld.addUser: user ${uid} exists`);
    const user: WorldUser = { id: uid, first_name: cleanName(firstName) };
    this.userMap.set(uid, user);
    this.emit({ type: "user", user: { ...user } });
    return { ...user };
  }

  /** Renames a user (what bots see as `from.first_name` from now on). */
  renameUser(id: number, firstName: string): WorldUser {
    const user = this.user(id);
    user.first_name = cleanName(firstName);
    this.emit({ type: "user", user: { ...user } });
    return { ...user };
  }

  users(): WorldUser[] {
    return [...this.userMap.values()].map((u) => ({ ...u }));
  }

  chats(): WorldChat[] {
    return [...this.chatMap.values()].map(copyChat);
  }

  /** A chat's messages, oldest first (deleted ones are gone). */
  messages(chatKey: string): WorldMessage[] {
    return (this.transcripts.get(chatKey) ?? []).map((m) => structuredClone(m));
  }

  /** The private chat of a user with a bot (created on first use). */
  privateChat(userId: number, botId: number): WorldChat {
    const user = this.user(userId);
    const bot = this.botUser(botId);
    const key = `private:${user.id}:${bot.id}`;
    let chat = this.chatMap.get(key);
    if (chat === undefined) {
      chat = { key, type: "private", id: user.id, title: bot.first_name, users: [user.id], bots: [bot.id] };
      this.chatMap.set(key, chat);
      this.emit({ type: "chat", chat: copyChat(chat) });
    }
    return copyChat(chat);
  }

  /** Creates a group (a supergroup to the bots) with these users and bots. */
  createGroup(title: string, userIds: readonly number[], botIds: readonly number[]): WorldChat {
    if (userIds.length === 0 || botIds.length === 0) throw new Error("ChatWorld.createGroup: a group needs a user and a bot");
    for (const u of userIds) this.user(u);
    for (const b of botIds) this.botUser(b);
    const id = this.nextGroupId--;
    const chat: WorldChat = {
      key: `group:${id}`,
      type: "group",
      id,
      title: cleanName(title),
      users: [...new Set(userIds)],
      bots: [...new Set(botIds)],
    };
    this.chatMap.set(chat.key, chat);
    this.emit({ type: "chat", chat: copyChat(chat) });
    return copyChat(chat);
  }

  /**
   * A user writes `text` in a chat: the message (with the `bot_command` entities Telegram adds) is delivered to
   * the chat's bot, or to every bot of a group. Returns the message as the chat shows it.
   */
  send(userId: number, chatKey: string, text: string, opts: { replyTo?: number } = {}): WorldMessage {
    const chat = this.member(userId, chatKey);
    if (text.trim() === "") throw new Error("ChatWorld.send: the text is empty");
    const first = this.link.bot(chat.bots[0]!);
    if (first === undefined) throw new Error(`ChatWorld.send: bot ${chat.bots[0]} is not running in the fake`);
    const id = this.link.nextMessageId(first.token, chat.id);
    const entities = commandEntities(text);
    const msg: WorldMessage = { chat: chat.key, id, from: { kind: "user", id: userId }, date: now(), text };
    if (entities.length > 0) msg.entities = entities;
    const replied = opts.replyTo === undefined ? undefined : this.find(chat.key, opts.replyTo);
    if (replied !== undefined) msg.reply_to = replied.id;
    this.append(msg);
    for (const botId of chat.bots) {
      const bot = this.link.bot(botId);
      if (bot === undefined) continue;
      const m = this.asTelegram(msg, chat) as unknown as Record<string, unknown>;
      if (replied !== undefined) m.reply_to_message = this.asTelegram(replied, chat);
      this.link.inject(bot.token, { message: m } as unknown as UpdateBody);
    }
    return structuredClone(msg);
  }

  /** A user presses the inline button with callback `data` on a bot's message; returns the callback query id. */
  press(userId: number, chatKey: string, messageId: number, data: string): string {
    const chat = this.member(userId, chatKey);
    const msg = this.find(chat.key, messageId);
    if (msg === undefined || msg.from.kind !== "bot") throw new Error(`ChatWorld.press: no bot message ${messageId} in ${chatKey}`);
    const has = msg.reply_markup?.inline_keyboard.some((row) => row.some((b) => "callback_data" in b && b.callback_data === data));
    if (has !== true) throw new Error(`ChatWorld.press: message ${messageId} has no button with that data`);
    const bot = this.link.bot(msg.from.id);
    if (bot === undefined) throw new Error(`ChatWorld.press: bot ${msg.from.id} is not running in the fake`);
    const id = `${msg.from.id}${String(++this.querySeq).padStart(9, "0")}`;
    this.queries.set(id, { chat: chat.key, bot: msg.from.id, message: msg.id });
    if (this.queries.size > KEEP_QUERIES) this.queries.delete(this.queries.keys().next().value!);
    this.link.inject(bot.token, {
      callback_query: {
        id,
        from: this.telegramUser(userId),
        message: this.asTelegram(msg, chat),
        chat_instance: String(-Math.abs(chat.id * 7 + msg.from.id)),
        data,
      },
    } as UpdateBody);
    return id;
  }

  /** Events after `afterSeq` still kept (the newest {@link KEEP_EVENTS}). */
  events(afterSeq = 0): WorldEvent[] {
    return this.log.filter((e) => e.seq > afterSeq);
  }

  /** Calls `listener` for every new event; returns the unsubscribe function. */
  subscribe(listener: (e: WorldEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called by the local Bot API after a bot's call succeeded: shows what it did in the world's chats. */
  observe(botUser: BotUser, method: string, params: Params, result: unknown): void {
    if (this.chatMap.size === 0) return;
    const chatId = chatIdArg(params.chat_id);
    if (method === "answerCallbackQuery") {
      const q = this.queries.get(strArg(params.callback_query_id) ?? "");
      if (q === undefined) return;
      const text = strArg(params.text);
      const show_alert = params.show_alert === true || params.show_alert === "true";
      this.emit({ type: "answer", chat: q.chat, bot: q.bot, message: q.message, ...(text ? { text } : {}), show_alert });
      return;
    }
    if (typeof chatId !== "number") return;
    const chat = this.chatOf(chatId, botUser.id);
    if (chat === undefined) return;
    if (method === "sendChatAction") {
      this.emit({ type: "action", chat: chat.key, bot: botUser.id, action: strArg(params.action) ?? "typing" });
    } else if (method === "deleteMessage") {
      const id = intArg(params.message_id, 0);
      const list = this.transcripts.get(chat.key) ?? [];
      const i = list.findIndex((m) => m.id === id);
      if (i !== -1) list.splice(i, 1);
      this.emit({ type: "delete", chat: chat.key, id, bot: botUser.id });
    } else if (method.startsWith("editMessage") && isMessage(result)) {
      const msg = this.find(chat.key, result.message_id);
      if (msg === undefined) return;
      Object.assign(msg, fromTelegram(result, chat.key, msg.from), { edited: true });
      if (result.reply_markup === undefined) delete msg.reply_markup;
      this.emit({ type: "edit", message: structuredClone(msg) });
    } else if (method.startsWith("send") || method === "copyMessage" || method === "forwardMessage") {
      const messages = Array.isArray(result) ? result : [result];
      for (const m of messages) {
        if (!isMessage(m)) continue;
        const msg = fromTelegram(m, chat.key, { kind: "bot", id: botUser.id });
        const replyTo = jsonArg(params.reply_parameters, "reply parameters") as { message_id?: number } | undefined;
        const to = intArg(replyTo?.message_id ?? params.reply_to_message_id, 0);
        if (to > 0) msg.reply_to = to;
        this.append(msg);
      }
    }
  }

  private chatOf(chatId: number, botId: number): WorldChat | undefined {
    if (chatId > 0) return this.userMap.has(chatId) ? this.chatMap.get(this.privateChat(chatId, botId).key) : undefined;
    const chat = this.chatMap.get(`group:${chatId}`);
    return chat?.bots.includes(botId) ? chat : undefined;
  }

  private append(msg: WorldMessage): void {
    let list = this.transcripts.get(msg.chat);
    if (list === undefined) this.transcripts.set(msg.chat, (list = []));
    list.push(msg);
    if (list.length > KEEP_MESSAGES) list.shift();
    this.emit({ type: "message", message: structuredClone(msg) });
  }

  private find(chatKey: string, id: number): WorldMessage | undefined {
    return this.transcripts.get(chatKey)?.find((m) => m.id === id);
  }

  private emit(body: WorldEventBody): void {
    const e = { ...body, seq: ++this.seq, at: Date.now() } as WorldEvent;
    this.log.push(e);
    if (this.log.length > KEEP_EVENTS) this.log.shift();
    for (const l of this.listeners) l(e);
  }

  private user(id: number): WorldUser {
    const u = this.userMap.get(id);
    if (u === undefined) throw new Error(`ChatWorld: no user ${id}`);
    return u;
  }

  private botUser(id: number): WorldBot {
    const b = this.link.bot(id);
    if (b === undefined) throw new Error(`ChatWorld: no bot ${id} in the fake`);
    return { id: b.user.id, first_name: b.user.first_name, username: b.user.username };
  }

  private member(userId: number, chatKey: string): WorldChat {
    const chat = this.chatMap.get(chatKey);
    if (chat === undefined) throw new Error(`ChatWorld: no chat ${chatKey}`);
    if (!chat.users.includes(userId)) throw new Error(`ChatWorld: user ${userId} is not in ${chatKey}`);
    return chat;
  }

  private telegramUser(id: number): User {
    const u = this.user(id);
    return { id: u.id, is_bot: false, first_name: u.first_name, ...(u.username ? { username: u.username } : {}), language_code: "en" };
  }

  /** A world message as the Bot API shows it to a bot. */
  private asTelegram(msg: WorldMessage, chat: WorldChat): Message {
    const tgChat: Chat =
      chat.type === "private"
        ? { id: chat.id, type: "private", first_name: this.user(chat.id).first_name }
        : { id: chat.id, type: "supergroup", title: chat.title };
    const from: User =
      msg.from.kind === "user"
        ? this.telegramUser(msg.from.id)
        : { id: msg.from.id, is_bot: true, ...pickBot(this.link.bot(msg.from.id)?.user) };
    const out: Record<string, unknown> = { message_id: msg.id, from, chat: tgChat, date: msg.date };
    if (msg.media === undefined) {
      if (msg.text !== undefined) out.text = msg.text;
      if (msg.entities !== undefined) out.entities = msg.entities;
    } else if (msg.text !== undefined) {
      out.caption = msg.text;
      if (msg.entities !== undefined) out.caption_entities = msg.entities;
    }
    if (msg.reply_markup !== undefined) out.reply_markup = msg.reply_markup;
    return out as unknown as Message;
  }
}

function pickBot(u: BotUser | undefined): { first_name: string; username?: string } {
  return u === undefined ? { first_name: "bot" } : { first_name: u.first_name, username: u.username };
}

function isMessage(x: unknown): x is Message & { reply_markup?: InlineKeyboardMarkup } {
  return typeof x === "object" && x !== null && typeof (x as { message_id?: unknown }).message_id === "number";
}

/** A bot's message (as the local Bot API answered it) as the chat shows it. */
function fromTelegram(m: Message, chat: string, from: WorldMessage["from"]): WorldMessage {
  const r = m as Message & Record<string, unknown>;
  const out: WorldMessage = { chat, id: m.message_id, from, date: m.date };
  const text = (r.text ?? r.caption) as string | undefined;
  const entities = (r.entities ?? r.caption_entities) as MessageEntity[] | undefined;
  if (text !== undefined) out.text = text;
  if (entities !== undefined && entities.length > 0) out.entities = entities;
  if (r.reply_markup !== undefined) out.reply_markup = r.reply_markup as InlineKeyboardMarkup;
  if (r.photo !== undefined) out.media = { kind: "photo" };
  else if (r.document !== undefined) out.media = { kind: "document", name: (r.document as { file_name?: string }).file_name };
  else if (r.text === undefined) out.media = { kind: "other" };
  return out;
}

function copyChat(c: WorldChat): WorldChat {
  return { ...c, users: [...c.users], bots: [...c.bots] };
}

function cleanName(name: string): string {
  const n = name.replace(/\s+/g, " ").trim().slice(0, 64);
  if (n === "") throw new Error("ChatWorld: a name must not be empty");
  return n;
}
