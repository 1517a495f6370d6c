import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { BotState, Described } from "./fake-bot-api/bot-state.js";
import { CallLog } from "./fake-bot-api/call-log.js";
import { Faults, type Arrival } from "./fake-bot-api/faults.js";
import { canonicalMethod } from "./fake-bot-api/known-methods.js";
import { builtinHandler } from "./fake-bot-api/methods.js";
import { closeSignal, decodePath, errorBody, parseParams, readBody, sendJson } from "./fake-bot-api/params.js";
import { TelegramLimitsCheck } from "./fake-bot-api/telegram-limits.js";
import { ChatWorld } from "./fake-bot-api/world.js";
import {
  ApiError,
  type BotOptions,
  type BotUser,
  type CallRecord,
  type DeliveryRecord,
  type FakeBotApiOptions,
  type MethodHandler,
  type Params,
  type RateLimitRule,
  type SentRecord,
  type UpdateBody,
  type WebhookSettings,
} from "./fake-bot-api/types.js";

export { ApiError } from "./fake-bot-api/types.js";
export type * from "./fake-bot-api/types.js";
export type * from "./fake-bot-api/world-types.js";
export { ChatWorld } from "./fake-bot-api/world.js";
export { applyParseMode, type Formatted } from "./fake-bot-api/formatting.js";

interface Reply {
  status: number;
  body: string;
  retryAfter?: number;
}

const ROUTE = /^\/bot([^/]+)\/(?:test\/)?([^/]+)$/;
const UNAUTHORIZED: Reply = { status: 401, body: errorBody(new ApiError(401, "Unauthorized")) };
const NOT_FOUND: Reply = { status: 404, body: errorBody(new ApiError(404, "Not Found")) };

function errorReply(err: ApiError): Reply {
  return { status: err.code, body: errorBody(err), retryAfter: err.parameters?.retry_after };
}

/**
 * A fake Telegram Bot API server for tests and benchmarks (grammY: `client: { apiRoot: fake.apiRoot }`).
 *
 * It answers `/bot<token>/<method>` like Telegram where it matters: 401 for unknown tokens, 404 for unknown methods,
 * getUpdates with offsets, limits, long polling, allowed_updates and 409 conflicts, webhooks delivered per chat in
 * order, flood waits (429 with retry_after), Telegram's outgoing limits when `limits` is set, and a few messaging
 * methods with realistic results. Every call is recorded for assertions; faults (429, 5xx, delays) can be injected
 * per bot and method. {@link world} simulates users and chats (private and group) on top, as a Telegram client sees
 * them.
 */
export class FakeBotApi {
  /** Base URL for grammY's `apiRoot`, like `http://127.0.0.1:PORT` (no trailing slash). */
  readonly apiRoot: string;
  /** Simulated users, private chats and groups: messages they send reach the bots, and what bots do shows there. */
  readonly world: ChatWorld;
  private readonly bots = new Map<string, BotState>();
  private readonly groupMessageIds = new Map<number, number>();
  private readonly faults = new Map<string, Faults>();
  private readonly limits = new Map<string, TelegramLimitsCheck>();
  /** Arrival number of the newest request (see {@link Arrival}). */
  private seq = 0;
  private readonly log: CallLog;
  private readonly handlers = new Map<string, MethodHandler>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    private readonly opts: FakeBotApiOptions,
  ) {
    this.apiRoot = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.log = new CallLog(opts.record !== false);
    this.world = new ChatWorld({
      bot: (id) => {
        for (const b of this.bots.values()) if (!b.removed && b.user.id === id) return { token: b.token, user: b.user };
        return undefined;
      },
      inject: (token, update) => this.inject(token, update),
      nextMessageId: (token, chatId) => this.bot(token).nextMessageId(chatId),
    });
  }

  /** Starts a server on 127.0.0.1 (a free port unless `port` is given). */
  static async start(opts: FakeBotApiOptions = {}): Promise<FakeBotApi> {
    const server = createServer();
    if (opts.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = opts.keepAliveTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const fake = new FakeBotApi(server, opts);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => fake.onRequest(req, res));
    server.on("connection", (s: Socket) => {
      fake.sockets.add(s);
      s.once("close", () => fake.sockets.delete(s));
    });
    server.on("clientError", (_err, socket: Socket) => socket.destroy());
    return fake;
  }

  /** Closes everything: pending long polls, webhook deliveries and their timers, open sockets. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const bot of this.bots.values()) bot.stop();
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      for (const s of this.sockets) s.destroy();
      await closed;
    })();
    return this.stopping;
  }

  /**
   * Adds a bot (or updates the name of an existing one) and returns its getMe user. Its id is the numeric part of
   * the token before ':'.
   */
  addBot(token: string, info: BotOptions = {}): BotUser {
    const id = Number(token.split(":")[0]);
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error("FakeBotApi.addBot: a token looks like <bot id>:<secret>");
    const old = this.bots.get(token);
    if (old !== undefined && !old.removed) {
      if (info.first_name !== undefined) old.user.first_name = info.first_name;
      if (info.username !== undefined) old.user.username = info.username;
      return old.user;
    }
    const user: BotUser = {
      id,
      is_bot: true,
      first_name: info.first_name ?? `Bot ${id}`,
      username: info.username ?? `bot${id}_bot`,
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
      has_topics_enabled: false,
      allows_users_to_create_topics: false,
      can_manage_bots: false,
      supports_join_request_queries: false,
    };
    const bot = new BotState(token, user, info.firstUpdateId ?? 1, {
      webhookTimeoutMs: this.opts.webhookTimeoutMs ?? 10_000,
      webhookRetryDelayMs: this.opts.webhookRetryDelayMs ?? 1000,
      record: this.opts.record !== false,
      groupMessageIds: this.groupMessageIds,
      onWebhookReply: (method, params) =>
        void this.run(token, method, params, undefined, Date.now(), { seq: ++this.seq, at: performance.now() }).catch(() => undefined),
    });
    this.bots.set(token, bot);
    this.faults.set(token, new Faults());
    const limits = TelegramLimitsCheck.of(this.opts.limits);
    if (limits !== undefined) this.limits.set(token, limits);
    return user;
  }

  /** Revokes a token: its calls get 401 from now on, a pending long poll is answered 401, webhooks stop. */
  removeBot(token: string): void {
    this.bots.get(token)?.remove();
  }

  /** Queues an update for a bot (any `update_id` in it is replaced) and returns the update_id it got. */
  inject(token: string, update: UpdateBody): number {
    return this.bot(token).inject(update);
  }

  /** Queues many updates at once, in order (cheap for big backlogs); returns their update_ids. */
  injectMany(token: string, updates: readonly UpdateBody[]): number[] {
    return this.bot(token).injectMany(updates);
  }

  /**
   * Makes calls of a bot fail with Telegram's flood wait: `429 Too Many Requests: retry after N` with
   * `parameters.retry_after`. Rules add up; see {@link RateLimitRule}.
   */
  rateLimit(token: string, rule: RateLimitRule): void {
    this.faultsOf(token).addRule(rule);
  }

  /** Removes a bot's flood-wait rules (counted violations stay). */
  clearRateLimit(token: string): void {
    this.faultsOf(token).clearRules();
  }

  /**
   * Calls of a bot that arrived before the retry_after of an earlier 429 of their scope had passed: a 429 to a call
   * in a chat holds that chat, one for the per-bot limit every chat, one to a call without a chat the whole bot, one
   * of getUpdates polling. A call that had reached the fake before the 429 was answered was on its way already and
   * does not count; one that reached it later does, so a client that has several calls of one scope on the way at
   * once may see one counted that it had sent before it could know of the 429. No timing guess is involved.
   */
  retryAfterViolations(token: string): number {
    return this.faultsOf(token).violations;
  }

  /** How many 429 answers a bot got, for any reason (rules, enforced waits, Telegram's limits). */
  tooManyRequests(token: string): number {
    return this.faultsOf(token).tooMany;
  }

  /** The next `count` calls of `method` fail with HTTP `status` (`{ ok: false, error_code: status, ... }`). */
  failNext(token: string, method: string, status: number, count = 1): void {
    this.faultsOf(token).failNext(method, status, count);
  }

  /** The next `count` calls of `method` are held for `ms` before being run (Infinity: never answered). */
  delayNext(token: string, method: string, ms: number, count = 1): void {
    this.faultsOf(token).delayNext(method, ms, count);
  }

  /**
   * Replaces the handling of a method for every bot (or adds a method the fake does not know); undefined restores
   * the built-in one. The handler returns the `result` or throws an {@link ApiError}; other throws become 500s.
   */
  setHandler(method: string, handler: MethodHandler | undefined): void {
    const key = method.toLowerCase();
    if (handler === undefined) this.handlers.delete(key);
    else this.handlers.set(key, handler);
  }

  /** Every recorded call, in arrival order; of one token, or of all. Empty with `record: false`. */
  calls(token?: string): CallRecord[] {
    return this.log.calls(token);
  }

  /** How many calls of `method` (any spelling) arrived for a token, whatever their answer. */
  callCount(token: string, method: string): number {
    return this.log.callCount(token, method);
  }

  /** The successful sendMessage / editMessageText calls of a bot to chats, in order. Empty with `record: false`. */
  sent(token: string): SentRecord[] {
    return this.log.sent(token);
  }

  /** How many sendMessage / editMessageText calls of a bot succeeded (also with `record: false`). */
  sentCount(token: string): number {
    return this.log.sentCount(token);
  }

  /** Updates of a bot not yet confirmed (nor delivered by webhook). */
  pendingCount(token: string): number {
    return this.bot(token).queue.size;
  }

  /** The highest offset a getUpdates of this bot confirmed (0 if none). */
  confirmedOffset(token: string): number {
    return this.bot(token).confirmedOffset;
  }

  /** The webhook settings of a bot, or undefined when none is set. */
  webhook(token: string): WebhookSettings | undefined {
    const w = this.bot(token).webhook;
    return w === undefined ? undefined : { ...w };
  }

  /** Webhook delivery attempts of a bot, in order. Empty with `record: false`. */
  deliveries(token: string): DeliveryRecord[] {
    return [...this.bot(token).deliveries];
  }

  /** Resolves once `predicate()` holds (checked every 10 ms); rejects after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() >= deadline) throw new Error(`FakeBotApi.waitFor: ${what} still false after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Resolves once a bot has `n` successful sendMessage / editMessageText calls; rejects after `timeoutMs`. */
  async waitForSent(token: string, n: number, timeoutMs = 10_000): Promise<void> {
    try {
      await this.waitFor(() => this.sentCount(token) >= n, timeoutMs);
    } catch {
      const last = this.sent(token).slice(-5).map((s) => JSON.stringify(s.text));
      throw new Error(
        `FakeBotApi.waitForSent: bot ${token.split(":")[0]} sent ${this.sentCount(token)} of ${n} messages ` +
          `within ${timeoutMs} ms${last.length > 0 ? `; last: ${last.join(", ")}` : ""}`,
      );
    }
  }

  private bot(token: string): BotState {
    const bot = this.bots.get(token);
    if (bot === undefined) throw new Error(`FakeBotApi: no bot ${token.split(":")[0]} (call addBot first)`);
    return bot;
  }

  private faultsOf(token: string): Faults {
    this.bot(token);
    return this.faults.get(token)!;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.handle(req, res).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      sendJson(res, 500, errorBody(new ApiError(500, `Internal Server Error: ${message}`)));
    });
  }

  private readonly resets = new Map<string, number>();

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const arrival = { seq: ++this.seq, at: performance.now() };
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const m = ROUTE.exec(q === -1 ? url : url.slice(0, q));
    if (m === null) {
      req.resume();
      return sendJson(res, 404, NOT_FOUND.body);
    }
    const token = decodePath(m[1]!);
    let params: Params;
    try {
      params = parseParams(req.headers["content-type"], await readBody(req), q === -1 ? "" : url.slice(q + 1));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const rec = this.log.add(token, canonicalMethod(m[2]!) ?? m[2]!, {}, at);
      if (rec !== undefined) rec.status = err.code;
      return sendJson(res, err.code, errorBody(err));
    }
    const resetKey = `${token} ${m[2]!.toLowerCase()}`;
    const resets = this.resets.get(resetKey) ?? 0;
    if (resets > 0) {
      // What a server does when it closes an idle keep-alive socket just as the request arrives.
      this.resets.set(resetKey, resets - 1);
      req.socket.destroy();
      return;
    }
    const reply = await this.run(token, m[2]!, params, res, at, arrival);
    if (reply !== undefined) sendJson(res, reply.status, reply.body, reply.retryAfter);
  }

  /** The next `count` calls of `method` get their connection reset before any response (ECONNRESET). */
  resetNext(token: string, method: string, count = 1): void {
    this.resets.set(`${token} ${method.toLowerCase()}`, count);
  }

  /** Runs one call (from HTTP, or a webhook reply); undefined when the client left before the answer. */
  private async run(
    token: string,
    name: string,
    params: Params,
    res: ServerResponse | undefined,
    at: number,
    arrival: Pick<Arrival, "seq" | "at">,
  ): Promise<Reply | undefined> {
    const custom = this.handlers.get(name.toLowerCase());
    const method = canonicalMethod(name) ?? (custom === undefined ? undefined : name);
    const rec = this.log.add(token, method ?? name, params, at);
    const bot = this.bots.get(token);
    let reply: Reply | undefined;
    if (bot === undefined || bot.removed) reply = UNAUTHORIZED;
    else if (method === undefined) reply = NOT_FOUND;
    else {
      const signal = res === undefined ? undefined : closeSignal(res);
      const chat = method === "getUpdates" || params.chat_id === undefined || params.chat_id === null ? undefined : String(params.chat_id);
      reply = await this.runKnown(bot, { method, chat, ...arrival }, params, custom, signal, at);
      if (signal?.aborted) reply = undefined;
    }
    if (rec !== undefined) rec.status = reply?.status ?? 499;
    return reply;
  }

  private async runKnown(
    bot: BotState,
    call: Arrival,
    params: Params,
    custom: MethodHandler | undefined,
    signal: AbortSignal | undefined,
    at: number,
  ): Promise<Reply> {
    const { method } = call;
    const faults = this.faults.get(bot.token)!;
    faults.arrive(call);
    const delay = faults.delayFor(method);
    if (delay !== undefined) await this.sleep(delay, signal);
    if (bot.removed) return UNAUTHORIZED;
    const fault = faults.check(call, this.seq);
    if (fault !== undefined) return errorReply(fault);
    const limits = call.chat === undefined ? undefined : this.limits.get(bot.token);
    if (limits !== undefined) {
      const over = limits.check(call.chat!, call.at);
      if (over !== undefined) return errorReply(faults.startWait(over.scope, over.retryAfter, true, this.seq));
      limits.add(call.chat!, call.at);
    }
    try {
      let result = custom
        ? custom({ token: bot.token, bot: bot.user, params })
        : builtinHandler(method)(bot, params, signal);
      if (result instanceof Promise) result = await (result as Promise<unknown>);
      if (result instanceof Described) {
        return { status: 200, body: JSON.stringify({ ok: true, result: result.result, description: result.description }) };
      }
      if ((method === "sendMessage" || method === "editMessageText") && typeof result === "object" && result !== null) {
        this.log.addSent(bot.token, method, params, Number((result as { message_id?: unknown }).message_id), at);
      }
      this.world.observe(bot.user, method, params, result);
      return { status: 200, body: JSON.stringify({ ok: true, result }) };
    } catch (err) {
      if (err instanceof ApiError) return errorReply(err);
      const message = err instanceof Error ? err.message : String(err);
      return errorReply(new ApiError(500, `Internal Server Error: ${message}`));
    }
  }

  private sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      signal?.addEventListener("abort", () => resolve(), { once: true });
      if (!Number.isFinite(ms)) return;
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}
