import { BotState } from "./bot-state.js";
import { Faults } from "./faults.js";
import { TelegramLimitsCheck } from "./telegram-limits.js";
import type { BotOptions, BotUser, LocalBotApiOptions, Params } from "./types.js";

/** One token as the local Bot API keeps it: its state, its injected faults and (with `limits`) Telegram's limits. */
export interface RegisteredBot {
  readonly state: BotState;
  readonly faults: Faults;
  readonly limits: TelegramLimitsCheck | undefined;
}

/** The bots by token. A removed token stays (its calls get 401) until it is added again, which starts it afresh. */
export class BotRegistry {
  private readonly bots = new Map<string, RegisteredBot>();
  /** The last message id of every group chat, shared by all bots: a group numbers its messages once. */
  private readonly groupMessageIds = new Map<number, number>();

  constructor(
    private readonly opts: LocalBotApiOptions,
    /** A webhook answered a 2xx with a method call: run it as a call of `token`. */
    private readonly onWebhookReply: (token: string, method: string, params: Params) => void,
  ) {}

  /** Adds a bot (or renames an existing one) and returns its getMe user; see `LocalBotApi.addBot`. */
  add(token: string, info: BotOptions): BotUser {
    const id = Number(token.split(":")[0]);
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error("LocalBotApi.addBot: a token looks like <bot id>:<secret>");
    const old = this.bots.get(token)?.state;
    if (old !== undefined && !old.removed) {
      if (info.first_name !== undefined) old.user.first_name = info.first_name;
      if (info.username !== undefined) old.user.username = info.username;
      return old.user;
    }
    const user = botUser(id, info);
    const state = new BotState(token, user, info.firstUpdateId ?? 1, {
      webhookTimeoutMs: this.opts.webhookTimeoutMs ?? 10_000,
      webhookRetryDelayMs: this.opts.webhookRetryDelayMs ?? 1000,
      record: this.opts.record !== false,
      groupMessageIds: this.groupMessageIds,
      onWebhookReply: (method, params) => this.onWebhookReply(token, method, params),
    });
    this.bots.set(token, { state, faults: new Faults(), limits: TelegramLimitsCheck.of(this.opts.limits) });
    return user;
  }

  /** Revokes a token (see `LocalBotApi.removeBot`); unknown tokens are ignored. */
  remove(token: string): void {
    this.bots.get(token)?.state.remove();
  }

  /** The bot of a token, also a removed one; undefined for a token never added. */
  find(token: string): RegisteredBot | undefined {
    return this.bots.get(token);
  }

  /** Like {@link find}, for the test-facing methods: a token never added is a mistake of the caller. */
  get(token: string): RegisteredBot {
    const bot = this.bots.get(token);
    if (bot === undefined) throw new Error(`LocalBotApi: no bot ${token.split(":")[0]} (call addBot first)`);
    return bot;
  }

  /** The token and user of the bot with this Telegram id, unless it was removed. */
  byUserId(id: number): { token: string; user: BotUser } | undefined {
    for (const { state } of this.bots.values()) {
      if (!state.removed && state.user.id === id) return { token: state.token, user: state.user };
    }
    return undefined;
  }

  /** Ends every bot's long poll and webhook delivery (the server is closing). */
  stop(): void {
    for (const { state } of this.bots.values()) state.stop();
  }
}

/** The getMe user of a new bot. */
function botUser(id: number, info: BotOptions): BotUser {
  return {
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
}
