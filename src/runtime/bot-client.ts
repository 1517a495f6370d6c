import { Api, Bot, HttpError, type ApiClientOptions, type Composer } from "grammy";
import type { Update, UserFromGetMe } from "grammy/types";
import type { Redis } from "ioredis";
import { BotHostError, ErrorCodes, isBotHostError } from "../errors.js";
import type { BotSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import type { SharedTransport } from "../transport/shared-transport.js";
import type { Throttle } from "../transport/throttle.js";
import { installApiTransformers } from "./api-transformers.js";
import { HostContext, bindContext, type AudienceHook } from "./context.js";
import { directCalls } from "./direct-calls.js";
import { createGetUpdates, type GetUpdates } from "./get-updates.js";
import type { Lease } from "./lease.js";
import { updateTypeOf, type RuntimeObserver } from "./observer.js";
import { dropHandOff } from "./lone-update.js";
import { RedeliveryError, SetAsideError } from "./pipeline.js";
import type { DeadLetter } from "../storage/dead-letters.js";

/** What every bot's grammY side is built on. */
export interface BotClientShared {
  transport: SharedTransport;
  pipeline: Composer<HostContext>;
  observer: RuntimeObserver;
  /** When set, each bot's overall send limit is also kept in Redis (at `key(botId)`), shared by all processes. */
  sendWindow: { redis: Redis; key: (botId: string) => string } | undefined;
}

/** What a {@link BotClient} tells its bot's runner. */
export interface BotClientHooks {
  /** An update was set aside as a dead letter (after it was logged and counted). */
  onSetAside?: (letter: DeadLetter) => void;
  /** An update was left journaled because a Bot API call could not reach Telegram. */
  onStranded?: (updateId: number) => void;
  /** Set when the bot records its audience: a private chat joined it. */
  audience?: AudienceHook;
  /** A chat answered 403 (it blocked the bot, or is gone). */
  onForbidden?: (chatKey: string) => void;
}

/**
 * One bot's grammY side: its Bot API client on the shared transport, its `Bot` running the shared pipeline
 * with the host's transformers (metrics, retries, the outgoing throttle and, when leased, the lease guard), and
 * the handling of one update. The `BotRunner` owns its life; this owns how it talks to Telegram.
 */
export class BotClient {
  constructor(
    private readonly settings: BotSettings,
    private readonly shared: BotClientShared,
    private readonly log: Logger,
    private readonly lease: Lease | undefined,
    private readonly hooks: BotClientHooks = {},
  ) {}

  /** How long any Bot API call may take: a long poll plus a margin (ms). */
  private get callTimeoutMs(): number {
    return this.settings.polling.timeoutMs + 30_000;
  }

  private clientOptions(): ApiClientOptions {
    return { apiRoot: this.settings.apiRoot, fetch: this.shared.transport.fetch as never, timeoutSeconds: this.callTimeoutMs / 1000 };
  }

  /** A plain Bot API client for the calls made before the bot runs (getMe, deleteWebhook). */
  api(): Api {
    return new Api(this.settings.token, this.clientOptions());
  }

  /** getUpdates straight on the shared transport (see {@link createGetUpdates}). */
  getUpdates(): GetUpdates {
    const { observer, transport } = this.shared;
    const bot = this.settings.id;
    return createGetUpdates({
      apiRoot: this.settings.apiRoot,
      token: this.settings.token,
      post: transport.post,
      timeoutMs: this.callTimeoutMs,
      observe: (outcome) => observer.apiCall(bot, "getUpdates", outcome === "ok" ? undefined : outcome),
    });
  }

  /** The error of a call not made because the lease passed to another instance. */
  leaseLost(): BotHostError {
    return new BotHostError(
      ErrorCodes.LEASE_LOST,
      `bot "${this.settings.id}": this instance no longer holds the bot's lease (another instance took it); the call was not made`,
    );
  }

  /** Undefined once the lease is surely valid (at once, or when a renewal answers), the error once it is lost. */
  async awaitLease(): Promise<BotHostError | undefined> {
    const { lease } = this;
    if (lease === undefined || lease.valid()) return undefined;
    return (await lease.settled()) ? undefined : this.leaseLost();
  }

  /** The bot's grammY `Bot` on the shared pipeline, with the throttle it owns (stopped with the bot), if any. */
  createBot(info: UserFromGetMe): { bot: Bot<HostContext>; throttle: Throttle | undefined } {
    const { settings, shared, lease, log } = this;
    const bot = new Bot<HostContext>(settings.token, { ContextConstructor: HostContext, client: this.clientOptions(), botInfo: info });
    // First, so innermost: every other transformer, the host's and the app's, runs outside it.
    const { apiRoot, token } = settings;
    bot.api.config.use(directCalls({ apiRoot, token, post: shared.transport.post, timeoutMs: this.callTimeoutMs }));
    const throttle = installApiTransformers(bot.api, {
      botId: settings.id,
      observer: shared.observer,
      log,
      retry: settings.limits.retry,
      outgoing: settings.limits.outgoing,
      cluster: settings.limits.outgoing === undefined ? undefined : shared.sendWindow,
      background: settings.broadcast,
      ...(this.hooks.onForbidden === undefined ? {} : { onForbidden: this.hooks.onForbidden }),
    });
    // Outermost: no call is sent while the lease is in doubt (it waits for the next renewal's answer), and none
    // once another instance took it.
    if (lease !== undefined) {
      bot.api.config.use((prev, method, payload, signal) =>
        lease.valid()
          ? prev(method, payload, signal)
          : lease.settled().then((valid) => (valid ? prev(method, payload, signal) : Promise.reject(this.leaseLost()))),
      );
    }
    const remember = settings.mode === "webhook";
    bot.use((ctx, next) => {
      bindContext(ctx, {
        botId: settings.id,
        appConfig: settings.appConfig,
        logger: log,
        remember,
        lease,
        incoming: settings.limits.incoming,
        audience: this.hooks.audience,
      });
      return next();
    });
    bot.use(shared.pipeline);
    return { bot, throttle };
  }

  /** Handles one update on `bot`; never rejects (a failing handler is logged and the bot goes on). */
  async consume(bot: Bot<HostContext>, update: Update): Promise<void> {
    const { observer } = this.shared;
    const botId = this.settings.id;
    const type = updateTypeOf(update);
    observer.updateReceived(botId, type);
    const t0 = performance.now();
    let outcome: "ok" | "error" | "redelivery" = "ok";
    try {
      await bot.handleUpdate(update);
    } catch (err) {
      outcome = "error";
      const cause = err instanceof Error && "error" in err ? (err as { error: unknown }).error : err;
      if (cause instanceof RedeliveryError) {
        outcome = "redelivery";
      } else if (cause instanceof SetAsideError) {
        const { letter } = cause;
        observer.deadLettered(botId, letter.reason);
        this.log.error(
          {
            update_id: update.update_id,
            code: ErrorCodes.UPDATE_SET_ASIDE,
            reason: letter.reason,
            attempts: letter.attempts,
            error: letter.error,
          },
          letter.reason === "timeout"
            ? "update set aside: its handler ran past updates.handler_timeout; its chat goes on (see `bot-host dead-letters`)"
            : "update set aside: it was started updates.max_attempts times without finishing; its chat goes on (see `bot-host dead-letters`)",
        );
        this.hooks.onSetAside?.(letter);
      } else if (cause instanceof HttpError) {
        this.log.warn(
          { update_id: update.update_id, err: cause.error },
          "a Bot API call of this update could not reach Telegram: the update stays in the journal and runs again once calls get through",
        );
        this.hooks.onStranded?.(update.update_id);
      } else if (isBotHostError(cause) && cause.code === ErrorCodes.LEASE_LOST) {
        observer.leaseEvent(botId, "fenced");
        this.log.warn(
          { update_id: update.update_id, code: cause.code },
          "update left to the bot's new owner: this instance lost the lease",
        );
      } else {
        this.log.error({ err: cause, update_id: update.update_id }, "handler failed; the bot goes on");
      }
    } finally {
      dropHandOff(update);
      if (outcome !== "redelivery") observer.updateHandled(botId, type, outcome, (performance.now() - t0) / 1000, update.update_id);
    }
  }
}
