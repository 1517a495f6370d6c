import type { ApiResponse } from "grammy/types";
import { OutboxChat } from "./outbox-chat.js";
import { RateWindow } from "./rate-window.js";
import { WakeHeap } from "./wake-heap.js";
import { retryAfterMs, tooManyRequests, type AttemptOutcome, type FloodWaits, type RetryPolicy } from "./retry.js";

/** The next transformer of a call (grammY's `prev`). */
export type SendCall = (method: string, payload: unknown, signal: AbortSignal | undefined) => Promise<ApiResponse<unknown>>;

/** What an {@link Outbox} paces by. */
export interface OutboxOptions {
  /** Messages per second, all chats of the bot together. */
  perBotPerSecond: number;
  /** Messages per second in one chat (private or group). */
  perChatPerSecond: number;
  /** Messages per minute in one group or channel. */
  perGroupPerMinute: number;
  /** Retries of a call; each goes back to the head of its chat's queue and waits its turn again. */
  policy: RetryPolicy | undefined;
  /** A flood wait longer than this fails the chat's queued calls at once (with Telegram's 429) instead. */
  maxDelayMs: number;
  /** The bot's flood waits: one of the whole bot (a 429 to a call without a chat) holds every chat. */
  waits: FloodWaits;
  /** Wraps each send (the cluster-wide limiter); called at the moment the call leaves for the wire. */
  wrap?: (send: () => Promise<ApiResponse<unknown>>) => Promise<ApiResponse<unknown>>;
  /** Told how long each call waited for its first send (ms). */
  onWait?: (method: string, waitMs: number) => void;
  /**
   * The pace of background calls (a campaign's, see {@link Outbox.sendBackground}); `paid`: they are paid broadcasts,
   * which Telegram does not count against the bot's own limit.
   */
  background?: { perSecond: number; paid: boolean };
}

interface Job {
  readonly prev: SendCall;
  readonly method: string;
  readonly payload: unknown;
  readonly signal: AbortSignal | undefined;
  readonly queuedAt: number;
  /** A campaign's call: sent only with what interactive calls leave (see {@link Outbox.sendBackground}). */
  readonly background: boolean;
  attempt: number;
  resolve(res: ApiResponse<unknown>): void;
  reject(err: unknown): void;
  onAbort?: () => void;
}

type Chat = OutboxChat<Job>;

/**
 * One bot's queue of calls to chats, sent at Telegram's pace as measured where Telegram measures it: each chat's
 * limit and the bot's limit are {@link RateWindow}s, which count a call from the moment it is sent until its
 * answer arrives, so no queue or pause between the decision and the wire can squeeze two calls closer than the
 * limit allows. Each chat's calls go in order, one chat's wait never holds another chat, and chats ready at the
 * same time take turns. A retry goes back to the head of its chat and waits its turn like any call, so after a
 * flood wait calls resume at the pace, never in a burst.
 */
export class Outbox {
  private readonly chats = new Map<string, Chat>();
  private ready: Chat[] = [];
  private readyHead = 0;
  private readonly heap = new WakeHeap<Chat>();
  private readonly bot: RateWindow;
  private timer: NodeJS.Timeout | undefined;
  private queued = 0;
  private stopped: Error | undefined;
  /** Background calls waiting, oldest first, by chat key (the chat is looked up when one leaves). */
  private readonly background: Array<{ key: string; job: Job }> = [];
  private readonly backgroundWindow: RateWindow;
  /** A campaign's 429 (or a retry's backoff) pauses the campaign, never the chats. */
  private backgroundHoldUntil = 0;
  /** Slots of the bot's window a background call must leave free, for the replies that may come any moment. */
  private readonly reserve: number;

  constructor(private readonly o: OutboxOptions) {
    // A window, like Telegram's "30 messages per second", rather than an even spacing: grammY's throttler (a
    // reservoir of 30 per second) and python-telegram-bot's limiter (a bucket of 30) also let a second's worth go
    // at once.
    this.bot = RateWindow.of(o.perBotPerSecond, 1000);
    this.backgroundWindow = RateWindow.of(o.background?.perSecond ?? o.perBotPerSecond, 1000);
    this.reserve = Math.max(1, Math.ceil(this.bot.count / 6));
  }

  /** Queues a call to the chat `chatKey`; resolves with its last attempt's answer. */
  send(chatKey: string, prev: SendCall, method: string, payload: unknown, signal: AbortSignal | undefined): Promise<ApiResponse<unknown>> {
    if (this.stopped !== undefined) return Promise.reject(this.stopped);
    if (signal?.aborted) return prev(method, payload, signal);
    const now = performance.now();
    const held = this.o.waits.chatsUntil - now;
    if (held > this.o.maxDelayMs) return Promise.resolve(tooManyRequests(held));
    const chat = this.chats.get(chatKey) ?? this.createChat(chatKey);
    return new Promise((resolve, reject) => {
      const job: Job = { prev, method, payload, signal, queuedAt: now, background: false, attempt: 0, resolve, reject };
      this.enqueue(chat, job, false);
      this.place(chat, now);
      this.pump();
    });
  }

  /**
   * Queues a background call (a campaign's message) to the chat `chatKey`: it leaves only when no interactive call
   * is ready to go, its chat has nothing queued, the bot's window keeps a reserve for replies, and the background
   * pace allows; so a reply never waits behind it. A 429 pauses the background calls only.
   */
  sendBackground(chatKey: string, prev: SendCall, method: string, payload: unknown): Promise<ApiResponse<unknown>> {
    if (this.stopped !== undefined) return Promise.reject(this.stopped);
    return new Promise((resolve, reject) => {
      const job: Job = {
        prev,
        method,
        payload,
        signal: undefined,
        queuedAt: performance.now(),
        background: true,
        attempt: 0,
        resolve,
        reject,
      };
      this.queued++;
      this.background.push({ key: chatKey, job });
      this.pump();
    });
  }

  /** Fails every queued call with `reason` and stops the timer; calls on the wire still finish. Idempotent. */
  stop(reason: Error): void {
    if (this.stopped !== undefined) return;
    this.stopped = reason;
    clearTimeout(this.timer);
    for (const { job } of this.background.splice(0)) this.settleJob(job, () => job.reject(reason));
    for (const chat of this.chats.values()) for (const job of chat.queue.splice(0)) this.settleJob(job, () => job.reject(reason));
    this.chats.clear();
    this.ready = [];
    this.heap.clear();
  }

  private createChat(key: string): Chat {
    const windows = [RateWindow.of(this.o.perChatPerSecond, 1000)];
    // Groups and channels have negative ids or @usernames; private chats are positive user ids.
    if (key.startsWith("-") || key.startsWith("@")) windows.push(RateWindow.of(this.o.perGroupPerMinute, 60_000));
    const chat: Chat = new OutboxChat<Job>(key, windows);
    this.chats.set(key, chat);
    return chat;
  }

  private enqueue(chat: Chat, job: Job, atHead: boolean): void {
    if (atHead) chat.queue.unshift(job);
    else chat.queue.push(job);
    this.queued++;
    if (job.signal !== undefined) {
      // An aborted call leaves the queue and fails at once the way grammY fails it (its fetch never starts).
      job.onAbort = () => {
        const i = chat.queue.indexOf(job);
        if (i < 0) return;
        chat.queue.splice(i, 1);
        this.settleJob(job, () => job.prev(job.method, job.payload, job.signal).then(job.resolve, job.reject));
      };
      job.signal.addEventListener("abort", job.onAbort, { once: true });
    }
  }

  /** A job leaves the queue for good (or for the wire). */
  private settleJob(job: Job, then: () => void): void {
    this.queued--;
    if (job.onAbort !== undefined) job.signal?.removeEventListener("abort", job.onAbort);
    then();
  }

  /** Puts a chat where it belongs: ready, waiting for a time, waiting for an answer, or forgotten. */
  private place(chat: Chat, now: number): void {
    chat.version++;
    if (chat.queue.length > 0 && chat.holdUntil - now > this.o.maxDelayMs) {
      const answer = tooManyRequests(chat.holdUntil - now);
      for (const job of chat.queue.splice(0)) this.settleJob(job, () => job.resolve(answer));
    }
    if (chat.queue.length === 0) {
      const clear = chat.clearAt(now);
      if (clear <= now) {
        if (!chat.inReady && this.chats.get(chat.key) === chat) this.chats.delete(chat.key);
      } else if (clear < Infinity) this.heap.push({ at: clear, chat, version: chat.version });
      return;
    }
    if (chat.inReady) return;
    const at = chat.readyAt(now);
    if (at <= now) {
      chat.inReady = true;
      this.ready.push(chat);
    } else if (at < Infinity) this.heap.push({ at, chat, version: chat.version });
  }

  private pump(): void {
    if (this.stopped !== undefined) return;
    const now = performance.now();
    while ((this.heap.peek()?.at ?? Infinity) <= now) {
      const wake = this.heap.pop();
      if (wake.version === wake.chat.version) this.place(wake.chat, now);
    }
    let botAt = Infinity;
    while (this.readyHead < this.ready.length) {
      botAt = Math.max(this.bot.readyAt(now), this.o.waits.chatsUntil);
      if (botAt > now) break;
      const chat = this.ready[this.readyHead++]!;
      chat.inReady = false;
      if (chat.queue.length > 0 && chat.readyAt(now) <= now) this.transmit(chat, chat.queue.shift()!, now);
      this.place(chat, now);
    }
    let backgroundAt = Infinity;
    if (this.readyHead === this.ready.length) {
      this.ready = [];
      this.readyHead = 0;
      botAt = Infinity;
      backgroundAt = this.pumpBackground(now);
    } else if (this.readyHead > 1024) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
    this.arm(Math.min(botAt, backgroundAt, this.heap.peek()?.at ?? Infinity), now);
  }

  /** Sends the background calls that may go now (no interactive call is ready); returns when to look again. */
  private pumpBackground(now: number): number {
    const paid = this.o.background?.paid === true;
    while (this.background.length > 0) {
      const held = Math.max(this.backgroundHoldUntil, this.o.waits.chatsUntil, this.backgroundWindow.readyAt(now));
      if (held > now) return held;
      // Not the bot's last slots: they are the replies'. A slot frees as an answer ages out of the window.
      if (!paid && this.bot.room(now) <= this.reserve) return now + Math.ceil(this.bot.ms / this.bot.count);
      // A chat with calls of its own (a reply to the recipient) goes first: its campaign message waits.
      const i = this.background.findIndex(({ key }) => {
        const chat = this.chats.get(key);
        return chat === undefined || (chat.queue.length === 0 && chat.readyAt(now) <= now);
      });
      if (i < 0) return now + Math.ceil(1000 / this.o.perChatPerSecond);
      const { key, job } = this.background.splice(i, 1)[0]!;
      const chat = this.chats.get(key) ?? this.createChat(key);
      this.transmit(chat, job, now);
      this.place(chat, now);
    }
    return Infinity;
  }

  private arm(at: number, now: number): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (at === Infinity) return;
    // Timers may fire a millisecond early; pump() checks the time again and re-arms.
    this.timer = setTimeout(() => this.pump(), Math.max(1, Math.ceil(at - now)));
    // Only forgetting idle chats is left: that alone must not keep the process alive.
    if (this.queued === 0) this.timer.unref();
  }

  private transmit(chat: Chat, job: Job, now: number): void {
    for (const w of chat.windows) w.take();
    if (job.background) this.backgroundWindow.take();
    if (!this.paidBackground(job)) this.bot.take();
    this.settleJob(job, () => undefined);
    if (job.attempt === 0) this.o.onWait?.(job.method, Math.floor(now - job.queuedAt));
    const send = () => job.prev(job.method, job.payload, job.signal);
    let answer: Promise<ApiResponse<unknown>>;
    try {
      answer = this.o.wrap === undefined ? send() : this.o.wrap(send);
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (res) => this.answered(chat, job, { res }),
      (err: unknown) => this.answered(chat, job, { err }),
    );
  }

  /** A paid broadcast's call: Telegram does not count it against the bot's own limit. */
  private paidBackground(job: Job): boolean {
    return job.background && this.o.background?.paid === true;
  }

  private answered(chat: Chat, job: Job, outcome: AttemptOutcome): void {
    const now = performance.now();
    for (const w of chat.windows) w.settle(now);
    if (job.background) this.backgroundWindow.settle(now);
    if (!this.paidBackground(job)) this.bot.settle(now);
    const tooMany = "res" in outcome && !outcome.res.ok && outcome.res.error_code === 429;
    // A campaign's 429 pauses the campaign; an interactive call's holds its chat (or the bot).
    if (tooMany && job.background) this.backgroundHoldUntil = Math.max(this.backgroundHoldUntil, now + retryAfterMs(outcome.res));
    else if (tooMany) this.floodWait(chat, retryAfterMs(outcome.res), now);
    const step =
      this.stopped === undefined ? this.o.policy?.next(job.method, outcome, job.attempt, job.signal?.aborted === true) : undefined;
    if (step === undefined) {
      if ("res" in outcome) job.resolve(outcome.res);
      else job.reject(outcome.err);
    } else if (job.background) {
      job.attempt++;
      if (step.reason !== "429") this.backgroundHoldUntil = Math.max(this.backgroundHoldUntil, now + step.delayMs);
      this.queued++;
      this.background.unshift({ key: chat.key, job });
    } else {
      job.attempt++;
      if (step.reason !== "429") chat.holdUntil = Math.max(chat.holdUntil, now + step.delayMs);
      this.enqueue(chat, job, true);
    }
    if (this.stopped !== undefined) return;
    this.place(chat, now);
    this.pump();
  }

  /**
   * A 429 holds its chat, and every chat when it points at the bot-wide limit (see FloodWaits). This queue keeps
   * every chat's limit, so a chat's own 429 is rare (a stricter limit for that chat), and a bot-wide one means a
   * `per_bot` above Telegram's or another process sending for the bot without shared Redis. Either way, calls
   * resume at the pace afterwards.
   */
  private floodWait(chat: Chat, ms: number, now: number): void {
    chat.holdUntil = Math.max(chat.holdUntil, now + ms);
    this.o.waits.note(chat.key, ms, now);
  }
}
