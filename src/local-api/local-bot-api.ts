import { BotRegistry } from "./bot-api/bot-registry.js";
import { CallLog } from "./bot-api/call-log.js";
import { CallRunner } from "./bot-api/call-runner.js";
import type { Faults } from "./bot-api/faults.js";
import { Listener } from "./bot-api/listener.js";
import { RequestHandler } from "./bot-api/request-handler.js";
import { waitFor, waitForSent } from "./bot-api/wait.js";
import { ChatWorld } from "./bot-api/world.js";
import type {
  ApiError,
  BotOptions,
  BotUser,
  CallRecord,
  DeliveryRecord,
  LocalBotApiOptions,
  MethodHandler,
  RateLimitRule,
  SentRecord,
  UpdateBody,
  WebhookSettings,
} from "./bot-api/types.js";

export { ApiError } from "./bot-api/types.js";
export type * from "./bot-api/types.js";
export type * from "./bot-api/world-types.js";
export { ChatWorld } from "./bot-api/world.js";
export { applyParseMode, type Formatted } from "./bot-api/formatting.js";

/**
 * A local Telegram Bot API server for tests, benchmarks and the playground (grammY: `client: { apiRoot: api.apiRoot }`).
 *
 * It answers `/bot<token>/<method>` like Telegram where it matters: 401 for unknown tokens, 404 for unknown methods,
 * getUpdates with offsets, limits, long polling, allowed_updates and 409 conflicts, webhooks delivered per chat in
 * order, flood waits (429 with retry_after), Telegram's outgoing limits when `limits` is set, and a few messaging
 * methods with realistic results. Every call is recorded for assertions; faults (429, 5xx, delays) can be injected
 * per bot and method. {@link world} simulates users and chats (private and group) on top, as a Telegram client sees
 * them.
 */
export class LocalBotApi {
  /** Base URL for grammY's `apiRoot`, like `http://127.0.0.1:PORT` (no trailing slash). */
  readonly apiRoot: string;
  /** Simulated users, private chats and groups: messages they send reach the bots, and what bots do shows there. */
  readonly world: ChatWorld;
  private readonly bots: BotRegistry;
  private readonly log: CallLog;
  private readonly runner: CallRunner;
  private readonly requests: RequestHandler;
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly listener: Listener,
    opts: LocalBotApiOptions,
  ) {
    this.apiRoot = `http://127.0.0.1:${listener.port}`;
    this.log = new CallLog(opts.record !== false);
    this.bots = new BotRegistry(opts, (token, method, params) => {
      void this.runner.run(token, method, params, undefined, Date.now(), this.runner.arrive()).catch(() => undefined);
    });
    this.world = new ChatWorld({
      bot: (id) => this.bots.byUserId(id),
      inject: (token, update) => this.inject(token, update),
      nextMessageId: (token, chatId) => this.bots.get(token).state.nextMessageId(chatId),
    });
    this.runner = new CallRunner(this.bots, this.log, this.world);
    this.requests = new RequestHandler(this.runner);
    listener.serve((req, res) => this.requests.onRequest(req, res));
  }

  /** Starts a server on 127.0.0.1 (a free port unless `port` is given). */
  static async start(opts: LocalBotApiOptions = {}): Promise<LocalBotApi> {
    return new LocalBotApi(await Listener.open(opts), opts);
  }

  /** Closes everything: pending long polls, webhook deliveries and their timers, open sockets. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.bots.stop();
      this.runner.stop();
      await this.listener.close();
    })();
    return this.stopping;
  }

  /**
   * Adds a bot (or updates the name of an existing one) and returns its getMe user. Its id is the numeric part of
   * the token before ':'.
   */
  addBot(token: string, info: BotOptions = {}): BotUser {
    return this.bots.add(token, info);
  }

  /** Revokes a token: its calls get 401 from now on, a pending long poll is answered 401, webhooks stop. */
  removeBot(token: string): void {
    this.bots.remove(token);
  }

  /**
   * The user of the private chat `chatId` blocks the bot (`false`: unblocks it): calls into that chat answer 403
   * "Forbidden: bot was blocked by the user", as Telegram does.
   */
  blockBot(token: string, chatId: number, blocked = true): void {
    const set = this.bots.get(token).state.blocked;
    if (blocked) set.add(String(chatId));
    else set.delete(String(chatId));
  }

  /** Queues an update for a bot (any `update_id` in it is replaced) and returns the update_id it got. */
  inject(token: string, update: UpdateBody): number {
    return this.bots.get(token).state.inject(update);
  }

  /** Queues many updates at once, in order (cheap for big backlogs); returns their update_ids. */
  injectMany(token: string, updates: readonly UpdateBody[]): number[] {
    return this.bots.get(token).state.injectMany(updates);
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
   * of getUpdates polling. A call that had reached the local Bot API before the 429 was answered was on its way
   * already and does not count; one that reached it later does, so a client that has several calls of one scope on
   * the way at once may see one counted that it had sent before it could know of the 429. No timing guess is involved.
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

  /** The next `count` calls of `method` get their connection reset before any response (ECONNRESET). */
  resetNext(token: string, method: string, count = 1): void {
    this.requests.resetNext(token, method, count);
  }

  /**
   * Replaces the handling of a method for every bot (or adds a method the local Bot API does not know); undefined
   * restores the built-in one. The handler returns the `result` or throws an {@link ApiError}; other throws become 500s.
   */
  setHandler(method: string, handler: MethodHandler | undefined): void {
    this.runner.setHandler(method, handler);
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
    return this.bots.get(token).state.queue.size;
  }

  /** The highest offset a getUpdates of this bot confirmed (0 if none). */
  confirmedOffset(token: string): number {
    return this.bots.get(token).state.confirmedOffset;
  }

  /** The webhook settings of a bot, or undefined when none is set. */
  webhook(token: string): WebhookSettings | undefined {
    const w = this.bots.get(token).state.webhook;
    return w === undefined ? undefined : { ...w };
  }

  /** Webhook delivery attempts of a bot, in order. Empty with `record: false`. */
  deliveries(token: string): DeliveryRecord[] {
    return [...this.bots.get(token).state.deliveries];
  }

  /** Resolves once `predicate()` holds (checked every 10 ms); rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    return waitFor(predicate, timeoutMs, what);
  }

  /** Resolves once a bot has `n` successful sendMessage / editMessageText calls; rejects after `timeoutMs`. */
  waitForSent(token: string, n: number, timeoutMs = 10_000): Promise<void> {
    return waitForSent(this.log, token, n, timeoutMs);
  }

  private faultsOf(token: string): Faults {
    return this.bots.get(token).faults;
  }
}
