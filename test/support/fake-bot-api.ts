import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Update } from "grammy/types";
import { BotQueue, chatKeyOfUpdate, updateTypeOfUpdate } from "./fake-bot-api-queue.js";
import { readParams, type Params } from "./fake-bot-api-params.js";
import type { UpdateBody } from "./updates.js";

/** A recorded Bot API call. */
export interface CallRecord {
  method: string;
  params: Params;
  at: number;
  status: number;
}

/** A message a bot sent (sendMessage) or edited (editMessageText), in order. */
export interface SentRecord {
  method: string;
  chat_id: number;
  text: string;
  message_id: number;
  reply_markup?: unknown;
  at: number;
}

/** A 429 rule: the next `count` matching calls, or every `every`-th, answer 429 with `retryAfter` seconds. */
export interface RateLimitRule {
  methods?: string[];
  count?: number;
  every?: number;
  retryAfter: number;
}

/** Settings of a webhook set with setWebhook. */
export interface WebhookSettings {
  url: string;
  secret_token?: string;
  allowed_updates?: string[];
  max_connections: number;
}

interface FakeBot {
  token: string;
  user: { id: number; is_bot: true; first_name: string; username: string; can_join_groups: boolean; can_read_all_group_messages: boolean; supports_inline_queries: boolean };
  queue: BotQueue;
  poll?: { res: ServerResponse; timer: NodeJS.Timeout; limit: number };
  webhook?: WebhookSettings;
  delivering: Set<string>;
  deliveries: Array<{ update_id: number; status: number; at: number }>;
  messageIds: Map<number, number>;
  sent: SentRecord[];
  calls: CallRecord[];
  counts: Map<string, number>;
  rule?: RateLimitRule & { seen: number };
  blockedUntil: number;
  violations: number;
  failures: Map<string, { status: number; count: number }>;
  confirmed: number;
}

/** Options of {@link FakeBotApi.start}. */
export interface FakeBotApiOptions {
  port?: number;
  /** Idle keep-alive sockets are closed by the server after this long (ms). */
  keepAliveTimeoutMs?: number;
  /** Delay before a failed webhook delivery is retried (ms). */
  webhookRetryDelayMs?: number;
  /** How long a webhook delivery may take before it counts as failed (ms). */
  webhookTimeoutMs?: number;
  /** Keep every call's params (default true; benchmarks turn it off and keep only counts). */
  record?: boolean;
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
};
const fail = (res: ServerResponse, code: number, description: string, parameters?: object): void =>
  json(res, code, { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) });

/**
 * A faithful fake of the Telegram Bot API on 127.0.0.1 for tests and benchmarks: per-token update queues,
 * getUpdates with offset/limit/timeout/allowed_updates, 401 for unknown tokens, 409 for overlapping polls and
 * for getUpdates while a webhook is set, 429 with retry_after on demand, webhook delivery with the secret
 * header, and a control surface to inject updates and read what each bot sent.
 */
export class FakeBotApi {
  readonly apiRoot: string;
  private readonly bots = new Map<string, FakeBot>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  private constructor(
    private readonly server: Server,
    private readonly o: FakeBotApiOptions,
  ) {
    const { port } = server.address() as AddressInfo;
    this.apiRoot = `http://127.0.0.1:${port}`;
  }

  /** Starts a fake on 127.0.0.1 (a free port unless `port` is given). */
  static async start(o: FakeBotApiOptions = {}): Promise<FakeBotApi> {
    const server = createServer();
    if (o.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = o.keepAliveTimeoutMs;
    await new Promise<void>((r) => server.listen(o.port ?? 0, "127.0.0.1", r));
    const fake = new FakeBotApi(server, o);
    server.on("connection", (s) => {
      fake.sockets.add(s);
      s.on("close", () => fake.sockets.delete(s));
    });
    server.on("request", (req, res) => void fake.handle(req, res));
    return fake;
  }

  /** Closes the server, ends pending polls and stops webhook delivery. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const b of this.bots.values()) if (b.poll) clearTimeout(b.poll.timer);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Registers a bot; its user id is the token's numeric part. */
  addBot(token: string, info: { first_name?: string; username?: string; firstUpdateId?: number } = {}): FakeBot["user"] {
    const id = Number(token.split(":")[0]);
    const user = {
      id,
      is_bot: true as const,
      first_name: info.first_name ?? `Bot ${id}`,
      username: info.username ?? `bot${id}_bot`,
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
    };
    this.bots.set(token, {
      token, user, queue: new BotQueue(info.firstUpdateId ?? 1), delivering: new Set(), deliveries: [],
      messageIds: new Map(), sent: [], calls: [], counts: new Map(), blockedUntil: 0, violations: 0,
      failures: new Map(), confirmed: 0,
    });
    return user;
  }

  /** Revokes a token: later calls get 401, a pending long poll is answered 401. */
  removeBot(token: string): void {
    const b = this.bots.get(token);
    this.bots.delete(token);
    if (b?.poll) {
      clearTimeout(b.poll.timer);
      fail(b.poll.res, 401, "Unauthorized");
    }
  }

  /** Adds an update for `token` and returns its update_id; wakes a pending long poll or a webhook. */
  inject(token: string, body: UpdateBody): number {
    return this.injectMany(token, [body])[0]!;
  }

  /** Adds many updates at once (backlogs). */
  injectMany(token: string, bodies: UpdateBody[]): number[] {
    const b = this.bot(token);
    const ids = bodies.map((body) => b.queue.push(body));
    this.wake(b);
    return ids;
  }

  /** Every call of `token` (or of all bots), in order. */
  calls(token?: string): CallRecord[] {
    if (token !== undefined) return this.bot(token).calls;
    return [...this.bots.values()].flatMap((b) => b.calls).sort((x, y) => x.at - y.at);
  }

  /** What `token` sent (sendMessage and editMessageText), in order. */
  sent(token: string): SentRecord[] {
    return this.bot(token).sent;
  }

  /** How often `token` called `method` (answered or not). */
  callCount(token: string, method: string): number {
    return this.bot(token).counts.get(method) ?? 0;
  }

  /** Updates not yet confirmed (polling) or delivered (webhook). */
  pendingCount(token: string): number {
    return this.bot(token).queue.pending();
  }

  /** The highest offset a getUpdates call confirmed. */
  confirmedOffset(token: string): number {
    return this.bot(token).confirmed;
  }

  /** The webhook set for `token`, if any. */
  webhook(token: string): WebhookSettings | undefined {
    return this.bot(token).webhook;
  }

  /** Webhook deliveries of `token` and their HTTP status (0 for a network error or time-out). */
  deliveries(token: string): Array<{ update_id: number; status: number; at: number }> {
    return this.bot(token).deliveries;
  }

  /** Makes calls answer 429 according to `rule`. */
  rateLimit(token: string, rule: RateLimitRule): void {
    this.bot(token).rule = { ...rule, seen: 0 };
  }

  clearRateLimit(token: string): void {
    delete this.bot(token).rule;
  }

  /** Calls that came before the retry_after of an earlier 429 had passed. */
  retryAfterViolations(token: string): number {
    return this.bot(token).violations;
  }

  /** The next `count` calls of `method` fail with `status` (5xx for server errors). */
  failNext(token: string, method: string, status: number, count = 1): void {
    this.bot(token).failures.set(method, { status, count });
  }

  /** Resolves once `predicate` holds, checking every 10 ms; rejects after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    const t0 = Date.now();
    while (!predicate()) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`fake Bot API: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Resolves once `token` sent at least `n` messages. */
  waitForSent(token: string, n: number, timeoutMs = 10_000): Promise<void> {
    return this.waitFor(() => this.bot(token).sent.length >= n, timeoutMs, `${n} sent messages (have ${this.bot(token).sent.length})`);
  }

  private bot(token: string): FakeBot {
    const b = this.bots.get(token);
    if (b === undefined) throw new Error(`fake Bot API: no bot with token ${token.split(":")[0]}:***`);
    return b;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = /^\/bot([^/]+)\/([A-Za-z]+)(\?.*)?$/.exec(req.url ?? "");
    if (m === null) return fail(res, 404, "Not Found");
    const [, token = "", method = ""] = m;
    let params: Params;
    try {
      params = await readParams(req);
    } catch {
      return fail(res, 400, "Bad Request: can't parse request body");
    }
    const b = this.bots.get(token);
    if (b === undefined) return fail(res, 401, "Unauthorized");
    b.counts.set(method, (b.counts.get(method) ?? 0) + 1);
    const now = Date.now();
    const record: CallRecord = { method, params: this.o.record === false ? {} : params, at: now, status: 200 };
    if (this.o.record !== false) b.calls.push(record);
    res.once("finish", () => (record.status = res.statusCode));
    try {
      if (now < b.blockedUntil) b.violations++;
      const failure = b.failures.get(method);
      if (failure !== undefined && failure.count > 0) {
        failure.count--;
        return fail(res, failure.status, failure.status >= 500 ? "Internal Server Error" : "Bad Request");
      }
      const rule = b.rule;
      if (rule !== undefined && (rule.methods === undefined || rule.methods.includes(method))) {
        rule.seen++;
        const hit = rule.count !== undefined ? rule.count-- > 0 : rule.every !== undefined && rule.seen % rule.every === 0;
        if (hit) {
          b.blockedUntil = Math.max(b.blockedUntil, now + rule.retryAfter * 1000);
          return fail(res, 429, `Too Many Requests: retry after ${rule.retryAfter}`, { retry_after: rule.retryAfter });
        }
      }
      this.dispatch(b, method, params, res);
    } catch (err) {
      fail(res, 500, `Internal Server Error: ${(err as Error).message}`);
    }
  }

  private dispatch(b: FakeBot, method: string, p: Params, res: ServerResponse): void {
    const ok = (result: unknown): void => json(res, 200, { ok: true, result });
    switch (method) {
      case "getMe":
        return ok(b.user);
      case "getUpdates":
        return this.getUpdates(b, p, res);
      case "sendMessage":
        return this.send(b, p, res);
      case "editMessageText": {
        const chat = Number(p.chat_id);
        const id = Number(p.message_id);
        if (!(id > 0 && id <= (b.messageIds.get(chat) ?? 0))) return fail(res, 400, "Bad Request: message to edit not found");
        const text = String(p.text ?? "");
        b.sent.push({ method, chat_id: chat, text, message_id: id, reply_markup: p.reply_markup, at: Date.now() });
        return ok({ message_id: id, date: Math.floor(Date.now() / 1000), chat: { id: chat, type: chat > 0 ? "private" : "supergroup" }, from: b.user, text });
      }
      case "answerCallbackQuery":
      case "deleteMessage":
      case "setMyCommands":
      case "sendChatAction":
        return ok(true);
      case "setWebhook":
        b.webhook = {
          url: String(p.url ?? ""),
          ...(p.secret_token !== undefined ? { secret_token: String(p.secret_token) } : {}),
          ...(p.allowed_updates !== undefined ? { allowed_updates: p.allowed_updates as string[] } : {}),
          max_connections: Number(p.max_connections ?? 40),
        };
        if (b.webhook.url === "") delete b.webhook;
        if (p.drop_pending_updates === true) b.queue.dropAll();
        if (b.poll) {
          clearTimeout(b.poll.timer);
          fail(b.poll.res, 409, "Conflict: terminated by setWebhook request");
          delete b.poll;
        }
        ok(true);
        return this.pump(b);
      case "deleteWebhook":
        delete b.webhook;
        if (p.drop_pending_updates === true) b.queue.dropAll();
        return ok(true);
      case "getWebhookInfo":
        return ok({
          url: b.webhook?.url ?? "",
          has_custom_certificate: false,
          pending_update_count: b.queue.pending(),
          ...(b.webhook ? { max_connections: b.webhook.max_connections, allowed_updates: b.webhook.allowed_updates } : {}),
        });
      default:
        return fail(res, 404, "Not Found");
    }
  }

  private send(b: FakeBot, p: Params, res: ServerResponse): void {
    if (p.chat_id === undefined || p.chat_id === "") return fail(res, 400, "Bad Request: chat_id is empty");
    const text = p.text === undefined ? "" : String(p.text);
    if (text === "") return fail(res, 400, "Bad Request: message text is empty");
    const chat = Number(p.chat_id);
    const id = (b.messageIds.get(chat) ?? 0) + 1;
    b.messageIds.set(chat, id);
    const at = Date.now();
    b.sent.push({ method: "sendMessage", chat_id: chat, text, message_id: id, ...(p.reply_markup !== undefined ? { reply_markup: p.reply_markup } : {}), at });
    json(res, 200, {
      ok: true,
      result: {
        message_id: id,
        date: Math.floor(at / 1000),
        chat: chat > 0 ? { id: chat, type: "private", first_name: `User${chat}` } : { id: chat, type: "supergroup", title: `Group${chat}` },
        from: b.user,
        text,
        ...(p.reply_markup !== undefined ? { reply_markup: p.reply_markup } : {}),
      },
    });
  }

  private getUpdates(b: FakeBot, p: Params, res: ServerResponse): void {
    if (b.webhook !== undefined) {
      return fail(res, 409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    }
    if (b.poll !== undefined) {
      clearTimeout(b.poll.timer);
      fail(b.poll.res, 409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running");
      delete b.poll;
    }
    if (p.offset !== undefined) {
      const offset = Number(p.offset);
      if (offset < 0) b.queue.keepLast(-offset);
      else if (offset > 0) {
        b.queue.confirmBelow(offset);
        b.confirmed = Math.max(b.confirmed, offset);
      }
    }
    if (p.allowed_updates !== undefined) b.queue.allowed = (p.allowed_updates as string[]).length > 0 ? new Set(p.allowed_updates as string[]) : undefined;
    const limit = Math.min(100, Math.max(1, Number(p.limit ?? 100)));
    const available = b.queue.peek(limit);
    const timeout = Number(p.timeout ?? 0);
    if (available.length > 0 || timeout <= 0) return json(res, 200, { ok: true, result: available });
    const timer = setTimeout(() => {
      if (b.poll?.res === res) delete b.poll;
      json(res, 200, { ok: true, result: [] });
    }, timeout * 1000);
    b.poll = { res, timer, limit };
    res.once("close", () => {
      if (b.poll?.res !== res) return;
      clearTimeout(timer);
      delete b.poll;
    });
  }

  private wake(b: FakeBot): void {
    if (b.webhook !== undefined) return this.pump(b);
    const poll = b.poll;
    if (poll === undefined) return;
    const available = b.queue.peek(poll.limit);
    if (available.length === 0) return;
    clearTimeout(poll.timer);
    delete b.poll;
    json(poll.res, 200, { ok: true, result: available });
  }

  /** Delivers pending updates to the webhook: one at a time per chat, up to max_connections at once. */
  private pump(b: FakeBot): void {
    const hook = b.webhook;
    if (hook === undefined || this.stopped) return;
    for (const u of b.queue.undelivered()) {
      if (b.delivering.size >= hook.max_connections) return;
      const chat = chatKeyOfUpdate(u);
      if (b.delivering.has(chat)) continue;
      if (hook.allowed_updates !== undefined && hook.allowed_updates.length > 0 && !hook.allowed_updates.includes(updateTypeOfUpdate(u))) {
        b.queue.markDelivered(u.update_id);
        continue;
      }
      b.delivering.add(chat);
      void this.deliver(b, hook, u).then((status) => {
        b.delivering.delete(chat);
        b.deliveries.push({ update_id: u.update_id, status, at: Date.now() });
        if (status >= 200 && status < 300) {
          b.queue.markDelivered(u.update_id);
          this.pump(b);
        } else {
          const t = setTimeout(() => {
            this.timers.delete(t);
            this.pump(b);
          }, this.o.webhookRetryDelayMs ?? 1000);
          this.timers.add(t);
        }
      });
    }
  }

  private deliver(b: FakeBot, hook: WebhookSettings, u: Update): Promise<number> {
    return new Promise((resolve) => {
      const body = JSON.stringify(u);
      const req = httpRequest(hook.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          ...(hook.secret_token !== undefined ? { "x-telegram-bot-api-secret-token": hook.secret_token } : {}),
        },
        timeout: this.o.webhookTimeoutMs ?? 10_000,
      });
      req.on("response", (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve(0));
      req.end(body);
      void b;
    });
  }
}
