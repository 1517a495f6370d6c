import { Api, Bot, type ApiClientOptions, type Composer } from "grammy";
import type { Update } from "grammy/types";
import { createConcurrentSink, createRunner, createSource, type RunnerHandle } from "@grammyjs/runner";
import { isBotHostError, ErrorCodes } from "../errors.js";
import type { BotConfig } from "../config/index.js";
import type { Logger } from "../logging/logger.js";
import type { StateStore } from "../storage/state-store.js";
import type { SharedTransport } from "../transport/shared-transport.js";
import { HostContext } from "../bots/context.js";
import { resolveBotInfo } from "../bots/bot-info.js";
import type { Admission } from "./admission.js";
import { backoffDelay, sleep } from "./backoff.js";
import { InFlightTracker } from "./in-flight.js";
import { PollingSupplier } from "./polling-supplier.js";
import { toGrammySignal } from "./signal.js";

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
  polling: { limit: number; timeout: number; concurrency: number };
  /** How long a start may wait for the Bot API (ms). */
  startTimeoutMs: number;
}

/**
 * One bot: its grammY `Bot` on the shared transport and pipeline, and @grammyjs/runner driving it with the
 * journaled {@link PollingSupplier}. Failures stay inside: a 401 marks this bot failed, unreachable Bot API
 * is retried in the background, a throwing handler is logged and the bot goes on.
 */
export class BotRunner {
  state: BotState = "idle";
  /** Why the bot is failed or retrying, for readiness and logs. */
  reason: string | undefined;
  readonly tracker = new InFlightTracker();
  readonly log: Logger;
  private bot: Bot<HostContext> | undefined;
  private handle: RunnerHandle | undefined;
  private supplier: PollingSupplier | undefined;
  private readonly abort = new AbortController();
  private retryLoop: Promise<void> | undefined;
  private task: Promise<void> | undefined;

  constructor(
    readonly config: BotConfig,
    private readonly shared: BotRunnerShared,
    logger: Logger,
  ) {
    this.log = logger.child({ bot: config.id });
  }

  get id(): string {
    return this.config.id;
  }

  /**
   * Starts the bot. Resolves `true` once it polls, `false` when this first attempt failed (the bot is then
   * `failed` for good, or `retrying` in the background). Never rejects.
   */
  async start(): Promise<boolean> {
    this.state = "starting";
    try {
      await this.launch();
      return true;
    } catch (err) {
      if (this.abort.signal.aborted) return false;
      this.onStartError(err);
      return false;
    }
  }

  private async launch(): Promise<void> {
    const { shared, config } = this;
    const api = new Api(config.token, this.botOptions().client);
    const { info, cached } = await resolveBotInfo({
      token: config.token,
      api,
      store: shared.store,
      botId: config.id,
      apiRoot: shared.apiRoot,
      timeoutMs: shared.startTimeoutMs,
      signal: this.abort.signal,
    });
    const bot = new Bot<HostContext>(config.token, { ...this.botOptions(), botInfo: info });
    const log = this.log;
    bot.use((ctx, next) => {
      ctx.botId = config.id;
      ctx.appConfig = shared.appConfig;
      ctx.botLogger = log;
      return next();
    });
    bot.use(shared.pipeline);
    const journal = await shared.store.loadJournal(config.id);
    if (this.abort.signal.aborted) return;
    this.supplier = new PollingSupplier({
      botId: config.id,
      api: bot.api,
      store: shared.store,
      admission: shared.admission,
      logger: log,
      limit: shared.polling.limit,
      timeout: shared.polling.timeout,
      allowedUpdates: config.allowed_updates,
      replay: journal.pending,
      watermark: journal.watermark,
      onHealth: (healthy, reason) => this.onHealth(healthy, reason),
    });
    const sink = createConcurrentSink<Update>(
      { consume: (update) => this.consume(bot, update) },
      async () => {},
      { concurrency: shared.polling.concurrency },
    );
    this.bot = bot;
    this.handle = createRunner(createSource(this.supplier), sink);
    this.handle.start();
    this.state = "running";
    this.reason = undefined;
    this.task = (this.handle.task() ?? Promise.resolve()).then(
      () => undefined,
      (err: unknown) => this.onFatal(err),
    );
    log.info({ username: info.username, replayed: journal.pending.length, botinfo_cached: cached }, "bot started");
  }

  private botOptions(): { ContextConstructor: typeof HostContext; client: ApiClientOptions } {
    return {
      ContextConstructor: HostContext,
      client: {
        apiRoot: this.shared.apiRoot,
        fetch: this.shared.transport.fetch as never,
        timeoutSeconds: this.shared.polling.timeout + 30,
      },
    };
  }

  private async consume(bot: Bot<HostContext>, update: Update): Promise<void> {
    this.tracker.add(update.update_id);
    try {
      await bot.handleUpdate(update);
    } catch (err) {
      const cause = err instanceof Error && "error" in err ? (err as { error: unknown }).error : err;
      this.log.error({ err: cause, update_id: update.update_id }, "handler failed; the bot goes on");
    } finally {
      this.tracker.delete(update.update_id);
      this.shared.admission.release(1);
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
    this.reason = isBotHostError(err) ? err.code : "start failed";
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
    this.log.error({ err, code: isBotHostError(err) ? err.code : undefined }, isBotHostError(err) ? err.message : "bot stopped on an unrecoverable error");
  }

  /** Step 1 of a stop: no new getUpdates; aborts the pending long poll and any start in progress. */
  stopIntake(): void {
    if (this.state === "stopped") return;
    this.state = "stopping";
    this.abort.abort();
    void this.handle?.stop();
  }

  /** Step 2: resolves when every fetched update (running or queued) finished. */
  async drain(): Promise<void> {
    await this.retryLoop;
    await this.tracker.idle();
    await this.task;
  }

  /** Marks the bot stopped (after the host's last stop step). */
  markStopped(): void {
    this.state = "stopped";
  }

  /**
   * Step 3: tells the Bot API which updates need not come again. Returns the confirmed offset, if any.
   * Never throws: a failed confirmation only means Telegram resends updates the journal already filters.
   */
  async confirmOffset(): Promise<number | undefined> {
    const offset = await this.supplier?.confirmableOffset();
    if (offset === undefined || this.bot === undefined || this.reason === ErrorCodes.BOT_UNAUTHORIZED) return undefined;
    try {
      await this.bot.api.getUpdates({ offset, limit: 1, timeout: 0 }, toGrammySignal(AbortSignal.timeout(5_000)));
      return offset;
    } catch (err) {
      this.log.warn({ err, offset }, "could not confirm the offset; the journal filters the redelivery");
      return undefined;
    }
  }
}
