import { Described } from "./bot-state.js";
import type { BotRegistry, RegisteredBot } from "./bot-registry.js";
import type { CallLog } from "./call-log.js";
import type { Arrival } from "./faults.js";
import { canonicalMethod } from "./known-methods.js";
import { builtinHandler } from "./methods.js";
import { errorBody } from "./params.js";
import { ApiError, type MethodHandler, type Params } from "./types.js";
import type { ChatWorld } from "./world.js";

/** The HTTP answer to one call. */
export interface Reply {
  status: number;
  body: string;
  /** Sent as the `Retry-After` header (429s). */
  retryAfter?: number;
}

const UNAUTHORIZED: Reply = { status: 401, body: errorBody(new ApiError(401, "Unauthorized")) };
/** The answer to an unknown method or path. */
export const NOT_FOUND: Reply = { status: 404, body: errorBody(new ApiError(404, "Not Found")) };

function errorReply(err: ApiError): Reply {
  return { status: err.code, body: errorBody(err), retryAfter: err.parameters?.retry_after };
}

/**
 * Runs Bot API calls, from HTTP requests or from webhook answers, like Telegram: 401 for unknown or removed tokens,
 * 404 for unknown methods, then the bot's injected faults and Telegram's limits, 403 for a chat whose user
 * blocked the bot, then the method's handler (one set
 * with {@link setHandler}, else the built-in one). Records every call in the {@link CallLog} and shows successful
 * ones in the {@link ChatWorld}.
 */
export class CallRunner {
  /** Arrival number of the newest request (see {@link Arrival}). */
  private seq = 0;
  private readonly handlers = new Map<string, MethodHandler>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly bots: BotRegistry,
    private readonly log: CallLog,
    private readonly world: ChatWorld,
  ) {}

  /** Numbers a call as it arrives; every request and every call of a webhook's answer gets one. */
  arrive(): Pick<Arrival, "seq" | "at"> {
    return { seq: ++this.seq, at: performance.now() };
  }

  /** Installs a handler for a method (any case) for every bot; undefined restores the built-in one. */
  setHandler(method: string, handler: MethodHandler | undefined): void {
    const key = method.toLowerCase();
    if (handler === undefined) this.handlers.delete(key);
    else this.handlers.set(key, handler);
  }

  /** Records a call refused before it could run (its request could not be read) and returns the answer. */
  refuse(token: string, name: string, err: ApiError, at: number): Reply {
    const rec = this.log.add(token, canonicalMethod(name) ?? name, {}, at);
    if (rec !== undefined) rec.status = err.code;
    return { status: err.code, body: errorBody(err) };
  }

  /**
   * Runs one call; `signal` fires when its client leaves (none for a webhook's answer). Undefined when the client
   * left before the answer.
   */
  async run(
    token: string,
    name: string,
    params: Params,
    signal: AbortSignal | undefined,
    at: number,
    arrival: Pick<Arrival, "seq" | "at">,
  ): Promise<Reply | undefined> {
    const custom = this.handlers.get(name.toLowerCase());
    const method = canonicalMethod(name) ?? (custom === undefined ? undefined : name);
    const rec = this.log.add(token, method ?? name, params, at);
    const bot = this.bots.find(token);
    let reply: Reply | undefined;
    if (bot === undefined || bot.state.removed) reply = UNAUTHORIZED;
    else if (method === undefined) reply = NOT_FOUND;
    else {
      const chat = method === "getUpdates" || params.chat_id === undefined || params.chat_id === null ? undefined : String(params.chat_id);
      reply = await this.runKnown(bot, { method, chat, ...arrival }, params, custom, signal, at);
      if (signal?.aborted) reply = undefined;
    }
    if (rec !== undefined) rec.status = reply?.status ?? 499;
    return reply;
  }

  /** Cancels the timers of delayed calls (the server is closing: their connections go with it). */
  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private async runKnown(
    { state: bot, faults, limits }: RegisteredBot,
    call: Arrival,
    params: Params,
    custom: MethodHandler | undefined,
    signal: AbortSignal | undefined,
    at: number,
  ): Promise<Reply> {
    const { method } = call;
    faults.arrive(call);
    const delay = faults.delayFor(method);
    if (delay !== undefined) await this.sleep(delay, signal);
    if (bot.removed) return UNAUTHORIZED;
    const fault = faults.check(call, this.seq);
    if (fault !== undefined) return errorReply(fault);
    if (call.chat !== undefined && limits !== undefined) {
      const over = limits.check(call.chat, call.at);
      if (over !== undefined) return errorReply(faults.startWait(over.scope, over.retryAfter, true, this.seq));
      limits.add(call.chat, call.at);
    }
    if (call.chat !== undefined && bot.blocked.has(call.chat))
      return errorReply(new ApiError(403, "Forbidden: bot was blocked by the user"));
    try {
      let result = custom ? custom({ token: bot.token, bot: bot.user, params }) : builtinHandler(method)(bot, params, signal);
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
