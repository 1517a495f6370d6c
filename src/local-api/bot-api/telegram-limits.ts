import type { TelegramLimits } from "./types.js";

type Options = Required<Omit<TelegramLimits, "retryAfter">> & Pick<TelegramLimits, "retryAfter">;

/** "At most `count` in any `ms`", over the arrival times of the calls it let through. */
class Window {
  private readonly times: number[] = [];

  constructor(
    readonly count: number,
    readonly ms: number,
  ) {}

  /** A window for "`rate` per `periodMs`": max(1, floor(rate)) calls per the matching share of the period. */
  static of(rate: number, periodMs: number): Window {
    const count = Math.max(1, Math.floor(rate));
    return new Window(count, (periodMs * count) / rate);
  }

  /** How long (ms) a call arriving at `at` would have to wait to fit, 0 when it fits now. */
  waitFor(at: number): number {
    const t = this.times;
    let i = t.length;
    // Arrivals are recorded in about the order they came; a later one already let through still counts.
    while (i > 0 && t[i - 1]! > at - this.ms) i--;
    const inWindow = t.length - i;
    if (inWindow < this.count) return 0;
    return t[i + inWindow - this.count]! + this.ms - at;
  }

  add(at: number): void {
    this.times.push(at);
    if (this.times.length > 4 * this.count + 64) this.times.splice(0, this.times.length - this.count);
  }

  /** True when nothing in the window can still hold a call arriving at `at` or later. */
  idle(at: number): boolean {
    return this.times.length === 0 || this.times[this.times.length - 1]! <= at - this.ms;
  }
}

interface ChatWindows {
  chat: Window;
  group: Window | undefined;
}

/**
 * Telegram's published outgoing limits of one bot, enforced like Telegram does: a call in a chat (any method
 * with a `chat_id` but getUpdates) that would be the second in a second in that chat, the 21st in a minute in
 * that group, or the 31st in a second of the bot is answered 429, and a wait starts in the scope of the limit it
 * broke: the chat for the chat and group limits, every chat of the bot for the bot's. Calls answered 429 do not
 * count.
 */
export class TelegramLimitsCheck {
  private readonly chats = new Map<string, ChatWindows>();
  private readonly bot: Window;
  private checks = 0;

  constructor(private readonly o: Options) {
    this.bot = Window.of(o.perBotPerSecond, 1000);
  }

  /** The check for one bot of the `limits` option (Telegram's published limits by default), if any. */
  static of(limits: TelegramLimits | boolean | undefined): TelegramLimitsCheck | undefined {
    if (limits === undefined || limits === false) return undefined;
    const l = limits === true ? {} : limits;
    return new TelegramLimitsCheck({
      perChatPerSecond: l.perChatPerSecond ?? 1,
      perGroupPerMinute: l.perGroupPerMinute ?? 20,
      perBotPerSecond: l.perBotPerSecond ?? 30,
      retryAfter: l.retryAfter,
    });
  }

  /** The 429 a call in `chat` arriving at `at` gets (the scope to hold and its retry_after), or undefined. */
  check(chat: string, at: number): { scope: string; retryAfter: number } | undefined {
    const w = this.chats.get(chat);
    const chatWait = w === undefined ? 0 : Math.max(w.chat.waitFor(at), w.group?.waitFor(at) ?? 0);
    if (chatWait > 0) return { scope: `c:${chat}`, retryAfter: this.retryAfter(chatWait) };
    const botWait = this.bot.waitFor(at);
    if (botWait > 0) return { scope: "chats", retryAfter: this.retryAfter(botWait) };
    return undefined;
  }

  /** A call in `chat` arriving at `at` was let through. */
  add(chat: string, at: number): void {
    let w = this.chats.get(chat);
    if (w === undefined) {
      const group = chat.startsWith("-") || chat.startsWith("@") ? Window.of(this.o.perGroupPerMinute, 60_000) : undefined;
      w = { chat: Window.of(this.o.perChatPerSecond, 1000), group };
      this.chats.set(chat, w);
    }
    w.chat.add(at);
    w.group?.add(at);
    this.bot.add(at);
    if (++this.checks % 4096 === 0) {
      for (const [c, x] of this.chats) if (x.chat.idle(at) && (x.group?.idle(at) ?? true)) this.chats.delete(c);
    }
  }

  private retryAfter(waitMs: number): number {
    return this.o.retryAfter ?? Math.max(1, Math.ceil(waitMs / 1000));
  }
}
