import { GrammyError } from "grammy";
import type { BotProblem, BotRunnerShared, BotState, BotStatus, BotStop } from "./bot-types.js";
import type { Update, UserFromGetMe } from "grammy/types";
import { isBotHostError, ErrorCodes, type ErrorCode } from "../errors.js";
import type { BotSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import type { Broadcaster } from "./broadcaster.js";
import { buildBotParts } from "./bot-parts.js";
import type { JournalState } from "../storage/journal.js";
import { prepareStart } from "./bot-start.js";
import { backoffDelay, sleep } from "../transport/backoff.js";
import type { Intake } from "./intake.js";
import type { Lease } from "./lease.js";
import type { PollingProblem } from "./polling-supplier.js";
import type { Throttle } from "../transport/throttle.js";
import { BotClient } from "./bot-client.js";
import type { WebhookIntake, WebhookOutcome } from "./webhook-intake.js";

export type { BotStop, BotState, BotProblem, BotStatus, BotRunnerShared } from "./bot-types.js";

/**
 * One bot: its grammY `Bot` on the shared transport and pipeline, receiving by long polling (through
 * @grammyjs/runner) or by webhook. Failures stay inside: a 401 marks this bot failed, an unreachable Bot API
 * is retried in the background, a throwing handler is logged and the bot goes on.
 */
export class BotRunner {
  private state: BotState = "idle";
  private problem: BotProblem | undefined;
  readonly log: Logger;
  private intake: Intake | undefined;
  /** The intake again when it takes webhook requests. */
  private webhook: WebhookIntake | undefined;
  private throttle: Throttle | undefined;
  private readonly abort = new AbortController();
  private retryLoop: Promise<void> | undefined;
  private stopping: BotStop | undefined;
  private readonly client: BotClient;
  private deadLetters = 0;
  /** Private chats a broadcast of this bot would reach (counted at start, then as chats join and leave). */
  private audience = 0;
  /** Runs the bot's broadcast campaigns while the bot runs here. */
  private broadcaster: Broadcaster | undefined;
  /** A webhook bot that started and has not needed more yet: what it builds the rest from at its first update. */
  private parked: { info: UserFromGetMe; replay: Update[] } | undefined;
  /** Updates left journaled because a Bot API call could not reach Telegram: run again once polling gets through. */
  private readonly stranded = new Set<number>();

  constructor(
    readonly settings: BotSettings,
    private readonly shared: BotRunnerShared,
    logger: Logger,
    /** Set when the bot is leased (several instances share the bots). */
    private readonly lease?: Lease,
  ) {
    this.log = logger.child({ bot: settings.id });
    const audience = settings.broadcast.audience;
    this.client = new BotClient(settings, shared, this.log, lease, {
      onSetAside: () => this.deadLetters++,
      onStranded: (id) => this.stranded.add(id),
      ...(audience ? { audience: { joined: () => this.audience++ }, onForbidden: (chat: string) => void this.forget(chat) } : {}),
    });
  }

  get id(): string {
    return this.settings.id;
  }

  /** Where the bot is now. */
  status(): BotStatus {
    const status = {
      id: this.id,
      state: this.state,
      inFlight: this.intake?.inFlight().length ?? 0,
      deadLetters: this.deadLetters,
      audience: this.audience,
    };
    return this.problem === undefined ? status : { ...status, problem: this.problem };
  }

  /** A chat answered 403: it leaves the audience. */
  private async forget(chat: string): Promise<void> {
    await this.shared.campaigns
      .forget(this.id, chat)
      .catch((err: unknown) => this.log.warn({ err }, "could not drop a blocked chat from the audience"));
    this.audience = Math.max(0, this.audience - 1);
  }

  /** A broadcast campaign of this bot was created (or cancelled): the bot looks at its campaigns again. */
  pokeBroadcasts(): void {
    if (this.state !== "running") return;
    this.activate();
    this.broadcaster?.poke();
  }

  /** Records `error` as the last error known of the updates running now. */
  async noteError(error: string): Promise<void> {
    await this.shared.journal.noteError(this.id, this.inFlight(), error);
  }

  /** Counts the bot's dead letters again (an operator retried or dropped some). */
  async recountDeadLetters(): Promise<void> {
    this.deadLetters = await this.shared.deadLetters.count(this.id);
  }

  /**
   * Runs a dead letter an operator handed back (it is in the journal again) now, if the bot runs; otherwise the
   * bot's next start replays it from the journal.
   */
  async retry(updateId: number): Promise<boolean> {
    const update = this.state === "running" ? await this.shared.journal.entry(this.id, updateId) : undefined;
    if (update === undefined || this.state !== "running") return false;
    this.log.info({ update_id: updateId }, "running a dead letter handed back by an operator");
    this.activate().inject(update);
    return true;
  }

  /** Whether the bot receives updates now. */
  get running(): boolean {
    return this.state === "running";
  }

  /** Update ids accepted and not yet finished, oldest first. */
  inFlight(): number[] {
    return this.intake?.inFlight() ?? [];
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
      await this.shared.starting.acquire(1, this.abort.signal);
      try {
        await this.launch();
      } finally {
        this.shared.starting.release(1);
      }
      return (this.state as BotState) === "running";
    } catch (err) {
      if (this.abort.signal.aborted) return false;
      this.onStartError(err);
      return false;
    }
  }

  /** Hands a webhook request's update to this bot (built now if it was idle until this first update). */
  receiveWebhook(update: Update): Promise<WebhookOutcome> {
    if (this.state !== "running" || this.settings.mode !== "webhook") return Promise.resolve("unavailable");
    this.activate();
    return this.webhook?.receive(update) ?? Promise.resolve("unavailable");
  }

  private async launch(): Promise<void> {
    const { shared, settings } = this;
    const { info, cached, journal, deadLetters, audience } = await prepareStart({
      settings,
      shared,
      client: this.client,
      log: this.log,
      signal: this.abort.signal,
    });
    this.deadLetters = deadLetters;
    this.audience = audience;
    if (this.abort.signal.aborted) return;
    if (settings.mode === "webhook") {
      // Idle until its first update: a webhook bot holds its settings and its identity, and builds the rest then.
      this.parked = { info, replay: journal.pending };
      this.state = "running";
      this.problem = undefined;
      if (journal.pending.length > 0) this.activate();
      void this.lookForCampaigns();
    } else {
      this.intake = undefined; // a retried start builds afresh
      const intake = this.activate(info, journal);
      await intake.start();
      this.state = "running";
      this.problem = undefined;
      this.broadcaster?.poke();
    }
    this.log.info(
      { username: info.username, mode: settings.mode, replayed: journal.pending.length, botinfo_cached: cached },
      "bot started",
    );
  }

  /** A webhook bot with a campaign to run (after a restart, a handover) runs it, built for it if it was parked. */
  private async lookForCampaigns(): Promise<void> {
    const running = await this.shared.campaigns.list(this.id).then(
      (list) => list.some((c) => c.status === "running"),
      (err: unknown) => {
        this.log.warn({ err }, "could not look for this bot's broadcast campaigns; the next one created is picked up");
        return false;
      },
    );
    if (running) this.pokeBroadcasts();
  }

  /**
   * Builds what runs updates (see {@link buildBotParts}): a polling bot at start; a webhook bot at its first
   * update (or replay, campaign, dead letter handed back).
   */
  private activate(info = this.parked?.info, journal?: JournalState): Intake {
    if (this.intake !== undefined) return this.intake;
    if (info === undefined) throw new Error(`bot "${this.id}" was activated before it started`);
    void this.throttle?.stop();
    const parts = buildBotParts({
      settings: this.settings,
      shared: this.shared,
      client: this.client,
      log: this.log,
      lease: this.lease,
      info,
      replay: this.parked?.replay ?? journal?.pending ?? [],
      watermark: journal?.watermark,
      onHealth: (problem) => this.onHealth(problem),
      onFatal: (err) => this.onFatal(err),
    });
    this.parked = undefined;
    this.throttle = parts.throttle;
    this.broadcaster = parts.broadcaster;
    this.webhook = parts.webhook;
    this.intake = parts.intake;
    if (parts.webhook !== undefined) {
      void parts.webhook.start();
      if (this.stopping !== undefined) parts.webhook.stop();
    }
    return parts.intake;
  }

  private onHealth(problem: PollingProblem | undefined): void {
    if (this.state !== "running" && this.state !== "retrying") return;
    this.state = problem === undefined ? "running" : "retrying";
    this.problem = problem;
    if (problem === undefined && this.stranded.size > 0) void this.runStranded();
  }

  /** Telegram answers again: the updates left journaled because it did not run once more. */
  private async runStranded(): Promise<void> {
    const ids = [...this.stranded];
    this.stranded.clear();
    for (const id of ids) {
      const update = await this.shared.journal.entry(this.id, id).catch(() => undefined);
      if (update !== undefined) this.intake?.inject(update);
    }
    this.log.info({ updates: ids.length }, "Telegram answers again: running the updates left journaled meanwhile");
  }

  private onStartError(err: unknown): void {
    if (isBotHostError(err) && err.code === ErrorCodes.BOT_UNAUTHORIZED) {
      this.fail(err);
      return;
    }
    this.state = "retrying";
    this.problem = problemOf(err, "the bot failed to start (retrying)");
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
    this.problem = problemOf(err, "the bot stopped on an unrecoverable error");
    if (isBotHostError(err) && err.code === ErrorCodes.LEASE_LOST) {
      this.log.warn({ code: err.code }, "stopped polling: this instance lost the bot's lease");
      return;
    }
    this.log.error(
      { err, code: isBotHostError(err) ? err.code : undefined },
      isBotHostError(err) ? err.message : "bot stopped on an unrecoverable error",
    );
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
      const cut = complete ? [] : this.inFlight();
      // After a 401 the token is no longer ours to confirm with; after losing the lease, the bot no longer is.
      const confirm = complete && this.problem?.code !== ErrorCodes.BOT_UNAUTHORIZED && this.lease?.valid() !== false;
      const offset = confirm ? await this.intake?.confirm() : undefined;
      this.state = "stopped";
      await this.throttle?.stop().catch((err: unknown) => this.log.warn({ err }, "releasing the outgoing throttle failed"));
      return { cut, offset };
    });
    return { drained, done };
  }

  private async drain(): Promise<void> {
    await this.broadcaster?.stop();
    await this.retryLoop;
    await this.intake?.drained();
  }
}

/** The problem an error stands for: its own code when it is one of ours, else `fallback` under a generic code. */
function problemOf(err: unknown, fallback: string): BotProblem {
  if (isBotHostError(err)) return { code: err.code, message: err.message };
  if (err instanceof GrammyError)
    return { code: ErrorCodes.BOT_API_ERROR, message: `${fallback}: the Bot API answered ${err.error_code} (${err.description})` };
  return { code: ErrorCodes.BOT_FAILED, message: fallback };
}
