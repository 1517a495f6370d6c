import type { Chat, Update } from "grammy/types";
import { boolArg, intArg, jsonArg, strArg } from "./params.js";
import { UpdateQueue, type QueuedUpdate } from "./update-queue.js";
import { WebhookDelivery } from "./webhook.js";
import {
  ApiError,
  NOT_BY_DEFAULT,
  UPDATE_TYPES,
  type BotUser,
  type DeliveryRecord,
  type Params,
  type UpdateBody,
  type WebhookSettings,
} from "./types.js";

/** A successful answer with Telegram's optional `description` ("Webhook was set"). */
export class Described {
  constructor(
    readonly result: unknown,
    readonly description: string,
  ) {}
}

export const CONFLICT_OTHER_POLL = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
export const CONFLICT_WEBHOOK =
  "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
export const CONFLICT_SET_WEBHOOK = "Conflict: terminated by setWebhook request";

/** Telegram's upper bound of getUpdates' `timeout`, in seconds. */
const LONG_POLL_MAX_TIMEOUT = 50;
/** Telegram ignores an offset this far past the queue's tail and answers from the head. */
const FUTURE_OFFSET_SLACK = 10;

/** Settings every bot shares. */
export interface BotStateOptions {
  webhookTimeoutMs: number;
  webhookRetryDelayMs: number;
  /** Keep every webhook delivery attempt for {@link BotState.deliveries}. */
  record: boolean;
  /** A webhook answered a 2xx with a JSON `{ method, ...params }` body: Telegram runs that call. */
  onWebhookReply(method: string, params: Params): void;
  /** The last message id of every group chat (negative ids), shared by all bots: a group numbers its messages once. */
  groupMessageIds: Map<number, number>;
}

interface LongPoll {
  /** The offset to apply again on wake-up (0: none). */
  offset: number;
  limit: number;
  timer: NodeJS.Timeout;
  resolve(updates: Update[]): void;
  reject(err: ApiError): void;
}

/** Everything the local Bot API keeps for one token: update queue, long poll, webhook, and the chats it has seen. */
export class BotState {
  readonly queue: UpdateQueue;
  removed = false;
  /** Chats whose user blocked the bot (or deleted their account): sending there answers 403. */
  readonly blocked = new Set<string>();
  /** The highest offset a getUpdates call confirmed. */
  confirmedOffset = 0;
  webhook: WebhookSettings | undefined;
  readonly deliveries: DeliveryRecord[] = [];
  /** Chats seen in injected updates. */
  readonly chats = new Map<number, Chat>();
  /** Whether the bot's messages are kept to check edits (not with `record: false`, to bound memory). */
  readonly keepMessages: boolean;
  /** The last message id used in each private chat (by injected messages and by the bot). */
  private readonly privateMessageIds = new Map<number, number>();
  private allowed: ReadonlySet<string> | undefined;
  private poll: LongPoll | undefined;
  private wakeScheduled = false;
  private delivery: WebhookDelivery | undefined;
  private lastError: { date: number; message: string } | undefined;
  private readonly wanted = (type: string): boolean => (this.allowed === undefined ? !NOT_BY_DEFAULT.has(type) : this.allowed.has(type));

  constructor(
    readonly token: string,
    readonly user: BotUser,
    firstUpdateId: number,
    private readonly o: BotStateOptions,
  ) {
    this.queue = new UpdateQueue(firstUpdateId);
    this.keepMessages = o.record;
  }

  /** The last message id used in a chat (0 when none): per bot in private chats, per chat in groups. */
  lastMessageIdOf(chatId: number): number {
    return this.idsOf(chatId).get(chatId) ?? 0;
  }

  /** Takes the chat's next message id. */
  nextMessageId(chatId: number): number {
    const id = this.lastMessageIdOf(chatId) + 1;
    this.idsOf(chatId).set(chatId, id);
    return id;
  }

  private idsOf(chatId: number): Map<number, number> {
    return chatId < 0 ? this.o.groupMessageIds : this.privateMessageIds;
  }

  /** Queues an update and wakes the long poll or the webhook; returns its update_id. */
  inject(body: UpdateBody): number {
    const id = this.add(body);
    this.scheduleWake();
    return id;
  }

  /** Queues many updates at once (one wake-up); returns their update_ids. */
  injectMany(bodies: readonly UpdateBody[]): number[] {
    const ids = new Array<number>(bodies.length);
    for (let i = 0; i < bodies.length; i++) ids[i] = this.add(bodies[i]!);
    if (bodies.length > 0) this.scheduleWake();
    return ids;
  }

  /** getUpdates: answers at once, or returns a promise settled by an update, the timeout, a conflict or `signal`. */
  getUpdates(params: Params, signal?: AbortSignal): Update[] | Promise<Update[]> {
    if (this.webhook !== undefined) throw new ApiError(409, CONFLICT_WEBHOOK);
    const limit = intArg(params.limit, 100, 1, 100);
    const timeout = intArg(params.timeout, 0, 0, LONG_POLL_MAX_TIMEOUT);
    this.setAllowed(params.allowed_updates);
    const offset = this.applyOffset(intArg(params.offset, 0));
    const updates = this.queue.take(limit, this.wanted);
    if (updates.length > 0 || timeout === 0) return updates;
    this.endPoll((p) => p.reject(new ApiError(409, CONFLICT_OTHER_POLL)));
    return new Promise<Update[]>((resolve, reject) => {
      const poll: LongPoll = {
        offset,
        limit,
        resolve,
        reject,
        timer: setTimeout(() => {
          if (this.poll !== poll) return;
          this.poll = undefined;
          this.applyOffset(poll.offset);
          resolve(this.queue.take(poll.limit, this.wanted));
        }, timeout * 1000),
      };
      this.poll = poll;
      signal?.addEventListener("abort", () => this.poll === poll && this.endPoll((p) => p.resolve([])), {
        once: true,
      });
    });
  }

  /** setWebhook (an empty url deletes the webhook, like Telegram). */
  setWebhook(params: Params): Described {
    const url = strArg(params.url) ?? "";
    if (url === "") return this.deleteWebhook(params);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ApiError(400, "Bad Request: invalid webhook URL specified");
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
      throw new ApiError(400, "Bad Request: invalid webhook URL specified");
    }
    const secret = strArg(params.secret_token);
    if (secret !== undefined && secret.length > 256) throw new ApiError(400, "Bad Request: secret token is too long");
    if (secret !== undefined && !/^[A-Za-z0-9_-]*$/.test(secret)) {
      throw new ApiError(400, "Bad Request: secret token contains unallowed characters");
    }
    const maxConnections = intArg(params.max_connections, 40, 1, 100);
    const drop = boolArg(params.drop_pending_updates);
    const changedAllowed = this.setAllowed(params.allowed_updates);
    const old = this.webhook;
    const secretToken = secret === "" ? undefined : secret;
    if (old?.url === url && old.max_connections === maxConnections && old.secret_token === secretToken && !drop) {
      if (changedAllowed) old.allowed_updates = this.allowedList();
      return new Described(true, "Webhook is already set");
    }
    this.endPoll((p) => p.reject(new ApiError(409, CONFLICT_SET_WEBHOOK)));
    this.delivery?.close();
    if (drop) this.queue.clear();
    this.webhook = { url, max_connections: maxConnections };
    if (secretToken !== undefined) this.webhook.secret_token = secretToken;
    const allowed = this.allowedList();
    if (allowed !== undefined) this.webhook.allowed_updates = allowed;
    this.lastError = undefined;
    this.delivery = new WebhookDelivery({
      url: parsed,
      secretToken,
      maxConnections,
      timeoutMs: this.o.webhookTimeoutMs,
      retryDelayMs: this.o.webhookRetryDelayMs,
      isPending: (e) => this.queue.isPending(e),
      onDelivered: (e, reply) => {
        this.queue.kill(e);
        const r = reply as { method?: unknown } | undefined;
        if (r !== null && typeof r === "object" && typeof r.method === "string") {
          const { method, ...rest } = r as Params & { method: string };
          this.o.onWebhookReply(method, rest);
        }
      },
      onAttempt: (e, status, error) => {
        if (error !== undefined) this.lastError = { date: Math.floor(Date.now() / 1000), message: error };
        if (!this.o.record) return;
        const d: DeliveryRecord = { update_id: e.update.update_id, status, at: Date.now() };
        if (error !== undefined) d.error = error;
        this.deliveries.push(d);
      },
    });
    this.queue.forEachPending((e) => this.deliver(e));
    return new Described(true, "Webhook was set");
  }

  /** deleteWebhook. */
  deleteWebhook(params: Params): Described {
    if (boolArg(params.drop_pending_updates)) this.queue.clear();
    if (this.webhook === undefined) return new Described(true, "Webhook is already deleted");
    this.delivery?.close();
    this.delivery = undefined;
    this.webhook = undefined;
    this.lastError = undefined;
    return new Described(true, "Webhook was deleted");
  }

  /** getWebhookInfo. */
  webhookInfo(): Record<string, unknown> {
    const info: Record<string, unknown> = {
      url: this.webhook?.url ?? "",
      has_custom_certificate: false,
      pending_update_count: this.queue.size,
    };
    if (this.lastError !== undefined) {
      info.last_error_date = this.lastError.date;
      info.last_error_message = this.lastError.message;
    }
    if (this.webhook !== undefined) info.max_connections = this.webhook.max_connections;
    const allowed = this.allowedList();
    if (allowed !== undefined) info.allowed_updates = allowed;
    return info;
  }

  /** The token was revoked: a pending long poll gets 401, webhook delivery stops. */
  remove(): void {
    this.removed = true;
    this.endPoll((p) => p.reject(new ApiError(401, "Unauthorized")));
    this.stop();
  }

  /** Cancels timers and webhook delivery (the server is closing). */
  stop(): void {
    this.endPoll(() => undefined);
    this.delivery?.close();
    this.delivery = undefined;
  }

  private add(body: UpdateBody): number {
    const cq = body.callback_query;
    if (cq?.message !== undefined && !("from" in cq.message)) {
      // the message a button belongs to is the bot's own
      const from = { id: this.user.id, is_bot: true, first_name: this.user.first_name, username: this.user.username };
      body = { ...body, callback_query: { ...cq, message: { ...cq.message, from } as typeof cq.message } };
    }
    const entry = this.queue.push(body);
    this.remember(entry);
    if (this.delivery !== undefined) this.deliver(entry);
    return entry.update.update_id;
  }

  private scheduleWake(): void {
    if (this.poll === undefined || this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => this.wake());
  }

  private deliver(entry: QueuedUpdate): void {
    if (this.wanted(entry.type)) this.delivery!.enqueue(entry);
    else this.queue.kill(entry);
  }

  private wake(): void {
    this.wakeScheduled = false;
    const poll = this.poll;
    if (poll === undefined) return;
    this.applyOffset(poll.offset);
    const updates = this.queue.take(poll.limit, this.wanted);
    if (updates.length === 0) return;
    this.poll = undefined;
    clearTimeout(poll.timer);
    poll.resolve(updates);
  }

  private endPoll(answer: (poll: LongPoll) => void): void {
    const poll = this.poll;
    if (poll === undefined) return;
    this.poll = undefined;
    clearTimeout(poll.timer);
    answer(poll);
  }

  /** Applies a getUpdates offset; returns the positive offset to apply again on wake-up, or 0. */
  private applyOffset(offset: number): number {
    if (offset < 0) {
      this.queue.keepLast(-offset);
      offset = this.queue.headId;
    }
    if (offset <= 0 || offset > this.queue.nextId + FUTURE_OFFSET_SLACK) return 0;
    this.queue.dropBefore(offset);
    if (offset > this.confirmedOffset) this.confirmedOffset = offset;
    return offset;
  }

  /** Updates the remembered allowed_updates (absent: unchanged; `[]` or no known type: the default set). */
  private setAllowed(value: unknown): boolean {
    let list: unknown;
    try {
      list = jsonArg(value, "allowed_updates");
    } catch {
      return false;
    }
    if (!Array.isArray(list)) return false;
    const known = list.filter((t): t is string => typeof t === "string").map((t) => t.toLowerCase());
    const set = new Set(known.filter((t) => UPDATE_TYPES.includes(t)));
    const next = set.size === 0 ? undefined : set;
    const changed = String(this.allowedList()) !== String(next === undefined ? undefined : sortTypes(next));
    this.allowed = next;
    return changed;
  }

  private allowedList(): string[] | undefined {
    return this.allowed === undefined ? undefined : sortTypes(this.allowed);
  }

  /** Keeps the chat and the message id of an injected update (bot messages continue the chat's numbering). */
  private remember(entry: QueuedUpdate): void {
    const v = (entry.update as unknown as Record<string, unknown>)[entry.type] as
      { chat?: Chat; message_id?: number; message?: { chat?: Chat } } | undefined;
    const chat = v?.chat ?? v?.message?.chat;
    if (chat === undefined || typeof chat.id !== "number") return;
    if (!this.chats.has(chat.id)) this.chats.set(chat.id, chat);
    if (v?.chat !== undefined && typeof v.message_id === "number") {
      if (v.message_id > this.lastMessageIdOf(chat.id)) this.idsOf(chat.id).set(chat.id, v.message_id);
    }
  }
}

function sortTypes(set: ReadonlySet<string>): string[] {
  return UPDATE_TYPES.filter((t) => set.has(t));
}
