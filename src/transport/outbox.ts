import type { ApiResponse } from "grammy/types";
import { RateWindow } from "./rate-window.js";
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
}

interface Job {
  readonly prev: SendCall;
  readonly method: string;
  readonly payload: unknown;
  readonly signal: AbortSignal | undefined;
  readonly queuedAt: number;
  attempt: number;
  resolve(res: ApiResponse<unknown>): void;
  reject(err: unknown): void;
  onAbort?: () => void;
}

class Chat {
  readonly queue: Job[] = [];
  /** A flood wait of this chat, or the backoff before its head's retry. */
  holdUntil = 0;
  inReady = false;
  /** Invalidates the chat's older entries in the timer heap. */
  version = 0;

  constructor(
    readonly key: string,
    readonly windows: RateWindow[],
  ) {}

  readyAt(now: number): number {
    let at = this.holdUntil;
    for (const w of this.windows) at = Math.max(at, w.readyAt(now));
    return at;
  }

  clearAt(now: number): number {
    let at = this.holdUntil;
    for (const w of this.windows) at = Math.max(at, w.clearAt(now));
    return at;
  }
}

interface Wake {
  at: number;
  chat: Chat;
  version: number;
}

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
  private readonly heap: Wake[] = [];
  private readonly bot: RateWindow;
  private timer: NodeJS.Timeout | undefined;
  private queued = 0;
  private stopped: Error | undefined;

  constructor(private readonly o: OutboxOptions) {
    // A window, like Telegram's "30 messages per second", rather than an even spacing: grammY's throttler (a
    // reservoir of 30 per second) and python-telegram-bot's limiter (a bucket of 30) also let a second's worth go
    // at once.
    this.bot = RateWindow.of(o.perBotPerSecond, 1000);
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
      const job: Job = { prev, method, payload, signal, queuedAt: now, attempt: 0, resolve, reject };
      this.enqueue(chat, job, false);
      this.place(chat, now);
      this.pump();
    });
  }

  /** Fails every queued call with `reason` and stops the timer; calls on the wire still finish. Idempotent. */
  stop(reason: Error): void {
    if (this.stopped !== undefined) return;
    this.stopped = reason;
    clearTimeout(this.timer);
    for (const chat of this.chats.values()) for (const job of chat.queue.splice(0)) this.settleJob(job, () => job.reject(reason));
    this.chats.clear();
    this.ready = [];
    this.heap.length = 0;
  }

  private createChat(key: string): Chat {
    const windows = [RateWindow.of(this.o.perChatPerSecond, 1000)];
    // Groups and channels have negative ids or @usernames; private chats are positive user ids.
    if (key.startsWith("-") || key.startsWith("@")) windows.push(RateWindow.of(this.o.perGroupPerMinute, 60_000));
    const chat = new Chat(key, windows);
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
      } else if (clear < Infinity) this.push({ at: clear, chat, version: chat.version });
      return;
    }
    if (chat.inReady) return;
    const at = chat.readyAt(now);
    if (at <= now) {
      chat.inReady = true;
      this.ready.push(chat);
    } else if (at < Infinity) this.push({ at, chat, version: chat.version });
  }

  private pump(): void {
    if (this.stopped !== undefined) return;
    const now = performance.now();
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const wake = this.pop();
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
    if (this.readyHead === this.ready.length) {
      this.ready = [];
      this.readyHead = 0;
      botAt = Infinity;
    } else if (this.readyHead > 1024) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
    this.arm(Math.min(botAt, this.heap[0]?.at ?? Infinity), now);
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
    this.bot.take();
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

  private answered(chat: Chat, job: Job, outcome: AttemptOutcome): void {
    const now = performance.now();
    for (const w of chat.windows) w.settle(now);
    this.bot.settle(now);
    if ("res" in outcome && !outcome.res.ok && outcome.res.error_code === 429) this.floodWait(chat, retryAfterMs(outcome.res), now);
    const step =
      this.stopped === undefined ? this.o.policy?.next(job.method, outcome, job.attempt, job.signal?.aborted === true) : undefined;
    if (step === undefined) {
      if ("res" in outcome) job.resolve(outcome.res);
      else job.reject(outcome.err);
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

  private push(wake: Wake): void {
    const h = this.heap;
    let i = h.push(wake) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= wake.at) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = wake;
  }

  private pop(): Wake {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && h[l + 1]!.at < h[l]!.at ? l + 1 : l;
        if (h[c]!.at >= last.at) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
