import { Api, Bot, GrammyError, type ApiClientOptions, type Composer } from "grammy";
import type { Update } from "grammy/types";
import { BotHostError, isBotHostError, ErrorCodes } from "../errors.js";
import type { BotSettings } from "../config/bot-settings.js";
import type { Logger } from "../logging/logger.js";
import type { StateStore } from "../storage/state-store.js";
import type { SharedTransport } from "../transport/shared-transport.js";
import { updateTypeOf, type RuntimeObserver } from "./observer.js";
import { HostContext, bindContext } from "./context.js";
import { resolveBotInfo } from "./bot-info.js";
import { Admission } from "./admission.js";
import { backoffDelay, sleep } from "../transport/backoff.js";
import { InFlightTracker } from "./in-flight.js";
import { PollingIntake, type Intake } from "./polling-intake.js";
import { createGetUpdates, type GetUpdates } from "./get-updates.js";
import type { Throttle } from "../transport/throttle.js";
import type { ApiLimits } from "../transport/limits.js";
import { installApiTransformers } from "./api-transformers.js";
import { WebhookIntake, type WebhookOutcome } from "./webhook-intake.js";

/** The progress of one bot's {@link BotRunner.stop}. */
export interface BotStop {
  /** `true` once every received update finished, `false` when the deadline passed first. */
  readonly drained: Promise<boolean>;
  /** The bot is stopped: what the deadline cut (update ids) and the offset confirmed, if any. Never rejects. */
  readonly done: Promise<{ cut: number[]; offset: number | undefined }>;
}

/**
 * This instance's lease of a bot, when several instances share the bots: while it is not valid the bot makes
 * no Bot API call and confirms no offset (its Redis writes are refused by the store's fence anyway).
 */
export interface LeaseView {
  /** The fence token every journal and state write of the bot carries. */
  readonly token: string;
  /** `false` once the lease may have passed to another instance (not renewed in time, or taken over). */
  valid(): boolean;
}

/** Where a bot is in its life. `running` and not draining is what readiness asks for. */
export type BotState = "idle" | "starting" | "running" | "retrying" | "failed" | "stopping" | "stopped";

/** What a {@link BotRunner} shares with every other bot. */
export interface BotRunnerShared {
  apiRoot: string;
  transport: SharedTransport;
  store: StateStore;
  admission: Admission;
  pipeline: Composer<HostContext>;
  appConfig: Readonly<Record<string, unknown>>;
  /** After this long (ms) a webhook request is answered and its update finishes in the background. */
  webhookReplyTimeoutMs: number;
  observer: RuntimeObserver;
  limits: ApiLimits;
  /** How long a start may wait for the Bot API (ms). */
  startTimeoutMs: number;
}

/**
 * One bot: its grammY `Bot` on the shared transport and pipeline, receiving by long polling (through
 * @grammyjs/runner) or by webhook. Failures stay inside: a 401 marks this bot failed, an unreachable Bot API
 * is retried in the background, a throwing handler is logged and the bot goes on.
 */
export class BotRunner {
  state: BotState = "idle";
  /** Why the bot is failed or retrying, for readiness and logs. */
  reason: string | undefined;
  readonly tracker = new InFlightTracker();
  readonly log: Logger;
  private intake: Intake | undefined;
  /** The intake again when it takes webhook requests. */
  private webhook: WebhookIntake | undefined;
  private throttle: Throttle | undefined;
  private readonly abort = new AbortController();
  private retryLoop: Promise<void> | undefined;
  private stopping: BotStop | undefined;

  constructor(
    readonly settings: BotSettings,
    private readonly shared: BotRunnerShared,
    logger: Logger,
    /** Set when the bot is leased (several instances share the bots). */
    private readonly lease?: LeaseView,
  ) {
    this.log = logger.child({ bot: settings.id });
  }

  private leaseLost(): BotHostError {
    return new BotHostError(
      ErrorCodes.LEASE_LOST,
      `bot "${this.id}": this instance no longer holds the bot's lease (it was not renewed in time); the call was not made`,
    );
  }

  get id(): string {
    return this.settings.id;
  }

  /** The secret Telegram must send with each webhook request of this bot. */
  get webhookSecret(): string {
    return this.settings.webhook.secret;
  }

  /**
   * Starts the bot. Resolves `true` once it receives updates, `false` when this first attempt failed (the bot
   * is then `failed` for good, or `retrying` in the background). Never rejects.
   */
  async start(): Promise<boolean> {
    this.state = "starting";
    try {
      await this.launch();
      return (this.state as BotState) === "running";
    } catch (err) {
      if (this.abort.signal.aborted) return false;
      this.onStartError(err);
      return false;
    }
  }

  /** Hands a webhook request's update to this bot. */
  receiveWebhook(update: Update): Promise<WebhookOutcome> {
    if (this.webhook === undefined || this.state !== "running") return Promise.resolve("unavailable");
    return this.webhook.receive(update);
  }

  private async launch(): Promise<void> {
    const { shared, settings } = this;
    this.log.debug("starting: getMe, then the journal");
    const { info, cached } = await resolveBotInfo({
      token: settings.token,
      api: new Api(settings.token, this.clientOptions()),
      store: shared.store,
      botId: settings.id,
      apiRoot: shared.apiRoot,
      timeoutMs: shared.startTimeoutMs,
      signal: this.abort.signal,
      mode: settings.mode,
    });
    const bot = this.createBot(info);
    const journal = await shared.store.loadJournal(settings.id);
    if (this.abort.signal.aborted) return;
    const consume = (u: Update): Promise<void> => this.consume(bot, u);
    this.webhook =
      settings.mode === "webhook"
        ? new WebhookIntake({
            botId: settings.id, bot, store: shared.store, admission: shared.admission,
            perBot: new Admission(settings.polling.concurrency), logger: this.log,
            url: settings.webhook.url, secret: settings.webhook.secret, allowedUpdates: settings.allowedUpdates,
            maxConnections: settings.webhook.maxConnections, replyTimeoutMs: shared.webhookReplyTimeoutMs,
            replay: journal.pending, tracker: this.tracker, consume,
            ...(this.lease === undefined ? {} : { fence: this.lease.token }),
          })
        : undefined;
    this.intake =
      this.webhook ??
      new PollingIntake({
        botId: settings.id, getUpdates: this.createGetUpdates(), store: shared.store, admission: shared.admission, logger: this.log,
        polling: settings.polling, allowedUpdates: settings.allowedUpdates,
        replay: journal.pending, watermark: journal.watermark, consume,
        onHealth: (healthy, reason) => this.onHealth(healthy, reason),
        onFatal: (err) => this.onFatal(err),
        ...(this.lease === undefined ? {} : { fence: this.lease.token, leased: () => (this.lease?.valid() === false ? this.leaseLost() : undefined) }),
      });
    await this.intake.start();
    this.state = "running";
    this.reason = undefined;
    this.log.info({ username: info.username, mode: settings.mode, replayed: journal.pending.length, botinfo_cached: cached }, "bot started");
  }

  /** How long any Bot API call may take: a long poll plus a margin. */
  private get callTimeoutSeconds(): number {
    return this.settings.polling.timeout + 30;
  }

  private clientOptions(): ApiClientOptions {
    return {
      apiRoot: this.shared.apiRoot,
      fetch: this.shared.transport.fetch as never,
      timeoutSeconds: this.callTimeoutSeconds,
    };
  }

  private createGetUpdates(): GetUpdates {
    const { observer, apiRoot, transport } = this.shared;
    const bot = this.settings.id;
    return createGetUpdates({
      apiRoot,
      token: this.settings.token,
      fetch: transport.fetch,
      timeoutMs: this.callTimeoutSeconds * 1000,
      observe: (outcome) => {
        observer.apiCall(bot, "getUpdates", outcome === "ok" ? undefined : outcome);
      },
    });
  }

  private createBot(info: Bot["botInfo"]): Bot<HostContext> {
    const { settings, shared } = this;
    const bot = new Bot<HostContext>(settings.token, { ContextConstructor: HostContext, client: this.clientOptions(), botInfo: info });
    void this.throttle?.stop();
    this.throttle = installApiTransformers(bot.api, { botId: settings.id, observer: shared.observer, log: this.log, ...shared.limits });
    const lease = this.lease;
    // Outermost: a call made after the lease may have passed to another instance is never sent.
    if (lease !== undefined) bot.api.config.use((prev, method, payload, signal) => (lease.valid() ? prev(method, payload, signal) : Promise.reject(this.leaseLost())));
    const log = this.log;
    const remember = settings.mode === "webhook";
    bot.use((ctx, next) => {
      bindContext(ctx, { botId: settings.id, appConfig: shared.appConfig, logger: log, remember, lease });
      return next();
    });
    bot.use(shared.pipeline);
    return bot;
  }

  private async consume(bot: Bot<HostContext>, update: Update): Promise<void> {
    const { observer } = this.shared;
    const type = updateTypeOf(update);
    this.tracker.add(update.update_id);
    observer.updateReceived(this.settings.id, type);
    const t0 = performance.now();
    let outcome: "ok" | "error" = "ok";
    try {
      await bot.handleUpdate(update);
    } catch (err) {
      outcome = "error";
      const cause = err instanceof Error && "error" in err ? (err as { error: unknown }).error : err;
      if (isBotHostError(cause) && cause.code === ErrorCodes.LEASE_LOST) {
        observer.leaseEvent(this.settings.id, "fenced");
        this.log.warn({ update_id: update.update_id, code: cause.code }, "update left to the bot's new owner: this instance lost the lease");
      } else {
        this.log.error({ err: cause, update_id: update.update_id }, "handler failed; the bot goes on");
      }
    } finally {
      this.tracker.delete(update.update_id);
      observer.updateHandled(this.settings.id, type, outcome, (performance.now() - t0) / 1000, update.update_id);
    }
  }

  private onHealth(healthy: boolean, reason?: string): void {
    if (this.state !== "running" && this.state !== "retrying") return;
    this.state = healthy ? "running" : "retrying";
    this.reason = healthy ? undefined : reason;
  }

  private onStartError(err: unknown): void {
    if (isBotHostError(err) && err.code === ErrorCodes.BOT_UNAUTHORIZED) {
      this.fail(err);
      return;
    }
    this.state = "retrying";
    this.reason = isBotHostError(err) ? err.code : err instanceof GrammyError ? String(err.error_code) : "start failed";
    this.log.error({ err }, isBotHostError(err) ? err.message : "bot failed to start; retrying in the background");
    this.retryLoop = this.retryStart();
  }

  private async retryStart(): Promise<void> {
    for (let attempt = 1; !this.abort.signal.aborted; attempt++) {
      try {
        await sleep(backoffDelay(attempt, 1_000, 60_000), this.abort.signal);
        await this.launch();
        return;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        if (isBotHostError(err) && err.code === ErrorCodes.BOT_UNAUTHORIZED) {
          this.fail(err);
          return;
        }
        this.log.warn({ err, attempt }, "bot start retry failed");
      }
    }
  }

  private onFatal(err: unknown): void {
    if (this.state === "stopping" || this.state === "stopped") return;
    this.fail(err);
  }

  private fail(err: unknown): void {
    this.state = "failed";
    this.reason = isBotHostError(err) ? err.code : "fatal";
    if (isBotHostError(err) && err.code === ErrorCodes.LEASE_LOST) {
      this.log.warn({ code: err.code }, "stopped polling: this instance lost the bot's lease");
      return;
    }
    this.log.error({ err, code: isBotHostError(err) ? err.code : undefined }, isBotHostError(err) ? err.message : "bot stopped on an unrecoverable error");
  }

  /**
   * Stops this bot; the one stop used by the host's shutdown, by reload and by lease handover. In order: no
   * new updates (at once, before this returns), the updates received finish within `deadlineMs`, then only if
   * all finished the offset is confirmed with the Bot API, then the bot's throttle is released. Updates the
   * deadline cut stay in the journal for the next start. Idempotent: a second call returns the first stop.
   */
  stop(deadlineMs: number): BotStop {
    this.stopping ??= this.runStop(deadlineMs);
    return this.stopping;
  }

  private runStop(deadlineMs: number): BotStop {
    if (this.state !== "stopped") this.state = "stopping";
    this.abort.abort();
    this.intake?.stop();
    let timer: NodeJS.Timeout | undefined;
    const drained = Promise.race([
      this.drain().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), deadlineMs);
      }),
    ]).finally(() => clearTimeout(timer));
    const done = drained.then(async (complete) => {
      const cut = complete ? [] : this.tracker.snapshot();
      // After a 401 the token is no longer ours to confirm with; after losing the lease, the bot no longer is.
      const confirm = complete && this.reason !== ErrorCodes.BOT_UNAUTHORIZED && this.lease?.valid() !== false;
      const offset = confirm ? await this.intake?.confirm() : undefined;
      this.state = "stopped";
      await this.throttle?.stop().catch((err: unknown) => this.log.warn({ err }, "releasing the outgoing throttle failed"));
      return { cut, offset };
    });
    return { drained, done };
  }

  private async drain(): Promise<void> {
    await this.retryLoop;
    await this.tracker.idle();
    await this.intake?.finished();
  }
}
